// What the controller's integration suite runs against: a real bluechi-controller when
// QM_TEST_BLUECHI_ADDRESS and QM_TEST_BLUECHI_NODES say where, else the stand-in on a private bus.
import type { Bus } from '../../controller/bus/connection.ts';
import { startPrivateBus, type PrivateBus } from './dbus-daemon.ts';
import { MONITOR_PATH_PREFIX } from '../standin/api.ts';
import { startStandin, type Standin } from '../standin/index.ts';

export interface BlueChiTarget {
  readonly mode: 'real' | 'standin';
  /** The D-Bus address qmctl is given. */
  readonly address: string;
  /** Nodes that are online, each with `unit` installed. */
  readonly nodes: readonly string[];
  /** A unit that is safe to start and stop on every node. */
  readonly unit: string;
  stop(): Promise<void>;
}

export const realBlueChi = {
  address: process.env.QM_TEST_BLUECHI_ADDRESS,
  nodes: process.env.QM_TEST_BLUECHI_NODES?.split(',').filter(Boolean),
  unit: process.env.QM_TEST_BLUECHI_UNIT || 'qm-test.service',
};

export const REAL_MODE_TITLE = 'against a real bluechi-controller (set QM_TEST_BLUECHI_ADDRESS and QM_TEST_BLUECHI_NODES)';

export function hasRealBlueChi(): boolean {
  return Boolean(realBlueChi.address && realBlueChi.nodes && realBlueChi.nodes.length > 0);
}

export interface StandinTarget extends BlueChiTarget {
  readonly standin: Standin;
  readonly bus: PrivateBus;
}

/** The stand-in with `nodes` online, each holding `unit`, `other.service` and `extraUnits`, jobs taking `latencyMs`. */
export async function standinTarget(
  nodes: readonly string[] = ['node1', 'node2', 'qm.node1'],
  latencyMs = 20,
  extraUnits: readonly string[] = [],
): Promise<StandinTarget> {
  const bus = await startPrivateBus();
  const unit = 'qm-test.service';
  try {
    const standin = await startStandin({
      address: bus.address,
      nodes: nodes.map((name) => ({
        name,
        jobLatencyMs: latencyMs,
        units: [
          { name: unit, description: 'qm integration test unit', canReload: true },
          { name: 'other.service', description: 'another unit' },
          ...extraUnits.map((name) => ({ name })),
        ],
      })),
    });
    return {
      mode: 'standin',
      address: bus.address,
      nodes,
      unit,
      standin,
      bus,
      async stop() {
        await standin.stop();
        await bus.stop();
      },
    };
  } catch (error) {
    await bus.stop();
    throw error;
  }
}

export async function blueChiTarget(): Promise<BlueChiTarget> {
  if (!hasRealBlueChi()) return standinTarget();
  return {
    mode: 'real',
    address: realBlueChi.address!,
    nodes: realBlueChi.nodes!,
    unit: realBlueChi.unit,
    stop: async () => undefined,
  };
}

/** The paths of the monitors the controller on `bus` has open, as its introspection of the monitor root lists them. */
export async function monitorPaths(bus: Bus): Promise<string[]> {
  const [xml] = await bus.call({
    destination: 'org.eclipse.bluechi',
    path: MONITOR_PATH_PREFIX,
    interface: 'org.freedesktop.DBus.Introspectable',
    member: 'Introspect',
  });
  return [...(xml as string).matchAll(/<node name="([^"]+)"/g)].map((match) => `${MONITOR_PATH_PREFIX}/${match[1]}`);
}
