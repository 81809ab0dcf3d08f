// Observing the vehicle through BlueChi: which nodes are online, and the state of the layout's units on them.
import { basename } from 'node:path';
import type { BlueChi } from '../bluechi/client.ts';
import type { NodeInfo, UnitFileInfo, UnitInfo } from '../bluechi/api.ts';
import { isQmError } from '../errors.ts';
import type { Layout } from '../layout/model.ts';
import type { NodeName, UnitName } from '../unit-names.ts';
import type { Observed, ObservedNode, ObservedUnit } from './observed.ts';
import type { Plan, UnitStep } from './plan.ts';

/**
 * Three controller-wide reads (ListNodes, ListUnits, ListUnitFiles — the last only when the layout
 * manages enablement), none of them a node call: a converged vehicle costs its nodes nothing.
 * Only the layout's units are kept. A node missing from ListUnits went offline in between.
 */
export async function observeVehicle(client: BlueChi, layout: Layout): Promise<Observed> {
  const managesFiles = [...layout.units.values()].some((unit) => unit.enabled !== undefined);
  const [nodes, units, files] = await Promise.all([
    client.listNodes(),
    client.listUnits(),
    managesFiles ? client.listUnitFiles() : Promise.resolve(new Map<string, UnitFileInfo[]>()),
  ]);
  return vehicleOf(layout, nodes, units, (node, keep) => unitFilesOf(files.get(node) ?? [], keep));
}

/**
 * One node, by two calls on it (ListUnits; ListUnitFiles only when the layout manages enablement there): the
 * layout's units on it. A node that refuses as offline is seen offline.
 */
export async function observeNode(client: BlueChi, layout: Layout, name: NodeName): Promise<ObservedNode> {
  const keep = new Set([...layout.units.values()].filter((unit) => unit.node === name).map((unit) => unit.unit as string));
  const managesFiles = [...layout.units.values()].some((unit) => unit.node === name && unit.enabled !== undefined);
  const node = client.node(name);
  try {
    const [units, files] = await Promise.all([node.listUnits(), managesFiles ? node.listUnitFiles() : Promise.resolve([])]);
    return { name, online: true, units: unitsOf(units, keep), unitFiles: unitFilesOf(files, keep) };
  } catch (error) {
    if (isQmError(error) && error.code === 'node-offline') return { name, online: false, units: new Map(), unitFiles: new Map() };
    throw error;
  }
}

/**
 * The vehicle again after `plan` ran: unit files afresh only where a step of the plan changed them
 * (GetUnitFileState each: ListUnitFiles takes seconds on a real vehicle), the others as `before` saw them; nodes
 * and unit states afresh (ListNodes, ListUnits), or as `current` says when the caller keeps them from signals.
 */
export async function observeAgain(client: BlueChi, layout: Layout, before: Observed, plan: Plan, current?: () => Observed): Promise<Observed> {
  const changed = plan.steps.filter((step): step is UnitStep => (step.action === 'enable' || step.action === 'disable') && step.error === undefined);
  const [listed, files] = await Promise.all([
    current ? undefined : Promise.all([client.listNodes(), client.listUnits()]),
    Promise.all(changed.map(async (step) => ({ step, state: await client.node(step.node).getUnitFileState(step.unit).catch(() => undefined) }))),
  ]);
  const unitFiles = (node: NodeName) => {
    const states = new Map(before.nodes.get(node)?.unitFiles ?? []);
    for (const { step, state } of files) if (step.node === node && state !== undefined) states.set(step.unit, state);
    return states;
  };
  if (listed) return vehicleOf(layout, listed[0], listed[1], unitFiles);
  const now = current!();
  return { nodes: new Map([...now.nodes].map(([name, node]) => [name, { ...node, unitFiles: unitFiles(name) }])) };
}

/** The layout's part of what BlueChi listed: every node it knows, with the layout's units on it. */
function vehicleOf(
  layout: Layout,
  nodes: readonly NodeInfo[],
  units: ReadonlyMap<string, readonly UnitInfo[]>,
  unitFiles: (node: NodeName, keep: ReadonlySet<string>) => Map<UnitName, string>,
): Observed {
  const wanted = new Map<string, Set<string>>();
  for (const unit of layout.units.values()) wanted.set(unit.node, (wanted.get(unit.node) ?? new Set()).add(unit.unit));
  return {
    nodes: new Map(
      nodes.map((info): [NodeName, ObservedNode] => {
        const name = info.name as NodeName;
        const listed = units.get(name);
        const keep = wanted.get(name) ?? new Set<string>();
        return [
          name,
          {
            name,
            online: info.status === 'online' && listed !== undefined,
            units: unitsOf(listed ?? [], keep),
            unitFiles: unitFiles(name, keep),
          },
        ];
      }),
    ),
  };
}

function unitsOf(listed: readonly UnitInfo[], keep: ReadonlySet<string>): Map<UnitName, ObservedUnit> {
  return new Map(listed.filter((unit) => keep.has(unit.name)).map((unit) => [unit.name as UnitName, { activeState: unit.activeState }]));
}

function unitFilesOf(files: readonly UnitFileInfo[], keep: ReadonlySet<string>): Map<UnitName, string> {
  const states = new Map<UnitName, string>();
  for (const file of files) {
    const name = basename(file.path) as UnitName;
    if (keep.has(name) && !states.has(name)) states.set(name, file.state);
  }
  return states;
}
