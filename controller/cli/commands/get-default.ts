import { parseNodeName } from '../../unit-names.ts';
import type { Command } from '../command.ts';

const command: Command = {
  name: 'get-default',
  summary: 'Show the default target of a node',
  usage: 'get-default NODE',
  help: 'JSON: { node, target }',
  args: [1, 1],
  async run(context, [node]) {
    const target = await (await context.blueChi()).node(parseNodeName(node!)).getDefaultTarget();
    if (context.global.json) context.printJson({ node, target });
    else context.print(target);
    return 0;
  },
};
export default command;
