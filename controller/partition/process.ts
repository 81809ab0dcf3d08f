// Running the tools QM is made of (podman, mmdebstrap, tar, journalctl) and reading what they say.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { QmError } from '../errors.ts';

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly input?: string | Buffer;
  readonly timeoutMs?: number;
  /** Each line the tool writes to stderr, as it comes (progress). */
  readonly onLine?: (line: string) => void;
  /** Pass the terminal through (interactive tools); stdout/stderr are then not captured. */
  readonly inherit?: boolean;
  readonly signal?: AbortSignal;
}

// podman on cgroup v1 prints a deprecation warning on every call; it is noise in what we show.
const quietEnv = { PODMAN_IGNORE_CGROUPSV1_WARNING: '1' };

/** Runs argv to completion; resolves with its exit code and output, rejects only when it cannot be started. */
export function run(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const [file, ...args] = argv;
  return new Promise((resolve, reject) => {
    const child = spawn(file!, args, {
      env: { ...(options.env ?? process.env), ...quietEnv },
      stdio: options.inherit ? 'inherit' : [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      timeout: options.timeoutMs,
      killSignal: 'SIGKILL',
      signal: options.signal,
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    if (child.stderr) {
      child.stderr.setEncoding('utf8');
      if (options.onLine) {
        const lines = createInterface({ input: child.stderr });
        lines.on('line', (line) => {
          stderr += `${line}\n`;
          options.onLine!(line);
        });
      } else child.stderr.on('data', (chunk: string) => (stderr += chunk));
    }
    child.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') reject(new QmError('io', `${file} is not installed (not found on PATH)`));
      else if (error.name === 'AbortError') reject(new QmError('timeout', `${argv.join(' ')} was interrupted`));
      else reject(new QmError('io', `cannot run ${file}: ${error.message}`, {}, { cause: error }));
    });
    child.once('close', (code, signal) => resolve({ code: code ?? (signal === 'SIGKILL' ? 137 : 128), stdout, stderr }));
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

/** Like run, but a non-zero exit becomes a QmError carrying the tool's last words. */
export async function runChecked(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const result = await run(argv, options);
  if (result.code !== 0) {
    const said = (result.stderr.trim() || result.stdout.trim()).split('\n').slice(-15).join('\n');
    throw new QmError('job-failed', `${argv.slice(0, 3).join(' ')}${argv.length > 3 ? ' …' : ''} failed (exit ${result.code})${said ? `:\n${said}` : ''}`);
  }
  return result;
}

/** Whether `name` is an executable on PATH. */
export async function onPath(name: string): Promise<boolean> {
  const result = await run(['sh', '-c', 'command -v "$1" >/dev/null', 'sh', name]).catch(() => undefined);
  return result?.code === 0;
}
