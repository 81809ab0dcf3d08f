// Watching the host's agent configuration without systemd: fs.watch on the BlueChi directory and its
// agent.conf.d (re-armed when that directory appears or goes), debounced. Production uses the path unit.
import { watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { AGENT_CONF_D } from './keys.ts';

export interface WatchOptions {
  /** Quiet time after the last event before `onChange` runs (editors write in several steps). */
  readonly debounceMs?: number;
  readonly signal?: AbortSignal;
  /** Called when a watch cannot be set up or fails; the watch goes on where it can. */
  readonly onError?: (error: Error) => void;
  /** Run `onChange` once right after the watch is in place: no change between that run and the watch is missed. */
  readonly runAtStart?: boolean;
}

/**
 * Calls `onChange` after changes under `configDir` (agent.conf, agent.conf.d/*), one call at a time:
 * changes during a run lead to one more run afterwards. The watch is in place when this returns (inotify
 * watches are set up synchronously). Resolves when `signal` aborts.
 */
export function watchAgentConfig(configDir: string, onChange: () => Promise<void>, options: WatchOptions = {}): Promise<void> {
  const debounceMs = options.debounceMs ?? 200;
  const report = options.onError ?? (() => undefined);
  let timer: NodeJS.Timeout | undefined;
  let running = false;
  let pending = false;
  let dropIns: FSWatcher | undefined;

  const run = async () => {
    if (running) {
      pending = true;
      return;
    }
    running = true;
    try {
      await onChange();
    } catch (error) {
      report(error as Error);
    } finally {
      running = false;
      if (pending && !options.signal?.aborted) {
        pending = false;
        schedule();
      }
    }
  };
  const schedule = () => {
    clearTimeout(timer);
    timer = setTimeout(() => void run(), debounceMs);
  };
  const armDropIns = () => {
    dropIns?.close();
    dropIns = undefined;
    try {
      dropIns = watch(join(configDir, AGENT_CONF_D), schedule);
      dropIns.on('error', () => {
        dropIns?.close();
        dropIns = undefined;
        schedule();
      });
    } catch {
      // No agent.conf.d yet: the directory watch sees it appear.
    }
  };

  return new Promise((resolve) => {
    let top: FSWatcher;
    try {
      top = watch(configDir, (_event, name) => {
        if (name === null || name === AGENT_CONF_D) armDropIns();
        schedule();
      });
    } catch (error) {
      report(error as Error);
      resolve();
      return;
    }
    top.on('error', (error) => report(error));
    armDropIns();
    const stop = () => {
      clearTimeout(timer);
      top.close();
      dropIns?.close();
      resolve();
    };
    if (options.signal?.aborted) return stop();
    options.signal?.addEventListener('abort', stop, { once: true });
    if (options.runAtStart) void run();
  });
}
