// applyLayout against the BlueChi stand-in on a real dbus-daemon: order, cross-node, failures, idempotence, flapping.
import test from 'ava';
import { setTimeout as delay } from 'node:timers/promises';
import { applyLayout, type ApplyResult } from '../../controller/orchestrator/apply.ts';
import type { StepReport } from '../../controller/orchestrator/execute.ts';
import { layoutOf } from './fixtures.ts';
import { acceptedStarts, realNodes, startVehicle, units } from './vehicle.ts';

const real = realNodes(['a', 'qm.a', 'b']);
test.before(() => real.boot());
test.after.always(() => real.stop());

const layout = layoutOf(`nodes:
  a:
    qm: true
    units:
      base.service: { enabled: true }
      mid.service: { needs: [base.service] }
      top.service: { needs: [mid.service, b/other.service] }
      old.service: { state: stopped }
    qm-units:
      app.service: { needs: [a/top.service] }
  b:
    units:
      other.service: {}
      side.service: {}
`);

const standinNodes = (latency = 20) => [
  {
    name: 'a',
    jobLatencyMs: latency,
    units: [{ name: 'base.service' }, { name: 'mid.service' }, { name: 'top.service' }, { name: 'old.service', activeState: 'active', subState: 'running' }],
  },
  { name: 'qm.a', jobLatencyMs: latency, units: [{ name: 'app.service' }] },
  { name: 'b', jobLatencyMs: latency, units: [{ name: 'other.service' }, { name: 'side.service' }] },
];

function reportsOf(result: ApplyResult): readonly StepReport[] {
  if (result.kind !== 'applied') throw new Error(result.errors.map((error) => error.message).join('\n'));
  return result.reports;
}

const summary = (reports: readonly StepReport[]) => Object.fromEntries(reports.map((report) => [report.step.id, report.result]));

test('from cold: every step in dependency order across nodes, every job result recorded', async (t) => {
  const { standin, client } = await startVehicle(t, standinNodes());
  const reports = reportsOf(await applyLayout(client, layout));
  t.deepEqual(summary(reports), {
    'enable a/base.service': 'done',
    'start b/other.service': 'done',
    'start b/side.service': 'done',
    'daemon-reload a': 'done',
    'start a/base.service': 'done',
    'stop a/old.service': 'done',
    'start a/mid.service': 'done',
    'start a/top.service': 'done',
    'start qm.a/app.service': 'done',
  });
  const byId = new Map(reports.map((report) => [report.step.id, report]));
  for (const report of reports) {
    if (report.step.action === 'start' || report.step.action === 'stop') t.regex(report.job ?? '', /^\/org\/eclipse\/bluechi\/job\/\d+$/);
    for (const before of report.step.after) t.true(byId.get(before)!.endedMs! <= report.startedMs!, `${before} before ${report.step.id}`);
  }
  t.is((await standin.readUnitState('qm.a', 'app.service')).activeState, 'active');
  t.is((await standin.readUnitState('a', 'old.service')).activeState, 'inactive');
  t.is((await standin.readUnitState('a', 'base.service')).unitFileState, 'enabled');
});

test('a needed unit whose start job ends done and that fails right after (ExecStart=/bin/false) stops what needs it; the apply ends with the truth', async (t) => {
  // slow.service (a oneshot of 1 s) is needed too: the dependents are about to start well after crash.service failed.
  // Right after a job ends done, a Type=simple unit may or may not have failed yet: no check can know it will.
  const { standin, client } = await startVehicle(t, [
    { name: 'a', units: [{ name: 'crash.service', fails: true }, { name: 'slow.service', startMs: 1_000 }, { name: 'after-crash.service' }, { name: 'fine.service' }] },
    { name: 'b', units: [{ name: 'remote.service' }] },
  ]);
  const crashing = layoutOf(`nodes:
  a:
    units:
      crash.service: {}
      slow.service: {}
      after-crash.service: { needs: [crash.service, slow.service] }
      fine.service: {}
  b:
    units:
      remote.service: { needs: [a/slow.service, a/crash.service] }
`);
  const result = await applyLayout(client, crashing);
  const reports = reportsOf(result);
  t.deepEqual(summary(reports), {
    'start a/crash.service': 'done',
    'start a/slow.service': 'done',
    'start a/fine.service': 'done',
    'start a/after-crash.service': 'dependency',
    'start b/remote.service': 'dependency',
  });
  for (const id of ['start a/after-crash.service', 'start b/remote.service']) {
    const report = reports.find((candidate) => candidate.step.id === id)!;
    t.is<string | undefined, string>(report.blockedBy, 'start a/crash.service', id);
    t.is(report.error?.message, 'not run: a/crash.service, which it needs, is failed', id);
    t.like(report.error?.origin, { node: 'a', unit: 'crash.service' });
  }
  // The truth once the steps ended: the unit that failed, and what was not started for it.
  t.deepEqual(result.kind === 'applied' && result.unconverged, [
    { node: 'a', unit: 'crash.service', desired: 'running', observed: 'failed' },
    { node: 'a', unit: 'after-crash.service', desired: 'running', observed: 'inactive' },
    { node: 'b', unit: 'remote.service', desired: 'running', observed: 'inactive' },
  ]);
  t.is(acceptedStarts(standin, 'a').get('after-crash.service'), undefined, 'what needs it was never started');
  t.is(acceptedStarts(standin, 'b').get('remote.service'), undefined);
  t.is((await standin.readUnitState('a', 'fine.service')).activeState, 'active');
});

test('idempotent: the second apply makes no node calls at all', async (t) => {
  const { standin, client } = await startVehicle(t, standinNodes(0));
  reportsOf(await applyLayout(client, layout));
  standin.clearCalls();
  const second = await applyLayout(client, layout);
  t.deepEqual(reportsOf(second), []);
  t.true(second.kind === 'applied' && second.plan.steps.length === 0);
  for (const node of ['a', 'qm.a', 'b']) t.deepEqual(standin.calls(node), [], node);
});

test('a failed job stops what depends on it, across nodes, and not the rest', async (t) => {
  // In memory: the point is an injected failure.
  const { standin, client } = await startVehicle(t, standinNodes(5), { backend: 'memory' });
  standin.failNext('b', 'other.service', 'failed');
  const reports = reportsOf(await applyLayout(client, layout));
  t.like(summary(reports), {
    'start b/other.service': 'failed',
    'start b/side.service': 'done',
    'start a/mid.service': 'done',
    'start a/top.service': 'dependency',
    'start qm.a/app.service': 'dependency',
  });
  t.is<string | undefined, string>(reports.find((report) => report.step.id === 'start qm.a/app.service')!.blockedBy, 'start b/other.service');
  t.is(acceptedStarts(standin, 'a').get('top.service'), undefined);
});

test('a unit that does not exist fails its step with systemd\'s error, naming node and unit', async (t) => {
  const { client } = await startVehicle(t, standinNodes(0));
  const extra = layoutOf(`nodes:\n  b:\n    units:\n      ghost.service: {}\n  a: {}\n  qm.a: {}\n`);
  const reports = reportsOf(await applyLayout(client, extra));
  t.is(reports[0]!.result, 'error');
  t.is(reports[0]!.error?.code, 'unit-unknown');
  t.like(reports[0]!.error?.origin, { node: 'b', unit: 'ghost.service' });
});

test('nodes BlueChi does not know: refused before anything is done', async (t) => {
  const { standin, client } = await startVehicle(t, standinNodes(0));
  const result = await applyLayout(client, layoutOf('nodes:\n  a: {}\n  ecu-x:\n    units: { x.service: {} }\n'));
  t.is(result.kind, 'refused');
  if (result.kind === 'refused') t.like(result.errors[0]!.origin, { node: 'ecu-x', line: 3, column: 3 });
  t.deepEqual(standin.calls('a'), []);
});

test('an offline node: its steps wait (or give up after the wait), the others finish', async (t) => {
  const nodes = standinNodes(5).map((node) => (node.name === 'b' ? { ...node, online: false } : node));
  const { standin, client } = await startVehicle(t, nodes);
  const result = await applyLayout(client, layout, { offlineWaitMs: 0 });
  if (result.kind !== 'applied') return t.fail();
  t.deepEqual(result.plan.offline, ['b']);
  t.deepEqual(
    result.plan.waiting.map((wait) => wait.key),
    ['a/top.service', 'qm.a/app.service', 'b/other.service', 'b/side.service'],
  );
  t.true(result.reports.every((report) => report.result === 'done'));
  t.is((await standin.readUnitState('a', 'mid.service')).activeState, 'active');
  // When b is back, the next apply does the rest.
  // setOnline resolves once BlueChi said so on the bus; the next apply reads the nodes itself.
  await standin.setOnline('b', true);
  const rest = reportsOf(await applyLayout(client, layout));
  t.deepEqual(rest.map((report) => report.step.id), ['start b/other.service', 'start b/side.service', 'start a/top.service', 'start qm.a/app.service']);
});

test('a node going offline mid-apply: its steps wait for it, the others finish; no unit is started twice', async (t) => {
  const count = 20;
  const flapping = layoutOf(
    JSON.stringify({
      nodes: {
        a: { units: Object.fromEntries(units('steady', 5).map((unit) => [unit.name, {}])) },
        b: { units: Object.fromEntries(units('flappy', count).map((unit, index) => [unit.name, index > 0 ? { needs: [`flappy-${index - 1}.service`] } : {}])) },
      },
    }),
  );
  // In memory: the point is timing, jobs slow enough for a node to flap a hundred times during them.
  const { standin, client } = await startVehicle(
    t,
    [
      { name: 'a', jobLatencyMs: 10, units: units('steady', 5) },
      { name: 'b', jobLatencyMs: 60, units: units('flappy', count) },
    ],
    { backend: 'memory' },
  );
  let flaps = 0;
  let firstJob: () => void = () => undefined;
  const started = new Promise<void>((resolve) => (firstJob = resolve));
  const flapper = (async () => {
    await started; // flapping before the plan is made would just plan b as offline
    while (flaps < 100) {
      await standin.setOnline('b', false);
      await delay(3 + (flaps % 5));
      await standin.setOnline('b', true);
      await delay(3 + ((flaps * 7) % 11));
      flaps += 1;
    }
  })();
  const apply = applyLayout(client, flapping, { onEvent: (event) => event.kind === 'started' && event.step.node === 'b' && firstJob() });
  const reports = reportsOf(await apply);
  const flapsDuringApply = flaps;
  await flapper;
  t.true(flapsDuringApply >= 50, `only ${flapsDuringApply} flaps happened during the apply`);
  t.true(reports.every((report) => report.result === 'done'), JSON.stringify(summary(reports)));
  for (const unit of units('flappy', count)) t.is(standin.unitState('b', unit.name)?.activeState, 'active', unit.name);
  t.log(`${flapsDuringApply} flaps during the apply; attempts per step: ${reports.map((report) => report.attempts).join(' ')}`);
  t.log(JSON.stringify(Object.fromEntries(acceptedStarts(standin, 'b'))));
  for (const [unit, starts] of acceptedStarts(standin, 'b')) t.is(starts, 1, `${unit} was started ${starts} times`);
});

test('more independent steps than the bus allows pending replies (128): all run, none refused', async (t) => {
  const many = units('wide', 300);
  // In memory: the point is load, 300 jobs whose replies and ends overlap for 20 ms each.
  const { standin, client } = await startVehicle(t, [{ name: 'a', jobLatencyMs: 20, units: many }], { backend: 'memory' });
  const wide = layoutOf(JSON.stringify({ nodes: { a: { units: Object.fromEntries(many.map((unit) => [unit.name, {}])) } } }));
  const reports = reportsOf(await applyLayout(client, wide));
  t.is(reports.length, 300);
  t.deepEqual(new Set(reports.map((report) => report.result)), new Set(['done']));
  t.is(acceptedStarts(standin, 'a').size, 300);
});
