// Which nodes are online right now, kept current from BlueChi's Status signals, with a way to wait for one.
import type { Subscription } from 'rxjs';
import type { BlueChi } from '../bluechi/client.ts';
import { MAX_TIMER_MS } from '../timers.ts';
import type { NodeName } from '../unit-names.ts';

export interface NodeBoard {
  isOnline(node: NodeName): boolean;
  /** Calls `listener` when `node` goes offline; returns the function that stops listening. */
  onOffline(node: NodeName, listener: () => void): () => void;
  /** Resolves true when `node` is online (at once if it is), false when `signal` aborts or `maxWaitMs` passes. */
  whenOnline(node: NodeName, signal: AbortSignal, maxWaitMs?: number): Promise<boolean>;
  /** Corrects a node's status from a read rather than a signal. */
  set(node: NodeName, online: boolean): void;
  /** A node's status from a read made after subscribing: a signal seen meanwhile is newer and wins. */
  seed(node: NodeName, online: boolean): void;
  close(): void;
}

/** Subscribe before observing, so no status change between the read and the subscription is lost. */
export function watchNodeStatus(client: BlueChi): NodeBoard {
  const online = new Map<string, boolean>();
  const listeners = new Map<string, Set<(online: boolean) => void>>();
  const set = (node: string, value: boolean) => {
    if (online.get(node) === value) return;
    online.set(node, value);
    for (const listener of [...(listeners.get(node) ?? [])]) listener(value);
  };
  // Once the status stream fails nothing would ever say a node is back: every wait gives up, now and later.
  let broken = false;
  const giveUp = new Set<() => void>();
  const subscription: Subscription = client.nodeStatus$().subscribe({
    next: ({ node, status }) => set(node, status === 'online'),
    error: () => {
      broken = true;
      for (const end of [...giveUp]) end();
    },
  });
  const listen = (node: string, listener: (online: boolean) => void) => {
    const set = listeners.get(node) ?? new Set();
    set.add(listener);
    listeners.set(node, set);
    return () => set.delete(listener);
  };
  return {
    isOnline: (node) => online.get(node) === true,
    set,
    seed: (node, value) => online.has(node) || set(node, value),
    onOffline: (node, listener) => listen(node, (value) => value || listener()),
    whenOnline(node, signal, maxWaitMs) {
      if (online.get(node) === true) return Promise.resolve(true);
      if (signal.aborted || maxWaitMs === 0 || broken) return Promise.resolve(false);
      return new Promise((resolve) => {
        const done = (value: boolean) => {
          stop();
          clearTimeout(timer);
          signal.removeEventListener('abort', onAbort);
          giveUp.delete(onAbort);
          resolve(value);
        };
        const onAbort = () => done(false);
        const stop = listen(node, (value) => value && done(true));
        const timer = maxWaitMs === undefined ? undefined : setTimeout(() => done(false), Math.min(maxWaitMs, MAX_TIMER_MS));
        signal.addEventListener('abort', onAbort);
        giveUp.add(onAbort);
      });
    },
    close: () => subscription.unsubscribe(),
  };
}
