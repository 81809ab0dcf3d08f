import { debounceTime } from 'rxjs';
import type { LiveStream } from '../../bus/connection.ts';
import { nodeStatuses, unitStatuses } from '../../operations/status.ts';
import { parseNodeName, parseUnitName } from '../../unit-names.ts';
import type { Command, Context } from '../command.ts';
import { followUntilInterrupted } from '../follow.ts';
import { painted, table } from '../format.ts';

const command: Command = {
  name: 'status',
  summary: 'Show the status of nodes, of the units of a node, or of some units',
  usage: 'status [NODE] [UNIT...] [-w]',
  help: `Without NODE: every node with its connection status and last heartbeat.
With NODE: the state of its units (all loaded units when none is named).
  -w, --watch   keep showing changes until interrupted
JSON: nodes [{ node, status, peerIp, lastSeen }]; units [{ node, unit, loadState, activeState, subState, freezerState, unitFileState }]
With -w and --json, one JSON document per line for each change.`,
  options: { watch: { type: 'boolean', short: 'w' } },
  args: [0],
  async run(context, [node, ...units], options) {
    if (node !== undefined) parseNodeName(node);
    units.forEach(parseUnitName);
    const client = await context.blueChi();
    const snapshot = async () => (node === undefined ? nodeStatuses(client) : unitStatuses(client, node, units));
    await show(context, node, await snapshot(), options.watch === true);
    if (options.watch !== true) return 0;

    const changes: LiveStream<unknown> = node === undefined ? client.nodeStatus$() : client.watchUnits(node, units);
    await followUntilInterrupted(context, changes.pipe(debounceTime(50)), async () => show(context, node, await snapshot(), true), changes.ready);
    return 0;
  },
};
export default command;

async function show(context: Context, node: string | undefined, rows: readonly object[], watching: boolean): Promise<void> {
  if (context.global.json) {
    context.stdout.write(watching ? `${JSON.stringify(rows)}\n` : `${JSON.stringify(rows, null, 2)}\n`);
    return;
  }
  if (watching && context.tty) context.stdout.write('\u001b[H\u001b[2J');
  const tty = context.tty;
  if (node === undefined) {
    const nodes = rows as Awaited<ReturnType<typeof nodeStatuses>>;
    context.print(table(['NODE', 'STATUS', 'PEER IP', 'LAST SEEN'], nodes.map((row) => [row.node, painted(tty, row.status), row.peerIp, row.lastSeen])));
  } else {
    const units = rows as Awaited<ReturnType<typeof unitStatuses>>;
    context.print(
      table(
        ['UNIT', 'LOADED', 'ACTIVE', 'SUB', 'FREEZER', 'ENABLED'],
        units.map((row) => [row.unit, row.loadState, painted(tty, row.activeState), row.subState, row.freezerState, row.unitFileState]),
      ),
    );
  }
  if (watching && !context.global.json && !context.tty) context.print('');
}
