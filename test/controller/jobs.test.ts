// awaitJob's edges (a stream that fails at once, and interruptions, end the wait with their error) and its routing: waits on one
// stream share one subscription that hands each end to the wait for its job path.
import test from 'ava';
import { map, NEVER, Observable, of, Subject, throwError } from 'rxjs';
import { awaitJob, type JobEnd } from '../../controller/bus/jobs.ts';

const context = { node: 'n', unit: 'u.service', operation: 'start', timeoutMs: 60_000 };

test('a stream of job ends that fails at once rejects the wait with its error (it threw an uncaught ReferenceError)', async (t) => {
  let submitted = 0;
  const error = await t.throwsAsync(
    awaitJob(throwError(() => new Error('aborted before it began')), async () => (submitted++, '/job/1'), context),
  );
  t.is(error?.message, 'aborted before it began');
  t.is(submitted, 1, 'submit is still called once: the wait only decides what to listen for');
});

test('an interruption already there when the wait begins rejects it', async (t) => {
  const error = await t.throwsAsync(awaitJob(NEVER, async () => '/job/1', context, of(new Error('node went offline'))));
  t.is(error?.message, 'node went offline');
});

/** A stream of ends that counts its subscriptions and how often an end is decoded (once per subscriber before routing). */
function countedEnds() {
  const source = new Subject<JobEnd>();
  const counts = { subscriptions: 0, live: 0, decoded: 0 };
  const ends = new Observable<JobEnd>((subscriber) => {
    counts.subscriptions += 1;
    counts.live += 1;
    const inner = source.pipe(map((end) => (counts.decoded++, end))).subscribe(subscriber);
    return () => {
      counts.live -= 1;
      inner.unsubscribe();
    };
  });
  const end = (job: string, result: JobEnd['result'] = 'done'): void => source.next({ id: Number(job.split('/').pop()), job, unit: 'u.service', result });
  return { ends, counts, end, fail: (error: Error) => source.error(error) };
}

/** A submit whose reply (the job path) the test gives when it wants. */
function reply() {
  let give: (job: string) => void = () => undefined;
  const submitted = new Promise<string>((resolve) => (give = resolve));
  return { submit: () => submitted, give };
}

test('concurrent waits share one subscription, each end is decoded once and goes to the wait for its path', async (t) => {
  const { ends, counts, end } = countedEnds();
  const count = 500;
  const waits = Array.from({ length: count }, (_, index) => awaitJob(ends, async () => `/job/${index}`, context));
  await Promise.resolve();
  for (let index = count - 1; index >= 0; index--) end(`/job/${index}`, index % 2 ? 'done' : 'failed');
  const results = await Promise.all(waits);
  t.deepEqual(
    results.map((result) => [result.job, result.result]),
    Array.from({ length: count }, (_, index) => [`/job/${index}`, index % 2 ? 'done' : 'failed']),
  );
  t.is(counts.subscriptions, 1);
  t.is(counts.decoded, count, 'one decode per end, not one per end per wait');
  t.is(counts.live, 0, 'the last wait to end unsubscribes');
});

test('an end that comes before its submit replied is kept for it; one from before the wait began is not', async (t) => {
  const { ends, end } = countedEnds();
  const other = reply();
  const otherWait = awaitJob(ends, other.submit, context); // keeps the stream subscribed while the next wait begins
  end('/job/1', 'failed'); // before the next wait: not its end even though it gets that path
  const first = reply();
  const firstWait = awaitJob(ends, first.submit, context);
  end('/job/2', 'done'); // after it began, before its reply
  first.give('/job/2');
  t.is((await firstWait).result, 'done');
  const second = reply();
  const secondWait = awaitJob(ends, second.submit, { ...context, timeoutMs: 50 });
  second.give('/job/1');
  const timedOut = await t.throwsAsync(secondWait);
  t.regex(timedOut?.message ?? '', /did not finish within 50 ms \(job \/job\/1\)/);
  other.give('/job/3');
  await Promise.resolve();
  end('/job/3', 'canceled');
  t.is((await otherWait).result, 'canceled');
});

test('two waits given the same job path (systemd merged the jobs) both get its end', async (t) => {
  const { ends, end } = countedEnds();
  const waits = [awaitJob(ends, async () => '/job/7', context), awaitJob(ends, async () => '/job/7', context)];
  await new Promise((resolve) => setImmediate(resolve));
  end('/job/7', 'done');
  t.deepEqual(
    (await Promise.all(waits)).map((result) => result.job),
    ['/job/7', '/job/7'],
  );
});

test('a stream that fails fails every wait on it; the next wait subscribes again', async (t) => {
  const { ends, counts, fail } = countedEnds();
  const waits = [awaitJob(ends, async () => '/job/1', context), awaitJob(ends, () => new Promise<string>(() => undefined), context)];
  await Promise.resolve();
  fail(new Error('contract: JobRemoved with another signature'));
  for (const wait of waits) t.is((await t.throwsAsync(wait))?.message, 'contract: JobRemoved with another signature');
  const again = countedEnds();
  const next = awaitJob(again.ends, async () => '/job/2', context);
  await Promise.resolve();
  again.end('/job/2');
  t.is((await next).job, '/job/2');
  t.is(counts.live, 0);
});

test('an interrupted wait leaves the others waiting', async (t) => {
  const { ends, counts, end } = countedEnds();
  const interrupt = new Subject<Error>();
  const interrupted = awaitJob(ends, async () => '/job/1', context, interrupt);
  const waiting = awaitJob(ends, async () => '/job/2', context);
  await Promise.resolve();
  interrupt.next(new Error('node went offline'));
  t.is((await t.throwsAsync(interrupted))?.message, 'node went offline');
  t.is(counts.live, 1);
  end('/job/1');
  end('/job/2');
  t.is((await waiting).job, '/job/2');
  t.is(counts.live, 0);
});
