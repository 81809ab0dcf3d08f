// The executor's scheduling with fake effects: order, concurrency, failure propagation, offline nodes.
import test from 'ava';
import { setTimeout as delay } from 'node:timers/promises';
import { QmError } from '../../controller/errors.ts';
import { executePlan, type StepEffects, type StepOutcome, type StepReport } from '../../controller/orchestrator/execute.ts';
import { planLayout, type Plan, type Step } from '../../controller/orchestrator/plan.ts';
import { layoutOf, observedOf, unitFilesLayout, unitFilesObserved } from './fixtures.ts';

const layout = layoutOf(`nodes:
  a:
    units:
      base.service: {}
      mid.service: { needs: [base.service] }
      top.service: { needs: [mid.service, b/other.service] }
      lone.service: {}
  b:
    units:
      other.service: {}
      side.service: {}
`);

function coldPlan(): Plan {
  const planned = planLayout(layout, observedOf({ a: {}, b: {} }));
  if (!planned.ok) throw new Error('unexpected');
  return planned.plan;
}

/** Effects that take `ms` per step and log when each began and ended. */
function timedEffects(ms: number, outcomes: Record<string, StepOutcome['result']> = {}) {
  const log: Array<{ id: string; at: number; edge: 'begin' | 'end' }> = [];
  const began = performance.now();
  let running = 0;
  let peak = 0;
  const effects: StepEffects = {
    async run(step) {
      running += 1;
      peak = Math.max(peak, running);
      log.push({ id: step.id, at: performance.now() - began, edge: 'begin' });
      await delay(ms);
      log.push({ id: step.id, at: performance.now() - began, edge: 'end' });
      running -= 1;
      return { result: outcomes[step.id] ?? 'done' };
    },
  };
  return { effects, log, peak: () => peak };
}

test('independent steps run at once; a step starts only after what it waits for ended done', async (t) => {
  const plan = coldPlan();
  const ms = 100;
  const { effects, log, peak } = timedEffects(ms);
  const reports = await executePlan(plan, effects);
  t.true(reports.every((report) => report.result === 'done' && report.attempts === 1));
  t.is(peak(), 4); // base, lone, other, side together
  const at = (id: string, edge: 'begin' | 'end') => log.find((entry) => entry.id === id && entry.edge === edge)!.at;
  for (const step of plan.steps) for (const before of step.after) t.true(at(before, 'end') <= at(step.id, 'begin'), `${before} → ${step.id}`);
  // Critical path base → mid → top: three steps' worth (and scheduling), not the six of one after another.
  t.true(Math.max(...log.map((entry) => entry.at)) < ms * 5);
});

test('a failed step stops what depends on it, not the rest; results come back in plan order', async (t) => {
  const plan = coldPlan();
  const { effects } = timedEffects(5, { 'start a/base.service': 'failed' });
  const reports = await executePlan(plan, effects);
  t.deepEqual(
    reports.map((report) => [report.step.id, report.result, report.blockedBy ?? '']),
    [
      ['start a/base.service', 'failed', ''],
      ['start a/lone.service', 'done', ''],
      ['start b/other.service', 'done', ''],
      ['start b/side.service', 'done', ''],
      ['start a/mid.service', 'dependency', 'start a/base.service'],
      ['start a/top.service', 'dependency', 'start a/base.service'],
    ],
  );
  t.is(reports[4]!.attempts, 0);
});

test('a start runs only if what it needs is running just then: a unit that failed after its job ended done stops its dependents like a failed step', async (t) => {
  // base.service's start ends done, then it fails (its process exits); b/other.service was running at planning and failed since.
  const planned = planLayout(layout, observedOf({ a: {}, b: { units: { 'other.service': 'active', 'side.service': 'active' } } }));
  if (!planned.ok) return t.fail();
  const failed = new Set(['a/base.service', 'b/other.service']);
  const asked: string[] = [];
  const ran: string[] = [];
  const reports = await executePlan(planned.plan, {
    run: async (step) => {
      ran.push(step.id);
      return { result: 'done' };
    },
    notRunning: async (step) => {
      asked.push(step.id);
      const need = step.needs!.find((candidate) => failed.has(`${candidate.node}/${candidate.unit}`));
      return need && { need, activeState: 'failed' };
    },
  });
  t.deepEqual(
    reports.map((report) => [report.step.id, report.result, report.blockedBy ?? '', report.error?.message ?? '']),
    [
      ['start a/base.service', 'done', '', ''],
      ['start a/lone.service', 'done', '', ''],
      ['start a/mid.service', 'dependency', 'start a/base.service', 'not run: a/base.service, which it needs, is failed'],
      ['start a/top.service', 'dependency', 'start a/mid.service', ''],
    ],
  );
  t.deepEqual(ran, ['start a/base.service', 'start a/lone.service'], 'what needs a unit that is not running is never run');
  t.deepEqual(asked, ['start a/mid.service'], 'asked only for starts that need something, just before each');
  t.like(reports[2]!.error?.origin, { node: 'a', unit: 'base.service' });

  // top.service needs b/other.service, which has no step (it was running): it is named, with no step to blame.
  const top = planLayout(layout, observedOf({ a: { units: { 'base.service': 'active', 'mid.service': 'active', 'lone.service': 'active' } }, b: { units: { 'other.service': 'active', 'side.service': 'active' } } }));
  if (!top.ok) return t.fail();
  const [alone] = await executePlan(top.plan, { run: async () => ({ result: 'done' }), notRunning: async (step) => ({ need: step.needs![1]!, activeState: 'failed' }) });
  t.like(alone, { result: 'dependency', blockedBy: undefined, error: { message: 'not run: b/other.service, which it needs, is failed' } });
});

test('effects that throw become error outcomes, not a crashed apply', async (t) => {
  const plan = coldPlan();
  const reports = await executePlan(plan, {
    run: async (step: Step) => {
      if (step.id === 'start b/other.service') throw new Error('boom');
      return { result: 'done' };
    },
  });
  const other = reports.find((report) => report.step.id === 'start b/other.service')!;
  t.is(other.result, 'error');
  t.is(other.error?.message, 'boom');
  t.is(reports.find((report) => report.step.id === 'start a/top.service')!.result, 'dependency');
});

test('a node that goes offline: its step waits for it, is re-checked, and runs again only if still needed', async (t) => {
  const plan = coldPlan();
  const calls: string[] = [];
  let online = false;
  const effects: StepEffects = {
    async run(step) {
      calls.push(step.id);
      if (step.node === 'b' && !online) return { result: 'offline' };
      return { result: 'done' };
    },
    async whenOnline() {
      await delay(20);
      online = true;
      return true;
    },
    // other.service finished while b was away; side.service did not.
    recheck: async (step) => (step.id === 'start b/other.service' ? 'done' : 'needed'),
  };
  const events: string[] = [];
  const reports = await executePlan(plan, effects, { onEvent: (event) => event.kind === 'offline' && events.push(event.step.id) });
  t.true(reports.every((report) => report.result === 'done'));
  t.deepEqual(events.sort(), ['start b/other.service', 'start b/side.service']);
  t.is(calls.filter((id) => id === 'start b/other.service').length, 1);
  t.is(calls.filter((id) => id === 'start b/side.service').length, 2);
  t.is(reports.find((report) => report.step.id === 'start b/side.service')!.attempts, 2);
});

test('giving up on an offline node ends its steps offline and blocks their dependents', async (t) => {
  const plan = coldPlan();
  const reports = await executePlan(plan, {
    run: async (step) => ({ result: step.node === 'b' ? 'offline' : 'done' }),
    whenOnline: async () => false,
  });
  t.is(reports.find((report) => report.step.id === 'start b/other.service')!.result, 'offline');
  t.is(reports.find((report) => report.step.id === 'start a/top.service')!.result, 'dependency');
  t.is(reports.find((report) => report.step.id === 'start a/mid.service')!.result, 'done');
});

test('concurrency limit and interruption', async (t) => {
  const plan = coldPlan();
  const limited = timedEffects(10);
  await executePlan(plan, limited.effects, { concurrency: 2 });
  t.is(limited.peak(), 2);

  const abort = new AbortController();
  const slow = timedEffects(40);
  setTimeout(() => abort.abort(), 10);
  const reports = await executePlan(plan, slow.effects, { signal: abort.signal });
  // The first wave finishes its calls; nothing new starts after the interrupt: what did not start ends canceled.
  t.deepEqual(
    reports.map((report) => report.result),
    ['done', 'done', 'done', 'done', 'canceled', 'canceled'],
  );
  t.deepEqual(slow.log.filter((entry) => entry.edge === 'begin').map((entry) => entry.id).sort(), plan.steps.slice(0, 4).map((step) => step.id).sort());
});

function filesPlan(radio: string): Plan {
  const planned = planLayout(unitFilesLayout, unitFilesObserved(radio));
  if (!planned.ok) throw new Error('unexpected');
  return planned.plan;
}

const results = (reports: readonly StepReport[]) => Object.fromEntries(reports.map((report) => [report.step.id, `${report.result}${report.blockedBy ? ` (${report.blockedBy})` : ''}`]));

test('a failed enable holds back only its own start and what needs it: the reload runs, the other units start', async (t) => {
  const { effects, log } = timedEffects(5, { 'enable a/nav.service': 'error' });
  const reports = await executePlan(filesPlan('disabled'), effects);
  const at = (id: string, edge: 'begin' | 'end') => log.find((entry) => entry.id === id && entry.edge === edge)!.at;
  for (const id of ['enable a/radio.service', 'enable a/nav.service', 'enable a/clock.service']) t.true(at(id, 'end') <= at('daemon-reload a', 'begin'), `${id} ended before the reload`);
  t.deepEqual(results(reports), {
    'enable a/radio.service': 'done',
    'enable a/nav.service': 'error',
    'enable a/clock.service': 'done',
    'daemon-reload a': 'done',
    'start a/radio.service': 'done',
    'start a/clock.service': 'done',
    'start a/other.service': 'done',
    'start a/nav.service': 'dependency (enable a/nav.service)',
    'start a/map.service': 'dependency (enable a/nav.service)',
    'start b/ui.service': 'dependency (enable a/nav.service)',
  });
});

test('a step the vehicle refuses (enabling a masked unit) is not run: it ends error naming node and unit, and holds back only what needs it', async (t) => {
  const { effects, log } = timedEffects(5);
  const reports = await executePlan(filesPlan('masked'), effects);
  t.deepEqual(results(reports), {
    'enable a/radio.service': 'error',
    'enable a/nav.service': 'done',
    'enable a/clock.service': 'done',
    'daemon-reload a': 'done',
    'start a/radio.service': 'dependency (enable a/radio.service)',
    'start a/clock.service': 'done',
    'start a/other.service': 'done',
    'start a/nav.service': 'dependency (enable a/radio.service)',
    'start a/map.service': 'dependency (enable a/radio.service)',
    'start b/ui.service': 'dependency (enable a/radio.service)',
  });
  t.false(log.some((entry) => entry.id === 'enable a/radio.service'), 'never called');
  const refused = reports.find((report) => report.step.id === 'enable a/radio.service')!;
  t.like(refused, { attempts: 0, error: { origin: { node: 'a', unit: 'radio.service' } } });
  t.regex(refused.error!.message, /radio\.service on node a is masked/);
});

test('whenOnline or recheck that fail end the step with an error naming node and unit, never a plan that pends forever', async (t) => {
  const plan = coldPlan();
  const offlineOnB: StepEffects['run'] = async (step) => ({ result: step.node === 'b' ? 'offline' : 'done' });
  const settled = <T>(promise: Promise<T>) => Promise.race([promise, delay(5_000).then(() => 'still pending' as const)]);

  const lost = await settled(executePlan(plan, { run: offlineOnB, whenOnline: () => Promise.reject(new Error('bus gone')) }));
  if (lost === 'still pending') return t.fail('executePlan pends when whenOnline rejects');
  const other = lost.find((report) => report.step.id === 'start b/other.service')!;
  t.is(other.result, 'error');
  t.like(other.error, { code: 'bus-error', origin: { node: 'b', unit: 'other.service' } });
  t.regex(other.error!.message, /bus gone/);
  t.is(lost.find((report) => report.step.id === 'start a/top.service')!.result, 'dependency');
  t.is(lost.find((report) => report.step.id === 'start a/mid.service')!.result, 'done');

  const unsure = await settled(
    executePlan(plan, { run: offlineOnB, whenOnline: async () => true, recheck: () => Promise.reject(new QmError('timeout', 'still activating', { node: 'b', unit: 'side.service' })) }),
  );
  if (unsure === 'still pending') return t.fail('executePlan pends when recheck rejects');
  t.like(unsure.find((report) => report.step.id === 'start b/side.service'), { result: 'timeout', error: { code: 'timeout', origin: { node: 'b', unit: 'side.service' } } });
});
