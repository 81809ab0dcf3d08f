// Long-running commands (monitor, status -w): follow a stream until the user interrupts.
import { concatMap, fromEvent, lastValueFrom, takeUntil, tap, type Observable } from 'rxjs';
import type { Writable } from 'node:stream';
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
  await lastValueFrom(following(context, events, ready).pipe(concatMap(async (event) => handle(event))), { defaultValue: undefined });
}

/**
 * As followUntilInterrupted, for a handler that only prints: `line` gives each event's text (undefined: nothing), and
 * the lines of one event-loop turn go to stdout in one write — a burst of signals read at once costs one write,
 * not one per line. What is gathered is written before this resolves or rejects, so the output is the same.
 */
export async function followLinesUntilInterrupted<T>(
  context: Context,
  events: Observable<T>,
  line: (event: T) => string | undefined,
  ready?: () => Promise<void>,
): Promise<void> {
  const output = perTurn(context.stdout);
  try {
    await lastValueFrom(
      following(context, events, ready).pipe(
        tap((event) => {
          const text = line(event);
          if (text !== undefined) output.write(text.endsWith('\n') ? text : `${text}\n`);
        }),
      ),
      { defaultValue: undefined },
    );
  } finally {
    output.flush();
  }
}

/** Text written to `stream` once per event-loop turn (at its check phase), or at once by `flush`. */
export function perTurn(stream: Writable): { write(text: string): void; flush(): void } {
  let pending = '';
  let scheduled: NodeJS.Immediate | undefined;
  const flush = () => {
    clearImmediate(scheduled);
    scheduled = undefined;
    if (pending === '') return;
    const text = pending;
    pending = '';
    stream.write(text);
  };
  return {
    write(text) {
      pending += text;
      scheduled ??= setImmediate(flush);
    },
    flush,
  };
}

/** `events` until the first interrupt, which is how following ends: normally, exit 0. */
function following<T>(context: Context, events: Observable<T>, ready?: () => Promise<void>): Observable<T> {
  context.endsOnInterrupt();
  if (ready && context.global.logLevel === 'debug') {
    // After the subscription the caller makes (a microtask later): ready() refers to that subscription.
    queueMicrotask(() => void ready().then(async () => (await context.log()).debug('subscribed: following changes'), () => undefined));
  }
  return events.pipe(takeUntil(fromEvent(context.interrupted, 'abort')));
}
