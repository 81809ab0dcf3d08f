// Files that are not regular files — FIFOs, sockets — for tests of readers that must refuse them, and a
// bound on how long a call may take, so a reader that blocks fails its test instead of hanging the suite.
import { spawnSync } from 'node:child_process';
import { closeSync, constants, openSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import type { ExecutionContext } from 'ava';

/** A FIFO at `path`; after the test, anything still blocked opening it for reading is released. */
export function makeFifo(t: ExecutionContext, path: string): void {
  const made = spawnSync('mkfifo', [path], { encoding: 'utf8' });
  if (made.status !== 0) throw new Error(`mkfifo ${path}: ${made.stderr}`);
  t.teardown(() => releaseFifo(path));
}

/** Opens the FIFO's write end once and closes it: a reader blocked in open() then reads end-of-file. */
export function releaseFifo(path: string): void {
  try {
    closeSync(openSync(path, constants.O_WRONLY | constants.O_NONBLOCK));
  } catch {
    // ENXIO: nobody is waiting to read; ENOENT: already removed.
  }
}

/** A listening Unix socket at `path`, closed after the test. */
export async function makeSocket(t: ExecutionContext, path: string): Promise<void> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(path, resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
}

/** `promise`, or a rejection naming `what` once `ms` passed without it settling. */
export async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: still waiting after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}
