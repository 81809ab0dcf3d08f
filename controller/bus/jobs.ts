// Waiting for a systemd-style job: listen for its end *before* submitting it, so a fast job is never missed.
// Every wait on one stream of ends shares one subscription, which hands each end to the wait for its job path:
// N concurrent jobs cost O(N), not one decode and one look per job per end.
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

/** One wait as its router sees it: where it began among the ends, and how it ends. */
interface Waiter {
  /** Count of ends the router had seen when this wait began: earlier ends cannot be its job's. */
  readonly since: number;
  resolve(end: JobEnd): void;
  reject(error: unknown): void;
}

/** Ends for waits whose job path is not known yet (before the submit's reply), and the waits for known paths. */
interface Router {
  /** Waits subscribed but not yet told their job path, in the order they began. */
  readonly submitting: Set<Waiter>;
  readonly byJob: Map<string, Waiter[]>;
  /** Ends seen while a wait was submitting, in arrival order, with their arrival count. */
  readonly early: Map<string, { readonly end: JobEnd; readonly seen: number }>;
  seen: number;
  subscription: Subscription | undefined;
}

/** One router per stream of ends (a BlueChi or systemd client's JobRemoved), kept while that stream lives. */
const routers = new WeakMap<Observable<JobEnd>, Router>();

function routerFor(ends: Observable<JobEnd>): Router {
  let router = routers.get(ends);
  if (!router) {
    router = { submitting: new Set(), byJob: new Map(), early: new Map(), seen: 0, subscription: undefined };
    routers.set(ends, router);
  }
  return router;
}

/** Subscribes the router to its stream when it is not yet: before the first wait's submit, as awaitJob promises. */
function listen(ends: Observable<JobEnd>, router: Router): void {
  if (router.subscription) return;
  const subscription = new Subscription();
  router.subscription = subscription;
  subscription.add(
    ends.subscribe({
      next: (end) => {
        router.seen += 1;
        const waiting = router.byJob.get(end.job);
        if (waiting) {
          router.byJob.delete(end.job);
          for (const waiter of waiting) waiter.resolve(end);
        }
        // Kept for a submitting wait, whose reply (with this path) may still come; re-set so it moves to the end.
        if (router.submitting.size > 0) {
          router.early.delete(end.job);
          router.early.set(end.job, { end, seen: router.seen });
        }
      },
      // A failing stream fails every wait on it, as each one's own subscription did; the next wait subscribes anew.
      error: (error: unknown) => {
        if (router.subscription === subscription) router.subscription = undefined;
        const all = [...router.submitting, ...[...router.byJob.values()].flat()];
        for (const waiter of all) waiter.reject(error);
      },
      complete: () => {
        if (router.subscription === subscription) router.subscription = undefined;
      },
    }),
  );
}

/** Forgets early ends no submitting wait can want: those seen before the oldest submitting wait began. */
function trimEarly(router: Router): void {
  const oldest = router.submitting.values().next();
  if (oldest.done) return router.early.clear();
  for (const [job, { seen }] of router.early) {
    if (seen > oldest.value.since) break;
    router.early.delete(job);
  }
}

/** Drops a wait; the last one to go unsubscribes the router (its match rule goes with it). */
function leave(router: Router, waiter: Waiter, job: string | undefined): void {
  if (router.submitting.delete(waiter)) trimEarly(router);
  if (job !== undefined) {
    const waiting = router.byJob.get(job);
    const index = waiting?.indexOf(waiter) ?? -1;
    if (index >= 0) waiting!.splice(index, 1);
    if (waiting?.length === 0) router.byJob.delete(job);
  }
  if (router.submitting.size === 0 && router.byJob.size === 0) {
    const subscription = router.subscription;
    router.subscription = undefined;
    subscription?.unsubscribe();
  }
}

/**
 * Subscribes to `ends`, calls `submit` (which returns the job's object path), and resolves with the
 * job's end. Rejects with a timeout QmError naming the node and unit when the job outlives `timeoutMs`.
 * Waits given the same `ends` share one subscription to it.
 */
export function awaitJob(
  ends: Observable<JobEnd>,
  submit: () => Promise<string>,
  context: JobContext,
  /** Errors that end the wait early: the job's node going offline, the controller leaving the bus. */
  interruptions: Observable<Error> = EMPTY,
): Promise<JobEnd> {
  return new Promise<JobEnd>((resolve, reject) => {
    const router = routerFor(ends);
    let wanted: string | undefined;
    let timer: NodeJS.Timeout | undefined;
    let finished = false;
    // Made before subscribing: a stream that fails at once (an already-aborted signal) ends the wait inside subscribe().
    const interrupting = new Subscription();
    const finish = (settle: () => void) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      interrupting.unsubscribe();
      leave(router, waiter, wanted);
      settle();
    };
    const waiter: Waiter = {
      since: router.seen,
      resolve: (end) => finish(() => resolve(end)),
      reject: (error) => finish(() => reject(error)),
    };
    router.submitting.add(waiter);
    listen(ends, router);
    if (!finished) interrupting.add(interruptions.subscribe((error) => waiter.reject(error)));
    submit().then(
      (job) => {
        if (finished) return; // the wait already ended (its ends stream failed): arm no timer
        const already = router.early.get(job);
        router.submitting.delete(waiter);
        trimEarly(router);
        if (already && already.seen > waiter.since) return waiter.resolve(already.end);
        wanted = job;
        const waiting = router.byJob.get(job);
        if (waiting) waiting.push(waiter);
        else router.byJob.set(job, [waiter]);
        timer = setTimeout(() => {
          const where = context.node ? ` on node ${context.node}` : '';
          waiter.reject(
            new QmError('timeout', `${context.operation} of ${context.unit}${where} did not finish within ${context.timeoutMs} ms (job ${job})`, {
              node: context.node,
              unit: context.unit,
            }),
          );
        }, context.timeoutMs);
      },
      (error: unknown) => waiter.reject(error),
    );
  });
}

/** A result string as a JobResult; BlueChi's "cancelled due to shutdown" counts as canceled, anything unknown as failed. */
export function asJobResult(value: string): JobResult {
  if ((JOB_RESULTS as readonly string[]).includes(value)) return value as JobResult;
  return value.startsWith('cancel') ? 'canceled' : 'failed';
}
