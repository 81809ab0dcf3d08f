// One run at a time: a trigger while a run is going joins the single follow-up run, which starts when the
// current one ends. Triggers coalesce (level-triggered: the follow-up sees everything that happened), never interleave.
export interface SerialRunner<T> {
  /** Starts a run now if none is going, else resolves with the follow-up run's result. */
  trigger(): Promise<T>;
  readonly running: boolean;
  /** Resolves when no run is going and none is queued. */
  idle(): Promise<void>;
}

export function serialRunner<T>(run: () => Promise<T>): SerialRunner<T> {
  let running = false;
  let followers: Array<{ resolve: (value: T) => void; reject: (error: unknown) => void }> | undefined;
  let idleWaiters: Array<() => void> = [];

  const start = (): Promise<T> => {
    running = true;
    const current = (async () => run())();
    // Bookkeeping in one synchronous callback: no moment in which a trigger could start a second run.
    const after = () => {
      running = false;
      const waiting = followers;
      followers = undefined;
      if (waiting) {
        start().then(
          (value) => waiting.forEach((follower) => follower.resolve(value)),
          (error: unknown) => waiting.forEach((follower) => follower.reject(error)),
        );
        return;
      }
      const idle = idleWaiters;
      idleWaiters = [];
      idle.forEach((resolve) => resolve());
    };
    current.then(after, after);
    return current;
  };

  return {
    trigger() {
      if (!running) return start();
      return new Promise<T>((resolve, reject) => (followers ??= []).push({ resolve, reject }));
    },
    get running() {
      return running;
    },
    idle() {
      if (!running) return Promise.resolve();
      return new Promise((resolve) => idleWaiters.push(resolve));
    },
  };
}
