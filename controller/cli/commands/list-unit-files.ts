import { parseNodeName } from '../../unit-names.ts';
import type { Command } from '../command.ts';
import { table } from '../format.ts';

const command: Command = {
  name: 'list-unit-files',
  summary: 'List the unit files installed on one node or on every online node',
  usage: 'list-unit-files [NODE]',
  help: 'JSON: [{ node, path, state }]',
  args: [0, 1],
  async run(context, [node]) {
    const client = await context.blueChi();
    const perNode = node === undefined ? await client.listUnitFiles() : new Map([[node, await client.node(parseNodeName(node)).listUnitFiles()]]);
    const files = [...perNode]
      .flatMap(([name, list]) => list.map((file) => ({ node: name, ...file })))
      .sort((a, b) => a.node.localeCompare(b.node) || a.path.localeCompare(b.path));
    if (context.global.json) context.printJson(files);
    else context.print(table(['NODE', 'UNIT FILE', 'STATE'], files.map((file) => [file.node, file.path, file.state])));
    return 0;
  },
};
export default command;
