// The vehicle as integrators declare it: nodes, their QM partitions, and the units each should run.
import type { NodeName, UnitName } from '../unit-names.ts';

/** Where a value was written: the file and the 1-based line and column of its first character. */
export interface Position {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

export type DesiredState = 'running' | 'stopped';

/** `node/unit`: a unit on one BlueChi node (a host, or `qm.<host>` for its QM partition). */
export type UnitKey = string & { readonly __brand: 'UnitKey' };

export function unitKey(node: NodeName, unit: UnitName): UnitKey {
  return `${node}/${unit}` as UnitKey;
}

export interface UnitRef {
  readonly node: NodeName;
  readonly unit: UnitName;
}

/** A unit the layout names, with its key made once: what a plan looks up for each of a vehicle's needs. */
export interface KeyedUnitRef extends UnitRef {
  readonly key: UnitKey;
}

/** How often the controller may repair a unit that left its desired state, and how long it waits in between. */
export interface RestartBudget {
  /** Repairs allowed within `windowMs`; 0 turns repair off for this unit. */
  readonly attempts: number;
  readonly windowMs: number;
  /** Delay before the first repair; it doubles with each further repair in the window. */
  readonly backoffMs: number;
}

export const DEFAULT_RESTART_BUDGET: RestartBudget = { attempts: 3, windowMs: 300_000, backoffMs: 1_000 };

export interface UnitSpec extends KeyedUnitRef {
  /** The vehicle node it belongs to; differs from `node` for units in a QM partition. */
  readonly host: NodeName;
  readonly partition: boolean;
  readonly state: DesiredState;
  /** Whether the unit file should be enabled; undefined leaves it as it is. */
  readonly enabled: boolean | undefined;
  /** Units that must be running before this one starts (and that stop only after it stopped). */
  readonly needs: readonly KeyedUnitRef[];
  readonly restart: RestartBudget;
  /** Where the unit was declared (its key in the last file that mentioned it). */
  readonly origin: Position;
}

export interface NodeSpec {
  readonly name: NodeName;
  /** Whether it hosts a QM partition, whose agent is the BlueChi node `qm.<name>`. */
  readonly qm: boolean;
  readonly origin: Position;
}

/** A validated, merged layout. Built only by `validateLayout`; everything inside is trusted. */
export interface Layout {
  /** The files it was merged from, in merge order. */
  readonly files: readonly string[];
  /** Vehicle nodes, in the order first declared. */
  readonly nodes: ReadonlyMap<NodeName, NodeSpec>;
  /** Every unit by `node/unit`, in declaration order; `node` is `qm.<host>` for partition units. */
  readonly units: ReadonlyMap<UnitKey, UnitSpec>;
}

export const QM_PREFIX = 'qm.';

export function partitionNode(host: NodeName): NodeName {
  return `${QM_PREFIX}${host}` as NodeName;
}

/** Every BlueChi node the layout places units on or owns: hosts, and `qm.<host>` for those with QM. */
export function layoutNodes(layout: Layout): NodeName[] {
  return [...layout.nodes.values()].flatMap((node) => (node.qm ? [node.name, partitionNode(node.name)] : [node.name]));
}
