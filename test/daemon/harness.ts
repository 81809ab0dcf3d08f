// A vehicle for daemon tests: a private dbus-daemon, the BlueChi stand-in, a layout directory, and
// qm-controller's loop running in-process against them, with its log kept for assertions.
import type { ExecutionContext } from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { startDaemon, type Daemon, type DaemonLog } from '../../controller/daemon/daemon.ts';
import { loadLayout } from '../../controller/layout/index.ts';
import { startPrivateBus, type PrivateBus } from '../support/dbus-daemon.ts';
import { startStandin, type Standin, type StandinNodeOptions } from '../standin/index.ts';
import { type Backend, nodesOn } from '../standin/real-nodes.ts';

export { realNodes } from '../standin/real-nodes.ts';

export interface Vehicle {
  readonly bus: PrivateBus;
  readonly standin: Standin;
  /** The layout directory. */
  readonly dir: string;
  writeLayout(text: string): Promise<void>;
}

export interface DaemonVehicle extends Vehicle {
  readonly daemon: Daemon;
  /** Log lines as `level: message`, in order. */
  readonly log: string[];
}

export async function layoutDir(text: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'qm-daemon-layout-'));
  await writeFile(join(dir, 'layout.yaml'), text);
  return dir;
}

/**
 * The stand-in on a private bus with `nodes` and their units as declared, backed by this file's real systemd nodes
 * (realNodes, booted in test.before) unless `backend` is 'memory' — for tests whose point is fault injection or
 * timing — and a layout directory holding `layout`. All of it is gone after the test.
 */
export async function startVehicle(
  t: ExecutionContext,
  nodes: readonly StandinNodeOptions[],
  layout: string,
  { backend = 'systemd' }: { backend?: Backend } = {},
): Promise<Vehicle> {
  const cleanups: Array<() => Promise<void> | void> = [];
  t.teardown(async () => {
    for (const cleanup of cleanups.reverse()) await Promise.resolve(cleanup()).catch(() => undefined);
  });
  const bus = await startPrivateBus();
  cleanups.push(() => bus.stop());
  const lent = await nodesOn(backend, nodes);
  cleanups.push(() => lent.release());
  const standin = await startStandin({ address: bus.address, nodes: lent.nodes });
  cleanups.push(() => standin.stop());
  const dir = await layoutDir(layout);
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return { bus, standin, dir, writeLayout: (text) => writeFile(join(dir, 'layout.yaml'), text) };
}

/** startVehicle with qm-controller's loop running in-process on it, ready; stopped after the test, before the vehicle goes. */
export async function startDaemonVehicle(
  t: ExecutionContext,
  nodes: readonly StandinNodeOptions[],
  layout: string,
  options: { backend?: Backend } = {},
): Promise<DaemonVehicle> {
  const vehicle = await startVehicle(t, nodes, layout, options);
  const { daemon, log } = await startTestDaemon(vehicle.bus.address, vehicle.dir);
  // AVA runs teardowns in reverse: this one before the vehicle's.
  t.teardown(() => daemon.stop().catch(() => undefined));
  await daemon.ready;
  return { ...vehicle, daemon, log };
}

/**
 * The test's nodes for a stand-in it starts itself: lent from this file's real systemd nodes until the test's end
 * (call it before registering the stand-in's teardown), or in memory.
 */
export async function testNodes(t: ExecutionContext, nodes: readonly StandinNodeOptions[], { backend = 'systemd' }: { backend?: Backend } = {}): Promise<StandinNodeOptions[]> {
  const lent = await nodesOn(backend, nodes);
  t.teardown(() => lent.release());
  return lent.nodes;
}

/**
 * qm-controller's loop in-process on `busAddress` with the layout in `dir`, quick to reconnect. Its log is
 * kept as `level: message` lines, or goes to `sink` (a bench that must not grow a log in memory).
 */
export async function startTestDaemon(busAddress: string, dir: string, sink?: DaemonLog): Promise<{ daemon: Daemon; log: string[] }> {
  const loaded = await loadLayout([dir]);
  if (!loaded.ok) throw new Error(loaded.errors.map((error) => error.message).join('\n'));
  const log: string[] = [];
  const line = (level: string) => (message: string) => void log.push(`${level}: ${message}`);
  const daemon = startDaemon({
    busAddress,
    layout: loaded.layout,
    layoutPaths: [dir],
    log: sink ?? { error: line('error'), warn: line('warn'), info: line('info'), debug: line('debug') },
    jobTimeoutMs: 10_000,
    reconnect: { initialMs: 20, maxMs: 200 },
  });
  return { daemon, log };
}

/** Polls `check` until it holds; fails the test with `what` after `timeoutMs`. */
export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await delay(20);
  }
}

/** StartUnit calls the node accepted, for one unit. */
export const starts = (standin: Standin, node: string, unit: string): number =>
  standin.calls(node).filter((call) => call.method === 'StartUnit' && call.online && call.unit === unit).length;
