// qm-controller's reconcile loop: keeps the vehicle matching the layout for good. A thin effectful shell:
// the orchestrator plans and executes, repair.ts decides repairs, serial.ts keeps one apply at a time;
// here the bus becomes streams (controller owner, node status, unit state) that trigger applies.
import { setTimeout as delay } from 'node:timers/promises';
import { filter, Subscription, type Observable } from 'rxjs';
import { blueChi, type BlueChi, type BlueChiOptions, type MonitorEvent } from '../bluechi/client.ts';
import { connectBus, type Bus } from '../bus/connection.ts';
import { isQmError, QmError } from '../errors.ts';
import { layoutNodes, loadLayout, unitKey, type Layout, type UnitKey } from '../layout/index.ts';
import { applyLayout } from '../orchestrator/apply.ts';
import { observeVehicle } from '../orchestrator/observe.ts';
import { activeStateOf, isRunning, isStopped, type Observed } from '../orchestrator/observed.ts';
import type { Step } from '../orchestrator/plan.ts';
import type { NodeName, UnitName } from '../unit-names.ts';
import type { ApplySummary, DaemonStatus, ErrorJson, ReloadOutcome, UnitStatus } from './api.ts';
import { followForGood } from './follow.ts';
import { formatError } from './format.ts';
import { withoutHeld } from './hold.ts';
import { decideRepair, leftDesiredState, NO_REPAIRS, reconnectDelay, repairRan, repairSettled, repairsLeft, type RepairRecord } from './repair.ts';
import { serialRunner } from './serial.ts';
import { serveApi, type ServedApi } from './service.ts';

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
  const records = new Map<UnitKey, RepairRecord>();
  const repairTimers = new Map<UnitKey, NodeJS.Timeout>();
  let connected = false;
  let client: BlueChi | undefined;
  let lastApply: ApplySummary | undefined;
  let lastReload: ReloadOutcome | undefined;
  let applies = 0;
  const triggers = new Set<string>();
  let closeSession: () => void = () => undefined;

  const queue = serialRunner(() => {
    const reasons = [...triggers].join(', ') || 'apply';
    triggers.clear();
    return reconcile(reasons);
  });
  const requestApply = (reason: string): Promise<ApplySummary> => {
    triggers.add(reason);
    return queue.trigger();
  };

  async function reconcile(trigger: string): Promise<ApplySummary> {
    const startedAt = new Date().toISOString();
    const current = client;
    const held = new Set([...records].filter(([, record]) => record.exhausted).map(([key]) => key));
    const base = { trigger, startedAt, steps: [], waiting: [], offline: [], unconverged: [], errors: [] };
    let summary: ApplySummary;
    if (!current) {
      summary = { ...base, endedAt: new Date().toISOString(), outcome: 'unreachable', errors: [{ code: 'unreachable', message: 'the BlueChi controller is not on the bus' }] };
    } else {
      try {
        const result = await applyLayout(current, layout, {
          timeoutMs: options.jobTimeoutMs ?? 120_000,
          // An apply never blocks on one node: the node's return triggers its re-apply.
          offlineWaitMs: 0,
          signal: stopping.signal,
          revise: (plan) => withoutHeld(plan, held),
          onEvent: (event) => event.kind === 'started' && event.attempt === 1 && onStepStarted(event.step),
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
      }
    }
    applies += 1;
    lastApply = summary;
    reportApply(summary);
    return summary;
  }

  function reportApply(summary: ApplySummary): void {
    const failed = summary.steps.filter((step) => step.result !== 'done');
    for (const error of summary.errors) log.error(`apply (${summary.trigger}): ${formatError(error)}`);
    for (const step of failed) log.warn(`apply (${summary.trigger}): ${step.id}: ${step.result}${step.error ? `: ${step.error.message}` : ''}`);
    if (summary.steps.length > 0 || summary.errors.length > 0) {
      log.info(`apply (${summary.trigger}): ${summary.outcome}, ${summary.steps.length - failed.length} of ${summary.steps.length} steps done, ${summary.waiting.length} waiting`);
    } else log.debug(`apply (${summary.trigger}): ${summary.outcome}, nothing to do`);
  }

  function onUnitEvent(event: MonitorEvent): void {
    if (event.kind !== 'UnitStateChanged') return;
    const spec = layout.units.get(unitKey(event.node as NodeName, event.unit as UnitName));
    if (!spec || !leftDesiredState(spec.state, event.activeState)) return;
    const decision = decideRepair(records.get(spec.key) ?? NO_REPAIRS, spec.restart, now());
    records.set(spec.key, decision.record);
    const budget = `${spec.restart.attempts} repairs within ${spec.restart.windowMs} ms`;
    if (decision.kind === 'exhausted') {
      log.error(`${spec.key} is ${event.activeState} and its restart budget (${budget}) is exhausted: left alone until qmctl apply or qmctl reload`);
    } else if (decision.kind === 'repair') {
      log.warn(`${spec.key} left its desired state (${event.activeState}/${event.subState}): repair ${decision.attempt} of ${spec.restart.attempts} in ${decision.delayMs} ms`);
      const key = spec.key;
      repairTimers.set(
        key,
        setTimeout(() => {
          repairTimers.delete(key);
          // Found the unit back (nothing started or stopped it): the repair cost nothing.
          const settle = () => records.has(key) && records.set(key, repairSettled(records.get(key)!, decision.id));
          void requestApply(`repair ${key}`).then(settle, settle);
        }, decision.delayMs),
      );
    }
  }

  /** A start or stop of a unit whose repair is pending: that repair runs now, whichever apply runs it, and spends the budget. */
  function onStepStarted(step: Step): void {
    if (step.action !== 'start' && step.action !== 'stop') return;
    const key = unitKey(step.node, step.unit);
    const record = records.get(key);
    if (record?.pending === undefined) return;
    records.set(key, repairRan(record, now()));
    clearTimeout(repairTimers.get(key));
    repairTimers.delete(key);
  }

  function resetRepairs(): void {
    for (const timer of repairTimers.values()) clearTimeout(timer);
    repairTimers.clear();
    records.clear();
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
        client = blue;
        log.info('BlueChi controller is on the bus: observing and applying');
        blueChiWatch = new Subscription();
        blueChiWatch.add(
          followed(
            'node status',
            () => blue.nodeStatus$().pipe(filter(({ status }) => status === 'online')),
            ({ node }) => void requestApply(`node ${node} online`),
          ),
        );
        blueChiWatch.add(followed('unit states', () => blue.watchUnits('*'), onUnitEvent));
        void requestApply('BlueChi up');
      };
      const down = () => {
        blueChiWatch?.unsubscribe();
        blueChiWatch = undefined;
        client = undefined;
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

  async function status(): Promise<DaemonStatus> {
    const current = client;
    let observed: Observed | undefined;
    if (current) observed = await observeVehicle(current, layout).catch(() => undefined);
    const at = now();
    const units = [...layout.units.values()].map((spec): UnitStatus => {
      const node = observed?.nodes.get(spec.node);
      const state = node?.online ? activeStateOf(node, spec.unit) : 'unknown';
      const record = records.get(spec.key) ?? NO_REPAIRS;
      return {
        node: spec.node,
        unit: spec.unit,
        desired: spec.state,
        observed: state,
        converged: spec.state === 'running' ? isRunning(state) : isStopped(state),
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
      bluechi: !connected ? 'disconnected' : current ? 'up' : 'down',
      converged: units.every((unit) => unit.converged),
      nodes: layoutNodes(layout).map((name) => ({ name, online: observed?.nodes.get(name)?.online ?? false })),
      units,
      applies,
      ...(lastApply ? { lastApply } : {}),
      ...(lastReload ? { lastReload } : {}),
    };
  }

  function operatorApply(): Promise<ApplySummary> {
    resetRepairs();
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
    resetRepairs();
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
        if (repairTimers.size === 0 && !queue.running) return;
        await delay(10);
      }
    },
    async stop() {
      stopping.abort();
      resetRepairs();
      closeSession();
      failReady(new QmError('unreachable', 'qm-controller stopped before it was ready'));
      await loop;
      await queue.idle();
    },
  };
}
