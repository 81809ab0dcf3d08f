// The stand-in's org.eclipse.bluechi.Monitor, against a real private dbus-daemon.
import test from 'ava';
import { CONTROLLER_INTERFACE, CONTROLLER_PATH, MONITOR_INTERFACE, NODE_INTERFACE } from './api.ts';
import type { ReceivedSignal, TestClient } from './bus-client.ts';
import { setUp, tearDownAll } from './harness.ts';

test.after.always(tearDownAll);

const units = [{ name: 'web.service' }, { name: 'db.service', activeState: 'active' }];
const nodes = [
  { name: 'a', units },
  { name: 'b', units },
];

async function createMonitor(client: TestClient): Promise<string> {
  const [path] = await client.call(CONTROLLER_PATH, CONTROLLER_INTERFACE, 'CreateMonitor');
  return path as string;
}

const states = (signals: ReceivedSignal[]) => signals.map((signal) => signal.body.join(' '));
const fromMonitor = (monitor: string) => (signal: ReceivedSignal) => signal.path === monitor;

test('a wildcard subscription gets every node’s unit state changes, unicast to its creator', async (t) => {
  const { client, standin } = await setUp(t, { nodes });
  const monitor = await createMonitor(client);
  t.is(monitor, '/org/eclipse/bluechi/monitor/1');
  const [id] = await client.call(monitor, MONITOR_INTERFACE, 'Subscribe', 'ss', ['*', '*']);
  t.is(id, 2, 'upstream numbers subscriptions from 2');
  await client.waitFor('UnitNew', fromMonitor(monitor), { count: 2 });
  t.deepEqual(states(client.received('UnitNew')), ['a * virtual', 'b * virtual']);

  await client.call(standin.nodePath('b'), NODE_INTERFACE, 'StartUnit', 'ss', ['web.service', 'replace']);
  await client.waitFor('JobRemoved');
  await client.waitFor('UnitStateChanged', fromMonitor(monitor), { count: 2 });
  const changes = client.received('UnitStateChanged');
  t.deepEqual(states(changes), ['b web.service activating start real', 'b web.service active running real']);
  t.true(changes.every((signal) => signal.destination === client.name && signal.interface === MONITOR_INTERFACE));
  const properties = client.received('UnitPropertiesChanged').map((signal) => signal.body.slice(0, 3).join(' '));
  t.true(properties.includes('b web.service org.freedesktop.systemd1.Unit'));
  t.true(properties.includes('b web.service org.freedesktop.systemd1.Service'));
});

test('subscribing to a loaded unit reports it at once: UnitNew and UnitStateChanged, reason virtual', async (t) => {
  const { client, standin } = await setUp(t, { nodes });
  const monitor = await createMonitor(client);
  await client.call(monitor, MONITOR_INTERFACE, 'SubscribeList', 'sas', ['a', ['db.service', 'web.service']]);
  await client.waitFor('UnitStateChanged');
  // The agent has subscribed both once a later call is answered: web.service, inactive and unreferenced, is not loaded.
  await client.call(CONTROLLER_PATH, CONTROLLER_INTERFACE, 'ListNodes');
  t.deepEqual(states(client.received('UnitNew')), ['a db.service virtual']);
  t.deepEqual(states(client.received('UnitStateChanged')), ['a db.service active running virtual']);

  standin.setUnitState('a', 'db.service', 'failed', 'failed');
  const crash = await client.waitFor('UnitStateChanged', () => true, { count: 2 });
  t.is(crash.body.join(' '), 'a db.service failed failed real');
  standin.setUnitState('b', 'db.service', 'failed', 'failed');
  // A later change on a is the marker: one on b would have come before it.
  standin.setUnitState('a', 'db.service', 'active', 'running');
  await client.waitFor('UnitStateChanged', () => true, { count: 3 });
  t.deepEqual(states(client.received('UnitStateChanged')).slice(1), ['a db.service failed failed real', 'a db.service active running real'], 'node b is not subscribed');
});

test('a node going offline: loaded units turn inactive/agent-offline and are removed, reason virtual', async (t) => {
  const { client, standin } = await setUp(t, { nodes });
  const monitor = await createMonitor(client);
  await client.call(monitor, MONITOR_INTERFACE, 'Subscribe', 'ss', ['a', 'db.service']);
  await client.waitFor('UnitStateChanged');
  await standin.setOnline('a', false);
  await client.waitFor('UnitRemoved');
  t.deepEqual(states(client.received('UnitStateChanged')), [
    'a db.service active running virtual',
    'a db.service inactive agent-offline virtual',
  ]);
  t.deepEqual(states(client.received('UnitRemoved')), ['a db.service virtual']);
});

test('a monitor is closed when its creator leaves the bus', async (t) => {
  const { client, connect } = await setUp(t, { nodes });
  const creator = await connect();
  const monitor = await createMonitor(creator);
  await creator.call(monitor, MONITOR_INTERFACE, 'Subscribe', 'ss', ['*', 'web.service']);
  t.true((await client.ask(monitor, 'org.freedesktop.DBus.Introspectable', 'Introspect')).ok);
  await creator.close();
  const deadline = Date.now() + 5000;
  let answer = await client.ask(monitor, MONITOR_INTERFACE, 'Unsubscribe', 'u', [2]);
  while (answer.ok && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    answer = await client.ask(monitor, MONITOR_INTERFACE, 'Unsubscribe', 'u', [2]);
  }
  t.like(answer, { ok: false, name: 'org.freedesktop.DBus.Error.UnknownObject' });
});

test('Close ends a monitor; peers get its signals and PeerRemoved; others see nothing', async (t) => {
  const { client, standin, connect } = await setUp(t, { nodes });
  const peer = await connect();
  const bystander = await connect();
  const monitor = await createMonitor(client);
  t.like(await client.ask(monitor, MONITOR_INTERFACE, 'AddPeer', 's', [client.name]), {
    name: 'org.freedesktop.DBus.Error.InvalidArgs',
    text: `Peer name '${client.name}' has already been added`,
  });
  t.like(await client.ask(monitor, MONITOR_INTERFACE, 'AddPeer', 's', ['org.example.Name']), {
    name: 'org.freedesktop.DBus.Error.InvalidArgs',
  });
  const [peerId] = await client.call(monitor, MONITOR_INTERFACE, 'AddPeer', 's', [peer.name]);
  t.is(peerId, 1);
  await client.call(monitor, MONITOR_INTERFACE, 'Subscribe', 'ss', ['a', 'web.service']);
  await client.call(standin.nodePath('a'), NODE_INTERFACE, 'StartUnit', 'ss', ['web.service', 'replace']);
  await peer.waitFor('UnitStateChanged', () => true, { count: 2 });
  await client.waitFor('UnitStateChanged', () => true, { count: 2 });
  t.deepEqual(states(client.received('UnitNew')), ['a web.service real'], 'systemd loads web.service to start it');
  t.deepEqual(states(peer.received('UnitStateChanged')), states(client.received('UnitStateChanged')));

  await client.call(monitor, MONITOR_INTERFACE, 'Close');
  t.deepEqual((await peer.waitFor('PeerRemoved')).body, ['monitor closed']);
  t.like(await client.ask(monitor, MONITOR_INTERFACE, 'Close'), { name: 'org.freedesktop.DBus.Error.UnknownObject' });
  t.deepEqual(bystander.received('UnitStateChanged'), []);
  t.deepEqual(bystander.received('PeerRemoved'), []);
});

test('RemovePeer sends PeerRemoved with the reason; unknown ids fail', async (t) => {
  const { client, connect } = await setUp(t, { nodes });
  const peer = await connect();
  const monitor = await createMonitor(client);
  const [peerId] = await client.call(monitor, MONITOR_INTERFACE, 'AddPeer', 's', [peer.name]);
  await client.call(monitor, MONITOR_INTERFACE, 'RemovePeer', 'us', [peerId, 'enough']);
  t.deepEqual((await peer.waitFor('PeerRemoved')).body, ['enough']);
  t.like(await client.ask(monitor, MONITOR_INTERFACE, 'RemovePeer', 'us', [peerId, 'again']), {
    name: 'org.freedesktop.DBus.Error.Failed',
    text: `Peer with ID '${peerId}' not found.`,
  });
  t.like(await client.ask(monitor, MONITOR_INTERFACE, 'Unsubscribe', 'u', [99]), {
    name: 'org.freedesktop.DBus.Error.Failed',
    text: "Subscription '99' not found",
  });
});

test('after Unsubscribe no more signals arrive', async (t) => {
  const { client, standin } = await setUp(t, { nodes });
  const monitor = await createMonitor(client);
  const [id] = await client.call(monitor, MONITOR_INTERFACE, 'Subscribe', 'ss', ['a', 'db.service']);
  await client.waitFor('UnitStateChanged');
  await client.call(monitor, MONITOR_INTERFACE, 'Unsubscribe', 'u', [id]);
  standin.setUnitState('a', 'db.service', 'failed', 'failed');
  // Subscribing again is the marker: its virtual state comes after anything the old subscription would have sent.
  await client.call(monitor, MONITOR_INTERFACE, 'Subscribe', 'ss', ['a', 'db.service']);
  await client.waitFor('UnitStateChanged', () => true, { count: 2 });
  t.deepEqual(states(client.received('UnitStateChanged')), ['a db.service active running virtual', 'a db.service failed failed virtual']);
});
