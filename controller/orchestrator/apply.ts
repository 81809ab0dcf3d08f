// Apply = observe → plan → execute: the reconcile loop's one pass, shared by `qmctl apply` and the daemon.
import type { BlueChi } from '../bluechi/client.ts';
import type { QmError } from '../errors.ts';
import type { Layout } from '../layout/model.ts';
import { blueChiSteps } from './bluechi-steps.ts';
import { executePlan, type ExecutionEvent, type StepReport } from './execute.ts';
import { watchNodeStatus } from './node-board.ts';
import { observeVehicle } from './observe.ts';
import { planLayout, type Plan } from './plan.ts';

export interface ApplyOptions {
  /** Plan only: observe and plan, change nothing. */
  readonly dryRun?: boolean;
  readonly timeoutMs?: number;
  /** How long a step waits for its offline node; undefined: as long as it takes, 0: not at all. */
  readonly offlineWaitMs?: number;
  readonly signal?: AbortSignal;
  readonly onPlan?: (plan: Plan) => void;
  readonly onEvent?: (event: ExecutionEvent) => void;
  readonly concurrency?: number;
  /** Adjusts the plan before it runs (the daemon leaves out units whose restart budget is spent). */
  readonly revise?: (plan: Plan) => Plan;
}

export type ApplyResult =
  /** The layout cannot be applied to this vehicle (nodes BlueChi does not know): nothing was done. */
  | { readonly kind: 'refused'; readonly errors: readonly QmError[] }
  | { readonly kind: 'applied'; readonly plan: Plan; readonly reports: readonly StepReport[] };

export async function applyLayout(client: BlueChi, layout: Layout, options: ApplyOptions = {}): Promise<ApplyResult> {
  const board = watchNodeStatus(client);
  try {
    const observed = await observeVehicle(client, layout);
    for (const node of observed.nodes.values()) board.seed(node.name, node.online);
    const planned = planLayout(layout, observed);
    if (!planned.ok) return { kind: 'refused', errors: planned.errors };
    const plan = options.revise ? options.revise(planned.plan) : planned.plan;
    options.onPlan?.(plan);
    if (options.dryRun || plan.steps.length === 0) return { kind: 'applied', plan, reports: [] };
    const effects = blueChiSteps(client, board, { timeoutMs: options.timeoutMs ?? 120_000, offlineWaitMs: options.offlineWaitMs });
    const reports = await executePlan(plan, effects, { signal: options.signal, onEvent: options.onEvent, concurrency: options.concurrency });
    return { kind: 'applied', plan, reports };
  } finally {
    board.close();
  }
}

/** Plans without acting: the current diff between the vehicle and the layout. */
export async function planVehicle(client: BlueChi, layout: Layout): Promise<ApplyResult> {
  return applyLayout(client, layout, { dryRun: true });
}
