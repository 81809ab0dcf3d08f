// Runs a plan: every step as soon as the steps it waits for ended done, independent ones at once.
// The effects (bus calls) come from outside, so the scheduling is tested without a bus.
import { setMaxListeners } from 'node:events';
import type { JobResult } from '../bus/jobs.ts';
import { isQmError, QmError } from '../errors.ts';
import type { NodeName } from '../unit-names.ts';
import { unitKey, type UnitRef } from '../layout/model.ts';
import { stepId, type Plan, type Step, type StepId, type UnitStep } from './plan.ts';

/** How one attempt at a step ended: a systemd job result, a call that failed, or the node went offline. */
export interface StepOutcome {
  readonly result: JobResult | 'error' | 'offline';
  /** The job's object path, for start and stop. */
  readonly job?: string;
  readonly error?: QmError;
}

/** `dependency`: not run, because a step it waits for did not end done (`blockedBy`). */
export type StepResult = JobResult | 'error' | 'offline';

export interface StepReport {
  readonly step: Step;
  readonly result: StepResult;
  readonly job?: string;
  readonly error?: QmError;
  readonly blockedBy?: StepId;
  /** Calls made for this step: more than one when its node went offline and the step was still needed after. */
  readonly attempts: number;
  /** Milliseconds since execution began; absent for steps that never ran. */
  readonly startedMs?: number;
  readonly endedMs?: number;
}

export interface StepEffects {
  /** One attempt; `signal` aborts it (interrupted by the user). Failures are outcomes; a rejection ends the step `error`. */
  run(step: Step, signal: AbortSignal): Promise<StepOutcome>;
  /** Resolves true once `node` is online again, false when giving up on it. Without it, offline is final. */
  whenOnline?(node: NodeName, signal: AbortSignal): Promise<boolean>;
  /**
   * After the node came back: is the step still needed, did its job finish while the node was away, or is the node
   * gone again? Rejects when it cannot tell (a QmError with code `timeout`: the job outlasted the step's timeout).
   */
  recheck?(step: Step, signal: AbortSignal): Promise<'needed' | 'done' | 'offline'>;
  /**
   * Just before a start runs: a unit it needs that is not running now, with its ActiveState, or undefined when all
   * are. A start job can end done for a unit that fails right after (Type=simple, its process exits at once).
   */
  notRunning?(step: UnitStep, signal: AbortSignal): Promise<{ readonly need: UnitRef; readonly activeState: string } | undefined>;
}

export type ExecutionEvent =
  | { readonly kind: 'started'; readonly step: Step; readonly attempt: number }
  | { readonly kind: 'offline'; readonly step: Step }
  | { readonly kind: 'ended'; readonly report: StepReport };

export interface ExecuteOptions {
  /** Interrupts: no step starts after it aborts (those end `canceled`); running ones are aborted. */
  readonly signal?: AbortSignal;
  readonly onEvent?: (event: ExecutionEvent) => void;
  /** Most steps running at once; default unlimited. */
  readonly concurrency?: number;
}

/**
 * Reports for every step, in plan order. A step runs once each step in its `after` ended done and each in its
 * `afterEnded` ended at all; when one in `after` did not end done, the step and what needs it end `dependency`
 * while the rest of the plan carries on. A start whose needed unit is not running when it is about to run (its
 * job ended done, and it failed since) ends `dependency` the same way, with an error naming that unit.
 * Always settles: a failing effect ends its step `error`.
 */
export async function executePlan(plan: Plan, effects: StepEffects, options: ExecuteOptions = {}): Promise<StepReport[]> {
  const began = performance.now();
  const now = () => Math.round(performance.now() - began);
  const signal = options.signal ?? new AbortController().signal;
  setMaxListeners(0, signal); // every running step listens for the interrupt
  const emit = options.onEvent ?? (() => undefined);
  const reports = new Map<StepId, StepReport>();
  // Who waits for each step, and whether it needs that step to end done or only to end.
  const successors = new Map<StepId, Array<{ readonly step: Step; readonly needsDone: boolean }>>();
  const waitingOn = new Map<StepId, number>();
  const planned = new Set(plan.steps.map((step) => step.id));
  for (const step of plan.steps) {
    // An id the plan does not hold (left out by a revise) is nothing to wait for.
    const edges = [...step.after.map((id) => ({ id, needsDone: true })), ...step.afterEnded.map((id) => ({ id, needsDone: false }))].filter(({ id }) => planned.has(id));
    waitingOn.set(step.id, edges.length);
    for (const { id, needsDone } of edges) successors.set(id, [...(successors.get(id) ?? []), { step, needsDone }]);
  }
  const slots = slotsFor(options.concurrency);

  const attempt = async (step: Step): Promise<StepReport> => {
    if (step.error !== undefined) return { step, result: 'error', error: step.error, attempts: 0 };
    if (signal.aborted) return { step, result: 'canceled', attempts: 0 };
    const startedMs = now();
    let attempts = 0;
    const report = (outcome: StepOutcome): StepReport => ({ step, ...outcome, attempts, startedMs, endedMs: now() });
    try {
      for (;;) {
        if (signal.aborted) return report({ result: 'canceled' });
        const missing = step.action === 'start' && step.needs !== undefined && effects.notRunning ? await effects.notRunning(step, signal) : undefined;
        if (missing) return notStarted(step, missing.need, missing.activeState, planned);
        attempts += 1;
        emit({ kind: 'started', step, attempt: attempts });
        const outcome = await effects.run(step, signal);
        if (outcome.result !== 'offline' || !effects.whenOnline) return report(outcome);
        emit({ kind: 'offline', step });
        let state: 'needed' | 'done' | 'offline' = 'offline';
        while (state === 'offline') {
          if (!(await effects.whenOnline(step.node, signal))) return report(signal.aborted ? { result: 'canceled' } : outcome);
          // What was submitted before the node left may have finished meanwhile: ask before doing it again.
          state = effects.recheck ? await effects.recheck(step, signal) : 'needed';
        }
        if (state === 'done') return report({ result: 'done' });
      }
    } catch (error) {
      return report(failedOutcome(error, step));
    }
  };

  await new Promise<void>((resolve) => {
    let running = 0;
    const finishIfIdle = () => {
      if (running === 0 && reports.size === plan.steps.length) resolve();
    };
    const settle = (report: StepReport) => {
      reports.set(report.step.id, report);
      emit({ kind: 'ended', report });
    };
    // `step` ended with `result`: what needs it done runs only if that is done (else it is not run, for `cause`);
    // what needs it only ended runs either way, once nothing else holds it.
    const ended = (step: Step, result: StepResult, cause: StepId) => {
      for (const { step: next, needsDone } of successors.get(step.id) ?? []) {
        if (reports.has(next.id)) continue;
        if (needsDone && result !== 'done') {
          const notRun: StepReport = signal.aborted ? { step: next, result: 'canceled', attempts: 0 } : { step: next, result: 'dependency', blockedBy: cause, attempts: 0 };
          settle(notRun);
          ended(next, notRun.result, cause);
          continue;
        }
        const left = waitingOn.get(next.id)! - 1;
        waitingOn.set(next.id, left);
        if (left === 0) launch(next);
      }
    };
    const launch = (step: Step) => {
      running += 1;
      void slots
        .acquire()
        .then(() => attempt(step))
        .then((report) => {
          slots.release();
          running -= 1;
          settle(report);
          ended(step, report.result, step.id);
          finishIfIdle();
        });
    };
    for (const step of plan.steps) if (waitingOn.get(step.id) === 0) launch(step);
    finishIfIdle();
  });
  return plan.steps.map((step) => reports.get(step.id)!);
}

function slotsFor(limit: number | undefined) {
  let free = limit ?? Number.POSITIVE_INFINITY;
  const queue: Array<() => void> = [];
  return {
    acquire(): Promise<void> {
      if (free > 0) {
        free -= 1;
        return Promise.resolve();
      }
      return new Promise((resolve) => queue.push(resolve));
    },
    release(): void {
      const next = queue.shift();
      if (next) next();
      else free += 1;
    },
  };
}

/** A start not run because a unit it needs is not running (while its own step, if any, ended done). */
function notStarted(step: Step, need: UnitRef, activeState: string, planned: ReadonlySet<StepId>): StepReport {
  const needed = stepId('start', need.node, need.unit);
  const error = new QmError('job-failed', `not run: ${unitKey(need.node, need.unit)}, which it needs, is ${activeState}`, { node: need.node, unit: need.unit });
  return { step, result: 'dependency', error, attempts: 0, ...(planned.has(needed) ? { blockedBy: needed } : {}) };
}

/** Every step ended done. */
export function allDone(reports: readonly StepReport[]): boolean {
  return reports.every((report) => report.result === 'done');
}

/** A step's effect that failed, as its outcome: a QmError naming the step's node and unit (`timeout` kept as such). */
export function failedOutcome(error: unknown, step: Step): StepOutcome {
  const where = { node: step.node, ...(step.unit === undefined ? {} : { unit: step.unit }) };
  const reason = !isQmError(error)
    ? new QmError('bus-error', error instanceof Error ? error.message : String(error), where, { cause: error })
    : error.origin.node === undefined
      ? new QmError(error.code, error.message, { ...error.origin, ...where }, { cause: error })
      : error;
  return { result: reason.code === 'timeout' ? 'timeout' : 'error', error: reason };
}
