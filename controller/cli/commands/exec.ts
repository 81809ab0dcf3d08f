import type { Command } from '../command.ts';
import { printExec } from './execin.ts';

const command: Command = {
  name: 'exec',
  summary: 'Run a command inside the QM partition',
  usage: 'exec [--json] -- CMD [ARG...]',
  help: `Runs CMD inside QM (podman exec qm CMD) and exits with CMD's exit code.
Put '--' before CMD when CMD or its arguments start with '-'.
JSON: { container, command, exitCode, stdout, stderr }`,
  args: [1],
  async run(context, argv) {
    const { execInQm } = await import('../../partition/container.ts');
    return printExec(context, await execInQm(argv));
  },
};
export default command;
