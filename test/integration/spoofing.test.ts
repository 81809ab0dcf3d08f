// Anyone on a system bus may emit any signal. Each signal the product acts on is emitted here by an
// unrelated connection, with the right path and body, broadcast and sent straight to the client; nothing
// may act on it. Every "nothing happened" is read after a later genuine event, never after a fixed wait.
import test from 'ava';
import dbus from 'dbus-next';
import { filter, firstValueFrom, take, timeout, toArray } from 'rxjs';
import { connectBus, type Bus } from '../../controller/bus/connection.ts';
import { blueChi, type BlueChi } from '../../controller/bluechi/client.ts';
import { nodePath } from '../../controller/bluechi/api.ts';
import { monitorPaths, standinTarget, type StandinTarget } from '../support/bluechi-target.ts';

const { Message, Variant } = dbus;

let target: StandinTarget;
let bus: Bus;
let client: BlueChi;
let spoofer: dbus.MessageBus;

test.before(async () => {
  target = await standinTarget(['node1', 'node2']);
  bus = await connectBus(target.address);
  client = blueChi(bus, { jobTimeoutMs: 20_000 });
  spoofer = dbus.sessionBus({ busAddress: target.address });
  await new Promise<void>((resolve) => spoofer.once('connect', () => resolve()));
});
test.after.always(async () => {
  spoofer?.disconnect();
  bus?.close();
  await target?.stop();
});

const unit = 'qm-test.service';

/** Emits the signal twice: broadcast (reaching every matching rule) and addressed to our connection (reaching it whatever its rules). */
function spoof(path: string, iface: string, member: string, signature: string, body: unknown[]): void {
  spoofer.send(Message.newSignal(path, iface, member, signature, body));
  const direct = Message.newSignal(path, iface, member, signature, body);
  direct.destination = bus.uniqueName;
  spoofer.send(direct);
}

async function nextJob(): Promise<{ announced: Promise<[number, string]> }> {
  const announced = firstValueFrom(client.jobNew$.pipe(take(1), timeout(10_000))).then(({ id, job }): [number, string] => [id, job]);
  await client.jobNew$.ready();
  return { announced };
}

test.serial('a spoofed JobRemoved "done" does not end a running job: the controller\'s own result does', async (t) => {
  target.standin.setJobLatency('node1', 300);
  target.standin.failNext('node1', unit, 'failed');
  t.teardown(() => target.standin.setJobLatency('node1', 20));
  const job = await nextJob();
  const outcome = client.node('node1').runJob('start', unit);
  const [id, path] = await job.announced;
  spoof('/org/eclipse/bluechi', 'org.eclipse.bluechi.Controller', 'JobRemoved', 'uosss', [id, path, 'node1', unit, 'done']);
  t.like(await outcome, { job: path, result: 'failed' });
});

test.serial('a spoofed node Status "offline" and a spoofed "controller left" do not interrupt a job', async (t) => {
  target.standin.setJobLatency('node2', 300);
  t.teardown(() => target.standin.setJobLatency('node2', 20));
  const job = await nextJob();
  const outcome = client.node('node2').runJob('restart', unit);
  await job.announced;
  spoof(nodePath('node2'), 'org.freedesktop.DBus.Properties', 'PropertiesChanged', 'sa{sv}as', [
    'org.eclipse.bluechi.Node',
    { Status: new Variant('s', 'offline') },
    [],
  ]);
  spoof('/org/freedesktop/DBus', 'org.freedesktop.DBus', 'NameOwnerChanged', 'sss', ['org.eclipse.bluechi', ':1.1', '']);
  t.like(await outcome, { node: 'node2', result: 'done' });
});

test.serial('spoofed node and controller status changes are not reported; the genuine ones are', async (t) => {
  const nodes = client.nodeStatus$();
  const controller = client.controllerStatus$;
  const owners = client.controllerOwner$;
  const seenOwners: string[] = [];
  const ownerWatch = owners.subscribe((owner) => seenOwners.push(owner));
  t.teardown(() => ownerWatch.unsubscribe());
  const nodeChanges = firstValueFrom(nodes.pipe(take(1), timeout(10_000)));
  const controllerChanges = firstValueFrom(controller.pipe(take(1), timeout(10_000)));
  await Promise.all([nodes.ready(), controller.ready(), owners.ready()]);
  spoof(nodePath('node1'), 'org.freedesktop.DBus.Properties', 'PropertiesChanged', 'sa{sv}as', ['org.eclipse.bluechi.Node', { Status: new Variant('s', 'offline') }, []]);
  spoof('/org/eclipse/bluechi', 'org.freedesktop.DBus.Properties', 'PropertiesChanged', 'sa{sv}as', ['org.eclipse.bluechi.Controller', { Status: new Variant('s', 'down') }, []]);
  spoof('/org/freedesktop/DBus', 'org.freedesktop.DBus', 'NameOwnerChanged', 'sss', ['org.eclipse.bluechi', ':1.1', '']);
  await target.standin.setOnline('node2', false);
  t.teardown(() => target.standin.setOnline('node2', true));
  t.deepEqual(await nodeChanges, { node: 'node2', status: 'offline' });
  t.is(await controllerChanges, 'degraded');
  t.deepEqual(seenOwners, [], 'the controller never left');
});

test.serial('spoofed JobNew signals are not reported', async (t) => {
  const announced = firstValueFrom(client.jobNew$.pipe(take(1), timeout(10_000)));
  await client.jobNew$.ready();
  spoof('/org/eclipse/bluechi', 'org.eclipse.bluechi.Controller', 'JobNew', 'uo', [4242, '/org/eclipse/bluechi/job/4242']);
  const outcome = await client.node('node1').runJob('restart', unit);
  t.like(await announced, { job: outcome.job });
});

test.serial('spoofed monitor signals on our monitor\'s path are not reported; the genuine ones are', async (t) => {
  const before = new Set(await monitorPaths(bus));
  const watch = client.watchUnits('node1', [unit]);
  const events = firstValueFrom(
    watch.pipe(
      filter((event) => event.kind === 'UnitStateChanged' && event.activeState === 'active' && event.reason === 'real'),
      take(1),
      timeout(10_000),
    ),
  );
  const everything: unknown[] = [];
  const all = watch.subscribe((event) => everything.push(event));
  t.teardown(() => all.unsubscribe());
  await watch.ready();
  const [monitor] = (await monitorPaths(bus)).filter((path) => !before.has(path));
  t.truthy(monitor, 'the watch created a monitor');
  const iface = 'org.eclipse.bluechi.Monitor';
  spoof(monitor!, iface, 'UnitStateChanged', 'sssss', ['node1', unit, 'failed', 'failed', 'real']);
  spoof(monitor!, iface, 'UnitNew', 'sss', ['node1', 'spoof.service', 'real']);
  spoof(monitor!, iface, 'UnitRemoved', 'sss', ['node1', 'spoof.service', 'real']);
  spoof(monitor!, iface, 'UnitPropertiesChanged', 'sssa{sv}', ['node1', 'spoof.service', 'org.freedesktop.systemd1.Unit', { ActiveState: new Variant('s', 'failed') }]);
  spoof(monitor!, iface, 'PeerRemoved', 's', ['spoofed']);
  await client.node('node1').runJob('restart', unit);
  const genuine = await events;
  t.like(genuine, { kind: 'UnitStateChanged', node: 'node1', unit, activeState: 'active' });
  const spoofed = everything.filter(
    (event) =>
      (event as { activeState?: string }).activeState === 'failed' ||
      (event as { unit?: string }).unit === 'spoof.service' ||
      (event as { kind: string }).kind === 'PeerRemoved',
  );
  t.deepEqual(spoofed, []);
});

// Keeps the shape checks honest: what a genuine stream delivers here has the kinds asserted above.
test.serial('a genuine restart is seen by the monitor as state changes', async (t) => {
  const watch = client.watchUnits('node1', [unit]);
  const changes = firstValueFrom(
    watch.pipe(
      filter((event) => event.kind === 'UnitStateChanged'),
      take(2),
      toArray(),
      timeout(10_000),
    ),
  );
  await watch.ready();
  await client.node('node1').runJob('restart', unit);
  t.is((await changes).length, 2);
});
