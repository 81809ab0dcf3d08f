// Waiting for a systemd-style job: listen for its end *before* submitting it, so a fast job is never missed.
import { EMPTY, Subscription, type Observable } from 'rxjs';
import { QmError } from '../errors.ts';

/** systemd's job results, which BlueChi passes through unchanged. */
export const JOB_RESULTS = ['done', 'canceled', 'timeout', 'failed', 'dependency', 'skipped'] as const;
export type JobResult = (typeof JOB_RESULTS)[number];

export interface JobEnd {
  readonly id: number;
  readonly job: string;
  readonly unit: string;
  readonly result: JobResult;
}

export interface JobContext {
  readonly node?: string;
  readonly unit: string;
  readonly operation: string;
  readonly timeoutMs: number;
}

/**
 * Subscribes to `ends`, calls `submit` (which returns the job's object path), and resolves with the
 * job's end. Rejects with a timeout QmError naming the node and unit when the job outlives `timeoutMs`.
 */
export function awaitJob(
  ends: Observable<JobEnd>,
  submit: () => Promise<string>,
  context: JobContext,
  /** Errors that end the wait early: the job's node going offline, the controller leaving the bus. */
  interruptions: Observable<Error> = EMPTY,
): Promise<JobEnd> {
  return new Promise<JobEnd>((resolve, reject) => {
    const early = new Map<string, JobEnd>();
    let wanted: string | undefined;
    let timer: NodeJS.Timeout | undefined;
    let finished = false;
    // Made before subscribing: a stream that fails at once (an already-aborted signal) ends the wait inside subscribe().
    const subscription = new Subscription();
    const finish = (settle: () => void) => {
      finished = true;
      clearTimeout(timer);
      subscription.unsubscribe();
      settle();
    };
    subscription.add(
      ends.subscribe({
        next: (end) => {
          if (wanted === undefined) early.set(end.job, end);
          else if (end.job === wanted) finish(() => resolve(end));
        },
        error: (error: unknown) => finish(() => reject(error)),
      }),
    );
    subscription.add(interruptions.subscribe((error) => finish(() => reject(error))));
    submit().then(
      (job) => {
        if (finished) return; // the wait already ended (its ends stream failed): arm no timer
        const already = early.get(job);
        early.clear();
        if (already) return finish(() => resolve(already));
        wanted = job;
        timer = setTimeout(() => {
          const where = context.node ? ` on node ${context.node}` : '';
          finish(() =>
            reject(
              new QmError(
                'timeout',
                `${context.operation} of ${context.unit}${where} did not finish within ${context.timeoutMs} ms (job ${job})`,
                { node: context.node, unit: context.unit },
              ),
            ),
          );
        }, context.timeoutMs);
      },
      (error: unknown) => finish(() => reject(error)),
    );
  });
}

/** A result string as a JobResult; BlueChi's "cancelled due to shutdown" counts as canceled, anything unknown as failed. */
export function asJobResult(value: string): JobResult {
  if ((JOB_RESULTS as readonly string[]).includes(value)) return value as JobResult;
  return value.startsWith('cancel') ? 'canceled' : 'failed';
}
