// The stand-in with a node backed by a real systemd (a vehicle node: systemd 257 in systemd-nspawn),
// beside an in-memory node: the same BlueChi API, with systemd's own jobs, signals and errors.
import test from 'ava';
import { CONTROLLER_INTERFACE, CONTROLLER_PATH, MONITOR_INTERFACE, NODE_INTERFACE } from './api.ts';
import type { ReceivedSignal } from './bus-client.ts';
import { setUp, tearDownAll } from './harness.ts';
import type { StandinNodeOptions } from './index.ts';
import { bootVehicleNode, type VehicleNode } from '../support/vehicle-node.ts';

let vehicle: VehicleNode | undefined;

test.before(async () => {
  vehicle = await bootVehicleNode({
    name: 'standin-systemd',
    files: [
      {
        path: '/etc/systemd/system/demo.service',
        content: '[Unit]\nDescription=Demo\n[Service]\nExecStart=/bin/sleep infinity\n[Install]\nWantedBy=multi-user.target\n',
      },
      { path: '/etc/systemd/system/broken.service', content: '[Service]\nType=oneshot\nExecStart=/bin/false\n' },
      { path: '/etc/systemd/system/slow.service', content: '[Service]\nType=oneshot\nExecStart=/bin/sleep 60\n' },
    ],
  });
  await vehicle.waitForSystemState('degraded');
});

test.after.always(async () => {
  await tearDownAll();
  await vehicle?.stop();
});

const NODE = '/org/eclipse/bluechi/node/vehicle';
const nodes = (): StandinNodeOptions[] => {
  if (!vehicle) throw new Error('the vehicle node did not boot');
  return [
    { name: 'vehicle', systemd: { address: vehicle.systemBusAddress } },
    { name: 'memory', units: [{ name: 'web.service' }] },
  ];
};
const jobRemovedFor = (job: unknown) => (signal: ReceivedSignal) => signal.body[1] === job;

test.serial('StartUnit on a systemd-backed node: JobNew, the reply, then systemd’s JobRemoved "done"', async (t) => {
  const { client } = await setUp(t, { nodes: nodes() });
  const [monitor] = await client.call(CONTROLLER_PATH, CONTROLLER_INTERFACE, 'CreateMonitor');
  await client.call(monitor as string, MONITOR_INTERFACE, 'Subscribe', 'ss', ['vehicle', 'demo.service']);
  const [job] = await client.call(NODE, NODE_INTERFACE, 'StartUnit', 'ss', ['demo.service', 'replace']);
  t.deepEqual(client.received('JobNew').map((signal) => signal.body), [[1, job]]);
  const removed = await client.waitFor('JobRemoved', jobRemovedFor(job), { timeoutMs: 20_000 });
  t.deepEqual(removed.body, [1, job, 'vehicle', 'demo.service', 'done']);

  const [props] = (await client.call(NODE, NODE_INTERFACE, 'GetUnitProperties', 'ss', ['demo.service', 'org.freedesktop.systemd1.Unit'])) as [
    Record<string, { value: unknown }>,
  ];
  t.is(props.ActiveState?.value, 'active');
  t.is(props.Description?.value, 'Demo');
  const running = await client.waitFor('UnitStateChanged', (signal) => signal.body[2] === 'active');
  t.deepEqual(running.body, ['vehicle', 'demo.service', 'active', 'running', 'real']);
  t.true(client.received('UnitPropertiesChanged').some((signal) => signal.body[2] === 'org.freedesktop.systemd1.Service'));

  const [listed] = (await client.call(NODE, NODE_INTERFACE, 'ListUnits')) as [unknown[][]];
  t.deepEqual(
    listed.find(([name]) => name === 'demo.service')?.slice(0, 5),
    ['demo.service', 'Demo', 'loaded', 'active', 'running'],
  );
  const [byNode] = (await client.call(CONTROLLER_PATH, CONTROLLER_INTERFACE, 'ListUnits')) as [Record<string, unknown>];
  t.deepEqual(Object.keys(byNode).sort(), ['memory', 'vehicle']);

  const [stopJob] = await client.call(NODE, NODE_INTERFACE, 'StopUnit', 'ss', ['demo.service', 'replace']);
  t.is((await client.waitFor('JobRemoved', jobRemovedFor(stopJob), { timeoutMs: 20_000 })).body[4], 'done');
});

test.serial('systemd’s errors and job results pass through: NoSuchUnit, "failed", "canceled"', async (t) => {
  const { client } = await setUp(t, { nodes: nodes() });
  t.deepEqual(await client.ask(NODE, NODE_INTERFACE, 'StartUnit', 'ss', ['nosuch.service', 'replace']), {
    ok: false,
    name: 'org.freedesktop.systemd1.NoSuchUnit',
    text: 'Unit nosuch.service not found.',
  });

  const [broken] = await client.call(NODE, NODE_INTERFACE, 'StartUnit', 'ss', ['broken.service', 'replace']);
  t.is((await client.waitFor('JobRemoved', jobRemovedFor(broken), { timeoutMs: 20_000 })).body[4], 'failed');
  await client.call(NODE, NODE_INTERFACE, 'ResetFailedUnit', 's', ['broken.service']);

  const [slow] = await client.call(NODE, NODE_INTERFACE, 'StartUnit', 'ss', ['slow.service', 'replace']);
  await client.waitFor('PropertiesChanged', (signal) => signal.path === slow, { timeoutMs: 20_000 });
  await client.call(slow as string, 'org.eclipse.bluechi.Job', 'Cancel');
  t.is((await client.waitFor('JobRemoved', jobRemovedFor(slow), { timeoutMs: 20_000 })).body[4], 'canceled');
});

test.serial('unit files pass through: enable, state, disable', async (t) => {
  const { client, standin } = await setUp(t, { nodes: nodes() });
  const [carries, changes] = await client.call(NODE, NODE_INTERFACE, 'EnableUnitFiles', 'asbb', [['demo.service'], false, false]);
  t.true(carries);
  t.deepEqual(changes, [
    ['symlink', '/etc/systemd/system/multi-user.target.wants/demo.service', '/etc/systemd/system/demo.service'],
  ]);
  t.deepEqual(await client.call(NODE, NODE_INTERFACE, 'GetUnitFileState', 's', ['demo.service']), ['enabled']);
  await client.call(NODE, NODE_INTERFACE, 'DisableUnitFiles', 'asb', [['demo.service'], false]);
  t.deepEqual(await client.call(NODE, NODE_INTERFACE, 'GetUnitFileState', 's', ['demo.service']), ['disabled']);
  t.throws(() => standin.failNext('vehicle', 'demo.service'), { message: /real systemd/ });
});

test.serial('a call still waiting on the node when it goes offline fails NoReply "Connection terminated"', async (t) => {
  const { client, standin } = await setUp(t, { nodes: nodes() });
  const answer = client.ask(NODE, NODE_INTERFACE, 'Reload');
  // A daemon-reload takes systemd a while: disconnect once the call has reached the node.
  while (!standin.calls('vehicle').some((call) => call.method === 'Reload')) {
    await new Promise((resolve) => setImmediate(resolve));
  }
  await standin.setOnline('vehicle', false);
  t.deepEqual(await answer, {
    ok: false,
    name: 'org.freedesktop.DBus.Error.NoReply',
    text: 'Connection terminated',
  });
  t.is(await client.property(NODE, NODE_INTERFACE, 'Status'), 'offline');
});
