// The bus itself going away (dbus-daemon restarted): qm-controller reconnects with backoff, re-observes
// the vehicle on the new bus and converges it again.
import test from 'ava';
import { rm } from 'node:fs/promises';
import { startPrivateBus } from '../support/dbus-daemon.ts';
import { startStandin, type Standin } from '../standin/index.ts';
import { layoutDir, realNodes, startTestDaemon, testNodes, until } from './harness.ts';

const real = realNodes(['a']);
test.before(() => real.boot());
test.after.always(() => real.stop());

test('after the bus restarts, the daemon reconnects and converges the vehicle again', async (t) => {
  const nodes = await testNodes(t, [{ name: 'a', units: [{ name: 'owned.service' }] }]);
  const bus = await startPrivateBus();
  const standins: Standin[] = [];
  const dir = await layoutDir('nodes:\n  a:\n    units:\n      owned.service: {}\n');
  t.teardown(async () => {
    for (const standin of standins) await standin.stop().catch(() => undefined);
    await bus.stop();
    await rm(dir, { recursive: true, force: true });
  });
  standins.push(await startStandin({ address: bus.address, nodes }));
  const { daemon, log } = await startTestDaemon(bus.address, dir);
  t.teardown(() => daemon.stop());
  await daemon.ready;
  const running = async (standin: Standin) => (await standin.readUnitState('a', 'owned.service')).activeState === 'active';
  await until('owned.service runs', () => running(standins[0]!));

  await bus.restart();
  // The old stand-in lost its bus too: a new bluechi-controller comes up on the new bus, and meanwhile the unit
  // was stopped on the node.
  await standins[0]!.onNode('a', 'owned.service', 'stop');
  await standins[0]!.stop().catch(() => undefined);
  standins.push(await startStandin({ address: bus.address, nodes }));
  await until('owned.service runs on the new bus', () => running(standins[1]!), 20_000);
  t.true(log.some((entry) => /reconnecting/.test(entry)), log.join('\n'));
  t.is(standins[1]!.calls('a').filter((call) => call.method === 'StartUnit').length, 1);
});
