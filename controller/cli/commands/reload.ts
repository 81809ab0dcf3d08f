// qmctl reload NODE UNIT...: bluechictl's reload of units; qmctl reload (no arguments): the daemon reloads its layout.
import { callDaemon, type ReloadOutcome } from '../../daemon/api.ts';
import { formatError } from '../../daemon/format.ts';
import { ExitCode } from '../../errors.ts';
import type { Command } from '../command.ts';
import { unitJobCommand } from './unit-job.ts';

const units = unitJobCommand('reload');

const command: Command = {
  ...units,
  usage: `${units.usage}\n       reload`,
  help: `${units.help ?? ''}
Without arguments: asks the qm-controller daemon to read its layout again and apply it. An invalid
layout is reported (file:line:column) and the daemon keeps the old one. Exit 2 then, 3 when the
daemon is not running. JSON: { reloaded, at, files, errors }`,
  args: [0],
  async run(context, args, options) {
    if (args.length === 0) {
      const client = await context.blueChi();
      context.waiting('qm-controller goes on reloading its layout.');
      const outcome = await callDaemon<ReloadOutcome>(client.bus, 'Reload');
      if (context.global.json) context.printJson(outcome);
      for (const error of outcome.errors) context.stderr.write(`qmctl reload: ${formatError(error)}\n`);
      if (!outcome.reloaded) {
        context.stderr.write(`qmctl reload: ${outcome.errors.length} error(s); qm-controller keeps the layout it had\n`);
        return ExitCode.usage;
      }
      if (!context.global.json) context.print(`qm-controller reloaded ${outcome.files.join(', ')}`);
      return ExitCode.ok;
    }
    if (args.length === 1) {
      context.stderr.write(`qmctl reload: expected no arguments (reload the daemon's layout) or NODE UNIT...\nUsage: qmctl ${command.usage}\n`);
      return ExitCode.usage;
    }
    return units.run(context, args, options);
  },
};
export default command;
