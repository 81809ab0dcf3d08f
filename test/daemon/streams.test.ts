// qm-controller keeps following BlueChi when one of its streams fails: the failure is logged at error level,
// and the daemon still reacts to nodes. Faults are injected into a real client on the stand-in's bus.
import test, { type ExecutionContext } from 'ava';
import { rm } from 'node:fs/promises';
import { merge, Subject, type Observable } from 'rxjs';
import { blueChi, type BlueChi } from '../../controller/bluechi/client.ts';
import { startDaemon } from '../../controller/daemon/daemon.ts';
import { loadLayout } from '../../controller/layout/index.ts';
import { startPrivateBus } from '../support/dbus-daemon.ts';
import { startStandin } from '../standin/index.ts';
import { layoutDir, until } from './harness.ts';

/** Real BlueChi clients whose node-status and owner streams can be made to fail, every subscription at once. */
function faultyClients() {
  const nodeStatus: Array<Subject<never>> = [];
  const owner: Array<Subject<never>> = [];
  const failing = <T extends Observable<unknown> & { ready(): Promise<void> }>(subjects: Array<Subject<never>>, stream: T): T => {
    const fault = new Subject<never>();
    subjects.push(fault);
    return Object.assign(merge(stream, fault), { ready: () => stream.ready() }) as unknown as T;
  };
  return {
    make: (...args: Parameters<typeof blueChi>): BlueChi => {
      const real = blueChi(...args);
      return { ...real, nodeStatus$: (name) => failing(nodeStatus, real.nodeStatus$(name)), controllerOwner$: failing(owner, real.controllerOwner$) };
    },
    fail(which: 'nodeStatus' | 'owner') {
      for (const fault of (which === 'nodeStatus' ? nodeStatus : owner).splice(0)) fault.error(new Error(`injected ${which} failure`));
    },
  };
}

async function start(t: ExecutionContext) {
  const bus = await startPrivateBus();
  t.teardown(() => bus.stop());
  const nodes = [
    { name: 'a', units: [{ name: 'one.service' }] },
    { name: 'b', online: false, units: [{ name: 'two.service' }] },
  ];
  const standin = await startStandin({ address: bus.address, nodes });
  t.teardown(() => standin.stop());
  const dir = await layoutDir('nodes:\n  a:\n    units:\n      one.service: {}\n  b:\n    units:\n      two.service: {}\n');
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const loaded = await loadLayout([dir]);
  if (!loaded.ok) throw new Error('invalid layout');
  const log: string[] = [];
  const line = (level: string) => (message: string) => void log.push(`${level}: ${message}`);
  const clients = faultyClients();
  const daemon = startDaemon({
    busAddress: bus.address,
    layout: loaded.layout,
    layoutPaths: [dir],
    log: { error: line('error'), warn: line('warn'), info: line('info'), debug: line('debug') },
    reconnect: { initialMs: 20, maxMs: 200 },
    blueChi: clients.make,
  });
  t.teardown(() => daemon.stop());
  await daemon.ready;
  await until('a converged', () => standin.unitState('a', 'one.service')?.activeState === 'active');
  await daemon.settled();
  return { standin, daemon, log, clients };
}

test('the node-status stream fails: logged at error level, followed again, and a node coming online is still applied', async (t) => {
  const { standin, log, clients } = await start(t);
  clients.fail('nodeStatus');
  await until('the failure is logged', () => log.some((entry) => /^error: following node status failed: injected nodeStatus failure/.test(entry)));
  await standin.setOnline('b', true);
  await until('b/two.service started', () => standin.unitState('b', 'two.service')?.activeState === 'active');
  t.pass();
});

test('the stream of BlueChi\'s owner fails: logged at error level, the daemon reconnects and still reacts to nodes', async (t) => {
  const { standin, log, clients } = await start(t);
  const connected = () => log.filter((entry) => entry.startsWith('info: connected to')).length;
  t.is(connected(), 1);
  clients.fail('owner');
  await until('the failure is logged', () => log.some((entry) => /^error: following the owner of org\.eclipse\.bluechi failed: injected owner failure/.test(entry)));
  await until('reconnected', () => connected() === 2);
  await standin.setOnline('b', true);
  await until('b/two.service started', () => standin.unitState('b', 'two.service')?.activeState === 'active');
  t.pass();
});
