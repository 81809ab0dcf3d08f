// Where qmctl's command line names its command. The executable's launcher (controller/bundle/launch.ts) reads it too,
// to choose the part of the program that holds the command before any of the program runs; both must agree exactly.
import type { OptionSpec } from './command.ts';

/** The options every command takes, before or after its name. */
export const globalOptions: OptionSpec = {
  help: { type: 'boolean', short: 'h' },
  json: { type: 'boolean' },
  'bus-address': { type: 'string' },
  verbose: { type: 'boolean', short: 'v', multiple: true },
  'log-level': { type: 'string' },
  timeout: { type: 'string' },
};

/** What qmctl asks of itself instead of running a command. */
const HELP = ['help', '--help', '-h'];

/** The command line with the command's name first: global options may precede it (`qmctl --json list-nodes`). */
export function splitCommand(argv: readonly string[]): string[] {
  const args = [...argv];
  const before: string[] = [];
  while (args.length > 0 && args[0]!.startsWith('-') && !['-h', '--help', '--version'].includes(args[0]!)) {
    const option = args.shift()!;
    before.push(option);
    if (takesNextValue(option, globalOptions) && args.length > 0) before.push(args.shift()!);
  }
  const [name, ...rest] = args;
  return name === undefined ? [] : [name, ...before, ...rest];
}

/** The command that splitCommand's first word runs (`version` for `--version`), or undefined: help, or no command. */
export function commandIn(first: string | undefined): string | undefined {
  if (first === undefined || HELP.includes(first)) return undefined;
  return first === '--version' ? 'version' : first;
}

/** The command `argv` runs, as qmctl reads it. */
export const commandOf = (argv: readonly string[]): string | undefined => commandIn(splitCommand(argv)[0]);

/** Whether `arg` is a string option (long or short) whose value is the next argument, not `--key=value`. */
export function takesNextValue(arg: string, options: OptionSpec): boolean {
  if (arg.includes('=')) return false;
  const key = arg.replace(/^--?/, '');
  const spec = options[key] ?? Object.values(options).find((option) => option.short === key);
  return spec?.type === 'string';
}
