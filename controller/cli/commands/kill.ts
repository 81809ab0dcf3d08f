import { constants } from 'node:os';
import { ExitCode } from '../../errors.ts';
import { parseNodeName, parseUnitName } from '../../unit-names.ts';
import type { Command } from '../command.ts';

const WHOM = ['all', 'main', 'control'];

/** A signal by number or by name, with or without the SIG prefix. */
export function signalNumber(value: string): number | undefined {
  if (/^\d+$/.test(value)) return Number(value) > 0 && Number(value) < 65 ? Number(value) : undefined;
  const name = value.toUpperCase().startsWith('SIG') ? value.toUpperCase() : `SIG${value.toUpperCase()}`;
  return (constants.signals as Record<string, number>)[name];
}

const command: Command = {
  name: 'kill',
  summary: "Send a signal to a unit's processes on a node",
  usage: 'kill NODE UNIT [--kill-whom all|main|control] [--signal SIGNAL]',
  help: `  --kill-whom WHO   which processes: all (default), main, control
  --signal SIGNAL   name (TERM, SIGKILL) or number (default SIGTERM)`,
  options: { 'kill-whom': { type: 'string' }, signal: { type: 'string' } },
  args: [2, 2],
  async run(context, [node, unit], options) {
    parseNodeName(node!);
    parseUnitName(unit!);
    const whom = (options['kill-whom'] as string | undefined) ?? 'all';
    const signal = signalNumber((options.signal as string | undefined) ?? 'SIGTERM');
    if (!WHOM.includes(whom) || signal === undefined) {
      context.stderr.write(`qmctl kill: --kill-whom takes ${WHOM.join(', ')}; --signal a signal name or number\n`);
      return ExitCode.usage;
    }
    await (await context.blueChi()).node(node!).killUnit(unit!, whom, signal);
    if (context.global.json) context.printJson({ node, unit, whom, signal });
    else context.print(`Sent signal ${signal} to ${whom} processes of ${unit} on ${node}`);
    return 0;
  },
};
export default command;
