import type { MonitorEvent } from '../../bluechi/client.ts';
import { parseNodeName, parseUnitName } from '../../unit-names.ts';
import type { Command, Context } from '../command.ts';
import { followLinesUntilInterrupted } from '../follow.ts';

const command: Command = {
  name: 'monitor',
  summary: 'Print unit changes on a node (or every node) as they happen',
  usage: 'monitor [NODE|*] [UNIT...]',
  help: `Without NODE, or with *, every node; without UNIT, or with *, every unit. Units may also be given
as bluechictl's comma list: monitor node1 a.service,b.service.
Runs until interrupted. One line per event; with --json one JSON object per line:
{ kind: UnitStateChanged|UnitNew|UnitRemoved|UnitPropertiesChanged|PeerRemoved, node, unit, ... }`,
  args: [0],
  async run(context, [node = '*', ...unitArgs]) {
    if (node !== '*') parseNodeName(node);
    const units = [...new Set(unitArgs.flatMap((arg) => arg.split(',')).filter((unit) => unit !== ''))];
    units.forEach((unit) => unit === '*' || parseUnitName(unit));
    const client = await context.blueChi();
    const events = client.watchUnits(node, units.includes('*') ? [] : units);
    await followLinesUntilInterrupted(context, events, (event) => line(context, event), events.ready);
    return 0;
  },
};
export default command;

/** The event as one line: bluechictl's words, or with --json one JSON object. */
function line(context: Context, event: MonitorEvent): string {
  if (context.global.json) {
    const properties =
      event.kind === 'UnitPropertiesChanged'
        ? { properties: Object.fromEntries(Object.entries(event.properties).map(([key, variant]) => [key, variant.value])) }
        : {};
    return JSON.stringify({ ...event, ...properties }, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value));
  }
  switch (event.kind) {
    case 'UnitStateChanged':
      return `${event.node} ${event.unit}: ${event.activeState} (${event.subState})${event.reason ? ` [${event.reason}]` : ''}`;
    case 'UnitNew':
    case 'UnitRemoved':
      return `${event.node} ${event.unit}: ${event.kind === 'UnitNew' ? 'new' : 'removed'}${event.reason ? ` [${event.reason}]` : ''}`;
    case 'UnitPropertiesChanged':
      return `${event.node} ${event.unit}: ${Object.keys(event.properties).join(', ')} changed`;
    case 'PeerRemoved':
      return `monitor peer removed: ${event.reason}`;
  }
}
