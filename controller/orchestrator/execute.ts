// Runs a plan: every step as soon as the steps it waits for ended done, independent ones at once.
// The effects (bus calls) come from outside, so the scheduling is tested without a bus.
import { setMaxListeners } from 'node:events';
import type { JobResult } from '../bus/jobs.ts';
import { isQmError, QmError } from '../errors.ts';
import type { NodeName } from '../unit-names.ts';
import type { Plan, Step, StepId } from './plan.ts';

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
  /** One attempt; `signal` aborts it (interrupted by the user). Never rejects: failures are outcomes. */
  run(step: Step, signal: AbortSignal): Promise<StepOutcome>;
  /** Resolves true once `node` is online again, false when giving up on it. Without it, offline is final. */
  whenOnline?(node: NodeName, signal: AbortSignal): Promise<boolean>;
  /** After the node came back: is the step still needed, did its job finish while the node was away, or is the node gone again? */
  recheck?(step: Step, signal: AbortSignal): Promise<'needed' | 'done' | 'offline'>;
}

export type ExecutionEvent =
  | { readonly kind: 'started'; readonly step: Step; readonly attempt: number }
  | { readonly kind: 'offline'; readonly step: Step }
  | { readonly kind: 'ended'; readonly report: StepReport };

export interface ExecuteOptions {
  readonly signal?: AbortSignal;
  readonly onEvent?: (event: ExecutionEvent) => void;
  /** Most steps running at once; default unlimited. */
  readonly concurrency?: number;
}

/**
 * Reports for every step, in plan order. A step runs once each step in its `after` ended done; when one
 * did not, the step and everything after it end `dependency` while the rest of the plan carries on.
 */
export async function executePlan(plan: Plan, effects: StepEffects, options: ExecuteOptions = {}): Promise<StepReport[]> {
  const began = performance.now();
  const now = () => Math.round(performance.now() - began);
  const signal = options.signal ?? new AbortController().signal;
  setMaxListeners(0, signal); // every running step listens for the interrupt
  const emit = options.onEvent ?? (() => undefined);
  const reports = new Map<StepId, StepReport>();
  const successors = new Map<StepId, Step[]>();
  const waitingOn = new Map<StepId, number>();
  for (const step of plan.steps) {
    waitingOn.set(step.id, step.after.length);
    for (const before of step.after) successors.set(before, [...(successors.get(before) ?? []), step]);
  }
  const slots = slotsFor(options.concurrency);

  const settle = (report: StepReport) => {
    reports.set(report.step.id, report);
    emit({ kind: 'ended', report });
  };
  // Not run: everything downstream of a step that did not end done.
  const block = (step: Step, cause: StepId) => {
    for (const next of successors.get(step.id) ?? []) {
      if (reports.has(next.id)) continue;
      settle({ step: next, result: 'dependency', blockedBy: cause, attempts: 0 });
      block(next, cause);
    }
  };

  const attempt = async (step: Step): Promise<StepReport> => {
    const startedMs = now();
    let attempts = 0;
    for (;;) {
      if (signal.aborted) return { step, result: 'canceled', attempts, startedMs, endedMs: now() };
      attempts += 1;
      emit({ kind: 'started', step, attempt: attempts });
      const outcome = await effects.run(step, signal).catch((error: unknown): StepOutcome => ({ result: 'error', error: asQmError(error) }));
      if (outcome.result !== 'offline' || !effects.whenOnline) return { step, ...outcome, attempts, startedMs, endedMs: now() };
      emit({ kind: 'offline', step });
      for (;;) {
        if (!(await effects.whenOnline(step.node, signal))) return { step, ...outcome, attempts, startedMs, endedMs: now() };
        // What was submitted before the node left may have finished meanwhile: ask before doing it again.
        const state = effects.recheck ? await effects.recheck(step, signal) : 'needed';
        if (state === 'done') return { step, result: 'done', attempts, startedMs, endedMs: now() };
        if (state === 'needed') break;
      }
    }
  };

  await new Promise<void>((resolve) => {
    let running = 0;
    const finishIfIdle = () => {
      if (running === 0 && reports.size === plan.steps.length) resolve();
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
          if (report.result === 'done') {
            for (const next of successors.get(step.id) ?? []) {
              const left = waitingOn.get(next.id)! - 1;
              waitingOn.set(next.id, left);
              if (left === 0 && !reports.has(next.id)) launch(next);
            }
          } else block(step, step.id);
          finishIfIdle();
        });
    };
    for (const step of plan.steps) if (step.after.length === 0) launch(step);
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

/** Every step ended done. */
export function allDone(reports: readonly StepReport[]): boolean {
  return reports.every((report) => report.result === 'done');
}

function asQmError(error: unknown): QmError {
  return isQmError(error) ? error : new QmError('bus-error', error instanceof Error ? error.message : String(error), {}, { cause: error });
}
