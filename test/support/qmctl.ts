// Running qmctl as tests need it: in-process (fast, same code) or as the built executable (what users run).
import { execFile } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { runCli } from '../../controller/cli/main.ts';

export interface QmctlResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs qmctl in this process; `tty` makes its stdout look like a terminal, as a person's would. */
export async function qmctl(args: readonly string[], env: NodeJS.ProcessEnv = {}, tty = false): Promise<QmctlResult> {
  const stdout = Object.assign(new PassThrough(), { isTTY: tty });
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const code = await runCli(args, { stdout, stderr, env });
  return { code, stdout: out, stderr: err };
}

export const QMCTL_BIN = fileURLToPath(new URL('../../dist/qmctl.cjs', import.meta.url));

/** Runs the bundled dist/qmctl.cjs (built by `npm run build`) as a separate process. */
export function qmctlBin(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<QmctlResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [QMCTL_BIN, ...args], { env: { PATH: process.env.PATH, ...env } }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}
