import { debounceTime, filter, merge, type Observable } from 'rxjs';
import { nodeStatuses, unitStatuses, type NodeStatusRow, type UnitStatusRow } from '../../operations/status.ts';
import { parseNodeName, parseUnitName } from '../../unit-names.ts';
import type { Command, Context } from '../command.ts';
import { followUntilInterrupted } from '../follow.ts';
import { painted, table } from '../format.ts';

const command: Command = {
  name: 'status',
  summary: 'Show the connection status of nodes, or the status of units on nodes',
  usage: 'status [NODE[,NODE...]] [UNIT...] [-w]',
  help: `Without NODE: every node with its connection status, peer IP and last heartbeat.
With NODE only: that node's (or those nodes') connection status, as bluechictl status NODE.
With NODE and UNIT: the state of each unit on each node (load, active, sub, freezer, enablement).
An unknown node exits 4. 'qmctl list-units NODE' lists all units of a node.
  -w, --watch   keep showing changes until interrupted
JSON: nodes [{ node, status, peerIp, lastSeen }]; units [{ node, unit, loadState, activeState, subState, freezerState, unitFileState }]
With -w and --json, one JSON document per line for each change.`,
  options: { watch: { type: 'boolean', short: 'w' } },
  args: [0],
  async run(context, [nodeList, ...units], options) {
    const nodes: string[] = nodeList === undefined ? [] : nodeList.split(',').map(parseNodeName);
    units.forEach(parseUnitName);
    const client = await context.blueChi();
    const showUnits = units.length > 0;
    const snapshot = async (): Promise<readonly object[]> =>
      showUnits ? (await Promise.all(nodes.map((node) => unitStatuses(client, node, units)))).flat() : nodeStatuses(client, nodes);
    const watching = options.watch === true;
    await show(context, showUnits, await snapshot(), watching);
    if (!watching) return 0;

    const statuses = client.nodeStatus$();
    const watches = showUnits ? nodes.map((node) => client.watchUnits(node, units)) : [];
    const changes: Observable<unknown> = showUnits ? merge(...watches) : statuses.pipe(filter((change) => nodes.length === 0 || nodes.includes(change.node)));
    const ready = showUnits ? () => Promise.all(watches.map((watch) => watch.ready())).then(() => undefined) : () => statuses.ready();
    await followUntilInterrupted(context, changes.pipe(debounceTime(50)), async () => show(context, showUnits, await snapshot(), true), ready);
    return 0;
  },
};
export default command;

async function show(context: Context, units: boolean, rows: readonly object[], watching: boolean): Promise<void> {
  if (context.global.json) {
    context.stdout.write(watching ? `${JSON.stringify(rows)}\n` : `${JSON.stringify(rows, null, 2)}\n`);
    return;
  }
  if (watching && context.tty) context.stdout.write('\u001b[H\u001b[2J');
  const tty = context.tty;
  if (!units) {
    const nodes = rows as NodeStatusRow[];
    context.print(table(['NODE', 'STATUS', 'PEER IP', 'LAST SEEN'], nodes.map((row) => [row.node, painted(tty, row.status), row.peerIp, row.lastSeen])));
  } else {
    const unitRows = rows as UnitStatusRow[];
    const several = new Set(unitRows.map((row) => row.node)).size > 1;
    context.print(
      table(
        [...(several ? ['NODE'] : []), 'UNIT', 'LOADED', 'ACTIVE', 'SUB', 'FREEZER', 'ENABLED'],
        unitRows.map((row) => [...(several ? [row.node] : []), row.unit, row.loadState, painted(tty, row.activeState), row.subState, row.freezerState, row.unitFileState]),
      ),
    );
  }
  if (watching && !context.global.json && !context.tty) context.print('');
}
