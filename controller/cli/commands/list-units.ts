import type { UnitInfo } from '../../bluechi/api.ts';
import { parseNodeName } from '../../unit-names.ts';
import type { Command } from '../command.ts';
import { painted, table } from '../format.ts';
import { globToRegExp } from '../glob.ts';

const command: Command = {
  name: 'list-units',
  summary: 'List the units loaded on one node or on every online node',
  usage: 'list-units [NODE] [--filter GLOB]',
  help: `  --filter GLOB   only units whose name matches (shell glob: *, ?, [...])
JSON: [{ node, name, description, loadState, activeState, subState, followedBy, path, jobId, jobType, jobPath }]`,
  options: { filter: { type: 'string' } },
  args: [0, 1],
  async run(context, [node], options) {
    const client = await context.blueChi();
    const perNode = node === undefined ? await client.listUnits() : new Map([[node, await client.node(parseNodeName(node)).listUnits()]]);
    const pattern = options.filter === undefined ? undefined : globToRegExp(options.filter as string);
    const units = [...perNode]
      .sort(([a], [b]) => a.localeCompare(b))
      .flatMap(([name, list]) => list.map((unit: UnitInfo) => ({ node: name, ...unit })))
      .filter((unit) => !pattern || pattern.test(unit.name))
      .sort((a, b) => a.node.localeCompare(b.node) || a.name.localeCompare(b.name));
    if (context.global.json) context.printJson(units);
    else
      context.print(
        table(
          ['NODE', 'UNIT', 'LOAD', 'ACTIVE', 'SUB', 'DESCRIPTION'],
          units.map((unit) => [unit.node, unit.name, unit.loadState, painted(context.tty, unit.activeState), unit.subState, unit.description]),
        ),
      );
    return 0;
  },
};
export default command;
