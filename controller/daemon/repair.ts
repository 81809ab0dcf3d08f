// Drift repair: when a unit the layout owns has left its desired state, and whether its restart budget allows
// another repair, after what delay. Pure: time comes in as a number, so tests drive it.
import type { DesiredState, RestartBudget } from '../layout/model.ts';

export interface RepairRecord {
  /** When repairs were granted (ms), oldest first; only those within the budget's window count. */
  readonly granted: readonly number[];
  /** A repair is scheduled and has not run yet: further drift of the unit is already being handled. */
  readonly pending: boolean;
  /** The budget ran out: left alone until an operator applies or reloads (as systemd's start-limit-hit until reset-failed). */
  readonly exhausted: boolean;
  /** The delay of the last repair granted. */
  readonly lastDelayMs?: number;
}

export const NO_REPAIRS: RepairRecord = { granted: [], pending: false, exhausted: false };

export type RepairDecision =
  | { readonly kind: 'repair'; readonly delayMs: number; readonly attempt: number; readonly record: RepairRecord }
  /** The budget ran out with this drift: report it once. */
  | { readonly kind: 'exhausted'; readonly record: RepairRecord }
  /** Nothing to do: a repair is pending, or the budget is already spent. */
  | { readonly kind: 'ignore'; readonly record: RepairRecord };

/** systemd's ActiveState that contradicts the desired state; transitional states (activating …) are not drift. */
export function leftDesiredState(desired: DesiredState, activeState: string): boolean {
  return desired === 'running' ? activeState === 'failed' || activeState === 'inactive' : activeState === 'active' || activeState === 'reloading';
}

/** Backoff doubles with each repair already granted in the window: backoff, 2×, 4× … */
export function decideRepair(record: RepairRecord, budget: RestartBudget, nowMs: number): RepairDecision {
  if (record.exhausted || record.pending) return { kind: 'ignore', record };
  const granted = record.granted.filter((at) => nowMs - at < budget.windowMs);
  if (granted.length >= budget.attempts) return { kind: 'exhausted', record: { ...record, granted, exhausted: true } };
  const delayMs = budget.backoffMs * 2 ** granted.length;
  return { kind: 'repair', delayMs, attempt: granted.length + 1, record: { granted: [...granted, nowMs], pending: true, exhausted: false, lastDelayMs: delayMs } };
}

/** The scheduled repair ran (its apply was triggered): further drift is judged afresh. */
export function repairRan(record: RepairRecord): RepairRecord {
  return { ...record, pending: false };
}

/** Repairs left in the window now. */
export function repairsLeft(record: RepairRecord, budget: RestartBudget, nowMs: number): number {
  if (record.exhausted) return 0;
  return Math.max(0, budget.attempts - record.granted.filter((at) => nowMs - at < budget.windowMs).length);
}

/** Delay before reconnect attempt `attempt` (0-based): doubling from `initialMs`, capped at `maxMs`. */
export function reconnectDelay(attempt: number, initialMs: number, maxMs: number): number {
  return Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
}
