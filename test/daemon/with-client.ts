// qm-controller's loop in-process over a BlueChi client a test wraps (to count its calls, or to add what real
// BlueChi does and the stand-in does not), on this file's real systemd nodes unless the test says memory.
import type { ExecutionContext } from 'ava';
import { rm } from 'node:fs/promises';
import type { blueChi, BlueChi } from '../../controller/bluechi/client.ts';
import { startDaemon, type Daemon } from '../../controller/daemon/daemon.ts';
import { loadLayout } from '../../controller/layout/index.ts';
import { startPrivateBus } from '../support/dbus-daemon.ts';
import type { Backend } from '../standin/real-nodes.ts';
import { startStandin, type Standin, type StandinNodeOptions } from '../standin/index.ts';
import { layoutDir, testNodes } from './harness.ts';

export interface WrappedDaemon {
  readonly standin: Standin;
  readonly daemon: Daemon;
  /** Log lines as `level: message`, in order. */
  readonly log: string[];
}

export async function startDaemonWith(
  t: ExecutionContext,
  nodes: readonly StandinNodeOptions[],
  layout: string,
  client: (...args: Parameters<typeof blueChi>) => BlueChi,
  { backend = 'systemd', before }: { backend?: Backend; before?: (standin: Standin) => Promise<void> } = {},
): Promise<WrappedDaemon> {
  const lent = await testNodes(t, nodes, { backend });
  const bus = await startPrivateBus();
  t.teardown(() => bus.stop());
  const standin = await startStandin({ address: bus.address, nodes: lent });
  t.teardown(() => standin.stop());
  await before?.(standin);
  const dir = await layoutDir(layout);
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const loaded = await loadLayout([dir]);
  if (!loaded.ok) throw new Error(loaded.errors.map((error) => error.message).join('\n'));
  const log: string[] = [];
  const line = (level: string) => (message: string) => void log.push(`${level}: ${message}`);
  const daemon = startDaemon({
    busAddress: bus.address,
    layout: loaded.layout,
    layoutPaths: [dir],
    log: { error: line('error'), warn: line('warn'), info: line('info'), debug: line('debug') },
    jobTimeoutMs: 10_000,
    reconnect: { initialMs: 20, maxMs: 200 },
    blueChi: client,
  });
  t.teardown(() => daemon.stop());
  await daemon.ready;
  return { standin, daemon, log };
}
