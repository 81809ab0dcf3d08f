// The daemon's pure core: repair decisions over fake time, the serial apply queue, holding exhausted units.
import test from 'ava';
import { setTimeout as delay } from 'node:timers/promises';
import { Subject } from 'rxjs';
import { followForGood } from '../../controller/daemon/follow.ts';
import { withoutHeld } from '../../controller/daemon/hold.ts';
import { decideRepair, leftDesiredState, NO_REPAIRS, reconnectDelay, repairRan, repairSettled, repairsLeft, type RepairRecord } from '../../controller/daemon/repair.ts';
import { serialRunner } from '../../controller/daemon/serial.ts';
import { afterDelay } from '../../controller/daemon/timer.ts';
import type { UnitKey } from '../../controller/layout/model.ts';
import { planLayout } from '../../controller/orchestrator/plan.ts';
import { layoutOf, observedOf } from '../orchestrator/fixtures.ts';

const budget = { attempts: 3, windowMs: 60_000, backoffMs: 1_000 };

test('repairs within the budget back off 1×, 2×, 4×; the next drift exhausts it; an old repair leaves the window', (t) => {
  let record: RepairRecord = NO_REPAIRS;
  const delays: number[] = [];
  for (const at of [0, 5_000, 10_000]) {
    const decision = decideRepair(record, budget, at);
    if (decision.kind !== 'repair') return t.fail(decision.kind);
    delays.push(decision.delayMs);
    t.is(decideRepair(decision.record, budget, at + 1).kind, 'ignore', 'a pending repair absorbs further drift');
    record = repairRan(decision.record, at);
  }
  t.deepEqual(delays, [1_000, 2_000, 4_000]);
  t.is(repairsLeft(record, budget, 10_000), 0);
  const exhausted = decideRepair(record, budget, 20_000);
  t.is(exhausted.kind, 'exhausted');
  t.is(decideRepair(exhausted.record, budget, 999_999).kind, 'ignore', 'exhausted stays exhausted until reset');
  // Not exhausted, and the first repair is older than the window: one repair is free again, at 2× (two still count).
  const later = decideRepair(record, budget, 60_001);
  t.like(later, { kind: 'repair', attempt: 3, delayMs: 4_000 });
  t.is(decideRepair(NO_REPAIRS, { ...budget, attempts: 0 }, 0).kind, 'exhausted', 'attempts 0 turns repair off');
});

test('the budget is spent when a repair runs a job, not when drift is reported: repairs that found the unit back cost nothing', (t) => {
  let record: RepairRecord = NO_REPAIRS;
  // The unit failed and came back by itself (systemd's Restart=) five times before each repair ran.
  for (const at of [0, 1_000, 2_000, 3_000, 4_000]) {
    const decision = decideRepair(record, budget, at);
    if (decision.kind !== 'repair') return t.fail(`drift at ${at}: ${decision.kind}`);
    t.like(decision, { attempt: 1, delayMs: 1_000 });
    record = repairSettled(decision.record, decision.id);
  }
  t.is(repairsLeft(record, budget, 5_000), 3);
  t.false(record.exhausted);
  t.is(repairRan(NO_REPAIRS, 5), NO_REPAIRS, 'a job no repair waits for spends nothing');

  // An older repair's apply ending does not settle a newer one.
  const first = decideRepair(NO_REPAIRS, budget, 0);
  if (first.kind !== 'repair') return t.fail();
  const second = decideRepair(repairRan(first.record, 10), budget, 20);
  t.like(second, { kind: 'repair', attempt: 2, delayMs: 2_000 });
  if (second.kind !== 'repair') return;
  t.is(decideRepair(repairSettled(second.record, first.id), budget, 30).kind, 'ignore');
});

test('drift is a settled state contrary to the desired one, never a transition', (t) => {
  t.true(leftDesiredState('running', 'failed'));
  t.true(leftDesiredState('running', 'inactive'));
  t.false(leftDesiredState('running', 'activating'));
  t.false(leftDesiredState('running', 'deactivating'));
  t.true(leftDesiredState('stopped', 'active'));
  t.false(leftDesiredState('stopped', 'failed'));
  t.deepEqual([0, 1, 2, 10, 40].map((attempt) => reconnectDelay(attempt, 100, 5_000)), [100, 200, 400, 5_000, 5_000]);
});

test('serial runner: one run at a time; triggers during a run coalesce into one follow-up', async (t) => {
  let running = 0;
  let most = 0;
  let runs = 0;
  const runner = serialRunner(async () => {
    running += 1;
    most = Math.max(most, running);
    const id = ++runs;
    await delay(20);
    running -= 1;
    return id;
  });
  const first = runner.trigger();
  const during = await Promise.all([runner.trigger(), runner.trigger(), runner.trigger(), first]);
  t.deepEqual(during, [2, 2, 2, 1]);
  t.is(most, 1);
  // A trigger made from the continuation of a finished run still never overlaps the follow-up.
  const chained = await runner.trigger().then(() => Promise.all([runner.trigger(), runner.trigger()]));
  t.is(most, 1);
  t.deepEqual(chained, [4, 5]);
  await runner.idle();
  t.false(runner.running);
});

test('serial runner: a failing run rejects its callers, the follow-up still runs', async (t) => {
  let calls = 0;
  const runner = serialRunner(async () => {
    calls += 1;
    await delay(5);
    if (calls === 1) throw new Error('boom');
    return calls;
  });
  const first = runner.trigger();
  const second = runner.trigger();
  await t.throwsAsync(first, { message: 'boom' });
  t.is(await second, 2);
});

test('held units leave the plan with what waits on them; the rest stays', (t) => {
  const layout = layoutOf(`nodes:
  a:
    units:
      db.service: {}
      web.service: { needs: [db.service] }
      side.service: {}
`);
  const planned = planLayout(layout, observedOf({ a: { units: {} } }));
  if (!planned.ok) return t.fail();
  const plan = withoutHeld(planned.plan, new Set(['a/db.service' as UnitKey]));
  t.deepEqual(plan.steps.map((step) => step.id), ['start a/side.service']);
  t.deepEqual(plan.waiting, [
    { key: 'a/db.service', node: 'a', reason: 'its restart budget is exhausted; qmctl apply or controller-reload resets it' },
    { key: 'a/web.service', node: 'a', reason: "a/db.service's restart budget is exhausted; qmctl apply or controller-reload resets it" },
  ]);
  t.is(withoutHeld(planned.plan, new Set()), planned.plan);
});

test('a followed stream that fails is reported and followed again; what it says after is still handled', async (t) => {
  const opened: Array<Subject<number>> = [];
  const seen: number[] = [];
  const failures: string[] = [];
  let resumed = 0;
  const following = followForGood(
    () => {
      const stream = new Subject<number>();
      opened.push(stream);
      return stream;
    },
    { next: (value) => seen.push(value), failed: (error, retryMs) => failures.push(`${(error as Error).message} (again in ${retryMs} ms)`), resumed: () => (resumed += 1), retryMs: 5 },
  );
  opened[0]!.next(1);
  opened[0]!.error(new Error('match rule lost'));
  t.deepEqual(failures, ['match rule lost (again in 5 ms)']);
  while (opened.length < 2) await delay(1);
  t.is(resumed, 1);
  opened[1]!.next(2);
  t.deepEqual(seen, [1, 2]);
  following.unsubscribe();
  t.false(opened[1]!.observed, 'unsubscribing stops following');
  opened[1]!.error(new Error('after the end'));
  t.is(failures.length, 1);
});

test('a repair delay beyond Node\'s timer limit (a doubled backoff of 596h) is waited for in steps, never fired after 1 ms', async (t) => {
  const fired: string[] = [];
  // Node fires setTimeout(fn, 2 ** 31) after 1 ms: the 30 ms marker fires first only if the long delay is kept.
  const long = afterDelay(2 * 596 * 3_600_000, () => fired.push('doubled backoff'));
  const huge = afterDelay(Number.POSITIVE_INFINITY, () => fired.push('infinite'));
  await new Promise<void>((resolve) => afterDelay(30, resolve));
  t.deepEqual(fired, []);
  long.clear();
  huge.clear();
  // Steps of at most `stepMs`, as many as the delay needs, and one call at the end.
  const stepped: number[] = [];
  const began = performance.now();
  await new Promise<void>((resolve) => afterDelay(45, () => resolve(void stepped.push(performance.now() - began)), 10));
  t.is(stepped.length, 1);
  t.true(stepped[0]! >= 44, `fired after ${stepped[0]} ms`);
});
