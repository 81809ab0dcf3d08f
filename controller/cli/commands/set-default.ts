import { parseNodeName, parseUnitName } from '../../unit-names.ts';
import type { Command } from '../command.ts';

const command: Command = {
  name: 'set-default',
  summary: 'Set the default target of a node',
  usage: 'set-default NODE TARGET [--force]',
  help: '  --force   replace a conflicting default.target link\nJSON: { node, target, changes: [{ type, file, destination }] }',
  options: { force: { type: 'boolean' } },
  args: [2, 2],
  async run(context, [node, target], options) {
    parseNodeName(node!);
    if (!parseUnitName(target!).endsWith('.target')) {
      context.stderr.write(`qmctl set-default: ${target} is not a target unit\n`);
      return 2;
    }
    const changes = await (await context.blueChi()).node(node!).setDefaultTarget(target!, options.force === true);
    if (context.global.json) context.printJson({ node, target, changes });
    else context.print(`Default target of ${node} is now ${target}`);
    return 0;
  },
};
export default command;
