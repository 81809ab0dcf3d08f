// A vehicle for integration tests: a private dbus-daemon, the BlueChi stand-in on it, and a client of ours.
import type { ExecutionContext } from 'ava';
import { blueChi, type BlueChi } from '../../controller/bluechi/client.ts';
import { connectBus, type Bus } from '../../controller/bus/connection.ts';
import { startPrivateBus, type PrivateBus } from '../support/dbus-daemon.ts';
import { startStandin, type Standin, type StandinNodeOptions } from '../standin/index.ts';
import { type Backend, nodesOn } from '../standin/real-nodes.ts';

export { realNodes } from '../standin/real-nodes.ts';

export interface TestVehicle {
  readonly bus: PrivateBus;
  readonly standin: Standin;
  readonly client: BlueChi;
  readonly connection: Bus;
}

/**
 * The stand-in with `nodes` and their units as declared, backed by this file's real systemd nodes (realNodes, booted
 * in test.before) unless `backend` is 'memory' — for tests whose point is fault injection or timing.
 */
export async function startVehicle(
  t: ExecutionContext,
  nodes: readonly StandinNodeOptions[],
  { backend = 'systemd' }: { backend?: Backend } = {},
): Promise<TestVehicle> {
  const bus = await startPrivateBus();
  const cleanups: Array<() => Promise<void> | void> = [() => bus.stop()];
  t.teardown(async () => {
    for (const cleanup of cleanups.reverse()) await Promise.resolve(cleanup()).catch(() => undefined);
  });
  const lent = await nodesOn(backend, nodes);
  cleanups.push(() => lent.release());
  const standin = await startStandin({ address: bus.address, nodes: lent.nodes });
  cleanups.push(() => standin.stop());
  const connection = await connectBus(bus.address);
  cleanups.push(() => connection.close());
  return { bus, standin, connection, client: blueChi(connection, { jobTimeoutMs: 10_000 }) };
}

/** `count` units named `prefix-N.service`, inactive and disabled. */
export const units = (prefix: string, count: number) => Array.from({ length: count }, (_, index) => ({ name: `${prefix}-${index}.service` }));

/** StartUnit calls the node accepted (not refused as offline), per unit. */
export function acceptedStarts(standin: Standin, node: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const call of standin.calls(node)) {
    if (call.method === 'StartUnit' && call.online) counts.set(call.unit!, (counts.get(call.unit!) ?? 0) + 1);
  }
  return counts;
}
