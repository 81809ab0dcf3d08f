// enable and disable: unit files on a node, followed by a daemon-reload unless told not to.
import type { UnitFileChange } from '../../bluechi/api.ts';
import { parseNodeName, parseUnitName } from '../../unit-names.ts';
import type { Command } from '../command.ts';

export function unitFileCommand(action: 'enable' | 'disable'): Command {
  return {
    name: action,
    summary: `${action === 'enable' ? 'Enable' : 'Disable'} unit files on a node`,
    usage: `${action} NODE UNIT... ${action === 'enable' ? '[--force] ' : ''}[--runtime] [--no-reload]`,
    help: `${action === 'enable' ? '  -f, --force   replace conflicting symlinks\n' : ''}  --runtime     only until the next reboot (/run)
  --no-reload   skip the daemon-reload that follows
JSON: { node, carriesInstallInfo?, changes: [{ type, file, destination }] }`,
    options: {
      ...(action === 'enable' ? { force: { type: 'boolean' as const, short: 'f' } } : {}),
      runtime: { type: 'boolean' },
      'no-reload': { type: 'boolean' },
    },
    args: [2],
    async run(context, [node, ...units], options) {
      parseNodeName(node!);
      units.forEach(parseUnitName);
      const target = (await context.blueChi()).node(node!);
      const runtime = options.runtime === true;
      let result: { carriesInstallInfo?: boolean; changes: UnitFileChange[] };
      if (action === 'enable') result = await target.enableUnitFiles(units, runtime, options.force === true);
      else result = { changes: await target.disableUnitFiles(units, runtime) };
      if (options['no-reload'] !== true) await target.reload();
      if (context.global.json) context.printJson({ node, ...result });
      else {
        const lines = result.changes.map((change) =>
          change.type === 'symlink' ? `Created symlink ${change.file} → ${change.destination}.` : `Removed "${change.file}".`,
        );
        if (result.carriesInstallInfo === false) lines.push(`The unit files have no [Install] section; nothing to ${action}.`);
        context.print(lines.join('\n') || `Nothing to ${action} on ${node}.`);
      }
      return 0;
    },
  };
}
