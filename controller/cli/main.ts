// qmctl: parse the command line, run one command, map errors to documented exit codes.
import { parseArgs } from 'node:util';
import type { Writable } from 'node:stream';
import { busAddressOf } from '../bus/address.ts';
import type { Bus } from '../bus/connection.ts';
import { ExitCode, isQmError, QmError } from '../errors.ts';
import type { BlueChi } from '../bluechi/client.ts';
import type { Command, Context, GlobalOptions, OptionSpec } from './command.ts';
import { reportInterrupted } from './interrupt.ts';
import { secondsOption } from './seconds.ts';
import { commandNames, loadCommand } from './registry.ts';
import { commandIn, globalOptions, splitCommand, takesNextValue } from './command-line.ts';

export { globalOptions };

export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'];

export interface CliIo {
  readonly stdout: Writable & { isTTY?: boolean };
  readonly stderr: Writable;
  readonly env: NodeJS.ProcessEnv;
}

/** What `qmctl --help` and `qmctl COMMAND --help` say about qmctl as a whole; the manual qmctl(1) is made of it too. */
export const qmctlHelp = {
  synopsis: 'qmctl [--bus-address ADDR] [--json] [-v] COMMAND [ARGS...]',
  description: "Drives BlueChi nodes and the QM partition. 'qmctl COMMAND --help' tells more.",
  exitCodes: `0 ok, 1 a job did not end 'done', 2 usage, 3 bus or controller unreachable,
4 node offline or unknown, 130 interrupted (the first Ctrl-C or SIGTERM ends any command at once;
submitted jobs go on), 141 the reader of its output went away (qmctl list-units | head -1).`,
  commonOptions: `  --json               machine-readable output (documented fields, stable)
  -v, --verbose        more logging on stderr (once: info, twice: debug)
  --log-level LEVEL    how much logging on stderr: ${LOG_LEVELS.join(', ')} (default warn)
  --bus-address ADDR   for commands that talk to BlueChi: its bus (default: $DBUS_SYSTEM_BUS_ADDRESS or the system bus)
  --timeout SECONDS    for commands that run jobs: how long to wait for each (default 120, at most 2147483)
  -h, --help           this help`,
};

const usage = `Usage: ${qmctlHelp.synopsis}

${qmctlHelp.description}
Exit codes: ${qmctlHelp.exitCodes}`;

export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  // The launcher chose the part of the program to run from this same reading of the command line.
  const [first, ...rest] = splitCommand(argv);
  const name = commandIn(first);
  if (name === undefined) {
    io.stdout.write(`${usage}\n\nCommands:\n${await commandList()}\n`);
    return first === undefined ? ExitCode.usage : ExitCode.ok;
  }
  const command = await loadCommand(name);
  if (!command) {
    io.stderr.write(`qmctl: unknown command ${JSON.stringify(name)}; 'qmctl --help' lists the commands\n`);
    return ExitCode.usage;
  }

  let parsed;
  const options = { ...globalOptions, ...command.options };
  try {
    const [own, passed] = command.passthrough === undefined ? [rest, []] : splitPassthrough(rest, options, command.passthrough);
    parsed = parseArgs({ args: [...own], options, allowPositionals: true, strict: true });
    parsed.positionals.push(...passed);
  } catch (error) {
    io.stderr.write(`qmctl ${command.name}: ${(error as Error).message}\nUsage: qmctl ${command.usage}\n`);
    return ExitCode.usage;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.stdout.write(helpText(command));
    return ExitCode.ok;
  }
  const [min, max] = command.args ?? [0, 0];
  if (positionals.length < min || (max !== undefined && positionals.length > max)) {
    io.stderr.write(`qmctl ${command.name}: expected ${arity(min, max)}, got ${positionals.length}\nUsage: qmctl ${command.usage}\n`);
    return ExitCode.usage;
  }

  const verbosity = (values.verbose as boolean[] | undefined)?.length ?? 0;
  const logLevel = (values['log-level'] as string | undefined) ?? LOG_LEVELS[Math.min(1 + verbosity, 3)]!;
  if (!LOG_LEVELS.includes(logLevel)) {
    io.stderr.write(`qmctl: --log-level must be one of ${LOG_LEVELS.join(', ')}\n`);
    return ExitCode.usage;
  }
  const timeout = values.timeout === undefined ? { ms: 120_000 } : secondsOption('timeout', values.timeout as string);
  if ('error' in timeout) {
    io.stderr.write(`qmctl: ${timeout.error}\n`);
    return ExitCode.usage;
  }
  const bus = busAddressOf(values['bus-address'] as string | undefined, io.env);
  if ('error' in bus) {
    io.stderr.write(`qmctl: ${bus.error}\n`);
    return ExitCode.usage;
  }
  const global: GlobalOptions = {
    json: values.json === true,
    busAddress: bus.address,
    logLevel,
    timeoutMs: timeout.ms,
  };

  const session = createContext(global, io);
  try {
    return await Promise.race([
      command.run(session.context, positionals, values).catch((error: unknown) => reportError(session.context, command, error)),
      session.interruptedNow.then((goesOn) => reportInterrupted(io.stderr, command.name, goesOn)),
    ]);
  } finally {
    session.close();
  }
}

/** Splits `args` where the passed-through command line starts: after `own` positionals of the command's own. */
function splitPassthrough(args: readonly string[], options: OptionSpec, own: number): [string[], string[]] {
  let positionals = 0;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') return [[...args], []];
    if (arg.startsWith('-') && arg.length > 1) {
      if (takesNextValue(arg, options)) i++;
      continue;
    }
    if (positionals === own) return [args.slice(0, i), args.slice(i)];
    positionals++;
  }
  return [[...args], []];
}

function arity(min: number, max: number | undefined): string {
  if (max === min) return `${min} argument${min === 1 ? '' : 's'}`;
  if (max === undefined) return `at least ${min} argument${min === 1 ? '' : 's'}`;
  return `${min} to ${max} arguments`;
}

function helpText(command: Command): string {
  return `Usage: qmctl ${command.usage}\n\n${command.summary}\n${command.help ? `\n${command.help.trimEnd()}\n` : ''}
Common options:
${qmctlHelp.commonOptions}
`;
}

async function commandList(): Promise<string> {
  const commands = await Promise.all(commandNames.map(loadCommand));
  const width = Math.max(...commandNames.map((name) => name.length));
  return commands.map((command) => `  ${command!.name.padEnd(width)}  ${command!.summary}`).join('\n');
}

function createContext(global: GlobalOptions, io: CliIo) {
  let bus: Promise<Bus> | undefined;
  let client: Promise<BlueChi> | undefined;
  let logger: Promise<import('winston').Logger> | undefined;
  const abort = new AbortController();
  const interrupt = () => abort.abort();
  // `once`: a second interrupt finds the default action again and ends qmctl whatever it is doing.
  const listen = () => {
    process.once('SIGINT', interrupt);
    process.once('SIGTERM', interrupt);
  };
  const unlisten = () => {
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
  };
  listen();
  // The first interrupt ends the command at once (exit 130, saying what goes on), unless it ends itself on it.
  let goesOn = '';
  let endsItself = false;
  let endNow: (goesOn: string) => void = () => undefined;
  const interruptedNow = new Promise<string>((resolve) => (endNow = resolve));
  abort.signal.addEventListener('abort', () => endsItself || endNow(goesOn));

  const context: Context = {
    global,
    stdout: io.stdout,
    // Read when written to: qmctl's stderr is made on first use.
    get stderr() {
      return io.stderr;
    },
    tty: io.stdout.isTTY === true && !global.json && io.env.NO_COLOR === undefined,
    env: io.env,
    interrupted: abort.signal,
    waiting(note) {
      goesOn = note;
      endsItself = false;
      if (abort.signal.aborted) endNow(goesOn);
    },
    endsOnInterrupt() {
      endsItself = true;
    },
    async readOnly(work) {
      // A signal already queued for our handler is delivered first (and has ended the command).
      await new Promise((resolve) => setImmediate(resolve));
      unlisten();
      try {
        return await work();
      } finally {
        if (!abort.signal.aborted) listen();
      }
    },
    log: () => (logger ??= import('../log.ts').then(({ createLogger, isJournal }) => createLogger(global.logLevel, io.stderr, { journal: io.stderr === process.stderr && isJournal(io.env) }))),
    blueChi: () =>
      (client ??= (async () => {
        const [{ connectBus }, { blueChi }] = await Promise.all([import('../bus/connection.ts'), import('../bluechi/client.ts')]);
        bus = connectBus(global.busAddress);
        return blueChi(await bus, { jobTimeoutMs: global.timeoutMs });
      })()),
    print: (text) => io.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
    printJson: (value) => io.stdout.write(`${JSON.stringify(value, jsonReplacer, 2)}\n`),
  };
  return {
    context,
    interruptedNow,
    close() {
      unlisten();
      bus?.then((connected) => connected.close()).catch(() => undefined);
    },
  };
}

function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof QmError) return value.toJSON();
  return value;
}

async function reportError(context: Context, command: Command, error: unknown): Promise<number> {
  if (!isQmError(error)) {
    context.stderr.write(`qmctl ${command.name}: unexpected error: ${(error as Error)?.stack ?? String(error)}\n`);
    return ExitCode.jobFailed;
  }
  let message = error.message;
  if (error.code === 'node-offline' || error.code === 'node-unknown') {
    const { knownNodesHint } = await import('../operations/status.ts');
    message += await knownNodesHint(await context.blueChi());
  }
  if (context.global.json) context.printJson({ error: { ...error.toJSON(), message } });
  context.stderr.write(`qmctl ${command.name}: ${error.position}${message}\n`);
  return error.exitCode;
}
