// The controller's integration suite: qmctl and the BlueChi client against a BlueChi controller.
// The same tests run against the stand-in (default) or a real bluechi-controller (QM_TEST_BLUECHI_*).
import test from 'ava';
import { firstValueFrom, filter, take, timeout, toArray } from 'rxjs';
import { connectBus, type Bus } from '../../controller/bus/connection.ts';
import { blueChi, type BlueChi } from '../../controller/bluechi/client.ts';
import { blueChiTarget, hasRealBlueChi, REAL_MODE_TITLE, type BlueChiTarget } from '../support/bluechi-target.ts';
import { qmctl, qmctlBin } from '../support/qmctl.ts';

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

test.serial('status of a node lists its units; status of a unit shows its states', async (t) => {
  await client.node(first()).runJob('start', target.unit);
  const result = await run('status', first(), target.unit, '--json');
  t.is(result.code, 0, result.stderr);
  const [row] = JSON.parse(result.stdout) as Array<Record<string, string>>;
  t.like(row, { node: first(), unit: target.unit, loadState: 'loaded', activeState: 'active' });
  const nodes = await run('status');
  t.is(nodes.code, 0, nodes.stderr);
  t.regex(nodes.stdout, new RegExp(`${first().replace('.', '\\.')}\\s+online`));
  // LastSeenTimestamp is an explicit property: only Get answers it, GetAll leaves it out.
  const json = JSON.parse((await run('status', '--json')).stdout) as Array<{ node: string; lastSeen: string }>;
  for (const node of target.nodes) t.not(json.find((row) => row.node === node)?.lastSeen ?? '', '', `last seen of ${node}`);
  await client.node(first()).runJob('stop', target.unit);
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
    ['status', 'qm-no-such-node', target.unit],
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
