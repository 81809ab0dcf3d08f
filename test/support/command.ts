// Run a host command to completion and capture its output; the one process runner the test fixtures share.
import { spawn } from 'node:child_process';

export interface CommandResult {
  readonly stdout: string;
  readonly stderr: string;
  /** Exit code; 128 + signal number when the command was killed by a signal. */
  readonly code: number;
}

export interface CommandOptions {
  /** Written to the command's standard input, which is then closed. Default: empty input. */
  readonly input?: string;
  /** The whole environment of the command (not merged with ours). Default: ours. */
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** Kill the command with SIGKILL after this long. Default: no limit. */
  readonly timeoutMs?: number;
  /** Kill the command with SIGKILL when aborted; the promise then rejects. */
  readonly signal?: AbortSignal;
}

const signalNumbers: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

/** Runs `argv` and resolves with its output and exit code; rejects only when it cannot be started. */
export function runCommand(argv: readonly string[], options: CommandOptions = {}): Promise<CommandResult> {
  const [file, ...args] = argv;
  if (file === undefined) return Promise.reject(new Error('runCommand: empty argv'));
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: options.env ?? process.env,
      cwd: options.cwd,
      timeout: options.timeoutMs,
      signal: options.signal,
      killSignal: 'SIGKILL',
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('error', (error) => reject(new Error(`cannot run ${file}: ${error.message}`)));
    child.once('close', (code, signal) => {
      resolve({ stdout, stderr, code: code ?? 128 + (signal === null ? 0 : (signalNumbers[signal] ?? 0)) });
    });
    child.stdin.on('error', () => undefined); // a command that exits without reading its input is not an error
    child.stdin.end(options.input ?? '');
  });
}

/** Like runCommand, but rejects with the command's stderr when it exits non-zero. */
export async function runChecked(argv: readonly string[], options: CommandOptions = {}): Promise<CommandResult> {
  const result = await runCommand(argv, options);
  if (result.code !== 0) {
    throw new Error(`${argv.join(' ')} exited with ${result.code}: ${(result.stderr || result.stdout).trim().slice(-2000)}`);
  }
  return result;
}
