import { parseNodeName } from '../../unit-names.ts';
import type { Command } from '../command.ts';

const command: Command = {
  name: 'daemon-reload',
  summary: "Reload systemd's unit files on nodes",
  usage: 'daemon-reload NODE[,NODE...]',
  help: 'JSON: [{ node, ok: true }]',
  args: [1, 1],
  async run(context, [nodes]) {
    const names = nodes!.split(',').map(parseNodeName);
    const client = await context.blueChi();
    await Promise.all(names.map((node) => client.node(node).reload()));
    if (context.global.json) context.printJson(names.map((node) => ({ node, ok: true })));
    else context.print(names.map((node) => `Reloaded systemd on ${node}`).join('\n'));
    return 0;
  },
};
export default command;
