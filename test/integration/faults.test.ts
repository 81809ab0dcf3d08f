// Faults only the stand-in can stage: offline nodes, failing and slow jobs, a controller that leaves.
import test from 'ava';
import { filter, firstValueFrom, take, timeout, toArray } from 'rxjs';
import { connectBus, type Bus } from '../../controller/bus/connection.ts';
import { blueChi } from '../../controller/bluechi/client.ts';
import { QmError } from '../../controller/errors.ts';
import { monitorPaths, standinTarget, type StandinTarget } from '../support/bluechi-target.ts';
import { qmctl } from '../support/qmctl.ts';

let target: StandinTarget;
let bus: Bus;

test.before(async () => {
  target = await standinTarget(['node1', 'node2', 'node3']);
  bus = await connectBus(target.address);
});
test.after.always(async () => {
  bus?.close();
  await target?.stop();
});

const run = (...args: string[]) => qmctl(['--bus-address', target.address, ...args]);
const unit = 'qm-test.service';

test.serial('a call to an offline node exits 4, naming it and listing the nodes with their status', async (t) => {
  await target.standin.setOnline('node3', false);
  t.teardown(() => target.standin.setOnline('node3', true));
  const result = await run('start', 'node3', unit);
  t.is(result.code, 4);
  t.regex(result.stderr, /node node3 is offline; known nodes: node1 \(online\), node2 \(online\), node3 \(offline\)/);
  const json = await run('start', 'node3', unit, '--json');
  t.like(JSON.parse(json.stdout)[0], { node: 'node3', unit, error: { code: 'node-offline', dbusName: 'org.eclipse.bluechi.Offline' } });
});

test.serial('a failed job exits 1 and the others still finish', async (t) => {
  target.standin.failNext('node2', unit, 'failed');
  const result = await run('start', 'node1,node2', unit, '--json');
  t.is(result.code, 1);
  t.deepEqual(
    (JSON.parse(result.stdout) as Array<{ node: string; result: string }>).map((report) => [report.node, report.result]),
    [
      ['node1', 'done'],
      ['node2', 'failed'],
    ],
  );
  await run('stop', 'node1,node2', unit);
});

test.serial('each systemd job result comes through as it is', async (t) => {
  const client = blueChi(bus);
  for (const result of ['canceled', 'timeout', 'dependency', 'skipped'] as const) {
    target.standin.failNext('node1', unit, result);
    const outcome = await client.node('node1').runJob('start', unit);
    t.is(outcome.result, result);
  }
});

test.serial('a job that outlives --timeout exits 1 naming node, unit and the limit', async (t) => {
  target.standin.setJobLatency('node1', 3000);
  t.teardown(() => target.standin.setJobLatency('node1', 20));
  const result = await run('--timeout', '0.3', 'restart', 'node1', unit);
  t.is(result.code, 1);
  t.regex(result.stdout, /node1\s+qm-test\.service\s+timeout\s+restart of qm-test\.service on node node1 did not finish within 300 ms/);
});

test.serial('a node going offline during a job ends the wait at once, not at the timeout', async (t) => {
  const client = blueChi(bus, { jobTimeoutMs: 60_000 });
  target.standin.setJobLatency('node2', 30_000);
  t.teardown(async () => {
    target.standin.setJobLatency('node2', 20);
    await target.standin.setOnline('node2', true);
  });
  const submitted = await jobSubmitted(client);
  const job = client.node('node2').runJob('start', unit);
  await submitted.announced;
  void target.standin.setOnline('node2', false);
  const started = Date.now();
  const error = await t.throwsAsync(job, { instanceOf: QmError });
  t.is(error.code, 'node-offline');
  t.regex(error.message, /node node2 went offline during the start of qm-test\.service/);
  t.true(Date.now() - started < 20_000);
});

test.serial('node status and controller status follow the agents', async (t) => {
  const client = blueChi(bus);
  // node1's changes only: a change of another node left over from the test before may still be on its way.
  const changes = firstValueFrom(client.nodeStatus$().pipe(filter((change) => change.node === 'node1'), take(2), toArray(), timeout(5000)));
  const controller = firstValueFrom(client.controllerStatus$.pipe(take(2), toArray(), timeout(5000)));
  await Promise.all([client.nodeStatus$().ready(), client.controllerStatus$.ready()]);
  await target.standin.setOnline('node1', false);
  await target.standin.setOnline('node1', true);
  t.deepEqual(await changes, [
    { node: 'node1', status: 'offline' },
    { node: 'node1', status: 'online' },
  ]);
  t.deepEqual(await controller, ['degraded', 'up']);
  const status = await run('status', '--json');
  t.true((JSON.parse(status.stdout) as Array<{ status: string }>).every((row) => row.status === 'online'));
});

test.serial('the controller leaving the bus mid-job is reported as unreachable', async (t) => {
  const client = blueChi(bus, { jobTimeoutMs: 60_000 });
  target.standin.setJobLatency('node3', 30_000);
  t.teardown(() => target.standin.setJobLatency('node3', 20));
  const submitted = await jobSubmitted(client);
  const job = client.node('node3').runJob('start', unit);
  await submitted.announced;
  await target.standin.restart({ graceful: false, downMs: 300 });
  const error = await t.throwsAsync(job, { instanceOf: QmError });
  t.is(error.code, 'unreachable');
  t.is(error.exitCode, 3);
});

test.serial('a monitor is closed on the bus when its last subscriber leaves', async (t) => {
  const client = blueChi(bus);
  const monitor = await client.createMonitor();
  const events = firstValueFrom(monitor.events$.pipe(take(1), timeout(5000)));
  await monitor.subscribe('node1', unit);
  await client.node('node1').runJob('restart', unit);
  t.like(await events, { node: 'node1', unit });
  await monitor.close();
  const error = await t.throwsAsync(monitor.subscribe('node1', unit), { instanceOf: QmError });
  t.regex(error.message, /Unknown|does not exist|not found/i);

  // watchUnits: the monitor it creates disappears with the subscription.
  const before = new Set(await monitorPaths(bus));
  const watch = client.watchUnits('*');
  const subscription = watch.subscribe();
  await watch.ready();
  const during = (await monitorPaths(bus)).filter((path) => !before.has(path));
  t.is(during.length, 1);
  subscription.unsubscribe();
  await until(async () => !(await monitorPaths(bus)).includes(during[0]!), 'the monitor is closed');
  t.pass();
});

test.serial('a watch given up before the controller created its monitor closes that monitor once created', async (t) => {
  const client = blueChi(bus);
  const before = new Set(await monitorPaths(bus));
  for (let cycle = 0; cycle < 5; cycle++) client.watchUnits('*').subscribe().unsubscribe();
  // Each CreateMonitor is answered and the monitor closed: the set of monitors returns to what it was.
  await until(async () => (await monitorPaths(bus)).every((path) => before.has(path)), 'every monitor of the five cycles is closed');
  t.pass();
});

/** Resolves once a new job was announced (JobNew), i.e. the controller accepted a submitted job. */
async function jobSubmitted(client: ReturnType<typeof blueChi>): Promise<{ announced: Promise<unknown> }> {
  const announced = firstValueFrom(client.jobNew$.pipe(timeout(10_000)));
  await client.jobNew$.ready();
  return { announced }; // wrapped: an async function returning a promise would wait for it
}

/** Polls `check` until it holds; fails naming what was awaited after 10 s. */
async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

test.serial('more concurrent jobs than dbus-daemon allows pending replies (128) all end done', async (t) => {
  const big = await standinTarget(
    Array.from({ length: 10 }, (_, i) => `big${i}`),
    5,
    Array.from({ length: 20 }, (_, i) => `load${i}.service`),
  );
  t.teardown(() => big.stop());
  const units = Array.from({ length: 20 }, (_, i) => `load${i}.service`);
  const result = await qmctl(['--bus-address', big.address, 'start', big.nodes.join(','), ...units, '--json']);
  t.is(result.code, 0, result.stdout.slice(0, 2000));
  const reports = JSON.parse(result.stdout) as Array<{ result: string }>;
  t.is(reports.length, 200);
  t.true(reports.every((report) => report.result === 'done'));
});
