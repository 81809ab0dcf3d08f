// qm-controller keeps its picture of the vehicle from the signals it follows instead of reading it again: Status
// reads nothing, a repair reads only the unit concerned, a node's return only that node. Reads are counted on a
// wrapped client, against the stand-in on real systemd 257.
import test from 'ava';
import { blueChi, type BlueChi } from '../../controller/bluechi/client.ts';
import { realNodes, starts, until } from './harness.ts';
import { startDaemonWith } from './with-client.ts';

const real = realNodes(['a', 'b']);
test.before(() => real.boot());
test.after.always(() => real.stop());

/** Real clients whose reads of the vehicle are written down, in order: `ListUnits`, `b ListUnits`, `a web.service ActiveState`. */
function countingReads() {
  const reads: string[] = [];
  const counted =
    <A extends unknown[], R>(name: string, read: (...args: A) => Promise<R>) =>
    (...args: A): Promise<R> => {
      reads.push(name);
      return read(...args);
    };
  const make = (...args: Parameters<typeof blueChi>): BlueChi => {
    const client = blueChi(...args);
    return {
      ...client,
      listNodes: counted('ListNodes', client.listNodes),
      listUnits: counted('ListUnits', client.listUnits),
      listUnitFiles: counted('ListUnitFiles', client.listUnitFiles),
      node: (name) => {
        const node = client.node(name);
        return {
          ...node,
          listUnits: counted(`${name} ListUnits`, node.listUnits),
          listUnitFiles: counted(`${name} ListUnitFiles`, node.listUnitFiles),
          getUnitProperties: counted(`${name} GetUnitProperties`, node.getUnitProperties),
          getUnitFileState: (file) => counted(`${name} ${file} UnitFileState`, node.getUnitFileState)(file),
          getUnitProperty: (unit, iface, property) => counted(`${name} ${unit} ${property}`, node.getUnitProperty)(unit, iface, property),
        };
      },
    };
  };
  return { make, reads };
}

const LAYOUT = `nodes:
  a:
    units:
      db.service: { restart: { attempts: 0 } }
      web.service: { restart: { attempts: 3, window: 1m, backoff: 50ms } }
  b:
    units:
      cache.service: {}
`;
const nodes = [
  { name: 'a', units: [{ name: 'db.service' }, { name: 'web.service' }] },
  { name: 'b', units: [{ name: 'cache.service' }] },
];

test('Status is served from what BlueChi signalled: asking reads nothing, and a unit that fails shows at once', async (t) => {
  const { make, reads } = countingReads();
  const { standin, daemon } = await startDaemonWith(t, nodes, LAYOUT, make);
  await until('converged', async () => (await daemon.status()).converged);
  await daemon.settled();
  t.deepEqual(reads, ['ListNodes', 'ListUnits'], 'the start-up apply read the vehicle once');
  reads.length = 0;
  for (let call = 0; call < 20; call++) await daemon.status();
  t.deepEqual(reads, []);
  // db.service is never repaired (attempts 0): what Status says of it comes from the monitor alone.
  await standin.onNode('a', 'db.service', 'kill');
  await until('Status shows db.service failed', async () => (await daemon.status()).units.find((unit) => unit.unit === 'db.service')!.observed === 'failed');
  await daemon.settled();
  const status = await daemon.status();
  t.false(status.converged);
  t.deepEqual(
    status.units.map((unit) => [unit.node, unit.unit, unit.observed]),
    [
      ['a', 'db.service', 'failed'],
      ['a', 'web.service', 'active'],
      ['b', 'cache.service', 'active'],
    ],
  );
  t.deepEqual(reads, []);
});

test('a repair reads only the unit concerned; a node that comes back, only that node', async (t) => {
  const { make, reads } = countingReads();
  const { standin, daemon } = await startDaemonWith(t, nodes, LAYOUT, make);
  await until('converged', async () => (await daemon.status()).converged);
  await daemon.settled();

  reads.length = 0;
  await standin.onNode('a', 'web.service', 'kill');
  await until('web.service repaired', async () => (await standin.readUnitState('a', 'web.service')).activeState === 'active');
  await daemon.settled();
  t.deepEqual(reads, ['a web.service ActiveState']);
  t.is(starts(standin, 'a', 'web.service'), 2);

  reads.length = 0;
  await standin.setOnline('b', false);
  // What happens on b while it is away is not signalled; its return is.
  await standin.onNode('b', 'cache.service', 'stop');
  await standin.setOnline('b', true);
  await until('cache.service started again', async () => (await standin.readUnitState('b', 'cache.service')).activeState === 'active');
  await daemon.settled();
  t.deepEqual(reads, ['b ListUnits']);
  t.true((await daemon.status()).converged);
});
