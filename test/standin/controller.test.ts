// The stand-in's org.eclipse.bluechi.Controller, against a real private dbus-daemon.
import test from 'ava';
import { BUS_NAME, CONTROLLER_INTERFACE, CONTROLLER_PATH, NODE_INTERFACE } from './api.ts';
import type { ReceivedSignal } from './bus-client.ts';
import { setUp, tearDownAll } from './harness.ts';

test.after.always(tearDownAll);

const units = [{ name: 'web.service' }, { name: 'db.service', activeState: 'active' }];
const statusChange = (path: string) => (signal: ReceivedSignal) =>
  signal.path === path && signal.interface === 'org.freedesktop.DBus.Properties' && signal.body[0] !== undefined;
const statusValues = (signals: ReceivedSignal[]) =>
  signals.map((signal) => (signal.body[1] as Record<string, { value: unknown }>).Status?.value);

test('ListNodes lists every node: name, escaped object path, status and peer IP', async (t) => {
  const { client } = await setUp(t, { nodes: [{ name: 'qm.vehicle-a' }, { name: 'node2', online: false }] });
  const [nodes] = await client.call(CONTROLLER_PATH, CONTROLLER_INTERFACE, 'ListNodes');
  t.deepEqual(nodes, [
    ['qm.vehicle-a', '/org/eclipse/bluechi/node/qm_2evehicle_2da', 'online', '::ffff:127.0.0.1'],
    ['node2', '/org/eclipse/bluechi/node/node2', 'offline', ''],
  ]);
});

test('GetNode answers the object path, and ServiceUnknown "Node not found" for a node it does not know', async (t) => {
  const { client } = await setUp(t, { nodes: [{ name: 'qm.vehicle-a' }] });
  t.deepEqual(await client.call(CONTROLLER_PATH, CONTROLLER_INTERFACE, 'GetNode', 's', ['qm.vehicle-a']), [
    '/org/eclipse/bluechi/node/qm_2evehicle_2da',
  ]);
  t.deepEqual(await client.ask(CONTROLLER_PATH, CONTROLLER_INTERFACE, 'GetNode', 's', ['nope']), {
    ok: false,
    name: 'org.freedesktop.DBus.Error.ServiceUnknown',
    text: 'Node not found',
  });
});

test('Status is up, degraded, down, with PropertiesChanged only when it changes', async (t) => {
  const { client, standin } = await setUp(t, {
    nodes: [{ name: 'a' }, { name: 'b' }, { name: 'c' }],
  });
  const status = () => client.property(CONTROLLER_PATH, CONTROLLER_INTERFACE, 'Status');
  t.is(await status(), 'up');

  await standin.setOnline('a', false);
  t.is(await status(), 'degraded');
  await standin.setOnline('b', false);
  t.is(await status(), 'degraded');
  await standin.setOnline('c', false);
  t.is(await status(), 'down');
  await standin.setOnline('c', true);
  await standin.setOnline('b', true);
  await standin.setOnline('a', true);
  t.is(await status(), 'up');

  await client.waitFor('PropertiesChanged', statusChange(CONTROLLER_PATH), { count: 4 });
  t.deepEqual(statusValues(client.received('PropertiesChanged', statusChange(CONTROLLER_PATH))), [
    'degraded',
    'down',
    'degraded',
    'up',
  ]);
  const nodeA = standin.nodePath('a');
  t.deepEqual(statusValues(client.received('PropertiesChanged', statusChange(nodeA))), ['offline', 'online']);
  t.is(await client.property(nodeA, NODE_INTERFACE, 'Status'), 'online');
});

test('a node going offline signals its own Status before the controller’s', async (t) => {
  const { client, standin } = await setUp(t, { nodes: [{ name: 'a' }] });
  await standin.setOnline('a', false);
  await client.waitFor('PropertiesChanged', statusChange(CONTROLLER_PATH));
  const order = client.received('PropertiesChanged').map((signal) => signal.path);
  t.deepEqual(order, [standin.nodePath('a'), CONTROLLER_PATH]);
});

test('ListUnits and ListUnitFiles answer for online nodes only', async (t) => {
  const { client } = await setUp(t, {
    nodes: [
      { name: 'a', units },
      { name: 'b', units, online: false },
    ],
  });
  const [byNode] = (await client.call(CONTROLLER_PATH, CONTROLLER_INTERFACE, 'ListUnits')) as [Record<string, unknown[][]>];
  t.deepEqual(Object.keys(byNode), ['a']);
  // web.service is inactive and nothing references it: systemd has not loaded it, so only db.service is listed.
  t.deepEqual(byNode.a, [[
    'db.service',
    'db.service',
    'loaded',
    'active',
    'running',
    '',
    '/org/freedesktop/systemd1/unit/db_2eservice',
    0,
    '',
    '/',
  ]]);
  const [files] = (await client.call(CONTROLLER_PATH, CONTROLLER_INTERFACE, 'ListUnitFiles')) as [Record<string, unknown[][]>];
  t.deepEqual(files, {
    a: [
      ['/etc/systemd/system/web.service', 'disabled'],
      ['/etc/systemd/system/db.service', 'disabled'],
    ],
  });
});

test('SetLogLevel takes DEBUG, INFO, WARN, ERROR and refuses anything else', async (t) => {
  const { client } = await setUp(t, { nodes: [{ name: 'a' }] });
  t.is(await client.property(CONTROLLER_PATH, CONTROLLER_INTERFACE, 'LogLevel'), 'INFO');
  t.is(await client.property(CONTROLLER_PATH, CONTROLLER_INTERFACE, 'LogTarget'), 'journald');
  await client.call(CONTROLLER_PATH, CONTROLLER_INTERFACE, 'SetLogLevel', 's', ['DEBUG']);
  t.is(await client.property(CONTROLLER_PATH, CONTROLLER_INTERFACE, 'LogLevel'), 'DEBUG');
  t.deepEqual(await client.ask(CONTROLLER_PATH, CONTROLLER_INTERFACE, 'SetLogLevel', 's', ['debug']), {
    ok: false,
    name: 'org.freedesktop.DBus.Error.InvalidArgs',
    text: 'Invalid input for log level',
  });
});

test('EnableMetrics serves /org/eclipse/bluechi/metrics; enabling twice is InconsistentMessage', async (t) => {
  const { client, standin } = await setUp(t, { nodes: [{ name: 'a', units }] });
  await client.call(CONTROLLER_PATH, CONTROLLER_INTERFACE, 'EnableMetrics');
  t.like(await client.ask(CONTROLLER_PATH, CONTROLLER_INTERFACE, 'EnableMetrics'), {
    ok: false,
    name: 'org.freedesktop.DBus.Error.InconsistentMessage',
    text: 'Metrics already enabled',
  });
  const [job] = await client.call(standin.nodePath('a'), NODE_INTERFACE, 'StartUnit', 'ss', ['web.service', 'replace']);
  const metrics = await client.waitFor('StartUnitJobMetrics');
  t.is(metrics.path, '/org/eclipse/bluechi/metrics');
  t.deepEqual(metrics.body.slice(0, 3), ['a', job, 'web.service']);
  t.truthy(await client.waitFor('AgentJobMetrics'));
  await client.call(CONTROLLER_PATH, CONTROLLER_INTERFACE, 'DisableMetrics');
  t.like(await client.ask(CONTROLLER_PATH, CONTROLLER_INTERFACE, 'DisableMetrics'), {
    ok: false,
    text: 'Metrics already disabled',
  });
});

test('unknown objects, methods and signatures get sd-bus’ error names', async (t) => {
  const { client, standin } = await setUp(t, { nodes: [{ name: 'a' }] });
  t.like(await client.ask(CONTROLLER_PATH, CONTROLLER_INTERFACE, 'Frobnicate'), {
    name: 'org.freedesktop.DBus.Error.UnknownMethod',
    text: 'Unknown method Frobnicate or interface org.eclipse.bluechi.Controller.',
  });
  t.like(await client.ask(CONTROLLER_PATH, CONTROLLER_INTERFACE, 'GetNode', 'u', [1]), {
    name: 'org.freedesktop.DBus.Error.InvalidArgs',
    text: "Invalid arguments 'u' to call org.eclipse.bluechi.Controller.GetNode(), expecting 's'.",
  });
  t.like(await client.ask('/org/eclipse/bluechi/job/42', 'org.eclipse.bluechi.Job', 'Cancel'), {
    name: 'org.freedesktop.DBus.Error.UnknownObject',
  });
  t.like(await client.ask('/org/eclipse/bluechi/job/42', 'org.freedesktop.DBus.Properties', 'GetAll', 's', ['']), {
    name: 'org.freedesktop.DBus.Error.UnknownObject',
  });
  t.like(await client.ask(standin.nodePath('a'), CONTROLLER_INTERFACE, 'ListNodes'), {
    name: 'org.freedesktop.DBus.Error.UnknownObject',
  });
});

test('restart: jobs end "cancelled due to shutdown", the name changes owner, nodes come back, ids restart', async (t) => {
  const { client, standin } = await setUp(t, { nodes: [{ name: 'a', units, jobLatencyMs: 60_000 }] });
  const before = standin.uniqueName;
  const [job] = await client.call(standin.nodePath('a'), NODE_INTERFACE, 'StartUnit', 'ss', ['web.service', 'replace']);
  t.is(job, '/org/eclipse/bluechi/job/1');

  await standin.restart();

  const removed = await client.waitFor('JobRemoved');
  t.deepEqual(removed.body, [1, job, 'a', 'web.service', 'cancelled due to shutdown']);
  await client.waitFor('NameOwnerChanged', (signal) => signal.body[2] !== '');
  const owners = client.received('NameOwnerChanged').map((signal) => signal.body);
  t.deepEqual(owners, [
    [BUS_NAME, before, ''],
    [BUS_NAME, '', standin.uniqueName],
  ]);
  t.not(standin.uniqueName, before);
  t.is(await client.property(CONTROLLER_PATH, CONTROLLER_INTERFACE, 'Status'), 'up');
  const statuses = statusValues(client.received('PropertiesChanged', statusChange(CONTROLLER_PATH)));
  t.deepEqual(statuses, ['down', 'up']);
  // The agent's systemd job is still running; only the controller forgot it. New BlueChi ids start at 1 again.
  const [next] = await client.call(standin.nodePath('a'), NODE_INTERFACE, 'StopUnit', 'ss', ['db.service', 'replace']);
  t.is(next, '/org/eclipse/bluechi/job/1');
});

test('a crash (restart without grace) ends jobs without any JobRemoved', async (t) => {
  const { client, standin } = await setUp(t, { nodes: [{ name: 'a', units, jobLatencyMs: 60_000 }] });
  await client.call(standin.nodePath('a'), NODE_INTERFACE, 'StartUnit', 'ss', ['web.service', 'replace']);
  await standin.restart({ graceful: false, downMs: 50 });
  await client.waitFor('NameOwnerChanged', (signal) => signal.body[2] !== '');
  t.deepEqual(client.received('JobRemoved'), []);
  t.deepEqual(
    client.received('NameOwnerChanged').map((signal) => signal.body[2] === ''),
    [true, false],
  );
});
