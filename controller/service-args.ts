// The command line qm's services share (qm-controller, qm-bluechi-gate): their own options, plus -h/--help and
// --log-level. Usage errors go to stderr with the usage (exit 2), help to stdout (exit 0).
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ExitCode } from './errors.ts';

type Options = NonNullable<ParseArgsConfig['options']>;

const LOG_LEVELS = ['error', 'warn', 'info', 'debug'];
const common = { 'log-level': { type: 'string' }, help: { type: 'boolean', short: 'h' } } as const;

/** The parsed options and log level, or the exit code when the service is not to run. */
export function parseServiceArgs<const O extends Options>(program: string, usage: string, argv: readonly string[], options: O) {
  let values;
  try {
    ({ values } = parseArgs({ args: [...argv], options: { ...options, ...common }, strict: true, allowPositionals: false }));
  } catch (error) {
    process.stderr.write(`${program}: ${(error as Error).message}\n${usage}\n`);
    return ExitCode.usage;
  }
  // The options every service has; the generic result type cannot name them here.
  const shared = values as { help?: boolean; 'log-level'?: string };
  if (shared.help) {
    process.stdout.write(`${usage}\n`);
    return ExitCode.ok;
  }
  const level = shared['log-level'] ?? 'info';
  if (!LOG_LEVELS.includes(level)) {
    process.stderr.write(`${program}: --log-level must be one of ${LOG_LEVELS.join(', ')}, not ${JSON.stringify(level)}\n`);
    return ExitCode.usage;
  }
  return { values, level };
}
