import type { Command } from '../command.ts';
import { painted, table } from '../format.ts';

const command: Command = {
  name: 'list-nodes',
  summary: 'List the nodes BlueChi knows, with their status',
  usage: 'list-nodes',
  help: 'JSON: [{ name, path, status, peerIp }]',
  async run(context) {
    const nodes = await (await context.blueChi()).listNodes();
    if (context.global.json) context.printJson(nodes);
    else context.print(table(['NODE', 'STATUS', 'PEER IP'], nodes.map((node) => [node.name, painted(context.tty, node.status), node.peerIp])));
    return 0;
  },
};
export default command;
