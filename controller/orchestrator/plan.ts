// Plan = f(layout, observed): the steps that make the vehicle match the layout, as an ordered graph. Pure.
import { QmError } from '../errors.ts';
import { layoutNodes, unitKey, type Layout, type UnitKey, type UnitRef, type UnitSpec } from '../layout/model.ts';
import type { NodeName, UnitName } from '../unit-names.ts';
import { activeStateOf, isMasked, isRunning, isStopped, needsDisable, needsEnable, type Observed, type ObservedNode } from './observed.ts';

export type UnitAction = 'start' | 'stop' | 'enable' | 'disable';
export type Action = UnitAction | 'daemon-reload';
/** Where a disable removes enablement links: /etc/systemd/system (persistent) or /run/systemd/system (runtime). */
export type UnitFileScope = 'persistent' | 'runtime';

/** `start ecu-a/x.service`, `daemon-reload ecu-a`: readable, and unique within a plan. */
export type StepId = string & { readonly __brand: 'StepId' };

interface StepOrder {
  readonly id: StepId;
  readonly node: NodeName;
  /** Steps that must have ended `done` before this one runs; when one did not, this one does not run. */
  readonly after: readonly StepId[];
  /** Steps that must have ended, whatever their result, before this one runs (a reload after the unit-file changes). */
  readonly afterEnded: readonly StepId[];
  /** What was observed and what the layout wants: `inactive → running`, `disabled → enabled`. */
  readonly change: string;
}

export type Step =
  | (StepOrder & {
      readonly action: UnitAction;
      readonly unit: UnitName;
      /** For disable: the scopes whose links go (DisableUnitFiles' runtime flag), one call each. */
      readonly scopes?: readonly UnitFileScope[];
      /** Set when the vehicle refuses the step (enabling a masked unit): it is not run, it ends `error` with this. */
      readonly error?: QmError;
      /** For start: every unit the layout says it needs, with a step or not; each must be running when it is about to start. */
      readonly needs?: readonly UnitRef[];
    })
  | (StepOrder & { readonly action: 'daemon-reload'; readonly unit?: undefined; readonly scopes?: undefined; readonly error?: undefined });
export type UnitStep = Extract<Step, { readonly action: UnitAction }>;

/** A unit the plan cannot act on yet: its node, or a node a dependency lives on, is offline. */
export interface Waiting {
  readonly key: UnitKey;
  readonly node: NodeName;
  readonly reason: string;
}

export interface Plan {
  /** In an order that respects `after` (dependencies first); independent steps may run at once. */
  readonly steps: readonly Step[];
  readonly waiting: readonly Waiting[];
  /** Nodes of the layout that are offline: not observed, so nothing is planned on them. */
  readonly offline: readonly NodeName[];
}

export type Planned = { readonly ok: true; readonly plan: Plan } | { readonly ok: false; readonly errors: readonly QmError[] };

export const stepId = (action: Action, node: NodeName, unit?: UnitName): StepId =>
  (unit === undefined ? `${action} ${node}` : `${action} ${unitKey(node, unit)}`) as StepId;

/**
 * Per node: enable/disable what differs, then one daemon-reload once those ended (whatever their result),
 * then start/stop what differs. A start waits for its own unit's enable/disable and for the starts of the
 * units it needs (across nodes too), and carries all it needs (`needs`) to be checked just before it runs; a stop
 * waits for the stops of the units that need it. A failed
 * unit-file step so holds back only its own unit's start and what needs that unit. Enabling a masked unit
 * is planned as refused. Units on offline nodes, and what waits on them, are left for later.
 * Errors: layout nodes BlueChi does not know — then nothing is planned at all.
 */
export function planLayout(layout: Layout, observed: Observed): Planned {
  const errors = unknownNodes(layout, observed);
  if (errors.length > 0) return { ok: false, errors };

  const units = [...layout.units.values()];
  const online = (node: NodeName): ObservedNode | undefined => {
    const found = observed.nodes.get(node);
    return found?.online ? found : undefined;
  };
  const neededBy = new Map<UnitKey, UnitSpec[]>();
  for (const unit of units) {
    for (const need of unit.needs) {
      const key = unitKey(need.node, need.unit);
      const dependents = neededBy.get(key);
      if (dependents) dependents.push(unit);
      else neededBy.set(key, [unit]);
    }
  }

  // The job each unit needs, if any (undefined: in its desired state); 'unknown' when its node is offline.
  const jobs = new Map<UnitKey, { action: 'start' | 'stop'; change: string } | 'unknown' | undefined>();
  for (const unit of units) {
    const node = online(unit.node);
    if (!node) {
      jobs.set(unit.key, 'unknown');
      continue;
    }
    const active = activeStateOf(node, unit.unit);
    if (unit.state === 'running' && !isRunning(active)) jobs.set(unit.key, { action: 'start', change: `${active} → running` });
    else if (unit.state === 'stopped' && !isStopped(active)) jobs.set(unit.key, { action: 'stop', change: `${active} → stopped` });
    else jobs.set(unit.key, undefined);
  }

  // Which other units' jobs a unit's job must follow: starts follow needs, stops follow the reverse.
  const predecessors = (unit: UnitSpec): UnitSpec[] => {
    const job = jobs.get(unit.key);
    if (job === undefined || job === 'unknown') return [];
    const related = job.action === 'start' ? unit.needs.map((need) => layout.units.get(unitKey(need.node, need.unit))!) : neededBy.get(unit.key) ?? [];
    return related.filter((other) => jobs.get(other.key) !== undefined);
  };

  // A job waits while anything it must follow is unknown or itself waiting; memoised over the acyclic graph.
  const waitReason = new Map<UnitKey, string | undefined>();
  const reasonOf = (unit: UnitSpec): string | undefined => {
    if (waitReason.has(unit.key)) return waitReason.get(unit.key);
    let reason: string | undefined;
    if (jobs.get(unit.key) === 'unknown') reason = `node ${unit.node} is offline`;
    else {
      for (const other of predecessors(unit)) {
        const otherReason = reasonOf(other);
        if (otherReason !== undefined) {
          reason = jobs.get(other.key) === 'unknown' ? `${other.key} is on node ${other.node}, which is offline` : `${other.key} waits: ${otherReason}`;
          break;
        }
      }
    }
    waitReason.set(unit.key, reason);
    return reason;
  };

  const steps: Step[] = [];
  // The unit-file step of each unit, and per node those the vehicle will run (what its reload follows).
  const fileStep = new Map<UnitKey, StepId>();
  const reloadAfter = new Map<NodeName, StepId[]>();
  for (const unit of units) {
    const node = online(unit.node);
    if (!node || unit.enabled === undefined) continue;
    const step = unitFileStep(unit, node.unitFiles.get(unit.unit));
    if (!step) continue;
    steps.push(step);
    fileStep.set(unit.key, step.id);
    if (step.error === undefined) {
      const before = reloadAfter.get(unit.node);
      if (before) before.push(step.id);
      else reloadAfter.set(unit.node, [step.id]);
    }
  }
  for (const [node, afterEnded] of reloadAfter) {
    steps.push({ id: stepId('daemon-reload', node), action: 'daemon-reload', node, after: [], afterEnded, change: 'reload unit files' });
  }

  const waiting: Waiting[] = [];
  for (const unit of units) {
    const job = jobs.get(unit.key);
    if (job === undefined) continue;
    const reason = reasonOf(unit);
    if (reason !== undefined) {
      waiting.push({ key: unit.key, node: unit.node, reason });
      continue;
    }
    if (job === 'unknown') continue;
    const own = job.action === 'start' ? fileStep.get(unit.key) : undefined;
    const after = [
      ...(reloadAfter.has(unit.node) ? [stepId('daemon-reload', unit.node)] : []),
      ...(own === undefined ? [] : [own]),
      ...predecessors(unit).map((other) => stepId((jobs.get(other.key) as { action: 'start' | 'stop' }).action, other.node, other.unit)),
    ];
    const needs = job.action === 'start' && unit.needs.length > 0 ? { needs: unit.needs } : {};
    steps.push({ id: stepId(job.action, unit.node, unit.unit), action: job.action, node: unit.node, unit: unit.unit, after, afterEnded: [], change: job.change, ...needs });
  }

  const offline = layoutNodes(layout).filter((node) => !online(node));
  return { ok: true, plan: { steps: topologicalOrder(steps), waiting, offline } };
}

/** The enable or disable that brings `state` to what `unit` wants, if any; enabling a masked unit is refused. */
function unitFileStep(unit: UnitSpec, state: string | undefined): Step | undefined {
  const base = { node: unit.node, unit: unit.unit, after: [], afterEnded: [] };
  if (unit.enabled === true && isMasked(state)) {
    const error = new QmError('unit-masked', `${unit.unit} on node ${unit.node} is masked: systemd refuses to enable it (unmask it, or leave out enabled)`, {
      node: unit.node,
      unit: unit.unit,
      dbusName: 'org.freedesktop.systemd1.UnitMasked',
    });
    return { ...base, id: stepId('enable', unit.node, unit.unit), action: 'enable', change: `${state}: cannot be enabled`, error };
  }
  if (unit.enabled === true && needsEnable(state)) return { ...base, id: stepId('enable', unit.node, unit.unit), action: 'enable', change: `${state ?? 'unknown'} → enabled` };
  if (unit.enabled === false && needsDisable(state)) {
    // systemd reports `enabled` when /etc has links, whatever /run has; `enabled-runtime` when only /run has.
    const runtimeOnly = state === 'enabled-runtime';
    return {
      ...base,
      id: stepId('disable', unit.node, unit.unit),
      action: 'disable',
      scopes: runtimeOnly ? ['runtime'] : ['persistent', 'runtime'],
      change: `${state} → disabled${runtimeOnly ? ' (runtime)' : ''}`,
    };
  }
  return undefined;
}

function unknownNodes(layout: Layout, observed: Observed): QmError[] {
  const known = [...observed.nodes.keys()].join(', ') || 'none';
  return [...layout.nodes.values()].flatMap((node) =>
    (node.qm ? [node.name, `qm.${node.name}` as NodeName] : [node.name])
      .filter((name) => !observed.nodes.has(name))
      .map(
        (name) =>
          new QmError(
            'node-unknown',
            `node ${name}${name === node.name ? '' : ` (the QM partition of ${node.name})`} is in the layout but not known to the BlueChi controller; known nodes: ${known}`,
            { ...node.origin, field: `nodes.${node.name}`, node: name },
          ),
      ),
  );
}

/** Kahn's algorithm, keeping the given order among steps that are ready together; linear in steps and edges. */
export function topologicalOrder(steps: readonly Step[]): Step[] {
  // Kahn's order by levels: a step's level is one more than its deepest prerequisite's; each level keeps input order.
  const prerequisites = new Map(steps.map((step) => [step.id, new Set([...step.after, ...step.afterEnded])]));
  const left = new Map<StepId, number>();
  const dependents = new Map<StepId, StepId[]>();
  for (const [id, before] of prerequisites) {
    left.set(id, before.size);
    for (const prerequisite of before) {
      const waiting = dependents.get(prerequisite);
      if (waiting) waiting.push(id);
      else dependents.set(prerequisite, [id]);
    }
  }
  const level = new Map<StepId, number>();
  let current = [...prerequisites.keys()].filter((id) => left.get(id) === 0);
  for (let depth = 0; current.length > 0; depth++) {
    const next: StepId[] = [];
    for (const id of current) {
      level.set(id, depth);
      for (const dependent of dependents.get(id) ?? []) {
        const count = left.get(dependent)! - 1;
        left.set(dependent, count);
        if (count === 0) next.push(dependent);
      }
    }
    current = next;
  }
  if (level.size < prerequisites.size) {
    throw new Error(`plan has a cycle among ${[...prerequisites.keys()].filter((id) => !level.has(id)).join(', ')}`);
  }
  const levels: Step[][] = [];
  for (const step of steps) (levels[level.get(step.id)!] ??= []).push(step);
  return levels.flat();
}

/** Nothing to do: no steps, nothing waiting. */
export function isConverged(plan: Plan): boolean {
  return plan.steps.length === 0 && plan.waiting.length === 0;
}
