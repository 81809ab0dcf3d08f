// awaitJob's edges: a stream that fails at once, and interruptions, end the wait with their error.
import test from 'ava';
import { NEVER, of, throwError } from 'rxjs';
import { awaitJob } from '../../controller/bus/jobs.ts';

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
