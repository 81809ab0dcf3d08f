// The stand-in's org.eclipse.bluechi.Node and Job objects over in-memory nodes, against a real dbus-daemon.
import test from 'ava';
import dbus from 'dbus-next';
import { CONTROLLER_INTERFACE, CONTROLLER_PATH, JOB_INTERFACE, NODE_INTERFACE } from './api.ts';
import type { TestClient } from './bus-client.ts';
import { setUp, tearDownAll } from './harness.ts';
import type { UnitOptions } from './index.ts';

const { Variant } = dbus;

test.after.always(tearDownAll);

const units: UnitOptions[] = [
  { name: 'web.service', description: 'The web server' },
  { name: 'db.service', activeState: 'active', unitFileState: 'enabled', canReload: true },
  { name: 'static.service', unitFileState: 'static' },
];
const NODE = '/org/eclipse/bluechi/node/qm_2evehicle_2da';
const nodes = (jobLatencyMs = 0) => [{ name: 'qm.vehicle-a', units, jobLatencyMs }];

const start = (client: TestClient, unit: string, method = 'StartUnit', mode = 'replace') =>
  client.call(NODE, NODE_INTERFACE, method, 'ss', [unit, mode]).then(([job]) => job as string);
const activeState = async (client: TestClient, unit: string) => {
  const [props] = (await client.call(NODE, NODE_INTERFACE, 'GetUnitProperties', 'ss', [
    unit,
    'org.freedesktop.systemd1.Unit',
  ])) as [Record<string, { value: unknown }>];
  return `${props.ActiveState?.value}/${props.SubState?.value}`;
};

test('StartUnit: JobNew before the reply, then JobRemoved "done" with the same id and path', async (t) => {
  const { client } = await setUp(t, { nodes: nodes(50) });
  const job = await start(client, 'web.service');
  t.is(job, '/org/eclipse/bluechi/job/1');
  // The reply came after JobNew (one connection, in order) and before the job ended.
  t.deepEqual([client.signals[0]?.member, client.signals[0]?.body], ['JobNew', [1, job]]);
  t.deepEqual(client.received('JobRemoved'), []);
  const removed = await client.waitFor('JobRemoved');
  t.deepEqual(removed.body, [1, job, 'qm.vehicle-a', 'web.service', 'done']);
  t.is(removed.path, CONTROLLER_PATH);
  t.is(removed.interface, CONTROLLER_INTERFACE);
  t.is(await activeState(client, 'web.service'), 'active/running');
  t.like(await client.ask(job, 'org.freedesktop.DBus.Properties', 'GetAll', 's', [JOB_INTERFACE]), {
    ok: false,
    name: 'org.freedesktop.DBus.Error.UnknownObject',
  });
});

test('a running job has Id, Node, Unit, JobType, and State changing from waiting to running', async (t) => {
  const { client } = await setUp(t, { nodes: nodes(60_000) });
  const job = await start(client, 'web.service');
  const running = await client.waitFor('PropertiesChanged', (signal) => signal.path === job);
  t.deepEqual(running.body[0], JOB_INTERFACE);
  t.is((running.body[1] as Record<string, { value: unknown }>).State?.value, 'running');
  const [props] = (await client.call(job, 'org.freedesktop.DBus.Properties', 'GetAll', 's', [JOB_INTERFACE])) as [
    Record<string, { value: unknown }>,
  ];
  t.deepEqual(
    Object.fromEntries(Object.entries(props).map(([key, variant]) => [key, variant.value])),
    { Id: 1, Node: 'qm.vehicle-a', Unit: 'web.service', JobType: 'start', State: 'running' },
  );
  t.is(await activeState(client, 'web.service'), 'activating/start');
});

test('starting an unknown unit fails with systemd’s NoSuchUnit, and no job is announced', async (t) => {
  const { client } = await setUp(t, { nodes: nodes() });
  t.deepEqual(await client.ask(NODE, NODE_INTERFACE, 'StartUnit', 'ss', ['nosuch.service', 'replace']), {
    ok: false,
    name: 'org.freedesktop.systemd1.NoSuchUnit',
    text: 'Unit nosuch.service not found.',
  });
  t.like(await client.ask(NODE, NODE_INTERFACE, 'StopUnit', 'ss', ['nosuch.service', 'replace']), {
    name: 'org.freedesktop.systemd1.NoSuchUnit',
    text: 'Unit nosuch.service not loaded.',
  });
  t.like(await client.ask(NODE, NODE_INTERFACE, 'StartUnit', 'ss', ['web.service', 'sideways']), {
    name: 'org.freedesktop.DBus.Error.InvalidArgs',
    text: 'Job mode sideways invalid',
  });
  t.like(await client.ask(NODE, NODE_INTERFACE, 'StartUnit', 'ss', ['web', 'replace']), {
    name: 'org.freedesktop.DBus.Error.InvalidArgs',
    text: 'Unit name web is not valid.',
  });
  t.deepEqual(client.received('JobNew'), []);
  // A refused call still used up a job id, as upstream takes it before asking the agent.
  t.is(await start(client, 'web.service'), '/org/eclipse/bluechi/job/5');
});

test('every Node call on an offline node fails with org.eclipse.bluechi.Offline, and is counted', async (t) => {
  const { client, standin } = await setUp(t, { nodes: [{ name: 'qm.vehicle-a', units, online: false }] });
  t.deepEqual(await client.ask(NODE, NODE_INTERFACE, 'StartUnit', 'ss', ['web.service', 'replace']), {
    ok: false,
    name: 'org.eclipse.bluechi.Offline',
    text: 'Node is offline',
  });
  t.like(await client.ask(NODE, NODE_INTERFACE, 'ListUnits'), { name: 'org.eclipse.bluechi.Offline' });
  t.is(await client.property(NODE, NODE_INTERFACE, 'Status'), 'offline', 'properties still answer');
  t.is(await client.property(NODE, NODE_INTERFACE, 'PeerIp'), '');
  t.deepEqual(
    standin.calls('qm.vehicle-a').map(({ method, unit, online }) => ({ method, unit, online })),
    [
      { method: 'StartUnit', unit: 'web.service', online: false },
      { method: 'ListUnits', unit: undefined, online: false },
    ],
  );
  await standin.setOnline('qm.vehicle-a', true);
  await start(client, 'web.service');
  t.is(standin.calls('qm.vehicle-a').filter((call) => call.method === 'StartUnit' && call.online).length, 1);
});

test('failNext makes the next job end with a systemd result; "failed" leaves the unit failed', async (t) => {
  const { client, standin } = await setUp(t, { nodes: nodes() });
  standin.failNext('qm.vehicle-a', 'web.service');
  const job = await start(client, 'web.service');
  t.deepEqual((await client.waitFor('JobRemoved')).body, [1, job, 'qm.vehicle-a', 'web.service', 'failed']);
  t.is(await activeState(client, 'web.service'), 'failed/failed');
  t.deepEqual(standin.unitState('qm.vehicle-a', 'web.service'), {
    activeState: 'failed',
    subState: 'failed',
    unitFileState: 'disabled',
  });

  standin.failNext('qm.vehicle-a', 'db.service', 'dependency');
  await start(client, 'db.service', 'RestartUnit');
  t.is((await client.waitFor('JobRemoved', () => true, { count: 2 })).body[4], 'dependency');
  t.is(await activeState(client, 'db.service'), 'active/running', 'a dependency failure changes nothing');

  await client.call(NODE, NODE_INTERFACE, 'ResetFailedUnit', 's', ['web.service']);
  t.is(await activeState(client, 'web.service'), 'inactive/dead');
});

test('Job.Cancel replies at once, then the job ends "canceled" while the unit carries on starting, as systemd does', async (t) => {
  const { client } = await setUp(t, { nodes: nodes(60_000) });
  const job = await start(client, 'web.service');
  await client.waitFor('PropertiesChanged', (signal) => signal.path === job);
  t.deepEqual(await client.call(job, JOB_INTERFACE, 'Cancel'), []);
  t.deepEqual((await client.waitFor('JobRemoved')).body, [1, job, 'qm.vehicle-a', 'web.service', 'canceled']);
  t.is(await activeState(client, 'web.service'), 'activating/start');
});

test('stop, restart and reload run as jobs; reloading an inactive unit ends "invalid", one without ExecReload is refused', async (t) => {
  const { client } = await setUp(t, { nodes: nodes() });
  const results: unknown[] = [];
  for (const [method, unit] of [
    ['StopUnit', 'db.service'],
    ['ReloadUnit', 'db.service'],
    ['RestartUnit', 'db.service'],
    ['ReloadUnit', 'db.service'],
  ] as const) {
    await start(client, unit, method);
    results.push((await client.waitFor('JobRemoved', () => true, { count: results.length + 1 })).body[4]);
  }
  t.deepEqual(results, ['done', 'invalid', 'done', 'done']);
  t.is(await activeState(client, 'db.service'), 'active/running');
  t.like(await client.ask(NODE, NODE_INTERFACE, 'ReloadUnit', 'ss', ['web.service', 'replace']), {
    name: 'org.freedesktop.systemd1.JobTypeNotApplicable',
    text: 'Job type reload is not applicable for unit web.service.',
  });
});

test('a second StartUnit while the first runs: systemd merges them and only the newer job gets JobRemoved', async (t) => {
  // Upstream's agent tracks both BlueChi jobs on the one systemd job and completes only the newest.
  // The first job takes a second, so the second start reaches it running even on a loaded machine.
  const { client, standin } = await setUp(t, { nodes: nodes(1_000) });
  const first = await start(client, 'web.service');
  const second = await start(client, 'web.service');
  const removed = await client.waitFor('JobRemoved');
  t.deepEqual(removed.body, [2, second, 'qm.vehicle-a', 'web.service', 'done']);
  // A later job's end is the marker: a JobRemoved for the first job would have come before it.
  const marker = await start(client, 'db.service', 'RestartUnit');
  await client.waitFor('JobRemoved', (signal) => signal.body[1] === marker);
  t.deepEqual(
    client.received('JobRemoved').map((signal) => signal.body[1]),
    [second, marker],
  );
  t.is((await client.ask(first, 'org.freedesktop.DBus.Properties', 'Get', 'ss', [JOB_INTERFACE, 'State'])).ok, true);
  t.is(standin.calls('qm.vehicle-a').filter((call) => call.method === 'StartUnit').length, 2);
});

test('a node going offline drops its jobs without JobRemoved and signals Status', async (t) => {
  const { client, standin } = await setUp(t, { nodes: nodes(60_000) });
  const job = await start(client, 'web.service');
  await standin.setOnline('qm.vehicle-a', false);
  const status = await client.waitFor('PropertiesChanged', (signal) => signal.path === NODE);
  t.is((status.body[1] as Record<string, { value: unknown }>).Status?.value, 'offline');
  t.like(await client.ask(job, JOB_INTERFACE, 'Cancel'), { name: 'org.freedesktop.DBus.Error.UnknownObject' });
  t.deepEqual(client.received('JobRemoved'), []);
});

test('unit files: enable, disable, state, list; default target', async (t) => {
  const { client } = await setUp(t, { nodes: nodes() });
  t.deepEqual(await client.call(NODE, NODE_INTERFACE, 'EnableUnitFiles', 'asbb', [['web.service'], false, false]), [
    true,
    [['symlink', '/etc/systemd/system/multi-user.target.wants/web.service', '/etc/systemd/system/web.service']],
  ]);
  t.deepEqual(await client.call(NODE, NODE_INTERFACE, 'GetUnitFileState', 's', ['web.service']), ['enabled']);
  t.deepEqual(await client.call(NODE, NODE_INTERFACE, 'EnableUnitFiles', 'asbb', [['static.service'], false, false]), [
    false,
    [],
  ]);
  t.deepEqual(await client.call(NODE, NODE_INTERFACE, 'DisableUnitFiles', 'asb', [['db.service'], false]), [
    [['unlink', '/etc/systemd/system/multi-user.target.wants/db.service', '']],
  ]);
  t.like(await client.ask(NODE, NODE_INTERFACE, 'EnableUnitFiles', 'asbb', [['nosuch.service'], false, false]), {
    name: 'org.freedesktop.systemd1.NoSuchUnit',
    text: 'Unit nosuch.service does not exist',
  });
  t.like(await client.ask(NODE, NODE_INTERFACE, 'GetUnitFileState', 's', ['nosuch.service']), {
    name: 'org.freedesktop.DBus.Error.FileNotFound',
  });
  const [files] = await client.call(NODE, NODE_INTERFACE, 'ListUnitFiles');
  t.deepEqual(files, [
    ['/etc/systemd/system/web.service', 'enabled'],
    ['/etc/systemd/system/db.service', 'disabled'],
    ['/etc/systemd/system/static.service', 'static'],
  ]);
  t.deepEqual(await client.call(NODE, NODE_INTERFACE, 'GetDefaultTarget'), ['multi-user.target']);
  await client.call(NODE, NODE_INTERFACE, 'Reload');
});

test('unit properties: get all, get one, set resource controls; an unknown unit reads as not-found', async (t) => {
  const { client } = await setUp(t, { nodes: nodes() });
  const [all] = (await client.call(NODE, NODE_INTERFACE, 'GetUnitProperties', 'ss', ['web.service', 'org.freedesktop.systemd1.Unit'])) as [
    Record<string, { value: unknown }>,
  ];
  t.like(Object.fromEntries(Object.entries(all).map(([key, variant]) => [key, variant.value])), {
    Id: 'web.service',
    Description: 'The web server',
    LoadState: 'loaded',
    ActiveState: 'inactive',
    SubState: 'dead',
    UnitFileState: 'disabled',
  });
  const [description] = (await client.call(NODE, NODE_INTERFACE, 'GetUnitProperty', 'sss', [
    'web.service',
    'org.freedesktop.systemd1.Unit',
    'Description',
  ])) as [{ signature: string; value: unknown }];
  t.deepEqual([description.signature, description.value], ['s', 'The web server']);

  await client.call(NODE, NODE_INTERFACE, 'SetUnitProperties', 'sba(sv)', [
    'web.service',
    true,
    [['CPUWeight', new Variant('t', 50n)]],
  ]);
  const [weight] = (await client.call(NODE, NODE_INTERFACE, 'GetUnitProperty', 'sss', [
    'web.service',
    'org.freedesktop.systemd1.Service',
    'CPUWeight',
  ])) as [{ value: unknown }];
  t.is(weight.value, 50n);
  t.like(
    await client.ask(NODE, NODE_INTERFACE, 'SetUnitProperties', 'sba(sv)', [
      'web.service',
      true,
      [['Bogus', new Variant('s', 'x')]],
    ]),
    { name: 'org.freedesktop.DBus.Error.PropertyReadOnly', text: 'Cannot set property Bogus, or unknown property.' },
  );
  const [missing] = (await client.call(NODE, NODE_INTERFACE, 'GetUnitProperties', 'ss', ['nosuch.service', 'org.freedesktop.systemd1.Unit'])) as [
    Record<string, { value: unknown }>,
  ];
  t.is(missing.LoadState?.value, 'not-found');
});

test('freeze and thaw, kill, and a transient unit (whose reply is systemd’s own job path)', async (t) => {
  const { client } = await setUp(t, { nodes: nodes() });
  await client.call(NODE, NODE_INTERFACE, 'FreezeUnit', 's', ['db.service']);
  const freezer = () =>
    client
      .call(NODE, NODE_INTERFACE, 'GetUnitProperty', 'sss', ['db.service', 'org.freedesktop.systemd1.Unit', 'FreezerState'])
      .then(([value]) => (value as { value: unknown }).value);
  t.is(await freezer(), 'frozen');
  await client.call(NODE, NODE_INTERFACE, 'ThawUnit', 's', ['db.service']);
  t.is(await freezer(), 'running');
  t.like(await client.ask(NODE, NODE_INTERFACE, 'FreezeUnit', 's', ['web.service']), {
    name: 'org.freedesktop.systemd1.UnitInactive',
  });

  await client.call(NODE, NODE_INTERFACE, 'KillUnit', 'ssi', ['db.service', 'all', 9]);
  t.is(await activeState(client, 'db.service'), 'failed/failed');

  const [job] = await client.call(NODE, NODE_INTERFACE, 'StartTransientUnit', 'ssa(sv)a(sa(sv))', [
    'run-1.service',
    'replace',
    [['Description', new Variant('s', 'a transient unit')]],
    [],
  ]);
  t.regex(job as string, /^\/org\/freedesktop\/systemd1\/job\/\d+$/);
  t.deepEqual(client.received('JobNew'), [], 'BlueChi does not track transient units as jobs');
  t.like(await client.ask(NODE, NODE_INTERFACE, 'StartTransientUnit', 'ssa(sv)a(sa(sv))', ['run-1.service', 'replace', [], []]), {
    name: 'org.freedesktop.systemd1.UnitExists',
  });
});

test('SetLogLevel on a node answers success even for an unknown level, as upstream does', async (t) => {
  const { client } = await setUp(t, { nodes: nodes() });
  t.deepEqual(await client.call(NODE, NODE_INTERFACE, 'SetLogLevel', 's', ['DEBUG']), []);
  t.deepEqual(await client.call(NODE, NODE_INTERFACE, 'SetLogLevel', 's', ['LOUD']), []);
});

test('node properties: Name, Status, PeerIp, LastSeenTimestamp', async (t) => {
  const { client } = await setUp(t, { nodes: nodes() });
  t.is(await client.property(NODE, NODE_INTERFACE, 'Name'), 'qm.vehicle-a');
  t.is(await client.property(NODE, NODE_INTERFACE, 'Status'), 'online');
  t.is(await client.property(NODE, NODE_INTERFACE, 'PeerIp'), '::ffff:127.0.0.1');
  const seen = (await client.property(NODE, NODE_INTERFACE, 'LastSeenTimestamp')) as bigint;
  t.true(seen > 0n && seen <= BigInt(Date.now()) * 1000n);
  t.is(typeof (await client.property(NODE, NODE_INTERFACE, 'LastSeenTimestampMonotonic')), 'bigint');
});

