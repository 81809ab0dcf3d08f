// bluechi-is-online's decision (upstream src/is-online/is-online.c, run_is_online): is the system, a node or the
// agent online, optionally waiting for it to come online and then following it until it goes offline.
import { Subscription, type Observable } from 'rxjs';

/** is_online(): a Status of `online` (node, agent) or `up` (system) is online; anything else, or no service, is not. */
export function isOnlineStatus(status: string): boolean {
  return status === 'online' || status === 'up';
}

export interface IsOnlineOptions {
  /** --wait: how long to wait for an offline subject to come online; 0 does not wait. */
  readonly waitMs: number;
  /** --monitor: once online, keep following until it goes offline. */
  readonly monitor: boolean;
  /** Ends the following (Ctrl-C); the answer is then the state at that moment, as upstream's shutdown handler gives. */
  readonly signal: AbortSignal;
  /** Each status after the first, as it arrives. */
  readonly onChange?: (status: string) => void;
  /** It follows from here: any later change is seen. */
  readonly onFollow?: () => void;
}

export interface IsOnlineAnswer {
  readonly online: boolean;
  /** The last status seen; '' when the service is not on the bus. */
  readonly status: string;
}

/**
 * `statuses` emits the subject's status now, then at every change. Follows it only when upstream does: with
 * --monitor while online (until offline), with --wait while offline (until online, or the wait is over; with
 * --monitor too, an online subject is then followed past the wait).
 */
export function isOnline(statuses: Observable<string>, options: IsOnlineOptions): Promise<IsOnlineAnswer> {
  return new Promise((resolve, reject) => {
    let status: string | undefined;
    let timer: NodeJS.Timeout | undefined;
    let ended = false;
    // Made before subscribing: a status that ends it at once arrives inside subscribe(); adding to it then unsubscribes.
    const subscription = new Subscription();
    const end = () => {
      if (ended) return;
      ended = true;
      clearTimeout(timer);
      options.signal.removeEventListener('abort', end);
      subscription.unsubscribe();
      resolve({ online: isOnlineStatus(status ?? ''), status: status ?? '' });
    };
    const online = () => isOnlineStatus(status ?? '');
    subscription.add(statuses.subscribe({
      next(next) {
        const first = status === undefined;
        status = next;
        if (first) {
          const follow = (options.monitor && online()) || (options.waitMs > 0 && !online());
          if (!follow) return end();
          // timer_callback: at the end of the wait, stay only if online and monitoring.
          if (options.waitMs > 0) timer = setTimeout(() => (online() && options.monitor ? undefined : end()), options.waitMs);
          options.onFollow?.();
          return;
        }
        options.onChange?.(next);
        // handle_connection_state_changed: monitoring ends at offline; waiting alone ends at online.
        if ((options.monitor && !online()) || (!options.monitor && options.waitMs > 0 && online())) end();
      },
      error(error: unknown) {
        if (ended) return;
        ended = true;
        clearTimeout(timer);
        options.signal.removeEventListener('abort', end);
        reject(error);
      },
      complete: end,
    }));
    if (ended) return;
    if (options.signal.aborted) end();
    else options.signal.addEventListener('abort', end);
  });
}
