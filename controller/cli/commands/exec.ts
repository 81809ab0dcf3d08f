import type { Command } from '../command.ts';
import { printExec } from './execin.ts';

const command: Command = {
  name: 'exec',
  summary: 'Run a command inside the QM partition',
  usage: 'exec [--json] CMD [ARG...]',
  help: `Runs CMD inside QM (podman exec qm CMD) and exits with CMD's exit code.
Everything from CMD on is CMD's own, options included (qmctl exec ls -la).
JSON: { container, command, exitCode, stdout, stderr }`,
  passthrough: 0,
  args: [1],
  async run(context, argv) {
    const { execInQm } = await import('../../partition/container.ts');
    return printExec(context, await execInQm(argv));
  },
};
export default command;
