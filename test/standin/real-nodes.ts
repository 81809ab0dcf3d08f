// Real systemd 257 behind a test file's stand-in nodes: vehicle nodes (test/support/vehicle-node.ts) booted once per
// file and lent to one test at a time, with the units that test declares set up as declared (the files of
// unit-files.ts, their enablement, their state), whatever the tests before left behind.
//
//   const real = realNodes(['a', 'b']);
//   test.before(() => real.boot());
//   test.after.always(() => real.stop());
//   … const lent = await real.lend([{ name: 'a', units: [{ name: 'db.service', activeState: 'active' }] }]);
//   … startStandin({ address, nodes: lent.nodes }); … lent.release() after the stand-in stopped.
//
// By default one vehicle node hosts all of a file's BlueChi nodes, each with its own agent: a boot and a teardown
// cost about 2.5 s on these 2-core machines, several at once more than that each. A test's nodes must then name
// their units apart (lend checks), and a node's ListUnits and ListUnitFiles also show the others' units, which no
// plan looks at. `onePerNode` gives each BlueChi node a systemd of its own.
import type { StandinNodeOptions } from './index.ts';
import { bootVehicleNode, type VehicleNode } from '../support/vehicle-node.ts';
import type { UnitOptions } from './node-memory.ts';
import { BusSystemd } from './node-systemd.ts';
import { actOnNode } from './on-node.ts';
import { unitFileEntries, unitFilesOnDisk, writeUnitFiles } from './unit-files.ts';

interface Vehicle {
  readonly node: VehicleNode;
  /** Our own connection to the node's systemd, to set units up between tests. */
  readonly systemd: BusSystemd;
  /** Unit names its tests have declared so far: what a later test may find left over. */
  readonly seen: Set<string>;
}

export interface LentNodes {
  /** The test's node options, each backed by its real node (`systemd`), without in-memory settings. */
  readonly nodes: StandinNodeOptions[];
  release(): void;
}

export interface RealNodes {
  /**
   * Starts booting, in test.before; it resolves at once, so that tests in memory run meanwhile. A vehicle node that
   * fails to boot fails the tests that lend it, with why.
   */
  boot(): Promise<void>;
  /** Stops the vehicle nodes once booted (or failed); in test.after.always. */
  stop(): Promise<void>;
  /** Waits for the boot and for the nodes to be free, then sets up the declared units. */
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

/** Real systemd for the BlueChi node names a test file uses; also this file's default (fileRealNodes). */
export function realNodes(names: readonly string[], { onePerNode = false }: { onePerNode?: boolean } = {}): RealNodes {
  const hostName = (name: string) => (onePerNode ? name : names.join('-')).replace(/[^a-z0-9-]/g, '-').slice(0, 40);
  const vehicles = new Map<string, Vehicle>();
  const nodes: VehicleNode[] = [];
  let queue: Promise<void> = Promise.resolve();
  let booting: Promise<void> | undefined;

  const boot = async (host: string) => {
    const node = await bootVehicleNode({ name: host });
    nodes.push(node);
    await node.waitForSystemState('running');
    vehicles.set(host, { node, systemd: await BusSystemd.connect(node.systemBusAddress), seen: new Set() });
  };

  const real: RealNodes = {
    async boot() {
      booting ??= (async () => {
        const boots = await Promise.allSettled([...new Set(names.map(hostName))].map(boot));
        const failed = boots.find((result) => result.status === 'rejected');
        if (failed) throw (failed as PromiseRejectedResult).reason;
      })();
      booting.catch(() => undefined); // lend() reports it to the tests that need the nodes
    },
    async stop() {
      await booting?.catch(() => undefined);
      await Promise.all([...vehicles.values()].map((vehicle) => vehicle.systemd.close().catch(() => undefined)));
      await Promise.all(nodes.map((node) => node.stop()));
    },
    async lend(options) {
      let release!: () => void;
      const turn = queue;
      queue = new Promise((resolve) => (release = resolve));
      await turn;
      try {
        if (!booting) throw new Error(`real nodes ${names.join(', ')}: call boot() in test.before`);
        await booting;
        const byHost = new Map<string, UnitOptions[]>();
        for (const node of options) {
          if (!names.includes(node.name)) throw new Error(`no real node ${node.name} (this file's: ${names.join(', ')})`);
          const units = byHost.get(hostName(node.name)) ?? [];
          for (const unit of node.units ?? []) {
            if (units.some((other) => other.name === unit.name)) throw new Error(`${unit.name} on two nodes that share a systemd: name them apart, or use onePerNode`);
            units.push(unit);
          }
          byHost.set(hostName(node.name), units);
        }
        await Promise.all([...byHost].map(([host, units]) => setUp(vehicles.get(host)!, units)));
        const lent = options.map(({ units: _units, jobLatencyMs: _latency, ...node }) => {
          const host = vehicles.get(hostName(node.name))!.node;
          return { ...node, systemd: { address: host.systemBusAddress, root: host.root } };
        });
        return { nodes: lent, release };
      } catch (error) {
        release();
        throw error;
      }
    },
  };
  declared = real;
  return real;
}

/**
 * Brings a vehicle node to what `units` declare, over its systemd's D-Bus API: every unit an earlier test declared
 * is stopped and its failure reset, files and links are rewritten where they differ (with a daemon-reload where a
 * unit may hold an old file or what multi-user.target wants changes, so it is as after boot), and the units declared
 * active are started.
 */
async function setUp(vehicle: Vehicle, units: readonly UnitOptions[]): Promise<void> {
  for (const unit of units) {
    if (!['inactive', 'active', undefined].includes(unit.activeState)) {
      throw new Error(`${unit.name}: a real node's unit starts inactive or active, not ${unit.activeState}`);
    }
  }
  const { node, systemd, seen } = vehicle;
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
    const have = await unitFilesOnDisk(node.root, name);
    if (JSON.stringify(want) === JSON.stringify(have)) continue;
    await writeUnitFiles(node.root, name, unit);
    // A unit loaded before may hold its old file; wanted-ness changes only with a reload (a first mask needs none).
    const wants = (entries: typeof want) => JSON.stringify(entries.filter((entry) => entry.path.includes('.wants/')));
    reload ||= seen.has(name) || wants(want) !== wants(have);
  }
  for (const name of wanted.keys()) seen.add(name);
  if (reload) await systemd.reload();
  await Promise.all(units.filter((unit) => unit.activeState === 'active').map((unit) => actOnNode(systemd, unit.name, 'start')));
}
