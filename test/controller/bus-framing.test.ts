// The built qmctl reads D-Bus messages however the socket cuts them: its dbus-next is patched at build time
// (scripts/build.mjs) to cut whole messages out of each chunk as it arrives. Between qmctl and a real dbus-daemon sits
// a proxy that hands qmctl the daemon's bytes in pieces of 1 to 5,000 bytes, each written on its own (a message's
// 16 fixed bytes split, a message in many pieces, several messages in one); what qmctl prints must be what it prints
// connected straight to the bus. Needs `npm run build`.
import test, { type ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as delay } from 'node:timers/promises';
import { startPrivateBus } from '../support/dbus-daemon.ts';
import { QMCTL_BIN, qmctlBin } from '../support/qmctl.ts';
import { startStandin } from '../standin/index.ts';
import { until } from '../daemon/harness.ts';

const PIECES = [1, 3, 16, 17, 200, 5_000, 7, 64];

/** A unix socket at which each connection reaches the bus, the bus's bytes passed on in PIECES, one write each. */
async function choppingProxy(t: ExecutionContext, busAddress: string): Promise<string> {
  const busPath = busAddress.replace(/^unix:path=/, '');
  const dir = await mkdtemp(join(tmpdir(), 'qm-framing-'));
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const bus = createConnection(busPath);
    sockets.add(client).add(bus);
    client.pipe(bus);
    let next = 0;
    // Paused while a chunk is passed on, so chunks go out whole and in order.
    bus.on('data', async (chunk: Buffer) => {
      bus.pause();
      for (let at = 0; at < chunk.length; ) {
        const size = PIECES[next++ % PIECES.length]!;
        client.write(chunk.subarray(at, at + size));
        at += size;
        // A pause now and then, so that qmctl reads a piece before the next comes.
        if (next % 3 === 0) await delay(1);
      }
      bus.resume();
    });
    const end = () => (client.destroy(), bus.destroy());
    client.on('close', end).on('error', end);
    bus.on('close', end).on('error', end);
  });
  const path = join(dir, 'proxy');
  server.listen(path);
  await once(server, 'listening');
  t.teardown(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });
  return `unix:path=${path}`;
}

const unitName = (n: number) => `unit-with-a-rather-long-name-for-framing-${String(n).padStart(4, '0')}.service`;

async function vehicle(t: ExecutionContext) {
  const bus = await startPrivateBus();
  t.teardown(() => bus.stop());
  // Enough units, with long enough names, that list-units' reply is larger than one read of the socket (64 KiB).
  const units = Array.from({ length: 400 }, (_, n) => ({ name: unitName(n) }));
  const standin = await startStandin({ address: bus.address, nodes: [{ name: 'a', units: [...units, { name: 'noise.service' }] }] });
  t.teardown(() => standin.stop());
  return { bus, standin, proxy: await choppingProxy(t, bus.address) };
}

test('list-units, status and jobs print through the chopping proxy what they print straight from the bus', async (t) => {
  const { bus, proxy } = await vehicle(t);
  const names = Array.from({ length: 400 }, (_, n) => unitName(n));
  // 400 jobs and their ends through the proxy; then the 400 running units (listed only when active), straight.
  const started = await qmctlBin(['--bus-address', proxy, 'start', 'a', ...names]);
  t.is(started.code, 0, started.stderr);
  for (const args of [['list-units', 'a'], ['--json', 'list-units', 'a'], ['status', 'a', unitName(7)], ['restart', 'a', ...names.slice(0, 50)], ['list-nodes']]) {
    const straight = await qmctlBin(['--bus-address', bus.address, ...args]);
    const chopped = await qmctlBin(['--bus-address', proxy, ...args]);
    t.is(straight.code, 0, `${args.slice(0, 3).join(' ')}: ${straight.stderr}`);
    t.is(chopped.code, 0, `${args.slice(0, 3).join(' ')}: ${chopped.stderr}`);
    t.is(chopped.stdout, straight.stdout, args.slice(0, 3).join(' '));
  }
  const listed = await qmctlBin(['--bus-address', proxy, '--json', 'list-units', 'a']);
  t.is((JSON.parse(listed.stdout) as Array<{ name: string }>).filter(({ name }) => name.includes('-for-framing-')).length, 400);
  t.true(listed.stdout.length > 128 * 1024, `list-units' reply is ${listed.stdout.length} bytes of JSON`);
});

test('monitor through the chopping proxy: every change printed, in order', async (t) => {
  const { standin, proxy } = await vehicle(t);
  const child = spawn(process.execPath, [QMCTL_BIN, '--bus-address', proxy, '--log-level', 'debug', 'monitor', 'a', 'noise.service'], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => void child.kill('SIGKILL'));
  const lines: string[] = [];
  let following = false;
  createInterface({ input: child.stdout }).on('line', (line) => lines.push(line));
  createInterface({ input: child.stderr }).on('line', (line) => line.includes('subscribed: following changes') && (following = true));
  await until('qmctl monitor follows', () => following, 20_000);
  for (let n = 0; n < 500; n++) standin.setUnitState('a', 'noise.service', n % 2 ? 'inactive' : 'active', n % 2 ? 'dead' : 'running');
  const changes = () => lines.filter((line) => line.startsWith('a noise.service: ') && line.includes(' ('));
  await until('qmctl printed every change', () => changes().length >= 500, 30_000);
  t.deepEqual(
    changes(),
    Array.from({ length: 500 }, (_, n) => (n % 2 ? 'a noise.service: inactive (dead) [real]' : 'a noise.service: active (running) [real]')),
  );
});
