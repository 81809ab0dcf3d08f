// Units whose restart budget is spent are left alone: their jobs, and what waits on them, leave the plan. Pure.
import { unitKey, type UnitKey } from '../layout/model.ts';
import type { Plan, Step, StepId, Waiting } from '../orchestrator/plan.ts';

export function withoutHeld(plan: Plan, held: ReadonlySet<UnitKey>): Plan {
  if (held.size === 0) return plan;
  // Removed step → the held unit it was removed for.
  const removed = new Map<StepId, UnitKey>();
  const waiting: Waiting[] = [];
  const steps: Step[] = [];
  // Steps are in dependency order, so a step's predecessors are decided before it.
  for (const step of plan.steps) {
    const key = step.unit === undefined ? undefined : unitKey(step.node, step.unit);
    const isJob = step.action === 'start' || step.action === 'stop';
    const blocker = step.after.find((id) => removed.has(id));
    const heldUnit = isJob && key !== undefined && held.has(key) ? key : blocker === undefined ? undefined : removed.get(blocker);
    if (heldUnit === undefined) {
      steps.push(step);
      continue;
    }
    removed.set(step.id, heldUnit);
    const reason = `${heldUnit === key ? 'its' : `${heldUnit}'s`} restart budget is exhausted; qmctl apply or controller-reload resets it`;
    if (key !== undefined) waiting.push({ key, node: step.node, reason });
  }
  return { ...plan, steps, waiting: [...plan.waiting, ...waiting] };
}
