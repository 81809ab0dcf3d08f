// Durations given on the command line in seconds, as milliseconds a timer can wait for.
import { MAX_TIMER_MS } from '../timers.ts';

/** 2147483 s, about 24.8 days. */
export const MAX_SECONDS = Math.floor(MAX_TIMER_MS / 1000);

/**
 * `--option SECONDS` as milliseconds: a number > 0 (≥ 0 with `zero`) up to MAX_SECONDS; otherwise the message
 * that says what the option takes.
 */
export function secondsOption(option: string, value: string, { zero = false }: { zero?: boolean } = {}): { ms: number } | { error: string } {
  const seconds = value.trim() === '' ? Number.NaN : Number(value);
  if (Number.isFinite(seconds) && (zero ? seconds >= 0 : seconds > 0) && seconds <= MAX_SECONDS) return { ms: Math.max(zero ? 0 : 1, Math.round(seconds * 1000)) };
  return {
    error: `--${option} takes a number of seconds ${zero ? '≥ 0' : '> 0'} up to ${MAX_SECONDS} (about 24.8 days, the longest a timer can wait), not ${JSON.stringify(value)}`,
  };
}
