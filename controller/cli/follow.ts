// Long-running commands (monitor, status -w): follow a stream until the user interrupts.
import { concatMap, fromEvent, lastValueFrom, takeUntil, type Observable } from 'rxjs';
import type { Context } from './command.ts';

/**
 * Handles each event in order; resolves on interrupt (SIGINT/SIGTERM), rejects if the stream or a handler fails.
 * Once the stream is live (its `ready`), says so at debug level on stderr: scripts can wait for that line.
 */
export async function followUntilInterrupted<T>(
  context: Context,
  events: Observable<T>,
  handle: (event: T) => unknown,
  ready?: () => Promise<void>,
): Promise<void> {
  // Interrupting is how following ends: normally, exit 0.
  context.endsOnInterrupt();
  if (ready && context.global.logLevel === 'debug') {
    // After the subscription below is made (a microtask later): ready() refers to that subscription.
    queueMicrotask(() => void ready().then(async () => (await context.log()).debug('subscribed: following changes'), () => undefined));
  }
  await lastValueFrom(
    events.pipe(
      takeUntil(fromEvent(context.interrupted, 'abort')),
      concatMap(async (event) => handle(event)),
    ),
    { defaultValue: undefined },
  );
}
