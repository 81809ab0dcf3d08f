// Real systemd 257 behind a test file's stand-in nodes: one vehicle node (test/support/vehicle-node.ts) per BlueChi
// node name, booted once per file and lent to one test at a time, with the units that test declares set up on it
// as declared (the files of unit-files.ts, their enablement, their state), whatever the tests before left behind.
//
//   const real = realNodes(['a', 'b']);
//   test.before(() => real.boot());
//   test.after.always(() => real.stop());
//   … const lent = await real.lend([{ name: 'a', units: [{ name: 'db.service', activeState: 'active' }] }]);
//   … startStandin({ address, nodes: lent.nodes }); … lent.release() after the stand-in stopped.
import type { StandinNodeOptions } from './index.ts';
import { bootVehicleNode, type VehicleNode } from '../support/vehicle-node.ts';
import type { UnitOptions } from './node-memory.ts';
import { BusSystemd } from './node-systemd.ts';
import { actOnNode } from './on-node.ts';
import { unitFileEntries, unitFilesOnDisk, writeUnitFiles } from './unit-files.ts';

interface RealNode {
  readonly vehicle: VehicleNode;
  /** The pool's own connection to the node's systemd, to set units up between tests. */
  readonly systemd: BusSystemd;
  /** Unit names the node's tests have declared so far: what a later test may find left over. */
  readonly seen: Set<string>;
}

export interface LentNodes {
  /** The test's node options, each backed by its real node (`systemd`), without in-memory settings. */
  readonly nodes: StandinNodeOptions[];
  release(): void;
}

export interface RealNodes {
  /** Boots every node at once; in test.before. */
  boot(): Promise<void>;
  /** Stops every node; in test.after.always. */
  stop(): Promise<void>;
  /** Waits for the nodes to be free, then sets up the declared units on them. */
  lend(nodes: readonly StandinNodeOptions[]): Promise<LentNodes>;
}

/** Where a test's stand-in nodes run: on this file's real systemd nodes (the default), or in memory. */
export type Backend = 'systemd' | 'memory';

let declared: RealNodes | undefined;

/** The test's nodes on `backend`: lent from this file's real nodes until released, or in memory as given. */
export async function nodesOn(backend: Backend, nodes: readonly StandinNodeOptions[]): Promise<LentNodes> {
  if (backend === 'memory') return { nodes: [...nodes], release: () => undefined };
  return fileRealNodes().lend(nodes);
}

/** This test file's real nodes, as realNodes() declared them. */
export function fileRealNodes(): RealNodes {
  if (!declared) throw new Error('no real systemd nodes in this test file: declare realNodes([...]) with test.before(boot) and test.after.always(stop)');
  return declared;
}

/** Real nodes for the BlueChi node names a test file uses; also this file's default (fileRealNodes). */
export function realNodes(names: readonly string[]): RealNodes {
  const vehicles = new Map<string, VehicleNode>();
  const booted = new Map<string, RealNode>();
  let queue: Promise<void> = Promise.resolve();

  const nodes: RealNodes = {
    async boot() {
      const boots = await Promise.allSettled(
        names.map(async (name) => {
          const vehicle = await bootVehicleNode({ name: name.replace(/[^a-z0-9-]/g, '-') });
          vehicles.set(name, vehicle);
          await vehicle.waitForSystemState('running');
          booted.set(name, { vehicle, systemd: await BusSystemd.connect(vehicle.systemBusAddress), seen: new Set() });
        }),
      );
      const failed = boots.find((result) => result.status === 'rejected');
      if (failed) throw (failed as PromiseRejectedResult).reason;
    },
    async stop() {
      await Promise.all([...booted.values()].map((node) => node.systemd.close().catch(() => undefined)));
      await Promise.all([...vehicles.values()].map((vehicle) => vehicle.stop()));
    },
    async lend(options) {
      let release!: () => void;
      const turn = queue;
      queue = new Promise((resolve) => (release = resolve));
      await turn;
      try {
        const lent = await Promise.all(
          options.map(async (node) => {
            const real = booted.get(node.name);
            if (!real) throw new Error(`no real node ${node.name} (this file's: ${names.join(', ')}); was boot() awaited in test.before?`);
            await setUp(real, node.units ?? []);
            const { units: _units, jobLatencyMs: _latency, ...rest } = node;
            return { ...rest, systemd: { address: real.vehicle.systemBusAddress, root: real.vehicle.root } };
          }),
        );
        return { nodes: lent, release };
      } catch (error) {
        release();
        throw error;
      }
    },
  };
  declared = nodes;
  return nodes;
}

/**
 * Brings the node to what `units` declare, over its systemd's D-Bus API: every unit an earlier test declared is
 * stopped and its failure reset, files and links are rewritten where they differ (with a daemon-reload where a unit
 * may hold an old file or what multi-user.target wants changes, so it is as after boot), and the units declared
 * active are started.
 */
async function setUp(node: RealNode, units: readonly UnitOptions[]): Promise<void> {
  for (const unit of units) {
    if (!['inactive', 'active', undefined].includes(unit.activeState)) {
      throw new Error(`${unit.name}: a real node's unit starts inactive or active, not ${unit.activeState}`);
    }
  }
  const { vehicle, systemd, seen } = node;
  const loaded = new Map((await systemd.listUnits()).map(([name, , , activeState, , , , job]) => [name, { activeState, job }]));
  const running = [...seen].filter((name) => {
    const unit = loaded.get(name);
    return unit !== undefined && (unit.job !== 0 || !['inactive', 'failed'].includes(unit.activeState));
  });
  await Promise.all(running.map((name) => actOnNode(systemd, name, 'stop')));
  await systemd.resetFailed();
  const wanted = new Map(units.map((unit) => [unit.name, unit]));
  let reload = false;
  for (const name of new Set([...seen, ...wanted.keys()])) {
    const unit = wanted.get(name);
    const want = unit ? unitFileEntries(unit) : [];
    const have = await unitFilesOnDisk(vehicle.root, name);
    if (JSON.stringify(want) === JSON.stringify(have)) continue;
    await writeUnitFiles(vehicle.root, name, unit);
    // A unit loaded before may hold its old file; wanted-ness changes only with a reload (a first mask needs none).
    const wants = (entries: typeof want) => JSON.stringify(entries.filter((entry) => entry.path.includes('.wants/')));
    reload ||= seen.has(name) || wants(want) !== wants(have);
  }
  for (const name of wanted.keys()) seen.add(name);
  if (reload) await systemd.reload();
  await Promise.all(units.filter((unit) => unit.activeState === 'active').map((unit) => actOnNode(systemd, unit.name, 'start')));
}
