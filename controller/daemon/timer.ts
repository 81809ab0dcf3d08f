// A timer for any delay: Node fires one set beyond 2^31-1 ms after 1 ms, so a longer wait is taken in steps.

import { MAX_TIMER_MS } from '../timers.ts';

export interface Timer {
  clear(): void;
}

/** Calls `fire` once after `ms` (rounded up to steps of at most `stepMs`); never, for an infinite delay. */
export function afterDelay(ms: number, fire: () => void, stepMs = MAX_TIMER_MS): Timer {
  let handle: NodeJS.Timeout | undefined;
  let cleared = false;
  const wait = (left: number) => {
    if (cleared || !(left < Number.POSITIVE_INFINITY)) return;
    const step = Math.min(Math.max(left, 0), stepMs);
    handle = setTimeout(() => (left > step ? wait(left - step) : fire()), step);
  };
  wait(ms);
  return {
    clear() {
      cleared = true;
      clearTimeout(handle);
    },
  };
}
