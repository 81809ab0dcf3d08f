import type { ExecResult } from '../../partition/container.ts';
import type { Command, Context } from '../command.ts';

const command: Command = {
  name: 'execin',
  summary: 'Run a command in a nested container inside the QM partition',
  usage: 'execin [--json] NESTED CMD [ARG...]',
  help: `Runs CMD in the container NESTED that QM's own podman runs, and exits with CMD's exit code.
JSON: { container, command: [NESTED, CMD, ...], exitCode, stdout, stderr }`,
  passthrough: 1,
  args: [2],
  async run(context, [nested, ...argv]) {
    const { execInNested } = await import('../../partition/container.ts');
    return printExec(context, await execInNested(nested!, argv));
  },
};
export default command;

/** Shows a command's output as it would appear had it run here; its exit code becomes ours. */
export function printExec(context: Context, result: ExecResult): number {
  if (context.global.json) context.printJson(result);
  else {
    context.stdout.write(result.stdout);
    context.stderr.write(result.stderr);
  }
  return result.exitCode;
}
