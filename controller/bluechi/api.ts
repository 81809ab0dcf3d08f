// BlueChi's public D-Bus API: names, object paths and the shapes of its replies.
import type { Variant } from 'dbus-next';
import { escapePathLabel } from '../bus/path-label.ts';

export const BUS_NAME = 'org.eclipse.bluechi';
export const CONTROLLER_PATH = '/org/eclipse/bluechi';
export const NODE_PATH_PREFIX = '/org/eclipse/bluechi/node';
export const CONTROLLER_IFACE = 'org.eclipse.bluechi.Controller';
export const NODE_IFACE = 'org.eclipse.bluechi.Node';
export const JOB_IFACE = 'org.eclipse.bluechi.Job';
export const MONITOR_IFACE = 'org.eclipse.bluechi.Monitor';
/** Served on /org/eclipse/bluechi/metrics only while metrics are enabled (upstream's metrics_export). */
export const METRICS_IFACE = 'org.eclipse.bluechi.Metrics';
export const METRICS_PATH = '/org/eclipse/bluechi/metrics';
/** The agent's own API, on its node's bus (protocol.h: BC_AGENT_DBUS_NAME, BC_AGENT_OBJECT_PATH, AGENT_INTERFACE). */
export const AGENT_BUS_NAME = 'org.eclipse.bluechi.Agent';
export const AGENT_PATH = '/org/eclipse/bluechi';
export const AGENT_IFACE = 'org.eclipse.bluechi.Agent';
export const PROPERTIES_IFACE = 'org.freedesktop.DBus.Properties';
export const SYSTEMD_UNIT_IFACE = 'org.freedesktop.systemd1.Unit';

export function nodePath(name: string): string {
  return `${NODE_PATH_PREFIX}/${escapePathLabel(name)}`;
}

export type NodeStatus = 'online' | 'offline';
export type ControllerStatus = 'up' | 'degraded' | 'down';

export interface NodeInfo {
  readonly name: string;
  readonly path: string;
  readonly status: NodeStatus | string;
  readonly peerIp: string;
}

/** One row of systemd's ListUnits, as BlueChi passes it through. */
export interface UnitInfo {
  readonly name: string;
  readonly description: string;
  readonly loadState: string;
  readonly activeState: string;
  readonly subState: string;
  readonly followedBy: string;
  readonly path: string;
  readonly jobId: number;
  readonly jobType: string;
  readonly jobPath: string;
}

export interface UnitFileInfo {
  readonly path: string;
  readonly state: string;
}

/** systemd's (type, file name, destination) change triples from Enable/DisableUnitFiles. */
export interface UnitFileChange {
  readonly type: string;
  readonly file: string;
  readonly destination: string;
}

export type Properties = Record<string, Variant>;

export type UnitTuple = [string, string, string, string, string, string, string, number, string, string];

export function unitInfo(tuple: UnitTuple): UnitInfo {
  const [name, description, loadState, activeState, subState, followedBy, path, jobId, jobType, jobPath] = tuple;
  return { name, description, loadState, activeState, subState, followedBy, path, jobId, jobType, jobPath };
}

export function unitFileChange([type, file, destination]: [string, string, string]): UnitFileChange {
  return { type, file, destination };
}
