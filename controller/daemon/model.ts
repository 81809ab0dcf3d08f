// qm-controller's picture of the vehicle, kept from the signals it follows instead of read again for each
// question: node status from BlueChi's PropertiesChanged, the state of the layout's units from its monitor,
// unit files from reads. Readings fill it in; a reading never undoes a change signalled after it started.
import type { Layout } from '../layout/model.ts';
import type { Observed, ObservedNode } from '../orchestrator/observed.ts';
import type { NodeName, UnitName } from '../unit-names.ts';

/** A point in the sequence of signals, taken when a reading starts. */
export type Mark = number & { readonly __brand: 'Mark' };

export interface VehicleModel {
  /** What is known now, as the planner takes it: every node BlueChi has named, the layout's units on them. */
  observed(): Observed;
  /** Where the signals are now: a reading started here yields to what is signalled after. */
  mark(): Mark;
  /** A reading of the whole vehicle started at `since`: nodes it does not list are forgotten. */
  readVehicle(read: Observed, since: Mark): void;
  /** A reading of one node started at `since`. */
  readNode(read: ObservedNode, since: Mark): void;
  /** A reading of one unit's ActiveState started at `since`. */
  readUnit(node: NodeName, unit: UnitName, activeState: string, since: Mark): void;
  /** A unit file's state as read (after an enable or disable). */
  readUnitFile(node: NodeName, unit: UnitName, state: string): void;
  /** Whether `node` is known online. */
  isOnline(node: NodeName): boolean;
  /** What is known of one of the layout's units: ActiveState (a unit not loaded is inactive; `unknown` on a node back online and not read since), and SubState when signalled. */
  unit(node: NodeName, unit: UnitName): { readonly activeState: string; readonly subState?: string };
  nodeStatus(node: NodeName, online: boolean): void;
  /** A unit's state as BlueChi's monitor signalled it; units the layout does not own are not kept. */
  unitState(node: NodeName, unit: UnitName, activeState: string, subState: string): void;
  /** The layout changed: only its units are kept from now on (the next reading fills in the new ones). */
  setLayout(layout: Layout): void;
  /** BlueChi left: nothing is known until the next reading. */
  forget(): void;
}

interface Known<T> {
  readonly value: T;
  /** The signal that set it; 0 for a reading. */
  readonly seq: number;
}

export function vehicleModel(initial: Layout): VehicleModel {
  let owned = ownedUnits(initial);
  let seq = 0;
  const nodes = new Map<NodeName, Known<boolean>>();
  const units = new Map<NodeName, Map<UnitName, Known<{ readonly activeState: string; readonly subState?: string }>>>();
  const files = new Map<NodeName, Map<UnitName, string>>();
  /** Nodes that came online and whose units no reading has listed since: their units' states are unknown. */
  const unread = new Set<NodeName>();

  const unitsOf = (node: NodeName) => {
    let map = units.get(node);
    if (!map) units.set(node, (map = new Map()));
    return map;
  };
  /** Sets `key` from a reading unless a signal after `since` set it: that one is newer. */
  const fromReading = <K, T>(map: Map<K, Known<T>>, key: K, value: T, since: Mark) => {
    if ((map.get(key)?.seq ?? 0) <= since) map.set(key, { value, seq: 0 });
  };
  const readNode = (read: ObservedNode, since: Mark) => {
    // Only a reading that started after the node's latest status change stands for its units now.
    if ((nodes.get(read.name)?.seq ?? 0) <= since) unread.delete(read.name);
    fromReading(nodes, read.name, read.online, since);
    if (!read.online) return;
    // A unit the reading does not list is not loaded: inactive.
    const known = unitsOf(read.name);
    for (const unit of owned.get(read.name) ?? []) fromReading(known, unit, { activeState: read.units.get(unit)?.activeState ?? 'inactive' }, since);
    files.set(read.name, new Map([...read.unitFiles].filter(([unit]) => owned.get(read.name)?.has(unit))));
  };

  return {
    observed() {
      return {
        nodes: new Map(
          [...nodes].map(([name, online]): [NodeName, ObservedNode] => [
            name,
            {
              name,
              online: online.value,
              units: new Map([...(units.get(name) ?? [])].map(([unit, state]) => [unit, { activeState: state.value.activeState }])),
              unitFiles: new Map(files.get(name) ?? []),
            },
          ]),
        ),
      };
    },
    mark: () => seq as Mark,
    readVehicle(read, since) {
      for (const name of [...nodes.keys()]) {
        if (!read.nodes.has(name) && nodes.get(name)!.seq <= since) {
          nodes.delete(name);
          units.delete(name);
          files.delete(name);
          unread.delete(name);
        }
      }
      for (const node of read.nodes.values()) readNode(node, since);
    },
    readNode,
    readUnit(node, unit, activeState, since) {
      if (owned.get(node)?.has(unit)) fromReading(unitsOf(node), unit, { activeState }, since);
    },
    readUnitFile(node, unit, state) {
      if (!owned.get(node)?.has(unit)) return;
      const known = files.get(node) ?? new Map<UnitName, string>();
      files.set(node, known.set(unit, state));
    },
    isOnline: (node) => nodes.get(node)?.value === true,
    unit: (node, unit) => (unread.has(node) ? { activeState: 'unknown' } : (units.get(node)?.get(unit)?.value ?? { activeState: 'inactive' })),
    nodeStatus(node, online) {
      // What changed on a node while it was away is not signalled: until it is read again, nothing is known of it.
      if (online && nodes.get(node)?.value !== true) unread.add(node);
      nodes.set(node, { value: online, seq: ++seq });
    },
    unitState(node, unit, activeState, subState) {
      if (owned.get(node)?.has(unit)) unitsOf(node).set(unit, { value: { activeState, subState }, seq: ++seq });
    },
    setLayout(layout) {
      owned = ownedUnits(layout);
      for (const [node, known] of units) for (const unit of [...known.keys()]) if (!owned.get(node)?.has(unit)) known.delete(unit);
    },
    forget() {
      nodes.clear();
      units.clear();
      files.clear();
      unread.clear();
    },
  };
}

function ownedUnits(layout: Layout): Map<NodeName, Set<UnitName>> {
  const owned = new Map<NodeName, Set<UnitName>>();
  for (const unit of layout.units.values()) owned.set(unit.node, (owned.get(unit.node) ?? new Set()).add(unit.unit));
  return owned;
}
