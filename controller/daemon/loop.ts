// The reconcile loop: desired state (the layout) in, observed state (the vehicle model) in, one apply at a time,
// re-triggered by what BlueChi signals. Each trigger says what to look at before planning; a unit that leaves its
// desired state outside the loop's own steps is handed to the repair scheduler. The bus is not here: a session hands
// the loop BlueChi's client while its controller is on the bus, and the vehicle's signals as calls.
import { SYSTEMD_UNIT_IFACE } from '../bluechi/api.ts';
import type { BlueChi, MonitorEvent, NodeStatusChange } from '../bluechi/client.ts';
import { isQmError, QmError } from '../errors.ts';
import { loadLayout, unitKey, type Layout, type UnitKey } from '../layout/index.ts';
import { applyLayout } from '../orchestrator/apply.ts';
import type { ExecutionEvent } from '../orchestrator/execute.ts';
import { observeAgain, observeNode, observeVehicle } from '../orchestrator/observe.ts';
import type { Observed } from '../orchestrator/observed.ts';
import { planLayout, type Plan } from '../orchestrator/plan.ts';
import type { NodeName, UnitName } from '../unit-names.ts';
import type { ApplyRequest, ApplySummary, ReloadOutcome } from './api.ts';
import { formatError } from './format.ts';
import { withoutHeld } from './hold.ts';
import type { VehicleModel } from './model.ts';
import { leftDesiredState } from './repair.ts';
import type { Repairs } from './repairs.ts';
import { serialRunner } from './serial.ts';
import { errorJson, summarizeApply, summarizeFailure } from './summary.ts';

/** What an apply looks at before planning: the whole vehicle, one node (it came back), or one unit (to repair it). */
export type Look = 'vehicle' | { readonly node: NodeName } | { readonly unit: UnitKey };

export interface LoopLog {
  error(message: string): void;
  warn(message: string): void;
  info(message: string): void;
  debug(message: string): void;
}

export interface ReconcileLoop {
  /** The layout in force. */
  readonly layout: Layout;
  /** Whether BlueChi's controller is on the bus (a session handed its client over). */
  readonly blueChiUp: boolean;
  /** Runs (or joins the follow-up of) the one apply, looking at `look` first. */
  request(reason: string, look?: Look): Promise<ApplySummary>;
  /** An operator's apply: every restart budget whole again, then the one apply. `onRun` is called when the run serving it starts. */
  operatorApply(request?: ApplyRequest, onRun?: () => void): Promise<ApplySummary>;
  /** What an apply would do now, from a fresh look; rejects `unreachable` without BlueChi, `node-unknown` when the layout names nodes BlueChi does not know. */
  plan(): Promise<Plan>;
  /** Reads the layout again (applying nothing); an invalid one is reported and the old one kept. */
  reload(): Promise<ReloadOutcome>;
  /** BlueChi's controller came (back) on the bus; `watching` resolves once its node and unit streams are live. */
  connected(client: BlueChi, watching: Promise<void>): void;
  /** It left, or the session ended: nothing is known until it returns. */
  disconnected(): void;
  nodeStatus(change: NodeStatusChange): void;
  unitEvent(event: MonitorEvent): void;
  /** Resolves when no apply runs or waits. */
  idle(): Promise<void>;
  readonly running: boolean;
}

export interface LoopOptions {
  readonly layout: Layout;
  readonly layoutPaths: readonly string[];
  readonly model: VehicleModel;
  readonly repairs: Repairs;
  readonly log: LoopLog;
  readonly jobTimeoutMs?: number;
  /** Aborts the apply going on (the daemon stops). */
  readonly signal: AbortSignal;
  /** Every apply's summary, and every reload's outcome, as they end. */
  readonly applied: (summary: ApplySummary) => void;
  readonly reloaded: (outcome: ReloadOutcome) => void;
  /** What the vehicle signalled, or BlueChi's coming or going, may have changed what the status shows. */
  readonly changed: () => void;
}

/**
 * The apply running now, if any: until it has its plan every drift waits (`deferred`); then the units it is about
 * to start or stop are its own (`acting`) until their steps ended. Their transitions never count as drift.
 */
interface Applying {
  planned: boolean;
  readonly acting: Set<UnitKey>;
  readonly deferred: Set<UnitKey>;
}

export function reconcileLoop(options: LoopOptions): ReconcileLoop {
  const { model, repairs, log } = options;
  let layout = options.layout;
  let vehicle: { readonly client: BlueChi; readonly watching: Promise<void> } | undefined;
  let applying: Applying | undefined;
  // Pending for the next run: what each trigger wants looked at, the operators' options, who waits for it to start.
  const next = { triggers: new Map<string, Look>(), request: {} as ApplyRequest, onRun: [] as Array<() => void> };

  const queue = serialRunner(() => {
    const reasons = [...next.triggers.keys()].join(', ') || 'apply';
    const looks = [...next.triggers.values()];
    const request = next.request;
    const onRun = next.onRun.splice(0);
    next.triggers.clear();
    next.request = {};
    for (const started of onRun) started();
    return reconcile(reasons, looks.length === 0 ? ['vehicle'] : looks, request);
  });

  const request = (reason: string, look: Look = 'vehicle'): Promise<ApplySummary> => {
    next.triggers.set(reason, look);
    return queue.trigger();
  };

  async function reconcile(trigger: string, looks: readonly Look[], wanted: ApplyRequest): Promise<ApplySummary> {
    const run = { trigger, startedAt: new Date().toISOString() };
    const current = vehicle?.client;
    const held = repairs.held();
    let summary: ApplySummary;
    if (!current) {
      summary = summarizeFailure(run, 'unreachable', new QmError('unreachable', 'the BlueChi controller is not on the bus'));
    } else {
      const own: Applying = { planned: false, acting: new Set(), deferred: new Set() };
      applying = own;
      try {
        const result = await applyLayout(current, layout, {
          timeoutMs: wanted.jobTimeoutMs ?? options.jobTimeoutMs ?? 120_000,
          // Unless an operator asked to wait, an apply never blocks on one node: the node's return triggers its re-apply.
          offlineWaitMs: wanted.offlineWaitMs ?? 0,
          signal: options.signal,
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
        summary = summarizeApply(run, result);
      } catch (error) {
        summary = summarizeFailure(run, 'failed', error);
      } finally {
        applying = undefined;
        own.planned = true;
        judgeAll(own.deferred);
      }
    }
    reportApply(summary);
    options.applied(summary);
    return summary;
  }

  /**
   * The model brought up to date for what the apply was asked for, then read from it: the whole vehicle (three
   * controller-wide reads, once the streams are live), the nodes that came back (two calls on each), the units
   * to repair (one property read each). Everything else is as the signals left it.
   */
  async function look(current: BlueChi, looks: readonly Look[]): Promise<Observed> {
    if (looks.includes('vehicle')) {
      await vehicle?.watching;
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

  /** Whether `key`'s unit, as the model has it now, left its desired state: then its repair is scheduled, or its budget found spent. */
  function judge(key: UnitKey): void {
    const spec = layout.units.get(key);
    if (!spec) return;
    if (applying && !applying.planned) return void applying.deferred.add(key);
    // The running apply is about to start or stop it: its step's end decides.
    if (applying?.acting.has(key)) return;
    if (!vehicle || !model.isOnline(spec.node)) return;
    const { activeState, subState } = model.unit(spec.node, spec.unit);
    if (leftDesiredState(spec.state, activeState)) repairs.drifted(spec, subState ? `${activeState}/${subState}` : activeState);
  }

  function judgeAll(keys: Set<UnitKey>): void {
    const pending = [...keys];
    keys.clear();
    for (const key of pending) judge(key);
  }

  /** A start or stop began: a repair pending for its unit runs now. Once it ended, its unit is judged as any other. */
  function onStep(own: Applying, event: ExecutionEvent): void {
    const step = event.kind === 'ended' ? event.report.step : event.step;
    if (step.action !== 'start' && step.action !== 'stop') return;
    const key = unitKey(step.node, step.unit);
    if (event.kind === 'started' && event.attempt === 1) repairs.jobStarted(key);
    if (event.kind !== 'ended') return;
    own.acting.delete(key);
    // A step that never ran (what it needed was not there) changed nothing: the apply that fixes what it needs will run it.
    if (event.report.attempts > 0) judge(key);
  }

  return {
    get layout() {
      return layout;
    },
    get blueChiUp() {
      return vehicle !== undefined;
    },
    request,
    operatorApply(wanted = {}, onRun) {
      repairs.reset();
      const most = (a?: number, b?: number) => (a === undefined ? b : b === undefined ? a : Math.max(a, b));
      next.request = { offlineWaitMs: most(next.request.offlineWaitMs, wanted.offlineWaitMs), jobTimeoutMs: most(next.request.jobTimeoutMs, wanted.jobTimeoutMs) };
      if (onRun) next.onRun.push(onRun);
      return request('operator');
    },
    async plan() {
      const current = vehicle?.client;
      if (!current) throw new QmError('unreachable', 'the BlueChi controller is not on the bus');
      const planned = planLayout(layout, await look(current, ['vehicle']));
      if (!planned.ok) throw new QmError('node-unknown', planned.errors.map((error) => formatError(errorJson(error))).join('\n'));
      return withoutHeld(planned.plan, repairs.held());
    },
    async reload() {
      const result = await loadLayout(options.layoutPaths);
      const at = new Date().toISOString();
      let outcome: ReloadOutcome;
      if (!result.ok) {
        for (const error of result.errors) log.error(`reload: ${formatError(errorJson(error))}`);
        log.error(`reload: ${result.errors.length} error(s); still applying the layout from ${layout.files.join(', ')}`);
        outcome = { reloaded: false, at, files: [...layout.files], errors: result.errors.map(errorJson) };
      } else {
        layout = result.layout;
        model.setLayout(layout);
        repairs.reset();
        log.info(`reload: ${layout.units.size} units on ${layout.nodes.size} nodes from ${layout.files.join(', ')}`);
        outcome = { reloaded: true, at, files: [...layout.files], errors: [] };
      }
      options.reloaded(outcome);
      return outcome;
    },
    connected(client, watching) {
      model.forget();
      vehicle = { client, watching };
      options.changed();
      void request('BlueChi up');
    },
    disconnected() {
      vehicle = undefined;
      model.forget();
      options.changed();
    },
    nodeStatus({ node, status }) {
      model.nodeStatus(node as NodeName, status === 'online');
      options.changed();
      if (status === 'online') void request(`node ${node} online`, { node: node as NodeName });
    },
    unitEvent(event) {
      if (event.kind !== 'UnitStateChanged') return;
      model.unitState(event.node as NodeName, event.unit as UnitName, event.activeState, event.subState);
      options.changed();
      // A monitor's or a disconnect's replay of a state is not a transition.
      if (event.reason !== 'virtual') judge(unitKey(event.node as NodeName, event.unit as UnitName));
    },
    idle: () => queue.idle(),
    get running() {
      return queue.running;
    },
  };
}
