// Drift repair over time: one record per unit the layout owns, a timer per repair scheduled. What to decide is
// repair.ts's; here the decisions are kept, timed and logged, and a budget is spent only when a repair runs a job.
import type { UnitKey, UnitSpec } from '../layout/model.ts';
import { decideRepair, NO_REPAIRS, repairRan, repairSettled, type RepairRecord } from './repair.ts';
import { afterDelay, type Timer } from './timer.ts';

export interface RepairLog {
  warn(message: string): void;
  error(message: string): void;
}

export interface Repairs {
  /** `spec`'s unit is in `state` (`active`, `failed/failed` …), contrary to the layout: repair it within its budget. */
  drifted(spec: UnitSpec, state: string): void;
  /** A start or stop of `key` began: the repair pending for it, if any, runs now and spends the budget. */
  jobStarted(key: UnitKey): void;
  /** Units whose budget is spent: left alone until reset. */
  held(): Set<UnitKey>;
  record(key: UnitKey): RepairRecord;
  /** Repairs whose delay has not run out yet. */
  readonly scheduled: number;
  /** An operator applied or reloaded: every budget is whole again, nothing is scheduled. */
  reset(): void;
}

export interface RepairOptions {
  readonly now: () => number;
  readonly log: RepairLog;
  /** Runs the repair of `key` (an apply that looks at that unit); settles when that apply ended. */
  readonly run: (key: UnitKey) => Promise<unknown>;
}

export function repairScheduler({ now, log, run }: RepairOptions): Repairs {
  const records = new Map<UnitKey, RepairRecord>();
  const timers = new Map<UnitKey, Timer>();
  const cancel = (key: UnitKey) => {
    timers.get(key)?.clear();
    timers.delete(key);
  };
  return {
    drifted(spec, state) {
      const decision = decideRepair(records.get(spec.key) ?? NO_REPAIRS, spec.restart, now());
      records.set(spec.key, decision.record);
      const budget = `${spec.restart.attempts} repairs within ${spec.restart.windowMs} ms`;
      if (decision.kind === 'exhausted') {
        log.error(`${spec.key} is ${state.split('/')[0]} and its restart budget (${budget}) is exhausted: left alone until qmctl apply or qmctl controller-reload`);
      } else if (decision.kind === 'repair') {
        log.warn(`${spec.key} left its desired state (${state}): repair ${decision.attempt} of ${spec.restart.attempts} in ${decision.delayMs} ms`);
        const key = spec.key;
        timers.set(
          key,
          // The doubled backoff may be beyond what one Node timer can wait.
          afterDelay(decision.delayMs, () => {
            timers.delete(key);
            // Found the unit back (nothing started or stopped it): the repair cost nothing.
            const settle = () => records.has(key) && records.set(key, repairSettled(records.get(key)!, decision.id));
            void run(key).then(settle, settle);
          }),
        );
      }
    },
    jobStarted(key) {
      const record = records.get(key);
      if (record?.pending === undefined) return;
      records.set(key, repairRan(record, now()));
      cancel(key);
    },
    held: () => new Set([...records].filter(([, record]) => record.exhausted).map(([key]) => key)),
    record: (key) => records.get(key) ?? NO_REPAIRS,
    get scheduled() {
      return timers.size;
    },
    reset() {
      for (const key of [...timers.keys()]) cancel(key);
      records.clear();
    },
  };
}
