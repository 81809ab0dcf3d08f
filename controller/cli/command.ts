// What every qmctl command is: a name, its help, its options, and a run function over a context.
import type { ParseArgsConfig } from 'node:util';
import type { Writable } from 'node:stream';
import type { Logger } from 'winston';
import type { BlueChi } from '../bluechi/client.ts';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;
export type OptionValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

export interface Command {
  readonly name: string;
  /** One line for the command list. */
  readonly summary: string;
  /** Usage line(s) after `qmctl `, e.g. `start NODE UNIT...`. */
  readonly usage: string;
  /** Longer help: options and what the output means. */
  readonly help?: string;
  readonly options?: OptionSpec;
  /** Fewest and most positional arguments; checked before run. */
  readonly args?: readonly [min: number, max?: number];
  /**
   * For commands that run a command line (exec, execin): how many of their own positionals come first.
   * Everything from the positional after those on is passed through untouched, dashes and all.
   */
  readonly passthrough?: number;
  run(context: Context, args: string[], options: OptionValues): Promise<number>;
}

export interface GlobalOptions {
  readonly json: boolean;
  readonly busAddress: string;
  readonly logLevel: string;
  readonly timeoutMs: number;
}

export interface Context {
  readonly global: GlobalOptions;
  readonly stdout: Writable;
  readonly stderr: Writable;
  /** Whether stdout is a terminal: colour and progress only then. */
  readonly tty: boolean;
  readonly env: NodeJS.ProcessEnv;
  log(): Promise<Logger>;
  /** The BlueChi controller, connected on first use. */
  blueChi(): Promise<BlueChi>;
  print(text: string): void;
  printJson(value: unknown): void;
  /**
   * Aborts on the first SIGINT/SIGTERM. Unless the command said it ends itself on interrupt (`endsOnInterrupt`), that
   * interrupt also ends the command at once with exit 130, whatever it is waiting for.
   */
  readonly interrupted: AbortSignal;
  /**
   * From here the command waits on others (jobs, qm-controller): the first interrupt ends it at once with exit
   * 130, saying on stderr `goesOn`, what continues without it (as systemctl: the jobs run on).
   */
  waiting(goesOn: string): void;
  /** From here the command watches `interrupted` and ends by itself (a summary, a follower's normal end). */
  endsOnInterrupt(): void;
  /**
   * Runs `work`, which changes nothing (reading and checking a layout). Meanwhile SIGINT and SIGTERM end qmctl by
   * their default action, at once: a JavaScript handler would wait for synchronous parsing to finish.
   */
  readOnly<T>(work: () => Promise<T>): Promise<T>;
}
