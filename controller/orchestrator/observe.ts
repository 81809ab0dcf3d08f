// Observing the vehicle through BlueChi: which nodes are online, and the state of the layout's units on them.
import { basename } from 'node:path';
import type { BlueChi } from '../bluechi/client.ts';
import type { UnitFileInfo, UnitInfo } from '../bluechi/api.ts';
import type { Layout } from '../layout/model.ts';
import type { NodeName, UnitName } from '../unit-names.ts';
import type { Observed, ObservedNode, ObservedUnit } from './observed.ts';

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
            unitFiles: unitFilesOf(files.get(name) ?? [], keep),
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
