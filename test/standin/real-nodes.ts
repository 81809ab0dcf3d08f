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
import { unitFileEntries, unitFilesOnDisk, writeUnitFiles } from './unit-files.ts';

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

let declared: RealNodes | undefined;

/** This test file's real nodes, as realNodes() declared them. */
export function fileRealNodes(): RealNodes {
  if (!declared) throw new Error('no real systemd nodes in this test file: declare realNodes([...]) with test.before(boot) and test.after.always(stop)');
  return declared;
}

/** Real nodes for the BlueChi node names a test file uses; also this file's default (fileRealNodes). */
export function realNodes(names: readonly string[]): RealNodes {
  const vehicles = new Map<string, VehicleNode>();
  /** Unit names each node's tests have declared so far: what a later test may find left over. */
  const seen = new Map<string, Set<string>>(names.map((name) => [name, new Set()]));
  let queue: Promise<void> = Promise.resolve();

  const nodes: RealNodes = {
    async boot() {
      const booted = await Promise.allSettled(
        names.map(async (name) => {
          const vehicle = await bootVehicleNode({ name: name.replace(/[^a-z0-9-]/g, '-') });
          vehicles.set(name, vehicle);
          await vehicle.waitForSystemState('running');
        }),
      );
      const failed = booted.find((result) => result.status === 'rejected');
      if (failed) throw (failed as PromiseRejectedResult).reason;
    },
    async stop() {
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
            const vehicle = vehicles.get(node.name);
            if (!vehicle) throw new Error(`no real node ${node.name} (this file's: ${names.join(', ')}); was boot() awaited in test.before?`);
            await setUp(vehicle, seen.get(node.name)!, node.units ?? []);
            const { units: _units, jobLatencyMs: _latency, ...rest } = node;
            return { ...rest, systemd: { address: vehicle.systemBusAddress, root: vehicle.root } };
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
 * Brings the node to what `units` declare: every unit an earlier test declared is stopped and its failure reset,
 * files and links are rewritten where they differ (with a daemon-reload if links or a known unit's file changed,
 * so that what multi-user.target wants is as after boot), and the units declared active are started.
 */
async function setUp(vehicle: VehicleNode, seen: Set<string>, units: readonly UnitOptions[]): Promise<void> {
  for (const unit of units) {
    if (!['inactive', 'active', undefined].includes(unit.activeState)) {
      throw new Error(`${unit.name}: a real node's unit starts inactive or active, not ${unit.activeState}`);
    }
  }
  const earlier = [...seen];
  if (earlier.length > 0) {
    await systemctl(vehicle, ['stop', ...earlier], true);
    await systemctl(vehicle, ['reset-failed'], true);
  }
  const wanted = new Map(units.map((unit) => [unit.name, unit]));
  let reload = false;
  for (const name of new Set([...earlier, ...wanted.keys()])) {
    const unit = wanted.get(name);
    const want = unit ? unitFileEntries(unit) : [];
    const have = await unitFilesOnDisk(vehicle.root, name);
    if (JSON.stringify(want) === JSON.stringify(have)) continue;
    await writeUnitFiles(vehicle.root, name, unit);
    const links = (entries: typeof want) => JSON.stringify(entries.filter((entry) => 'symlink' in entry));
    reload ||= links(want) !== links(have) || seen.has(name);
  }
  for (const name of wanted.keys()) seen.add(name);
  if (reload) await systemctl(vehicle, ['daemon-reload']);
  const active = units.filter((unit) => unit.activeState === 'active').map((unit) => unit.name);
  if (active.length > 0) await systemctl(vehicle, ['start', ...active]);
}

async function systemctl(vehicle: VehicleNode, args: readonly string[], mayFail = false): Promise<void> {
  const result = await vehicle.exec(['systemctl', ...args]);
  if (result.code !== 0 && !mayFail) throw new Error(`systemctl ${args.join(' ')} on ${vehicle.name}: ${result.stderr.trim()}`);
}
