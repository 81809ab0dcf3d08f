// What `status` reports: nodes with their connection state, or units with their state on a node.
import type { BlueChi } from '../bluechi/client.ts';
import { QmError } from '../errors.ts';

export interface NodeStatusRow {
  readonly node: string;
  readonly status: string;
  readonly peerIp: string;
  /** Last heartbeat as an ISO date, or '' when never seen. */
  readonly lastSeen: string;
}

export interface UnitStatusRow {
  readonly node: string;
  readonly unit: string;
  readonly loadState: string;
  readonly activeState: string;
  readonly subState: string;
  readonly freezerState: string;
  readonly unitFileState: string;
}

/**
 * Every node (or those named, in the order named) with its connection status, as bluechictl's `status [NODE]`
 * (method_print_node_status): a name BlueChi does not list is a `node-unknown` error.
 */
export async function nodeStatuses(client: BlueChi, names: readonly string[] = []): Promise<NodeStatusRow[]> {
  const listed = await client.listNodes();
  const missing = names.filter((name) => !listed.some((info) => info.name === name));
  if (missing.length > 0) {
    throw new QmError('node-unknown', `node ${missing.join(', ')} is not known to the BlueChi controller`, { node: missing[0]! });
  }
  const nodes = names.length === 0 ? listed : [...new Set(names)].map((name) => listed.find((info) => info.name === name)!);
  return Promise.all(
    nodes.map(async (info) => {
      const properties = await client.node(info.name).properties();
      const micros = properties.lastSeenTimestamp;
      return {
        node: info.name,
        status: info.status,
        peerIp: info.peerIp,
        lastSeen: micros > 0n ? new Date(Number(micros / 1000n)).toISOString() : '',
      };
    }),
  );
}

/** The state of `units` on `node`; all units loaded there when `units` is empty. */
export async function unitStatuses(client: BlueChi, node: string, units: readonly string[]): Promise<UnitStatusRow[]> {
  const target = client.node(node);
  const names = units.length > 0 ? units : (await target.listUnits()).map((unit) => unit.name).sort();
  return Promise.all(
    names.map(async (unit) => {
      const properties = await target.getUnitProperties(unit);
      const text = (key: string) => String(properties[key]?.value ?? '');
      return {
        node,
        unit,
        loadState: text('LoadState'),
        activeState: text('ActiveState'),
        subState: text('SubState'),
        freezerState: text('FreezerState'),
        unitFileState: text('UnitFileState'),
      };
    }),
  );
}

/** "; known nodes: a (online), b (offline)" for messages about a node that is offline or unknown. */
export async function knownNodesHint(client: BlueChi): Promise<string> {
  try {
    const nodes = await client.listNodes();
    return `; known nodes: ${nodes.map((node) => `${node.name} (${node.status})`).join(', ') || 'none'}`;
  } catch {
    return '';
  }
}
