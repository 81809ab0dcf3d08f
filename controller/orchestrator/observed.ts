// What the vehicle looks like right now, as BlueChi reports it: the input the planner compares with the layout.
import type { DesiredState } from '../layout/model.ts';
import type { NodeName, UnitName } from '../unit-names.ts';

export interface ObservedUnit {
  /** systemd's ActiveState: active, reloading, inactive, failed, activating, deactivating. */
  readonly activeState: string;
  /** systemd's UnitFileState (enabled, disabled, static, masked …), or undefined when not asked for. */
  readonly unitFileState?: string;
}

export interface ObservedNode {
  readonly name: NodeName;
  readonly online: boolean;
  /** Units systemd has loaded (ListUnits); a unit not listed is inactive. Empty for an offline node. */
  readonly units: ReadonlyMap<UnitName, ObservedUnit>;
  /** UnitFileState of the units whose enablement the layout manages, when the node is online. */
  readonly unitFiles: ReadonlyMap<UnitName, string>;
}

/** Every node BlueChi knows (online or not); nodes missing here are unknown to the controller. */
export interface Observed {
  readonly nodes: ReadonlyMap<NodeName, ObservedNode>;
}

const RUNNING_STATES = new Set(['active', 'reloading']);
const STOPPED_STATES = new Set(['inactive', 'failed']);
/** UnitFileStates that `enable` would not change: already enabled, or nothing to enable. */
const ENABLED_STATES = new Set(['enabled', 'static', 'indirect', 'generated', 'transient', 'alias']);
const DISABLE_STATES = new Set(['enabled', 'enabled-runtime']);
const MASKED_STATES = new Set(['masked', 'masked-runtime']);

export const activeStateOf = (node: ObservedNode, unit: UnitName): string => node.units.get(unit)?.activeState ?? 'inactive';
export const isRunning = (activeState: string): boolean => RUNNING_STATES.has(activeState);
export const isStopped = (activeState: string): boolean => STOPPED_STATES.has(activeState);
/** Whether systemd's ActiveState is what the layout wants of the unit. */
export const isAsDesired = (desired: DesiredState, activeState: string): boolean => (desired === 'running' ? isRunning(activeState) : isStopped(activeState));
/** Masked (a link to /dev/null): systemd refuses to enable or start the unit. */
export const isMasked = (state: string | undefined): boolean => state !== undefined && MASKED_STATES.has(state);
/** Whether enabling would change `state` (an unknown state: yes, let systemd say why not). */
export const needsEnable = (state: string | undefined): boolean => state === undefined || !ENABLED_STATES.has(state);
export const needsDisable = (state: string | undefined): boolean => state !== undefined && DISABLE_STATES.has(state);
