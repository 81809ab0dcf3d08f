import { parseNodeName } from '../../unit-names.ts';
import type { Command } from '../command.ts';

const LEVELS = ['DEBUG', 'INFO', 'WARN', 'ERROR'];

const command: Command = {
  name: 'set-loglevel',
  summary: "Change the log level of the controller, or of one node's agent",
  usage: 'set-loglevel [NODE] LEVEL',
  help: `LEVEL is one of ${LEVELS.join(', ')}.\nJSON: { node?, level }`,
  args: [1, 2],
  async run(context, args) {
    const level = args.at(-1)!.toUpperCase();
    const node = args.length === 2 ? parseNodeName(args[0]!) : undefined;
    if (!LEVELS.includes(level)) {
      context.stderr.write(`qmctl set-loglevel: LEVEL must be one of ${LEVELS.join(', ')}, not ${JSON.stringify(args.at(-1))}\n`);
      return 2;
    }
    const client = await context.blueChi();
    if (node === undefined) await client.setLogLevel(level);
    else await client.node(node).setLogLevel(level);
    if (context.global.json) context.printJson({ ...(node ? { node } : {}), level });
    else context.print(`Log level of ${node ?? 'the controller'} set to ${level}`);
    return 0;
  },
};
export default command;
