// An apply's outcome as one summary, whoever ran it: qm-controller's loop or `qmctl apply --direct`. Pure.
import { isQmError } from '../errors.ts';
import type { ApplyResult } from '../orchestrator/apply.ts';
import type { StepReport } from '../orchestrator/execute.ts';
import type { ApplySummary, ErrorJson, StepSummary } from './api.ts';

export const errorJson = (error: unknown): ErrorJson =>
  isQmError(error) ? (error.toJSON() as unknown as ErrorJson) : { code: 'bus-error', message: error instanceof Error ? error.message : String(error) };

export function stepSummary(report: StepReport): StepSummary {
  return {
    id: report.step.id,
    action: report.step.action,
    node: report.step.node,
    ...(report.step.unit === undefined ? {} : { unit: report.step.unit }),
    result: report.result,
    ...(report.job === undefined ? {} : { job: report.job }),
    ...(report.error ? { error: errorJson(report.error) } : {}),
    ...(report.blockedBy ? { blockedBy: report.blockedBy } : {}),
    attempts: report.attempts,
    ...(report.startedMs === undefined ? {} : { startedMs: report.startedMs }),
    ...(report.endedMs === undefined ? {} : { endedMs: report.endedMs }),
  };
}

interface Run {
  readonly trigger: string;
  readonly startedAt: string;
  readonly endedAt?: string;
}

const base = ({ trigger, startedAt, endedAt }: Run) => ({
  trigger,
  startedAt,
  endedAt: endedAt ?? new Date().toISOString(),
  steps: [],
  waiting: [],
  offline: [],
  unconverged: [],
  errors: [],
});

/** What applyLayout came back with. */
export function summarizeApply(run: Run, result: ApplyResult): ApplySummary {
  if (result.kind === 'refused') return { ...base(run), outcome: 'refused', errors: result.errors.map(errorJson) };
  return {
    ...base(run),
    outcome: 'applied',
    steps: result.reports.map(stepSummary),
    waiting: result.plan.waiting.map(({ key, node, reason }) => ({ key, node, reason })),
    offline: [...result.plan.offline],
    unconverged: [...result.unconverged],
  };
}

/** An apply that could not run (`unreachable`) or that failed as a whole (`failed`). */
export function summarizeFailure(run: Run, outcome: 'unreachable' | 'failed', error: unknown): ApplySummary {
  return { ...base(run), outcome, errors: [errorJson(error)] };
}
