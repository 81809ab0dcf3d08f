// A stream the daemon must never stop following: a failure is reported and the stream followed again.
import { Subscription, type Observable } from 'rxjs';

export interface FollowOptions<T> {
  readonly next: (value: T) => void;
  /** The stream failed; it is followed again after `retryMs`. */
  readonly failed: (error: unknown, retryMs: number) => void;
  /** Followed again after a failure: what happened meanwhile went unseen. */
  readonly resumed?: () => void;
  readonly retryMs: number;
}

/** Follows `open()` until unsubscribed, opening it again `retryMs` after each failure. */
export function followForGood<T>(open: () => Observable<T>, options: FollowOptions<T>): Subscription {
  let current: Subscription | undefined;
  let retry: NodeJS.Timeout | undefined;
  const following = new Subscription(() => {
    clearTimeout(retry);
    current?.unsubscribe();
  });
  const follow = (again: boolean) => {
    current = open().subscribe({
      next: options.next,
      error: (error: unknown) => {
        if (following.closed) return;
        options.failed(error, options.retryMs);
        retry = setTimeout(() => follow(true), options.retryMs);
      },
    });
    if (again) options.resumed?.();
  };
  follow(false);
  return following;
}
