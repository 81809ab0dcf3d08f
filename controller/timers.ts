// What Node's timers can do, for every layer that sets one (bus, daemon, CLI, layout validation).

/** The longest delay one Node timer can wait: setTimeout fires at once for a longer one (it is a signed 32-bit count of milliseconds). */
export const MAX_TIMER_MS = 2 ** 31 - 1;
