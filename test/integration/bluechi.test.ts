// The controller's integration suite: qmctl and the BlueChi client against a BlueChi controller.
// The same tests run against the stand-in (default) or a real bluechi-controller (QM_TEST_BLUECHI_*).
import test from 'ava';
import { firstValueFrom, filter, take, timeout, toArray } from 'rxjs';
import { connectBus, type Bus } from '../../controller/bus/connection.ts';
import { blueChi, type BlueChi } from '../../controller/bluechi/client.ts';
import { blueChiTarget, hasRealBlueChi, REAL_MODE_TITLE, type BlueChiTarget } from '../support/bluechi-target.ts';
import { qmctl, qmctlBin } from '../support/qmctl.ts';
import { followLines } from './follow.ts';

let target: BlueChiTarget;
let bus: Bus;
let client: BlueChi;

test.before(async () => {
  target = await blueChiTarget();
  bus = await connectBus(target.address);
  client = blueChi(bus, { jobTimeoutMs: 30_000 });
});
test.after.always(async () => {
  bus?.close();
  await target?.stop();
});

if (!hasRealBlueChi()) test.skip(REAL_MODE_TITLE, () => undefined);

const run = (...args: string[]) => qmctl(['--bus-address', target.address, ...args]);
const [first, second] = [() => target.nodes[0]!, () => target.nodes[1] ?? target.nodes[0]!];

test.serial('list-nodes shows every node online, as a table and as JSON', async (t) => {
  const plain = await run('list-nodes');
  t.is(plain.code, 0, plain.stderr);
  t.regex(plain.stdout, /^NODE\s+STATUS\s+PEER IP/);
  const json = await run('list-nodes', '--json');
  const nodes = JSON.parse(json.stdout) as Array<{ name: string; status: string; path: string }>;
  for (const node of target.nodes) {
    const found = nodes.find((entry) => entry.name === node);
    t.is(found?.status, 'online', node);
    t.true(found!.path.startsWith('/org/eclipse/bluechi/node/'));
  }
});

test.serial('start, restart and stop a unit: each job ends done and the unit follows', async (t) => {
  for (const [operation, state] of [
    ['start', 'active'],
    ['restart', 'active'],
    ['stop', 'inactive'],
  ] as const) {
    const result = await run(operation, first(), target.unit, '--json');
    t.is(result.code, 0, result.stderr);
    const [report] = JSON.parse(result.stdout) as Array<{ node: string; unit: string; result: string; job: string }>;
    t.like(report, { node: first(), unit: target.unit, result: 'done' });
    t.regex(report!.job, /^\/org\/eclipse\/bluechi\/job\/\d+$/);
    const properties = await client.node(first()).getUnitProperties(target.unit);
    t.is(properties.ActiveState?.value, state, `${operation} leaves ${target.unit} ${state}`);
  }
});

test.serial('the executable: several nodes and units at once, output in the order asked', async (t) => {
  const nodes = [...new Set([second(), first()])];
  const result = await qmctlBin(['--bus-address', target.address, 'start', nodes.join(','), target.unit, '--json']);
  t.is(result.code, 0, result.stderr);
  const reports = JSON.parse(result.stdout) as Array<{ node: string; unit: string; result: string }>;
  t.deepEqual(
    reports.map((report) => [report.node, report.result]),
    nodes.map((node) => [node, 'done']),
  );
  const stop = await qmctlBin(['--bus-address', target.address, 'stop', nodes.join(','), target.unit]);
  t.is(stop.code, 0, stop.stderr);
  t.regex(stop.stdout, new RegExp(`${nodes[0]!.replace('.', '\\.')}\\s+${target.unit}\\s+done`));
});

test.serial('JobNew comes before JobRemoved, with the same id and path', async (t) => {
  const created = firstValueFrom(client.jobNew$.pipe(take(1), timeout(10_000)));
  await client.jobNew$.ready();
  const outcome = await client.node(first()).runJob('start', target.unit);
  const job = await created;
  t.is(job.job, outcome.job);
  t.is(job.id, outcome.id);
  t.is(outcome.result, 'done');
  await client.node(first()).runJob('stop', target.unit);
});

test.serial('status NODE shows that node\'s connection, as bluechictl; status NODE UNIT the unit\'s states', async (t) => {
  await client.node(first()).runJob('start', target.unit);
  t.teardown(() => client.node(first()).runJob('stop', target.unit));
  const result = await run('status', first(), target.unit, '--json');
  t.is(result.code, 0, result.stderr);
  const [row] = JSON.parse(result.stdout) as Array<Record<string, string>>;
  t.like(row, { node: first(), unit: target.unit, loadState: 'loaded', activeState: 'active' });
  const table = await run('status', first(), target.unit);
  t.regex(table.stdout, /^UNIT\s+LOADED\s+ACTIVE\s+SUB\s+FREEZER\s+ENABLED/);
  t.regex(table.stdout, new RegExp(`${target.unit.replace('.', '\\.')}\\s+loaded\\s+active`));

  const one = await run('status', first());
  t.is(one.code, 0, one.stderr);
  t.regex(one.stdout, /^NODE\s+STATUS\s+PEER IP\s+LAST SEEN/);
  t.deepEqual(one.stdout.trim().split('\n').slice(1).map((line) => line.split(/\s+/).slice(0, 2)), [[first(), 'online']]);
  const some = JSON.parse((await run('status', [second(), first()].join(','), '--json')).stdout) as Array<{ node: string; status: string }>;
  t.deepEqual(some.map((entry) => [entry.node, entry.status]), [...new Set([second(), first()])].map((node) => [node, 'online']));

  const nodes = await run('status');
  t.is(nodes.code, 0, nodes.stderr);
  t.regex(nodes.stdout, new RegExp(`${first().replace('.', '\\.')}\\s+online`));
  // LastSeenTimestamp is an explicit property: only Get answers it, GetAll leaves it out.
  const json = JSON.parse((await run('status', '--json')).stdout) as Array<{ node: string; lastSeen: string }>;
  for (const node of target.nodes) t.not(json.find((entry) => entry.node === node)?.lastSeen ?? '', '', `last seen of ${node}`);
});

test.serial('list-units filters by glob across nodes', async (t) => {
  // systemd unloads an inactive unit nothing references, and ListUnits lists loaded units only: run it first.
  const started = await run('start', target.nodes.join(','), target.unit);
  t.is(started.code, 0, started.stderr);
  t.teardown(() => run('stop', target.nodes.join(','), target.unit));
  const result = await run('list-units', '--filter', target.unit.replace(/^(.{3}).*$/, '$1*'), '--json');
  t.is(result.code, 0, result.stderr);
  const units = JSON.parse(result.stdout) as Array<{ node: string; name: string }>;
  for (const node of target.nodes) t.true(units.some((unit) => unit.node === node && unit.name === target.unit), node);
  t.true(units.every((unit) => unit.name.startsWith(target.unit.slice(0, 3))));
});

test.serial('monitor sees the state changes of a restart', async (t) => {
  const watch = client.watchUnits(first(), [target.unit]);
  const events = firstValueFrom(
    watch.pipe(
      filter((event) => event.kind === 'UnitStateChanged' && event.activeState === 'active'),
      take(1),
      toArray(),
      timeout(15_000),
    ),
  );
  await watch.ready();
  await client.node(first()).runJob('restart', target.unit);
  const [event] = await events;
  t.like(event, { kind: 'UnitStateChanged', node: first(), unit: target.unit, activeState: 'active' });
  await client.node(first()).runJob('stop', target.unit);
});

test.serial('an unknown unit ends with exit 1 and names node and unit', async (t) => {
  const result = await run('start', first(), 'qm-no-such-unit.service');
  t.is(result.code, 1);
  t.regex(result.stdout + result.stderr, /qm-no-such-unit\.service/);
  // As systemd does, BlueChi loads the unit to answer: its properties say it was not found.
  const status = await run('status', first(), 'qm-no-such-unit.service', '--json');
  t.is(JSON.parse(status.stdout)[0].loadState, 'not-found');
});

test.serial('an unknown node exits 4 and lists the known nodes', async (t) => {
  for (const args of [
    ['status', 'qm-no-such-node'],
    ['status', 'qm-no-such-node', target.unit],
    ['is-online', 'node', 'qm-no-such-node'],
    ['start', 'qm-no-such-node', target.unit],
  ]) {
    const result = await run(...args);
    t.is(result.code, 4, result.stderr);
    t.regex(result.stderr, /qm-no-such-node/);
    for (const node of target.nodes) t.regex(result.stderr, new RegExp(`${node.replace('.', '\\.')} \\(online\\)`));
  }
});

test.serial('is-enabled, enable and disable through a daemon-reload', async (t) => {
  const enabled = await run('enable', first(), target.unit, '--json');
  t.is(enabled.code, 0, enabled.stderr);
  t.is((await run('is-enabled', first(), target.unit)).stdout.trim(), 'enabled');
  const disabled = await run('disable', first(), target.unit);
  t.is(disabled.code, 0, disabled.stderr);
  const state = await run('is-enabled', first(), target.unit, '--json');
  t.is(state.code, 1);
  t.is(JSON.parse(state.stdout).state, 'disabled');
  t.is((await run('daemon-reload', target.nodes.join(','))).code, 0);
});

test.serial('the controller reports its status', async (t) => {
  t.true(['up', 'degraded'].includes(await client.status()));
});

test.serial("monitor takes bluechictl's comma list of units", async (t) => {
  const other = 'qm-no-such-unit.service';
  const result = await followLines(target.address, ['monitor', first(), `${target.unit},${other}`, '--json'], (lines) =>
    lines.some((line) => (JSON.parse(line) as { activeState?: string }).activeState === 'active'), () => run('restart', first(), target.unit));
  t.is(result.code, 0, result.stderr);
  const events = result.lines.map((line) => JSON.parse(line) as { kind: string; node: string; unit: string });
  t.true(events.some((event) => event.kind === 'UnitStateChanged' && event.unit === target.unit));
  t.true(events.every((event) => event.node === first() && [target.unit, other].includes(event.unit)));
  await run('stop', first(), target.unit);
});

test.serial('list-unit-files --filter matches the file name or the whole path', async (t) => {
  const prefix = target.unit.slice(0, 3);
  for (const glob of [`${prefix}*`, `*/${target.unit}`]) {
    const result = await run('list-unit-files', first(), '--filter', glob, '--json');
    t.is(result.code, 0, result.stderr);
    const files = JSON.parse(result.stdout) as Array<{ node: string; path: string }>;
    t.true(files.some((file) => file.path.endsWith(`/${target.unit}`)), glob);
    if (!glob.startsWith('*')) t.true(files.every((file) => file.path.slice(file.path.lastIndexOf('/') + 1).startsWith(prefix)), glob);
  }
  const none = await run('list-unit-files', '--filter', 'qm-no-such-*');
  t.is(none.code, 0, none.stderr);
  t.is(none.stdout.trim().split('\n').length, 1, 'the header only');
});

test.serial('enable -f (bluechictl\'s short --force) with --no-reload, then disable', async (t) => {
  const enabled = await run('enable', '-f', first(), target.unit, '--no-reload', '--json');
  t.is(enabled.code, 0, enabled.stderr);
  t.like(JSON.parse(enabled.stdout), { node: first(), carriesInstallInfo: true });
  t.is((await run('is-enabled', first(), target.unit)).stdout.trim(), 'enabled');
  t.is((await run('disable', first(), target.unit)).code, 0);
  t.is((await run('is-enabled', first(), target.unit)).code, 1);
});

test.serial('metrics enable, listen (the jobs of a start), disable; enabling twice is no error', async (t) => {
  const enabled = await run('metrics', 'enable', '--json');
  t.is(enabled.code, 0, enabled.stderr);
  t.teardown(() => run('metrics', 'disable'));
  const again = await run('metrics', 'enable');
  t.is(again.code, 0, again.stderr);
  t.is(again.stdout.trim(), 'Metrics were already enabled');

  const kinds = (lines: readonly string[]) => new Set(lines.map((line) => (JSON.parse(line) as { kind: string }).kind));
  const listened = await followLines(target.address, ['metrics', 'listen', '--json'], (lines) => kinds(lines).size === 2, () => run('start', first(), target.unit));
  t.is(listened.code, 0, listened.stderr);
  const events = listened.lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  const start = events.find((event) => event.kind === 'StartUnitJobMetrics');
  t.like(start, { node: first(), unit: target.unit });
  t.regex(String(start?.job), /^\/org\/eclipse\/bluechi\/job\/\d+$/);
  t.true(Number(start?.jobMeasuredMicros) > 0);
  t.like(events.find((event) => event.kind === 'AgentJobMetrics'), { node: first(), unit: target.unit, method: 'StartUnit' });

  // As bluechictl prints them.
  const human = await followLines(target.address, ['metrics', 'listen'], (lines) => lines.some((line) => line.includes('net measured time')), () => run('stop', first(), target.unit));
  t.is(human.lines[0], 'Waiting for metrics signals...');
  t.true(human.lines.some((line) => new RegExp(`^\\[${first().replace('.', '\\.')}\\] Agent systemd StopUnit job on ${target.unit.replace('.', '\\.')} net measured time: \\d+\\.\\dms$`).test(line)), human.lines.join('\n'));

  const disabled = await run('metrics', 'disable', '--json');
  t.deepEqual(JSON.parse(disabled.stdout), { metrics: 'disabled', changed: true });
});

test.serial('is-online system and node: exit 0 while online, quietly; --json says so', async (t) => {
  for (const args of [['system'], ['node', first()]]) {
    const result = await run('is-online', ...args);
    t.is(result.code, 0, result.stderr);
    t.is(result.stdout + result.stderr, '');
  }
  t.deepEqual(JSON.parse((await run('is-online', 'node', first(), '--json')).stdout), { subject: 'node', node: first(), online: true, status: 'online' });
  t.is((await run('is-online', 'node')).code, 2);
  t.is((await run('is-online', 'node', first(), '--wait', 'soon')).code, 2);
});
