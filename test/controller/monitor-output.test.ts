// The built qmctl monitor, whose lines go out once per event-loop turn: every change printed, in order, before an
// interrupt ends it (exit 0); a reader that goes away ends it quietly (141). Needs `npm run build`.
import test, { type ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { startPrivateBus } from '../support/dbus-daemon.ts';
import { QMCTL_BIN } from '../support/qmctl.ts';
import { startStandin } from '../standin/index.ts';
import { until } from '../daemon/harness.ts';

async function vehicle(t: ExecutionContext) {
  const bus = await startPrivateBus();
  t.teardown(() => bus.stop());
  const standin = await startStandin({ address: bus.address, nodes: [{ name: 'a', units: [{ name: 'noise.service' }] }] });
  t.teardown(() => standin.stop());
  const flip = (count: number) => {
    for (let n = 0; n < count; n++) standin.setUnitState('a', 'noise.service', n % 2 ? 'inactive' : 'active', n % 2 ? 'dead' : 'running');
  };
  return { address: bus.address, flip };
}

/** qmctl monitor a, through `shell` (its stdout piped as the script says); resolves once it follows. */
async function monitor(t: ExecutionContext, address: string, script = '"$0" "$@"') {
  const child = spawn('bash', ['--norc', '--noprofile', '-c', `${script}; echo "qmctl exited \${PIPESTATUS[0]}" >&2`, process.execPath, QMCTL_BIN, '--bus-address', address, '--log-level', 'debug', 'monitor', 'a'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => void child.kill('SIGKILL'));
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  let following = false;
  createInterface({ input: child.stderr }).on('line', (line) => {
    stderr += `${line}\n`;
    if (line.includes('subscribed: following changes')) following = true;
  });
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  await until('qmctl monitor follows', () => following, 20_000);
  return { child, closed, out: () => stdout, err: () => stderr };
}

test.serial('a burst of 2,000 changes: every line printed, in order; SIGINT then ends monitor with 0', async (t) => {
  const { address, flip } = await vehicle(t);
  const qmctl = await monitor(t, address, 'exec "$0" "$@"');
  flip(2_000);
  await until('qmctl printed every change', () => qmctl.out().split('\n').filter((line) => line.startsWith('a noise.service: ') && line.includes(' (')).length >= 2_000, 30_000);
  const changes = qmctl.out().split('\n').filter((line) => line.startsWith('a noise.service: ') && line.includes(' ('));
  // The changes alternate as they were made: none lost, none twice, none out of order.
  t.true(changes.every((line, index) => index === 0 || line !== changes[index - 1]), changes.slice(0, 6).join('\n'));
  qmctl.child.kill('SIGINT');
  await qmctl.closed;
  t.is(qmctl.child.exitCode ?? -1, 0);
});

test.serial('qmctl monitor | head -1: the first change, then qmctl ends quietly with 141', async (t) => {
  const { address, flip } = await vehicle(t);
  const qmctl = await monitor(t, address, '"$0" "$@" | head -1');
  // Far more than a pipe holds (20,000 lines), so qmctl is still writing when head has gone.
  flip(20_000);
  await qmctl.closed;
  t.regex(qmctl.out(), /^a [^\n]+\n$/);
  t.regex(qmctl.err(), /qmctl exited 141\n$/);
});
