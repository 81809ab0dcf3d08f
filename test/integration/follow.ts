// Running the built qmctl as a follower (monitor, status -w, metrics listen, is-online --monitor) the way a person
// does: start it, act once it is subscribed, read its lines, then press Ctrl-C — or let it end by itself.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { QMCTL_BIN } from '../support/qmctl.ts';

export interface Followed {
  /** The non-empty lines on stdout, in order. */
  readonly lines: string[];
  readonly code: number | null;
  readonly stderr: string;
}

/**
 * Runs `qmctl --bus-address ADDRESS --log-level debug ARGS` until `enough(lines)` holds (or it exits), then interrupts
 * it (SIGINT) unless it ended by itself; `() => false` waits for it to end by itself. `act` runs once qmctl says on stderr that its subscription is in place ('subscribed: following
 * changes'), or at once with `actAtStart`. `enough` is a line count or a test of the lines so far.
 */
export async function followLines(
  address: string,
  args: readonly string[],
  enough: number | ((lines: readonly string[]) => boolean),
  act: () => Promise<unknown>,
  { actAtStart = false }: { actAtStart?: boolean } = {},
): Promise<Followed> {
  const child = spawn(process.execPath, [QMCTL_BIN, '--bus-address', address, '--log-level', 'debug', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const done = typeof enough === 'number' ? (lines: readonly string[]) => lines.length >= enough : enough;
  const seen: string[] = [];
  let stderr = '';
  const subscribed = new Promise<void>((resolve) => {
    createInterface({ input: child.stderr }).on('line', (line) => {
      stderr += `${line}\n`;
      if (line.includes('subscribed: following changes')) resolve();
    });
  });
  const satisfied = new Promise<void>((resolve) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line.trim() !== '') seen.push(line);
      if (done(seen)) resolve();
    });
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    if (!actAtStart) await Promise.race([subscribed, exited]);
    await act();
    await Promise.race([satisfied, exited]);
  } finally {
    // Unless it has ended by itself already.
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
  }
  return { lines: seen, code: await exited, stderr };
}
