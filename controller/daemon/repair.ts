// Drift repair: when a unit the layout owns has left its desired state, and whether its restart budget allows
// another repair, after what delay. Pure: time comes in as a number, so tests drive it.
import type { DesiredState, RestartBudget } from '../layout/model.ts';

export interface RepairRecord {
  /** When repairs ran (ms; a repair runs when its start or stop begins), oldest first; only those within the budget's window count. */
  readonly ran: readonly number[];
  /** The repair scheduled or on its way and not run yet (its id): further drift of the unit is already being handled. */
  readonly pending?: number;
  /** The budget ran out: left alone until an operator applies or reloads (as systemd's start-limit-hit until reset-failed). */
  readonly exhausted: boolean;
  /** The delay of the last repair scheduled. */
  readonly lastDelayMs?: number;
}

export const NO_REPAIRS: RepairRecord = { ran: [], exhausted: false };

export type RepairDecision =
  /** Schedule repair `id` after `delayMs`; it spends the budget only once it runs a job (repairRan). */
  | { readonly kind: 'repair'; readonly id: number; readonly delayMs: number; readonly attempt: number; readonly record: RepairRecord }
  /** The budget ran out with this drift: report it once. */
  | { readonly kind: 'exhausted'; readonly record: RepairRecord }
  /** Nothing to do: a repair is pending, or the budget is already spent. */
  | { readonly kind: 'ignore'; readonly record: RepairRecord };

/** systemd's ActiveState that contradicts the desired state; transitional states (activating …) are not drift. */
export function leftDesiredState(desired: DesiredState, activeState: string): boolean {
  return desired === 'running' ? activeState === 'failed' || activeState === 'inactive' : activeState === 'active' || activeState === 'reloading';
}

/** Backoff doubles with each repair that ran in the window: backoff, 2×, 4× … */
export function decideRepair(record: RepairRecord, budget: RestartBudget, nowMs: number): RepairDecision {
  if (record.exhausted || record.pending !== undefined) return { kind: 'ignore', record };
  const ran = record.ran.filter((at) => nowMs - at < budget.windowMs);
  if (ran.length >= budget.attempts) return { kind: 'exhausted', record: { ...record, ran, exhausted: true } };
  const delayMs = budget.backoffMs * 2 ** ran.length;
  return { kind: 'repair', id: nowMs, delayMs, attempt: ran.length + 1, record: { ran, pending: nowMs, exhausted: false, lastDelayMs: delayMs } };
}

/** A start or stop of the unit began while a repair was pending: the repair ran, and spent the budget. */
export function repairRan(record: RepairRecord, nowMs: number): RepairRecord {
  if (record.pending === undefined) return record;
  return { ...record, ran: [...record.ran, nowMs], pending: undefined };
}

/** Repair `id`'s apply ended: if it ran no job (the unit was back by then), it cost nothing, and further drift is judged afresh. */
export function repairSettled(record: RepairRecord, id: number): RepairRecord {
  return record.pending === id ? { ...record, pending: undefined } : record;
}

/** Repairs left in the window now. */
export function repairsLeft(record: RepairRecord, budget: RestartBudget, nowMs: number): number {
  if (record.exhausted) return 0;
  return Math.max(0, budget.attempts - record.ran.filter((at) => nowMs - at < budget.windowMs).length);
}

/** Delay before reconnect attempt `attempt` (0-based): doubling from `initialMs`, capped at `maxMs`. */
export function reconnectDelay(attempt: number, initialMs: number, maxMs: number): number {
  return Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
}
