// Long-running commands (monitor, status -w): follow a stream until the user interrupts.
import { concatMap, fromEvent, lastValueFrom, takeUntil, type Observable } from 'rxjs';
import type { Context } from './command.ts';

/** Handles each event in order; resolves on interrupt (SIGINT/SIGTERM), rejects if the stream or a handler fails. */
export async function followUntilInterrupted<T>(context: Context, events: Observable<T>, handle: (event: T) => unknown): Promise<void> {
  await lastValueFrom(
    events.pipe(
      takeUntil(fromEvent(context.interrupted, 'abort')),
      concatMap(async (event) => handle(event)),
    ),
    { defaultValue: undefined },
  );
}
