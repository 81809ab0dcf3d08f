// qm-controller's reconcile loop: keeps the vehicle matching the layout for good. A thin effectful shell over
// named parts: the orchestrator plans and executes; model.ts keeps what the vehicle looks like from BlueChi's
// signals; repairs.ts schedules repairs and keeps their budgets; serial.ts keeps one apply at a time; service.ts
// serves the API. Here the bus becomes streams (controller owner, node status, unit state) that feed the model
// and trigger applies, each looking only at what its triggers concern.
import { setTimeout as delay } from 'node:timers/promises';
import { Subscription, type Observable } from 'rxjs';
import { SYSTEMD_UNIT_IFACE } from '../bluechi/api.ts';
import { blueChi, type BlueChi, type BlueChiOptions, type MonitorEvent, type NodeStatusChange } from '../bluechi/client.ts';
import { connectBus, type Bus, type LiveStream } from '../bus/connection.ts';
import { isQmError, QmError } from '../errors.ts';
import { layoutNodes, loadLayout, unitKey, type Layout, type UnitKey } from '../layout/index.ts';
import { applyLayout } from '../orchestrator/apply.ts';
import type { ExecutionEvent } from '../orchestrator/execute.ts';
import { observeAgain, observeNode, observeVehicle } from '../orchestrator/observe.ts';
import { isAsDesired, type Observed } from '../orchestrator/observed.ts';
import type { Plan } from '../orchestrator/plan.ts';
import type { NodeName, UnitName } from '../unit-names.ts';
import type { ApplySummary, DaemonStatus, ErrorJson, ReloadOutcome, UnitStatus } from './api.ts';
import { followForGood } from './follow.ts';
import { formatError } from './format.ts';
import { withoutHeld } from './hold.ts';
import { vehicleModel } from './model.ts';
import { leftDesiredState, reconnectDelay, repairsLeft } from './repair.ts';
import { repairScheduler } from './repairs.ts';
import { serialRunner } from './serial.ts';
import { serveApi, type ServedApi } from './service.ts';

/** What an apply looks at before planning: the whole vehicle, one node (it came back), or one unit (to repair it). */
type Look = 'vehicle' | { readonly node: NodeName } | { readonly unit: UnitKey };

export interface DaemonLog {
  error(message: string): void;
  warn(message: string): void;
  info(message: string): void;
  debug(message: string): void;
}

export interface DaemonOptions {
  readonly busAddress: string;
  /** The layout in force at start (already validated), and the paths it is reloaded from. */
  readonly layout: Layout;
  readonly layoutPaths: readonly string[];
  readonly log: DaemonLog;
  readonly jobTimeoutMs?: number;
  /** Reconnect backoff: doubling from initialMs up to maxMs. */
  readonly reconnect?: { readonly initialMs: number; readonly maxMs: number };
  /** Own org.qm.Controller1 and serve the API; default true. */
  readonly serve?: boolean;
  readonly now?: () => number;
  /** Makes the BlueChi client of each connection (tests wrap it to inject faults); default blueChi. */
  readonly blueChi?: (bus: Bus, options: BlueChiOptions) => BlueChi;
}

export interface Daemon {
  /** Resolves once connected and serving (the name owned); rejects when start-up cannot succeed (name taken, not allowed). */
  readonly ready: Promise<void>;
  status(): Promise<DaemonStatus>;
  /** An operator's apply: resets every restart budget, then runs (or joins) the one apply. */
  apply(): Promise<ApplySummary>;
  /** Reads the layout again; an invalid one is reported and the old one kept. */
  reload(): Promise<ReloadOutcome>;
  /** Resolves when no apply runs or waits and no repair is scheduled. */
  settled(): Promise<void>;
  stop(): Promise<void>;
}

const errorJson = (error: unknown): ErrorJson =>
  isQmError(error) ? (error.toJSON() as unknown as ErrorJson) : { code: 'bus-error', message: error instanceof Error ? error.message : String(error) };

export function startDaemon(options: DaemonOptions): Daemon {
  const { log } = options;
  const now = options.now ?? Date.now;
  const backoff = options.reconnect ?? { initialMs: 100, maxMs: 10_000 };
  const stopping = new AbortController();
  let layout = options.layout;
  let connected = false;
  let client: BlueChi | undefined;
  // Resolves once the node-status and unit-state streams are live: the first reading of the vehicle waits for it.
  let watching: Promise<void> = Promise.resolve();
  let lastApply: ApplySummary | undefined;
  let lastReload: ReloadOutcome | undefined;
  let applies = 0;
  let closeSession: () => void = () => undefined;

  const model = vehicleModel(layout);
  const repairs = repairScheduler({ now, log, run: (key) => requestApply(`repair ${key}`, { unit: key }) });

  // What each pending trigger wants looked at before planning: the whole vehicle, a node that came back, a unit to repair.
  const triggers = new Map<string, Look>();
  const queue = serialRunner(() => {
    const reasons = [...triggers.keys()].join(', ') || 'apply';
    const looks = [...triggers.values()];
    triggers.clear();
    return reconcile(reasons, looks.length === 0 ? ['vehicle'] : looks);
  });
  const requestApply = (reason: string, look: Look = 'vehicle'): Promise<ApplySummary> => {
    triggers.set(reason, look);
    return queue.trigger();
  };

  /**
   * The apply running now, if any: until it has its plan every drift waits (`deferred`); then the units it is about
   * to start or stop are its own (`acting`) until their steps ended. Their transitions never count as drift.
   */
  let applying: { planned: boolean; readonly acting: Set<UnitKey>; readonly deferred: Set<UnitKey> } | undefined;

  async function reconcile(trigger: string, looks: readonly Look[]): Promise<ApplySummary> {
    const startedAt = new Date().toISOString();
    const current = client;
    const held = repairs.held();
    const base = { trigger, startedAt, steps: [], waiting: [], offline: [], unconverged: [], errors: [] };
    let summary: ApplySummary;
    if (!current) {
      summary = { ...base, endedAt: new Date().toISOString(), outcome: 'unreachable', errors: [{ code: 'unreachable', message: 'the BlueChi controller is not on the bus' }] };
    } else {
      const own = { planned: false, acting: new Set<UnitKey>(), deferred: new Set<UnitKey>() };
      applying = own;
      try {
        const result = await applyLayout(current, layout, {
          timeoutMs: options.jobTimeoutMs ?? 120_000,
          // An apply never blocks on one node: the node's return triggers its re-apply.
          offlineWaitMs: 0,
          signal: stopping.signal,
          observe: () => look(current, looks),
          observeAfter: (before, plan) => lookAgain(current, before, plan),
          revise: (plan) => withoutHeld(plan, held),
          onPlan: (plan) => {
            for (const step of plan.steps) if (step.action === 'start' || step.action === 'stop') own.acting.add(unitKey(step.node, step.unit));
            own.planned = true;
            judgeAll(own.deferred);
          },
          onEvent: (event) => onStep(own, event),
        });
        const endedAt = new Date().toISOString();
        summary =
          result.kind === 'refused'
            ? { ...base, endedAt, outcome: 'refused', errors: result.errors.map(errorJson) }
            : {
                ...base,
                endedAt,
                outcome: 'applied',
                steps: result.reports.map((report) => ({
                  id: report.step.id,
                  result: report.result,
                  ...(report.error ? { error: errorJson(report.error) } : {}),
                  ...(report.blockedBy ? { blockedBy: report.blockedBy } : {}),
                })),
                waiting: result.plan.waiting.map(({ key, node, reason }) => ({ key, node, reason })),
                offline: [...result.plan.offline],
                unconverged: [...result.unconverged],
              };
      } catch (error) {
        summary = { ...base, endedAt: new Date().toISOString(), outcome: 'failed', errors: [errorJson(error)] };
      } finally {
        applying = undefined;
        own.planned = true;
        judgeAll(own.deferred);
      }
    }
    applies += 1;
    lastApply = summary;
    reportApply(summary);
    return summary;
  }

  /**
   * The model brought up to date for what the apply was asked for, then read from it: the whole vehicle (three
   * controller-wide reads, once the streams are live), the nodes that came back (two calls on each), the units
   * to repair (one property read each). Everything else is as the signals left it.
   */
  async function look(current: BlueChi, looks: readonly Look[]): Promise<Observed> {
    if (looks.includes('vehicle')) {
      await watching;
      const since = model.mark();
      model.readVehicle(await observeVehicle(current, layout), since);
      return model.observed();
    }
    const since = model.mark();
    const nodes = new Set(looks.flatMap((look) => (look !== 'vehicle' && 'node' in look ? [look.node] : [])));
    const units = looks.flatMap((look) => (look !== 'vehicle' && 'unit' in look ? [layout.units.get(look.unit)] : [])).filter((spec) => spec !== undefined && !nodes.has(spec.node));
    await Promise.all([
      ...[...nodes].map(async (node) => model.readNode(await observeNode(current, layout, node), since)),
      ...units.map(async (spec) => {
        const state = await current
          .node(spec!.node)
          .getUnitProperty(spec!.unit, SYSTEMD_UNIT_IFACE, 'ActiveState')
          .catch((error: unknown) => {
            // Its node left meanwhile: its return brings the next apply.
            if (isQmError(error) && error.code === 'node-offline') return undefined;
            throw error;
          });
        if (state !== undefined) model.readUnit(spec!.node, spec!.unit, String(state), since);
      }),
    ]);
    return model.observed();
  }

  /** After the steps: unit states as signalled (systemd sends a unit's change before its job's end), unit files read where a step changed them. */
  async function lookAgain(current: BlueChi, before: Observed, plan: Plan): Promise<Observed> {
    const after = await observeAgain(current, layout, before, plan, () => model.observed());
    for (const step of plan.steps) {
      const state = step.action === 'enable' || step.action === 'disable' ? after.nodes.get(step.node)?.unitFiles.get(step.unit) : undefined;
      if (state !== undefined) model.readUnitFile(step.node, step.unit!, state);
    }
    return after;
  }

  function reportApply(summary: ApplySummary): void {
    const failed = summary.steps.filter((step) => step.result !== 'done');
    for (const error of summary.errors) log.error(`apply (${summary.trigger}): ${formatError(error)}`);
    for (const step of failed) log.warn(`apply (${summary.trigger}): ${step.id}: ${step.result}${step.error ? `: ${step.error.message}` : ''}`);
    for (const unit of summary.unconverged) log.warn(`apply (${summary.trigger}): ${unit.node}/${unit.unit} is ${unit.observed}, wanted ${unit.desired}`);
    if (summary.steps.length > 0 || summary.errors.length > 0) {
      log.info(
        `apply (${summary.trigger}): ${summary.outcome}, ${summary.steps.length - failed.length} of ${summary.steps.length} steps done, ` +
          `${summary.waiting.length} waiting, ${summary.unconverged.length} not as the layout wants`,
      );
    } else log.debug(`apply (${summary.trigger}): ${summary.outcome}, nothing to do`);
  }

  function onUnitEvent(event: MonitorEvent): void {
    if (event.kind !== 'UnitStateChanged') return;
    model.unitState(event.node as NodeName, event.unit as UnitName, event.activeState, event.subState);
    // A monitor's or a disconnect's replay of a state is not a transition.
    if (event.reason !== 'virtual') judge(unitKey(event.node as NodeName, event.unit as UnitName));
  }

  /** Whether `key`'s unit, as the model has it now, left its desired state: then its repair is scheduled, or its budget found spent. */
  function judge(key: UnitKey): void {
    const spec = layout.units.get(key);
    if (!spec) return;
    if (applying && !applying.planned) return void applying.deferred.add(key);
    // The running apply is about to start or stop it: its step's end decides.
    if (applying?.acting.has(key)) return;
    if (!client || !model.isOnline(spec.node)) return;
    const { activeState, subState } = model.unit(spec.node, spec.unit);
    if (leftDesiredState(spec.state, activeState)) repairs.drifted(spec, subState ? `${activeState}/${subState}` : activeState);
  }

  function judgeAll(keys: Set<UnitKey>): void {
    const pending = [...keys];
    keys.clear();
    for (const key of pending) judge(key);
  }

  /** A start or stop began: a repair pending for its unit runs now. Once it ended, its unit is judged as any other. */
  function onStep(own: NonNullable<typeof applying>, event: ExecutionEvent): void {
    const step = event.kind === 'ended' ? event.report.step : event.step;
    if (step.action !== 'start' && step.action !== 'stop') return;
    const key = unitKey(step.node, step.unit);
    if (event.kind === 'started' && event.attempt === 1) repairs.jobStarted(key);
    if (event.kind !== 'ended') return;
    own.acting.delete(key);
    // A step that never ran (what it needed was not there) changed nothing: the apply that fixes what it needs will run it.
    if (event.report.attempts > 0) judge(key);
  }

  /** One bus connection: our API, BlueChi's owner, and while it is up its nodes and units. Resolves with why it ended. */
  async function openSession(): Promise<{ ended: Promise<string>; close(): void }> {
    const bus: Bus = await connectBus(options.busAddress);
    let api: ServedApi | undefined;
    const subscriptions = new Subscription();
    let blueChiWatch: Subscription | undefined;
    const close = () => {
      blueChiWatch?.unsubscribe();
      subscriptions.unsubscribe();
      client = undefined;
      connected = false;
      api?.close();
      bus.close();
    };
    try {
      const blue = (options.blueChi ?? blueChi)(bus, { jobTimeoutMs: options.jobTimeoutMs });
      // Node status and unit state are followed for good: a failure is logged, and what it hid is caught up by an apply.
      const followed = <T>(what: string, open: () => Observable<T>, next: (value: T) => void): Subscription =>
        followForGood(open, {
          next,
          failed: (error, retryMs) => log.error(`following ${what} failed: ${errorJson(error).message}; following again in ${retryMs} ms`),
          resumed: () => void requestApply(`following ${what} again`),
          retryMs: 1_000,
        });
      const up = () => {
        blueChiWatch?.unsubscribe();
        model.forget();
        client = blue;
        log.info('BlueChi controller is on the bus: observing and applying');
        blueChiWatch = new Subscription();
        let statuses: LiveStream<NodeStatusChange> | undefined;
        let units: LiveStream<MonitorEvent> | undefined;
        blueChiWatch.add(followed('node status', () => (statuses = blue.nodeStatus$()), onNodeStatus));
        blueChiWatch.add(followed('unit states', () => (units = blue.watchUnits('*')), onUnitEvent));
        // A stream that fails to start is followed again, and its return brings a full apply: wait only for the first.
        watching = Promise.allSettled([statuses!.ready(), units!.ready()]).then(() => undefined);
        void requestApply('BlueChi up');
      };
      const down = () => {
        blueChiWatch?.unsubscribe();
        blueChiWatch = undefined;
        client = undefined;
        model.forget();
        log.warn('BlueChi controller left the bus: waiting for it to return');
      };
      let endSession: (reason: string) => void = () => undefined;
      const ended = new Promise<string>((resolve) => {
        endSession = resolve;
        subscriptions.add(bus.closed.subscribe((error) => resolve(error.message)));
      });
      // Subscribed before asking who owns the name, so a change in between is not missed. Without it the
      // daemon cannot tell BlueChi's comings and goings: a new session asks afresh.
      subscriptions.add(
        blue.controllerOwner$.subscribe({
          next: (owner) => (owner === '' ? down() : up()),
          error: (error: unknown) => {
            log.error(`following the owner of org.eclipse.bluechi failed: ${errorJson(error).message}`);
            endSession('lost track of the BlueChi controller');
          },
        }),
      );
      const [hasOwner] = await bus.call({
        destination: 'org.freedesktop.DBus',
        path: '/org/freedesktop/DBus',
        interface: 'org.freedesktop.DBus',
        member: 'NameHasOwner',
        signature: 's',
        body: ['org.eclipse.bluechi'],
      });
      if (options.serve !== false) api = await serveApi(options.busAddress, { Status: status, Apply: operatorApply, Reload: reload });
      connected = true;
      if (hasOwner === true && client === undefined) up();
      else if (hasOwner !== true) log.warn('BlueChi controller is not on the bus: waiting for it');
      return { ended: api ? Promise.race([ended, api.lost]) : ended, close };
    } catch (error) {
      close();
      throw error;
    }
  }

  let markReady: () => void = () => undefined;
  let failReady: (error: unknown) => void = () => undefined;
  const ready = new Promise<void>((resolve, reject) => {
    markReady = resolve;
    failReady = reject;
  });
  ready.catch(() => undefined);

  const loop = (async () => {
    let attempt = 0;
    while (!stopping.signal.aborted) {
      let session;
      try {
        session = await openSession();
      } catch (error) {
        // Not allowed to own the name, or another daemon owns it: waiting will not change that.
        if (isQmError(error) && error.code !== 'unreachable') {
          failReady(error);
          return;
        }
        const wait = reconnectDelay(attempt++, backoff.initialMs, backoff.maxMs);
        log.warn(`${errorJson(error).message}; retrying in ${wait} ms`);
        await delay(wait, undefined, { signal: stopping.signal }).catch(() => undefined);
        continue;
      }
      attempt = 0;
      if (stopping.signal.aborted) {
        session.close();
        break;
      }
      closeSession = session.close;
      markReady();
      log.info(`connected to ${options.busAddress}`);
      const stopped = new Promise<string>((resolve) => stopping.signal.addEventListener('abort', () => resolve('stopping'), { once: true }));
      const reason = await Promise.race([session.ended, stopped]);
      session.close();
      if (stopping.signal.aborted) break;
      log.warn(`${reason}: reconnecting`);
      // A session that ends at once again (a stream failing on arrival) must not spin.
      await delay(backoff.initialMs, undefined, { signal: stopping.signal }).catch(() => undefined);
    }
  })();

  /** From the model: no call to BlueChi or a node, so asking costs the vehicle nothing. */
  async function status(): Promise<DaemonStatus> {
    const known = client !== undefined;
    const at = now();
    const units = [...layout.units.values()].map((spec): UnitStatus => {
      const state = known && model.isOnline(spec.node) ? model.unit(spec.node, spec.unit).activeState : 'unknown';
      const record = repairs.record(spec.key);
      return {
        node: spec.node,
        unit: spec.unit,
        desired: spec.state,
        observed: state,
        converged: isAsDesired(spec.state, state),
        repairs: {
          done: record.ran.length,
          left: repairsLeft(record, spec.restart, at),
          budget: spec.restart.attempts,
          exhausted: record.exhausted,
          ...(record.lastDelayMs === undefined ? {} : { lastDelayMs: record.lastDelayMs }),
        },
      };
    });
    return {
      layout: { files: [...layout.files], units: layout.units.size },
      bluechi: !connected ? 'disconnected' : known ? 'up' : 'down',
      converged: units.every((unit) => unit.converged),
      nodes: layoutNodes(layout).map((name) => ({ name, online: known && model.isOnline(name) })),
      units,
      applies,
      ...(lastApply ? { lastApply } : {}),
      ...(lastReload ? { lastReload } : {}),
    };
  }

  function onNodeStatus({ node, status }: NodeStatusChange): void {
    model.nodeStatus(node as NodeName, status === 'online');
    if (status === 'online') void requestApply(`node ${node} online`, { node: node as NodeName });
  }

  function operatorApply(): Promise<ApplySummary> {
    repairs.reset();
    return requestApply('operator');
  }

  async function reload(): Promise<ReloadOutcome> {
    const result = await loadLayout(options.layoutPaths);
    const at = new Date().toISOString();
    if (!result.ok) {
      for (const error of result.errors) log.error(`reload: ${formatError(errorJson(error))}`);
      log.error(`reload: ${result.errors.length} error(s); still applying the layout from ${layout.files.join(', ')}`);
      lastReload = { reloaded: false, at, files: [...layout.files], errors: result.errors.map(errorJson) };
      return lastReload;
    }
    layout = result.layout;
    model.setLayout(layout);
    repairs.reset();
    log.info(`reload: ${layout.units.size} units on ${layout.nodes.size} nodes from ${layout.files.join(', ')}`);
    lastReload = { reloaded: true, at, files: [...layout.files], errors: [] };
    void requestApply('reload');
    return lastReload;
  }

  return {
    ready,
    status,
    apply: operatorApply,
    reload,
    async settled() {
      for (;;) {
        await queue.idle();
        if (repairs.scheduled === 0 && !queue.running) return;
        await delay(10);
      }
    },
    async stop() {
      stopping.abort();
      repairs.reset();
      closeSession();
      failReady(new QmError('unreachable', 'qm-controller stopped before it was ready'));
      await loop;
      await queue.idle();
    },
  };
}
