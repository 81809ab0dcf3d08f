// qmctl controller-reload: the qm-controller daemon reads its layout again (Reload); it applies nothing — 'qmctl apply' does.
import { reloadController } from '../../daemon/client.ts';
import { formatError } from '../../daemon/format.ts';
import { ExitCode } from '../../errors.ts';
import type { Command } from '../command.ts';

const command: Command = {
  name: 'controller-reload',
  summary: 'Make the qm-controller daemon read its layout again (apply it with qmctl apply)',
  usage: 'controller-reload',
  help: `Asks the daemon (org.qm.Controller1's Reload) to read its layout files again, as SIGHUP does, and resets every
restart budget; it applies nothing: 'qmctl apply' does, and so does the daemon's next apply, whatever triggers it
(a node coming online, a repair). An invalid layout is reported (file:line:column) and the daemon keeps the old one.
Root and the qm-operators group may call it.
Exit: 0 reloaded; 2 the layout is invalid (the old one kept); 3 the daemon is not running.
JSON: { reloaded, at, files, errors: [{ code, message, file, line, column, field }] }`,
  args: [0, 0],
  async run(context) {
    const { bus } = await context.blueChi();
    context.waiting('qm-controller goes on reloading its layout.');
    const outcome = await reloadController(bus);
    if (context.global.json) context.printJson(outcome);
    for (const error of outcome.errors) context.stderr.write(`qmctl controller-reload: ${formatError(error)}\n`);
    if (!outcome.reloaded) {
      context.stderr.write(`qmctl controller-reload: ${outcome.errors.length} error(s); qm-controller keeps the layout it had\n`);
      return ExitCode.usage;
    }
    if (!context.global.json) context.print(`qm-controller reloaded ${outcome.files.join(', ')}; 'qmctl apply' applies it`);
    return ExitCode.ok;
  },
};
export default command;
