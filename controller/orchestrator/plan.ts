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

/** An empty list: shared, where a list is read only. */
const NONE: readonly never[] = Object.freeze([]);

/** A start or stop a unit needs, with the id of its step and what it changes (`inactive → running`). */
interface Job {
  readonly action: 'start' | 'stop';
  readonly id: StepId;
  readonly change: string;
}

/** What planning learns of one unit of the layout. */
interface Planning {
  readonly unit: UnitSpec;
  /** Its node when online. */
  readonly node: ObservedNode | undefined;
  /** The job it needs; undefined when it is in its desired state, 'unknown' when its node is offline. */
  readonly job: Job | 'unknown' | undefined;
  /** The units it needs. */
  needs: readonly Planning[];
  /** The units that need it, if any (made once a stop asks). */
  neededBy: Planning[] | undefined;
  /** The units whose jobs its job must follow, once asked. */
  predecessors: readonly Planning[] | undefined;
  /** Why its job waits; null once known that it does not. */
  reason: string | null | undefined;
}

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

  const online = (node: NodeName): ObservedNode | undefined => {
    const found = observed.nodes.get(node);
    return found?.online ? found : undefined;
  };
  // One record per unit, holding all planning learns of it: a vehicle has thousands of units and several times as
  // many needs, and a map per fact made the planner's time per unit grow with the vehicle (tables out of cache, and
  // more for the collector to copy).
  const records = new Map<UnitKey, Planning>();
  // `inactive → running`: one string for each pair, not one per unit.
  const changes = new Map<string, string>();
  const change = (active: string, state: string) => {
    const pair = `${active} ${state}`;
    let text = changes.get(pair);
    if (text === undefined) changes.set(pair, (text = `${active} → ${state}`));
    return text;
  };
  for (const unit of layout.units.values()) {
    const node = online(unit.node);
    let job: Planning['job'] = 'unknown';
    if (node) {
      const active = activeStateOf(node, unit.unit);
      const action = unit.state === 'running' ? (isRunning(active) ? undefined : 'start') : isStopped(active) ? undefined : 'stop';
      // The id is stepId(action, unit.node, unit.unit), made from the key the layout already holds.
      job = action && { action, id: `${action} ${unit.key}` as StepId, change: change(active, unit.state) };
    }
    records.set(unit.key, { unit, node, job, needs: NONE, neededBy: undefined, predecessors: undefined, reason: undefined });
  }
  // Needs resolved to records (validation made sure they are in the layout).
  for (const record of records.values()) {
    if (record.unit.needs.length > 0) record.needs = record.unit.needs.map((need) => records.get(need.key)!);
  }
  // And the reverse, which only stops follow: made the first time a stop asks.
  let reversed = false;
  const neededBy = (record: Planning): readonly Planning[] => {
    if (!reversed) {
      reversed = true;
      for (const needer of records.values()) for (const needed of needer.needs) (needed.neededBy ??= []).push(needer);
    }
    return record.neededBy ?? NONE;
  };

  // Which other units' jobs a unit's job must follow: starts follow needs, stops follow the reverse. Memoised.
  const predecessors = (record: Planning): readonly Planning[] => {
    if (record.predecessors === undefined) {
      const { job } = record;
      const related = job === undefined || job === 'unknown' ? NONE : job.action === 'start' ? record.needs : neededBy(record);
      // From cold every one has a job: then the list is the related one itself.
      record.predecessors = related.every((other) => other.job !== undefined) ? related : related.filter((other) => other.job !== undefined);
    }
    return record.predecessors;
  };

  // A job waits while anything it must follow is unknown or itself waiting; memoised over the acyclic graph.
  const reasonOf = (record: Planning): string | undefined => {
    if (record.reason === undefined) {
      const { unit } = record;
      record.reason = null;
      if (record.job === 'unknown') record.reason = `node ${unit.node} is offline`;
      else {
        for (const other of predecessors(record)) {
          const otherReason = reasonOf(other);
          if (otherReason !== undefined) {
            record.reason = other.job === 'unknown' ? `${other.unit.key} is on node ${other.unit.node}, which is offline` : `${other.unit.key} waits: ${otherReason}`;
            break;
          }
        }
      }
    }
    return record.reason ?? undefined;
  };

  const steps: Step[] = [];
  // The unit-file step of each unit, and per node those the vehicle will run (what its reload follows).
  const fileStep = new Map<UnitKey, StepId>();
  const reloadAfter = new Map<NodeName, StepId[]>();
  for (const { unit, node } of records.values()) {
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
  const reloads = new Map<NodeName, StepId>();
  for (const [node, afterEnded] of reloadAfter) {
    const id = stepId('daemon-reload', node);
    reloads.set(node, id);
    steps.push({ id, action: 'daemon-reload', node, after: [], afterEnded, change: 'reload unit files' });
  }

  const waiting: Waiting[] = [];
  for (const record of records.values()) {
    const { unit, job } = record;
    if (job === undefined) continue;
    const reason = reasonOf(record);
    if (reason !== undefined) {
      waiting.push({ key: unit.key, node: unit.node, reason });
      continue;
    }
    if (job === 'unknown') continue;
    const after = predecessors(record).map((other) => (other.job as Job).id);
    const own = job.action === 'start' ? fileStep.get(unit.key) : undefined;
    if (own !== undefined) after.unshift(own);
    const reload = reloads.get(unit.node);
    if (reload !== undefined) after.unshift(reload);
    const { id, action, change } = job;
    // `needs` only on a start of a unit that has them: no copy of the step to add it.
    steps.push(
      action === 'start' && unit.needs.length > 0
        ? { id, action, node: unit.node, unit: unit.unit, after, afterEnded: NONE, change, needs: unit.needs }
        : { id, action, node: unit.node, unit: unit.unit, after, afterEnded: NONE, change },
    );
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

/**
 * Kahn's algorithm by levels, keeping the given order among steps of one level: a step's level is one more than its
 * deepest prerequisite's. Linear in steps and edges, over arrays indexed by step id: it runs on every plan, the
 * daemon's every reconcile of a vehicle's thousands of units, and what it allocates (a Set per step, as it once did)
 * is what the garbage collector then copies. Ids are unique in a plan; were one repeated, its steps would go together,
 * after the prerequisites of the last of them.
 */
export function topologicalOrder(steps: readonly Step[]): Step[] {
  // Each distinct id, numbered in order of first appearance, and the step whose prerequisites it has.
  const idOf = new Map<StepId, number>();
  const stepOf: number[] = [];
  const idOfStep = new Int32Array(steps.length);
  steps.forEach((step, index) => {
    let id = idOf.get(step.id);
    if (id === undefined) idOf.set(step.id, (id = stepOf.length));
    stepOf[id] = index;
    idOfStep[index] = id;
  });
  const ids = stepOf.length;
  // Each edge as prerequisite → dependent; a prerequisite named twice is two edges, counted and released twice. One
  // that is no step's never ends: its dependents are reported with the steps of a cycle.
  const left = new Int32Array(ids);
  const edges = new Int32Array(ids + 1);
  const eachPrerequisite = (visit: (prerequisite: number | undefined, dependent: number) => void) => {
    for (let dependent = 0; dependent < ids; dependent++) {
      const step = steps[stepOf[dependent]!]!;
      for (const id of step.after) visit(idOf.get(id), dependent);
      for (const id of step.afterEnded) visit(idOf.get(id), dependent);
    }
  };
  eachPrerequisite((prerequisite, dependent) => {
    left[dependent]!++;
    if (prerequisite !== undefined) edges[prerequisite + 1]!++;
  });
  for (let id = 0; id < ids; id++) edges[id + 1]! += edges[id]!;
  const dependents = new Int32Array(edges[ids]!);
  const filled = edges.slice(0, ids);
  eachPrerequisite((prerequisite, dependent) => {
    if (prerequisite !== undefined) dependents[filled[prerequisite]!++] = dependent;
  });

  const level = new Int32Array(ids).fill(-1);
  let current: number[] = [];
  for (let id = 0; id < ids; id++) if (left[id] === 0) current.push(id);
  let depth = 0;
  for (; current.length > 0; depth++) {
    const next: number[] = [];
    for (const id of current) {
      level[id] = depth;
      for (let edge = edges[id]!; edge < edges[id + 1]!; edge++) if (--left[dependents[edge]!]! === 0) next.push(dependents[edge]!);
    }
    current = next;
  }
  if (level.includes(-1)) {
    throw new Error(`plan has a cycle among ${[...idOf.keys()].filter((_, id) => level[id] === -1).join(', ')}`);
  }
  // A stable bucket sort of the steps by level.
  const starts = new Int32Array(depth + 1);
  for (const id of idOfStep) starts[level[id]! + 1]!++;
  for (let at = 0; at < depth; at++) starts[at + 1]! += starts[at]!;
  const ordered = new Array<Step>(steps.length);
  steps.forEach((step, index) => (ordered[starts[level[idOfStep[index]!]!]!++] = step));
  return ordered;
}

/** Nothing to do: no steps, nothing waiting. */
export function isConverged(plan: Plan): boolean {
  return plan.steps.length === 0 && plan.waiting.length === 0;
}
