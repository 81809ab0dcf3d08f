// Observing the vehicle through BlueChi: which nodes are online, and the state of the layout's units on them.
import { basename } from 'node:path';
import type { BlueChi } from '../bluechi/client.ts';
import type { NodeInfo, UnitFileInfo, UnitInfo } from '../bluechi/api.ts';
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
 * The vehicle again after `plan` ran: nodes and unit states afresh (ListNodes, ListUnits), unit files afresh only
 * where a step of the plan changed them (GetUnitFileState each: ListUnitFiles takes seconds on a real vehicle),
 * the others as `before` saw them.
 */
export async function observeAgain(client: BlueChi, layout: Layout, before: Observed, plan: Plan): Promise<Observed> {
  const changed = plan.steps.filter((step): step is UnitStep => (step.action === 'enable' || step.action === 'disable') && step.error === undefined);
  const [nodes, units, files] = await Promise.all([
    client.listNodes(),
    client.listUnits(),
    Promise.all(changed.map(async (step) => ({ step, state: await client.node(step.node).getUnitFileState(step.unit).catch(() => undefined) }))),
  ]);
  return vehicleOf(layout, nodes, units, (node) => {
    const states = new Map(before.nodes.get(node)?.unitFiles ?? []);
    for (const { step, state } of files) if (step.node === node && state !== undefined) states.set(step.unit, state);
    return states;
  });
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
