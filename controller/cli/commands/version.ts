import type { Command } from '../command.ts';
import { VERSION } from '../version.ts';

const command: Command = {
  name: 'version',
  summary: 'Print the version of qmctl',
  usage: 'version',
  async run(context) {
    if (context.global.json) context.printJson({ version: VERSION });
    else context.print(`qmctl version ${VERSION}`);
    return 0;
  },
};
export default command;
