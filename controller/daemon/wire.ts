// org.qm.Controller1's values on the wire and back: the JavaScript shapes of api.ts as the D-Bus types it declares.
// One function each way per type, used by the service and by qmctl alike, so the two cannot drift apart.
import dbus from 'dbus-next';
import { QmError, type ErrorCode } from '../errors.ts';
import type { Plan, Step, StepId, UnitFileScope } from '../orchestrator/plan.ts';
import type { NodeName, UnitName } from '../unit-names.ts';
import type { UnitKey } from '../layout/model.ts';
import type { ApplySummary, DaemonStatus, ErrorJson, ReloadOutcome, StepSummary } from './api.ts';

type Wire = unknown[];

/** ISO time ↔ µs since the epoch (systemd's timestamps); '' ↔ 0. */
const toMicros = (iso: string): bigint => (iso === '' ? 0n : BigInt(Date.parse(iso)) * 1000n);
const fromMicros = (micros: unknown): string => (BigInt(micros as bigint) === 0n ? '' : new Date(Number(BigInt(micros as bigint) / 1000n)).toISOString());

const ORIGIN_TYPES = { file: 's', line: 'u', column: 'u', field: 's', node: 's', unit: 's', address: 's', dbusName: 's' } as const;

export function encodeError(error: ErrorJson): Wire {
  const origin: Record<string, dbus.Variant> = {};
  for (const [key, type] of Object.entries(ORIGIN_TYPES)) {
    const value = (error as unknown as Record<string, unknown>)[key];
    if (value !== undefined) origin[key] = new dbus.Variant(type, value);
  }
  return [error.code, error.message, origin];
}

export function decodeError([code, message, origin]: Wire): ErrorJson {
  const where: Record<string, unknown> = {};
  for (const [key, variant] of Object.entries(origin as Record<string, dbus.Variant>)) if (key in ORIGIN_TYPES) where[key] = variant.value;
  return { code: code as string, message: message as string, ...where };
}

const optional = <T>(value: T | undefined): T[] => (value === undefined ? [] : [value]);

export function encodeStep(step: StepSummary): Wire {
  return [
    step.id,
    step.action,
    step.node,
    step.unit ?? '',
    step.result,
    step.job ?? '',
    step.blockedBy ?? '',
    step.attempts,
    BigInt(Math.round(step.startedMs ?? -1)),
    BigInt(Math.round(step.endedMs ?? -1)),
    optional(step.error).map(encodeError),
  ];
}

export function decodeStep([id, action, node, unit, result, job, blockedBy, attempts, startedMs, endedMs, error]: Wire): StepSummary {
  const started = Number(startedMs);
  const ended = Number(endedMs);
  const errors = (error as Wire[]).map(decodeError);
  return {
    id: id as string,
    action: action as string,
    node: node as string,
    ...(unit === '' ? {} : { unit: unit as string }),
    result: result as string,
    ...(job === '' ? {} : { job: job as string }),
    ...(errors[0] ? { error: errors[0] } : {}),
    ...(blockedBy === '' ? {} : { blockedBy: blockedBy as string }),
    attempts: attempts as number,
    ...(started < 0 ? {} : { startedMs: started }),
    ...(ended < 0 ? {} : { endedMs: ended }),
  };
}

/** An apply's summary; outcome `none` (and zero times) before the first apply. */
export function encodeSummary(summary: ApplySummary | undefined): Wire {
  if (!summary) return ['', 'none', 0n, 0n, [], [], [], [], []];
  return [
    summary.trigger,
    summary.outcome,
    toMicros(summary.startedAt),
    toMicros(summary.endedAt),
    summary.steps.map(encodeStep),
    summary.waiting.map((wait) => [wait.key, wait.node, wait.reason]),
    [...summary.offline],
    summary.unconverged.map((unit) => [unit.node, unit.unit, unit.desired, unit.observed]),
    summary.errors.map(encodeError),
  ];
}

export function decodeSummary([trigger, outcome, startedAt, endedAt, steps, waiting, offline, unconverged, errors]: Wire): ApplySummary | undefined {
  if (outcome === 'none') return undefined;
  return {
    trigger: trigger as string,
    outcome: outcome as ApplySummary['outcome'],
    startedAt: fromMicros(startedAt),
    endedAt: fromMicros(endedAt),
    steps: (steps as Wire[]).map(decodeStep),
    waiting: (waiting as string[][]).map(([key, node, reason]) => ({ key: key!, node: node!, reason: reason! })),
    offline: offline as string[],
    unconverged: (unconverged as string[][]).map(([node, unit, desired, observed]) => ({ node: node!, unit: unit!, desired: desired!, observed: observed! })),
    errors: (errors as Wire[]).map(decodeError),
  };
}

export function encodeReload(outcome: ReloadOutcome | undefined): Wire {
  if (!outcome) return [false, 0n, [], []];
  return [outcome.reloaded, toMicros(outcome.at), [...outcome.files], outcome.errors.map(encodeError)];
}

export function decodeReload([reloaded, at, files, errors]: Wire): ReloadOutcome | undefined {
  if (BigInt(at as bigint) === 0n) return undefined;
  return { reloaded: reloaded as boolean, at: fromMicros(at), files: files as string[], errors: (errors as Wire[]).map(decodeError) };
}

/** org.qm.Controller1's properties for a status. */
export function encodeStatus(status: DaemonStatus): Record<string, unknown> {
  return {
    Status: status.status,
    BlueChi: status.bluechi,
    LayoutFiles: [...status.layout.files],
    Nodes: status.nodes.map((node) => [node.name, node.online]),
    Units: status.units.map((unit) => [unit.node, unit.unit, unit.desired, unit.observed, unit.converged]),
    Repairs: status.units.map((unit) => [
      unit.node,
      unit.unit,
      unit.repairs.done,
      unit.repairs.left,
      unit.repairs.budget,
      unit.repairs.exhausted,
      BigInt(unit.repairs.lastDelayMs ?? -1),
    ]),
    Applies: status.applies,
    LastApply: encodeSummary(status.lastApply),
    LastReload: encodeReload(status.lastReload),
  };
}

/** A status from org.qm.Controller1's properties (GetAll's values, variants unwrapped). */
export function decodeStatus(properties: Record<string, unknown>): DaemonStatus {
  const repairs = new Map(
    (properties.Repairs as Wire[]).map(([node, unit, done, left, budget, exhausted, lastDelayMs]) => [
      `${node as string}/${unit as string}`,
      {
        done: done as number,
        left: left as number,
        budget: budget as number,
        exhausted: exhausted as boolean,
        ...(Number(lastDelayMs) < 0 ? {} : { lastDelayMs: Number(lastDelayMs) }),
      },
    ]),
  );
  const units = (properties.Units as Wire[]).map(([node, unit, desired, observed, converged]) => ({
    node: node as string,
    unit: unit as string,
    desired: desired as string,
    observed: observed as string,
    converged: converged as boolean,
    repairs: repairs.get(`${node as string}/${unit as string}`) ?? { done: 0, left: 0, budget: 0, exhausted: false },
  }));
  const lastApply = decodeSummary(properties.LastApply as Wire);
  const lastReload = decodeReload(properties.LastReload as Wire);
  return {
    status: properties.Status as DaemonStatus['status'],
    layout: { files: properties.LayoutFiles as string[], units: units.length },
    bluechi: properties.BlueChi as DaemonStatus['bluechi'],
    converged: properties.Status === 'converged',
    nodes: (properties.Nodes as Wire[]).map(([name, online]) => ({ name: name as string, online: online as boolean })),
    units,
    applies: properties.Applies as number,
    ...(lastApply ? { lastApply } : {}),
    ...(lastReload ? { lastReload } : {}),
  };
}

export function encodePlan(plan: Plan): Wire {
  const error = (step: Step) => (step.error ? [encodeError({ code: step.error.code, message: step.error.message, ...step.error.origin })] : []);
  return [
    plan.steps.map((step) => [step.id, step.action, step.node, step.unit ?? '', step.change, [...step.after], [...step.afterEnded], [...(step.scopes ?? [])], error(step)]),
    plan.waiting.map((wait) => [wait.key, wait.node, wait.reason]),
    [...plan.offline],
  ];
}

/** The plan Plan() returned, as the orchestrator's Plan: a refused step's error a QmError again. */
export function decodePlan([steps, waiting, offline]: Wire): Plan {
  return {
    steps: (steps as Wire[]).map(([id, action, node, unit, change, after, afterEnded, scopes, errors]) => {
      const [error] = (errors as Wire[]).map(decodeError);
      const order = { id: id as StepId, node: node as NodeName, after: after as StepId[], afterEnded: afterEnded as StepId[], change: change as string };
      if (action === 'daemon-reload') return { ...order, action: 'daemon-reload' } as Step;
      return {
        ...order,
        action: action as 'start',
        unit: unit as UnitName,
        ...((scopes as string[]).length > 0 ? { scopes: scopes as UnitFileScope[] } : {}),
        ...(error ? { error: asQmError(error) } : {}),
      } as Step;
    }),
    waiting: (waiting as string[][]).map(([key, node, reason]) => ({ key: key as UnitKey, node: node as NodeName, reason: reason! })),
    offline: offline as NodeName[],
  };
}

export function asQmError({ code, message, ...origin }: ErrorJson): QmError {
  return new QmError(code as ErrorCode, message, origin);
}
