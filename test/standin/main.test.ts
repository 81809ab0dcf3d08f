// The stand-in's command line: parsing, and the process a demo starts.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import test from 'ava';
import { startPrivateBus, stopChild, type PrivateBus } from '../support/dbus-daemon.ts';
import { CONTROLLER_INTERFACE, CONTROLLER_PATH } from './api.ts';
import { TestClient } from './bus-client.ts';
import { parseCommandLine } from './main.ts';

const children = new Set<ChildProcess>();
const buses = new Set<PrivateBus>();
test.after.always(async () => {
  await Promise.allSettled([...children].map((child) => stopChild(child, 'SIGKILL')));
  await Promise.allSettled([...buses].map((bus) => bus.stop()));
});

test('parseCommandLine: nodes, offline flags, units, latency and systemd-backed nodes', (t) => {
  t.deepEqual(
    parseCommandLine([
      '--address',
      'unix:path=/tmp/bus',
      '--node',
      'qm.a',
      '--node',
      'b:offline',
      '--unit',
      'web.service',
      '--unit',
      'db.service:active',
      '--latency',
      '20',
      '--systemd',
      'qm.a=unix:path=/proc/1/root/run/dbus/system_bus_socket',
    ]),
    {
      address: 'unix:path=/tmp/bus',
      nodes: [
        {
          name: 'qm.a',
          online: true,
          jobLatencyMs: 20,
          units: [{ name: 'web.service' }, { name: 'db.service', activeState: 'active' }],
          systemd: { address: 'unix:path=/proc/1/root/run/dbus/system_bus_socket' },
        },
        {
          name: 'b',
          online: false,
          jobLatencyMs: 20,
          units: [{ name: 'web.service' }, { name: 'db.service', activeState: 'active' }],
        },
      ],
    },
  );
  t.throws(() => parseCommandLine(['--node', 'a']), { message: /usage/ });
  t.throws(() => parseCommandLine(['--address', 'x', '--node', 'a:sideways']), { message: /NAME:offline/ });
  t.throws(() => parseCommandLine(['--address', 'x', '--node', 'a', '--latency', 'soon']), { message: /latency/ });
});

test('main.ts prints ready, serves the nodes, and exits 0 on SIGTERM', async (t) => {
  const bus = await startPrivateBus();
  buses.add(bus);
  const main = fileURLToPath(new URL('./main.ts', import.meta.url));
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', main, '--address', bus.address, '--node', 'node1', '--node', 'node2:offline', '--unit', 'web.service'],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  children.add(child);
  const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
  t.is(line, 'ready');

  const client = await TestClient.connect(bus.address);
  try {
    const [nodes] = await client.call(CONTROLLER_PATH, CONTROLLER_INTERFACE, 'ListNodes');
    t.deepEqual(
      (nodes as string[][]).map(([name, , status]) => `${name} ${status}`),
      ['node1 online', 'node2 offline'],
    );
  } finally {
    await client.close();
  }

  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const [code] = (await exited) as [number | null];
  t.is(code, 0);
  children.delete(child);
  await bus.stop();
  buses.delete(bus);
});
