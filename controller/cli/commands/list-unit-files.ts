import { parseNodeName } from '../../unit-names.ts';
import type { Command } from '../command.ts';
import { table } from '../format.ts';
import { globToRegExp } from '../glob.ts';

const command: Command = {
  name: 'list-unit-files',
  summary: 'List the unit files installed on one node or on every online node',
  usage: 'list-unit-files [NODE] [--filter GLOB]',
  help: `  --filter GLOB   only unit files whose name, or whole path, matches (shell glob: *, ?, [...])
JSON: [{ node, path, state }]`,
  options: { filter: { type: 'string' } },
  args: [0, 1],
  async run(context, [node], options) {
    const pattern = options.filter === undefined ? undefined : globToRegExp(options.filter as string);
    const client = await context.blueChi();
    const perNode = node === undefined ? await client.listUnitFiles() : new Map([[node, await client.node(parseNodeName(node)).listUnitFiles()]]);
    const files = [...perNode]
      .flatMap(([name, list]) => list.map((file) => ({ node: name, ...file })))
      // bluechictl matches the whole path (libbluechi's match_glob, where * spans slashes); a bare name is what people type.
      .filter((file) => !pattern || pattern.test(file.path) || pattern.test(file.path.slice(file.path.lastIndexOf('/') + 1)))
      .sort((a, b) => a.node.localeCompare(b.node) || a.path.localeCompare(b.path));
    if (context.global.json) context.printJson(files);
    else context.print(table(['NODE', 'UNIT FILE', 'STATE'], files.map((file) => [file.node, file.path, file.state])));
    return 0;
  },
};
export default command;
