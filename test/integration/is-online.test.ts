// qmctl is-online against the stand-in, whose nodes, agents and controller presence a test can flip: bluechi-is-online's
// exit status, --wait and --monitor (upstream src/is-online/is-online.c), as a boot script sees them.
import test, { type ExecutionContext } from 'ava';
import { startPrivateBus, type PrivateBus } from '../support/dbus-daemon.ts';
import { qmctl } from '../support/qmctl.ts';
import { startStandin, type Standin } from '../standin/index.ts';
import { followLines } from './follow.ts';

interface Vehicle {
  readonly bus: PrivateBus;
  /** Node `a`'s own bus, where its agent serves org.eclipse.bluechi.Agent. */
  readonly nodeBus: PrivateBus;
  readonly standin: Standin;
}

/** Nodes a (online) and b (offline unless `bOnline`); each test its own, since they flip nodes. */
async function vehicle(t: ExecutionContext, { bOnline = false } = {}): Promise<Vehicle> {
  const [bus, nodeBus] = await Promise.all([startPrivateBus(), startPrivateBus()]);
  const standin = await startStandin({ address: bus.address, nodes: [{ name: 'a', agentBus: nodeBus.address }, { name: 'b', online: bOnline }] });
  t.teardown(async () => {
    await standin.stop();
    await Promise.all([bus.stop(), nodeBus.stop()]);
  });
  return { bus, nodeBus, standin };
}

const isOnline = (address: string, ...args: string[]) => qmctl(['--bus-address', address, 'is-online', ...args]);

test.serial('exit 1 for an offline node or a degraded system, saying so on stderr; 0 for an online one', async (t) => {
  const { bus } = await vehicle(t);
  t.is((await isOnline(bus.address, 'node', 'a')).code, 0);
  const node = await isOnline(bus.address, 'node', 'b');
  t.is(node.code, 1);
  t.is(node.stderr, 'qmctl is-online: node b is offline\n');
  const system = await isOnline(bus.address, 'system', '--json');
  t.is(system.code, 1);
  t.deepEqual(JSON.parse(system.stdout), { subject: 'system', online: false, status: 'degraded' });
  t.is(system.stderr, 'qmctl is-online: system is degraded\n');
});

test.serial('--wait: waits for the node to come online and exits 0', async (t) => {
  const { bus, standin } = await vehicle(t);
  const started = Date.now();
  const result = await followLines(bus.address, ['is-online', 'node', 'b', '--wait', '30s'], () => false, () => standin.setOnline('b', true));
  t.is(result.code, 0, result.stderr);
  t.true(Date.now() - started < 30_000);
  t.deepEqual(result.lines, []);
});

test.serial('--wait: times out with exit 1 when the node stays offline; milliseconds as bluechi-is-online takes them', async (t) => {
  const { bus } = await vehicle(t);
  for (const wait of ['300', '300ms', '0.3s']) {
    const started = Date.now();
    const result = await isOnline(bus.address, 'node', 'b', '--wait', wait);
    t.is(result.code, 1, wait);
    t.true(Date.now() - started >= 300, wait);
    t.regex(result.stderr, new RegExp(`node b is offline \\(waited up to ${wait.replace('.', '\\.')}\\)`));
  }
});

test.serial('--wait with the controller not on the bus yet: waits for it and then for the system to be up', async (t) => {
  const bus = await startPrivateBus();
  t.teardown(() => bus.stop());
  const absent = await isOnline(bus.address, 'system');
  t.is(absent.code, 1);
  t.is(absent.stderr, 'qmctl is-online: system is not on the bus\n');
  let standin: Standin | undefined;
  t.teardown(() => standin?.stop());
  const result = await followLines(bus.address, ['is-online', 'system', '--wait', '30s'], () => false, async () => {
    standin = await startStandin({ address: bus.address, nodes: [{ name: 'a' }] });
  });
  t.is(result.code, 0, result.stderr);
});

test.serial('--monitor: prints the state and each change, and exits 1 when the node goes offline', async (t) => {
  const { bus, standin } = await vehicle(t);
  const result = await followLines(bus.address, ['is-online', 'node', 'a', '--monitor'], () => false, () => standin.setOnline('a', false));
  t.is(result.code, 1, result.stderr);
  t.deepEqual(result.lines, ['node a is online', 'node a is offline']);
  t.regex(result.stderr, /qmctl is-online: node a is offline/);
});

test.serial('--monitor --wait: waits for online, follows it, ends at offline; --json lines', async (t) => {
  const { bus, standin } = await vehicle(t);
  const result = await followLines(bus.address, ['is-online', 'system', '--monitor', '--wait', '30s', '--json'], () => false, async () => {
    await standin.setOnline('b', true);
    await standin.setOnline('a', false);
  });
  t.is(result.code, 1, result.stderr);
  t.deepEqual(
    result.lines.map((line) => JSON.parse(line) as { status: string; online: boolean }).map(({ status, online }) => [status, online]),
    [
      ['degraded', false],
      ['up', true],
      ['degraded', false],
    ],
  );
});

test.serial('--monitor: Ctrl-C while online exits 0, as bluechi-is-online answers for the state at its end', async (t) => {
  const { bus } = await vehicle(t, { bOnline: true });
  const result = await followLines(bus.address, ['is-online', 'system', '--monitor'], 1, async () => undefined);
  t.is(result.code, 0, result.stderr);
  t.deepEqual(result.lines, ['system is up']);
});

test.serial("agent: the agent's Status on its node's bus, followed with --monitor", async (t) => {
  const { nodeBus, standin } = await vehicle(t);
  t.is((await isOnline(nodeBus.address, 'agent')).code, 0);
  const result = await followLines(nodeBus.address, ['is-online', 'agent', '--monitor'], () => false, () => standin.setOnline('a', false));
  t.is(result.code, 1, result.stderr);
  t.deepEqual(result.lines, ['agent is online', 'agent is offline']);
  const offline = await isOnline(nodeBus.address, 'agent', '--wait', '200ms');
  t.is(offline.code, 1);
  t.is((await isOnline(nodeBus.address, 'agent', 'extra')).code, 2);
});
