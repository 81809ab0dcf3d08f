// qm-controller's loop against the BlueChi stand-in on a real dbus-daemon: converge, re-apply, repair, survive.
import test from 'ava';
import { realNodes, starts, startDaemonVehicle, until } from './harness.ts';

const real = realNodes(['a', 'b']);
test.before(() => real.boot());
test.after.always(() => real.stop());

const LAYOUT = `nodes:
  a:
    units:
      db.service: {}
      web.service: { needs: [db.service], restart: { attempts: 3, window: 1m, backoff: 40ms } }
  b:
    units:
      cache.service: { needs: [a/db.service] }
      idle.service: { state: stopped }
`;

const nodes = (online = true) => [
  { name: 'a', online, jobLatencyMs: 5, units: [{ name: 'db.service' }, { name: 'web.service' }, { name: 'other.service' }] },
  { name: 'b', online, jobLatencyMs: 5, units: [{ name: 'cache.service' }, { name: 'idle.service', activeState: 'active', subState: 'running' }] },
];

test('nodes offline at start: nothing is done; once BlueChi reports them online the vehicle converges', async (t) => {
  const { standin, daemon } = await startDaemonVehicle(t, nodes(false), LAYOUT);
  await daemon.settled();
  const before = await daemon.status();
  t.is(before.bluechi, 'up');
  t.false(before.converged);
  t.deepEqual(before.nodes, [
    { name: 'a', online: false },
    { name: 'b', online: false },
  ]);
  t.deepEqual(before.lastApply?.offline, ['a', 'b']);
  t.deepEqual(standin.calls('a'), []);
  await standin.setOnline('a', true);
  await standin.setOnline('b', true);
  await until('the vehicle converged', async () => (await daemon.status()).converged);
  t.is((await standin.readUnitState('a', 'web.service')).activeState, 'active');
  t.is((await standin.readUnitState('b', 'cache.service')).activeState, 'active');
  t.is((await standin.readUnitState('b', 'idle.service')).activeState, 'inactive');
  for (const [node, unit] of [['a', 'db.service'], ['a', 'web.service'], ['b', 'cache.service']] as const) t.is(starts(standin, node, unit), 1, unit);
});

test('a node that comes back online gets its part re-applied', async (t) => {
  const { standin, daemon } = await startDaemonVehicle(t, nodes(), LAYOUT);
  await until('converged', async () => (await daemon.status()).converged);
  await standin.setOnline('b', false);
  // What happened on b while it was away is not signalled; its return is.
  await standin.onNode('b', 'cache.service', 'stop');
  await standin.onNode('b', 'idle.service', 'start');
  t.is((await standin.readUnitState('b', 'cache.service')).activeState, 'inactive');
  await standin.setOnline('b', true);
  const activeState = async (unit: string) => (await standin.readUnitState('b', unit)).activeState;
  await until('b converged again', async () => (await activeState('cache.service')) === 'active' && (await activeState('idle.service')) === 'inactive');
  t.is(starts(standin, 'b', 'cache.service'), 2);
  t.is(starts(standin, 'a', 'db.service'), 1, 'a was not touched');
});

test('drift: an owned unit that fails is restarted; one the layout does not own is left alone', async (t) => {
  const { standin, daemon, log } = await startDaemonVehicle(t, nodes(), LAYOUT);
  await until('converged', async () => (await daemon.status()).converged);
  await standin.onNode('a', 'other.service', 'start');
  await standin.onNode('a', 'other.service', 'kill');
  await standin.onNode('a', 'db.service', 'kill');
  await until('db.service repaired', async () => (await standin.readUnitState('a', 'db.service')).activeState === 'active');
  await daemon.settled();
  t.is(starts(standin, 'a', 'db.service'), 2);
  t.is(starts(standin, 'a', 'other.service'), 0);
  const unit = (await daemon.status()).units.find((entry) => entry.unit === 'db.service')!;
  t.like(unit.repairs, { done: 1, left: 2, budget: 3, exhausted: false, lastDelayMs: 1000 });
  t.true(log.some((line) => line.startsWith('warn: a/db.service left its desired state (failed/failed): repair 1 of 3 in 1000 ms')));
});

test('drift repair within the restart budget, with doubling backoff, then no more until an operator applies', async (t) => {
  // In memory: the point is injected failures, every repair failing.
  const { standin, daemon, log } = await startDaemonVehicle(t, nodes(), LAYOUT, { backend: 'memory' });
  await until('converged', async () => (await daemon.status()).converged);
  standin.clearCalls();
  standin.failAlways('a', 'web.service', 'failed');
  standin.setUnitState('a', 'web.service', 'failed', 'failed');
  await until('the budget is exhausted', async () => (await daemon.status()).units.find((unit) => unit.unit === 'web.service')!.repairs.exhausted);
  await daemon.settled();
  t.is(starts(standin, 'a', 'web.service'), 3, 'three repairs, each a start that failed');
  // The order of decisions shows the backoff doubling; no timing is asserted.
  t.deepEqual(
    log.filter((line) => /^(warn|error): a\/web.service/.test(line)),
    [
      'warn: a/web.service left its desired state (failed/failed): repair 1 of 3 in 40 ms',
      'warn: a/web.service left its desired state (failed/failed): repair 2 of 3 in 80 ms',
      'warn: a/web.service left its desired state (failed/failed): repair 3 of 3 in 160 ms',
      'error: a/web.service is failed and its restart budget (3 repairs within 60000 ms) is exhausted: left alone until qmctl apply or qmctl controller-reload',
    ],
  );
  // Exhausted: more drift, and a node coming back, leave it alone.
  standin.failAlways('a', 'web.service', undefined);
  standin.setUnitState('a', 'web.service', 'inactive', 'dead');
  await standin.setOnline('a', false);
  await standin.setOnline('a', true);
  // The apply that a's return triggers is the marker: once it has run, the budget had its chance to be ignored.
  await until('the apply for node a coming back', async () => (await daemon.status()).lastApply?.trigger === 'node a online');
  await daemon.settled();
  t.is(starts(standin, 'a', 'web.service'), 3);
  const status = await daemon.status();
  t.false(status.converged);
  t.regex(status.lastApply!.waiting.map((wait) => `${wait.key}: ${wait.reason}`).join('\n'), /a\/web.service: its restart budget is exhausted/);
  // The operator's apply resets the budget.
  const applied = await daemon.apply();
  t.deepEqual(applied.steps.map((step) => `${step.id} ${step.result}`), ['start a/web.service done']);
  t.true((await daemon.status()).converged);
});

test('bluechi-controller crashes and restarts: the daemon resubscribes, re-observes and still repairs drift', async (t) => {
  const { standin, daemon, log } = await startDaemonVehicle(t, nodes(), LAYOUT);
  await until('converged', async () => (await daemon.status()).converged);
  await standin.restart({ graceful: false, downMs: 300 });
  await until('BlueChi is back and the vehicle converged', async () => {
    const status = await daemon.status();
    return status.bluechi === 'up' && status.converged && status.nodes.every((node) => node.online);
  });
  t.true(log.includes('warn: BlueChi controller left the bus: waiting for it to return'));
  await daemon.settled();
  await standin.onNode('b', 'cache.service', 'kill');
  await until('cache.service repaired after the restart', async () => (await standin.readUnitState('b', 'cache.service')).activeState === 'active');
  t.is(starts(standin, 'b', 'cache.service'), 2);
});

test('concurrent applies never interleave: each unit is started once', async (t) => {
  // In memory: the point is timing, jobs slow enough for the applies to overlap.
  const { standin, daemon } = await startDaemonVehicle(t, nodes(false), LAYOUT, { backend: 'memory' });
  await daemon.settled();
  standin.setJobLatency('a', 30);
  await standin.setOnline('a', true);
  await standin.setOnline('b', true);
  const summaries = await Promise.all(Array.from({ length: 8 }, () => daemon.apply()));
  await daemon.settled();
  t.true((await daemon.status()).converged);
  for (const [node, unit] of [['a', 'db.service'], ['a', 'web.service'], ['b', 'cache.service']] as const) t.is(starts(standin, node, unit), 1, unit);
  // Eight calls made at once share at most two runs: the one going and one follow-up.
  t.true(new Set(summaries.map((summary) => summary.startedAt)).size <= 2);
});

test('the daemon applies the same rule: a needed unit that fails right after its start job ended done holds back what needs it, and its apply says so', async (t) => {
  // slow.service (a oneshot of 1 s) is needed too, so after.service is about to start well after crash.service
  // failed; attempts 0: no repair, so the start-up apply stays the last one.
  const { standin, daemon, log } = await startDaemonVehicle(
    t,
    [{ name: 'a', units: [{ name: 'crash.service', fails: true }, { name: 'slow.service', startMs: 1_000 }, { name: 'after.service' }] }],
    `nodes:
  a:
    units:
      crash.service: { restart: { attempts: 0 } }
      slow.service: {}
      after.service: { needs: [crash.service, slow.service] }
`,
  );
  await until('the start-up apply ended', async () => (await daemon.status()).lastApply !== undefined);
  await daemon.settled();
  const status = await daemon.status();
  t.deepEqual(
    status.lastApply!.steps.map((step) => [step.id, step.result, step.error?.message ?? '']),
    [
      ['start a/crash.service', 'done', ''],
      ['start a/slow.service', 'done', ''],
      ['start a/after.service', 'dependency', 'not run: a/crash.service, which it needs, is failed'],
    ],
  );
  t.deepEqual(status.lastApply!.unconverged, [
    { node: 'a', unit: 'crash.service', desired: 'running', observed: 'failed' },
    { node: 'a', unit: 'after.service', desired: 'running', observed: 'inactive' },
  ]);
  t.is(starts(standin, 'a', 'after.service'), 0);
  t.false(status.converged);
  t.true(log.includes('warn: apply (BlueChi up): a/crash.service is failed, wanted running'), log.join('\n'));
});
