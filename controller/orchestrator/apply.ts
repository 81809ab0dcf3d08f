// Apply = observe → plan → execute: the reconcile loop's one pass, shared by `qmctl apply` and the daemon.
import type { BlueChi } from '../bluechi/client.ts';
import type { QmError } from '../errors.ts';
import type { Layout } from '../layout/model.ts';
import { blueChiSteps } from './bluechi-steps.ts';
import { executePlan, type ExecutionEvent, type StepReport } from './execute.ts';
import { watchNodeStatus } from './node-board.ts';
import { observeAgain, observeVehicle } from './observe.ts';
import type { Observed } from './observed.ts';
import { planLayout, type Plan } from './plan.ts';
import { unconvergedUnits, type Unconverged } from './unconverged.ts';

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
  /** How the vehicle is seen before planning; default observeVehicle (three controller-wide reads). */
  readonly observe?: () => Promise<Observed>;
  /** How it is seen once the steps ended; default observeAgain. */
  readonly observeAfter?: (before: Observed, plan: Plan) => Promise<Observed>;
}

export type ApplyResult =
  /** The layout cannot be applied to this vehicle (nodes BlueChi does not know): nothing was done. */
  | { readonly kind: 'refused'; readonly errors: readonly QmError[] }
  | {
      readonly kind: 'applied';
      readonly plan: Plan;
      readonly reports: readonly StepReport[];
      /** Once the steps ended, the units the nodes report not as the layout wants (those waiting left out). */
      readonly unconverged: readonly Unconverged[];
    };

export async function applyLayout(client: BlueChi, layout: Layout, options: ApplyOptions = {}): Promise<ApplyResult> {
  const board = watchNodeStatus(client);
  try {
    const observed = await (options.observe ?? (() => observeVehicle(client, layout)))();
    for (const node of observed.nodes.values()) board.seed(node.name, node.online);
    const planned = planLayout(layout, observed);
    if (!planned.ok) return { kind: 'refused', errors: planned.errors };
    const plan = options.revise ? options.revise(planned.plan) : planned.plan;
    options.onPlan?.(plan);
    if (options.dryRun || plan.steps.length === 0) return { kind: 'applied', plan, reports: [], unconverged: [] };
    const effects = blueChiSteps(client, board, { timeoutMs: options.timeoutMs ?? 120_000, offlineWaitMs: options.offlineWaitMs });
    const reports = await executePlan(plan, effects, { signal: options.signal, onEvent: options.onEvent, concurrency: options.concurrency });
    // A job's result is what systemd said of the job; whether the unit is as wanted is what its node says now.
    const observeAfter = options.observeAfter ?? ((before: Observed, ran: Plan) => observeAgain(client, layout, before, ran));
    const after = options.signal?.aborted ? undefined : await unlessAborted(observeAfter(observed, plan), options.signal);
    const waiting = new Set(plan.waiting.map((wait) => wait.key));
    return { kind: 'applied', plan, reports, unconverged: after ? unconvergedUnits(layout, after, waiting) : [] };
  } finally {
    board.close();
  }
}

/** `work`'s value, or undefined at once when `signal` aborts: an interrupted apply does not wait to look again. */
function unlessAborted<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T | undefined> {
  if (!signal) return work;
  return new Promise<T | undefined>((resolve, reject) => {
    const onAbort = () => resolve(undefined);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** Plans without acting: the current diff between the vehicle and the layout. */
export async function planVehicle(client: BlueChi, layout: Layout): Promise<ApplyResult> {
  return applyLayout(client, layout, { dryRun: true });
}
