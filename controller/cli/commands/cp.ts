import type { Command } from '../command.ts';

const command: Command = {
  name: 'cp',
  summary: 'Copy files between this host and the QM partition',
  usage: 'cp [--json] SRC DST',
  help: `Exactly one of SRC and DST is inside QM, written qm:/path. Directories are copied whole.
  qmctl cp ./app.conf qm:/etc/app.conf
  qmctl cp qm:/var/log/app.log ./
JSON: { source, destination, direction: into-qm|from-qm }`,
  args: [2, 2],
  async run(context, [source, destination]) {
    const { copyWithQm, parseCopy } = await import('../../partition/container.ts');
    const done = await copyWithQm(parseCopy(source!, destination!));
    if (context.global.json) context.printJson(done);
    else context.print(`Copied ${done.source} to ${done.destination}`);
    return 0;
  },
};
export default command;
