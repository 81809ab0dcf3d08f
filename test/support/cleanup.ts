// A safety net for test fixtures: whatever is still registered is cleaned up when the process exits or is
// signalled. It backs up, and never replaces, an explicit stop in `test.after.always`.
export interface Cleanup {
  /** For messages. */
  readonly label: string;
  /** The normal, asynchronous cleanup, run on SIGINT, SIGTERM and SIGHUP. */
  run(): Promise<void>;
  /** A synchronous last resort, run on process exit when the event loop can no longer wait for `run`. */
  runSync(): void;
}

const registered = new Set<Cleanup>();
const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
let onSignal: ((signal: NodeJS.Signals) => void) | undefined;

function onExit(): void {
  for (const cleanup of [...registered]) {
    registered.delete(cleanup);
    try {
      cleanup.runSync();
    } catch (error) {
      console.error(`cleanup of ${cleanup.label} at exit failed:`, error);
    }
  }
}

function install(): void {
  process.on('exit', onExit);
  onSignal = (signal) => {
    const pending = [...registered];
    registered.clear();
    void Promise.allSettled(pending.map((cleanup) => cleanup.run())).then((results) => {
      results.forEach((result, index) => {
        if (result.status === 'rejected') console.error(`cleanup of ${pending[index]?.label} failed:`, result.reason);
      });
      uninstall();
      // Behave as if we had not been listening: terminate by the signal unless someone else handles it.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    });
  };
  for (const signal of signals) process.on(signal, onSignal);
}

function uninstall(): void {
  process.off('exit', onExit);
  if (onSignal) for (const signal of signals) process.off(signal, onSignal);
  onSignal = undefined;
}

/** Registers `cleanup` until the returned function is called (typically at the end of a successful stop). */
export function registerCleanup(cleanup: Cleanup): () => void {
  if (registered.size === 0 && onSignal === undefined) install();
  registered.add(cleanup);
  return () => {
    registered.delete(cleanup);
    if (registered.size === 0) uninstall();
  };
}
