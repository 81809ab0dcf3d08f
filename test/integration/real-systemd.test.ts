// End to end on a real systemd 257: qmctl → BlueChi API → a node backed by the vehicle node's systemd,
// and the systemd client straight against that systemd.
import test from 'ava';
import dbus from 'dbus-next';
import { firstValueFrom, filter, take, timeout } from 'rxjs';
import { connectBus, type Bus } from '../../controller/bus/connection.ts';
import { systemd } from '../../controller/systemd/client.ts';
import { QmError } from '../../controller/errors.ts';
import { startPrivateBus, type PrivateBus } from '../support/dbus-daemon.ts';
import { startStandin, type Standin } from '../standin/index.ts';
import { bootVehicleNode, type VehicleNode } from '../support/vehicle-node.ts';
import { qmctlBin } from '../support/qmctl.ts';

const unitFile = `[Unit]
Description=qm end-to-end test service

[Service]
ExecStart=/bin/sleep infinity

[Install]
WantedBy=multi-user.target
`;

let node: VehicleNode | undefined;
let privateBus: PrivateBus | undefined;
let standin: Standin | undefined;
let nodeBus: Bus | undefined;

test.before(async () => {
  node = await bootVehicleNode({
    name: 'qm-e2e-ctl',
    files: [
      { path: '/etc/systemd/system/qm-e2e.service', content: unitFile },
      { path: '/etc/systemd/system/qm-e2e-fails.service', content: '[Service]\nType=oneshot\nExecStart=/bin/false\n' },
      { path: '/etc/systemd/system/qm-e2e-masked.service', symlink: '/dev/null' },
      { path: '/etc/systemd/system/qm-e2e-fails-later.service', content: "[Service]\nType=oneshot\nExecStart=/bin/sh -c 'sleep 1; exit 3'\n" },
    ],
  });
  await node.waitForSystemState('degraded', { timeoutMs: 60_000 });
  privateBus = await startPrivateBus();
  standin = await startStandin({ address: privateBus.address, nodes: [{ name: 'vehicle', systemd: { address: node.systemBusAddress } }] });
  nodeBus = await connectBus(node.systemBusAddress);
});

test.after.always(async () => {
  nodeBus?.close();
  await standin?.stop();
  await privateBus?.stop();
  await node?.stop();
});

const qm = (...args: string[]) => qmctlBin(['--bus-address', privateBus!.address, ...args]);

test.serial('qmctl starts and stops a real unit on a real systemd through the BlueChi API', async (t) => {
  const started = await qm('start', 'vehicle', 'qm-e2e.service', '--json');
  t.is(started.code, 0, started.stderr);
  t.like(JSON.parse(started.stdout)[0], { node: 'vehicle', unit: 'qm-e2e.service', result: 'done' });
  const inside = await node!.exec(['systemctl', 'is-active', 'qm-e2e.service']);
  t.is(inside.stdout.trim(), 'active');
  const status = await qm('status', 'vehicle', 'qm-e2e.service', '--json');
  t.like(JSON.parse(status.stdout)[0], { activeState: 'active', subState: 'running', loadState: 'loaded' });

  const stopped = await qm('stop', 'vehicle', 'qm-e2e.service');
  t.is(stopped.code, 0, stopped.stderr);
  t.is((await node!.exec(['systemctl', 'is-active', 'qm-e2e.service'])).stdout.trim(), 'inactive');
});

test.serial('a unit that fails on the real systemd exits 1 with result failed', async (t) => {
  const result = await qm('start', 'vehicle', 'qm-e2e-fails.service', '--json');
  t.is(result.code, 1);
  t.is(JSON.parse(result.stdout)[0].result, 'failed');
  t.is((await qm('reset-failed', 'vehicle', 'qm-e2e-fails.service')).code, 0);
  t.is((await node!.exec(['systemctl', 'is-failed', 'qm-e2e-fails.service'])).stdout.trim(), 'inactive');
});

test.serial('starting a masked unit exits 1 and says it is masked, naming node and unit', async (t) => {
  const result = await qm('start', 'vehicle', 'qm-e2e-masked.service', '--json');
  t.is(result.code, 1);
  t.like(JSON.parse(result.stdout)[0], {
    node: 'vehicle',
    unit: 'qm-e2e-masked.service',
    error: { code: 'unit-masked', dbusName: 'org.freedesktop.systemd1.UnitMasked' },
  });
  t.regex(result.stderr + result.stdout, /unit qm-e2e-masked\.service on node vehicle is masked/);
});

test.serial('enable and disable change the real unit file state', async (t) => {
  t.is((await qm('enable', 'vehicle', 'qm-e2e.service')).code, 0);
  t.is((await node!.exec(['systemctl', 'is-enabled', 'qm-e2e.service'])).stdout.trim(), 'enabled');
  t.is((await qm('is-enabled', 'vehicle', 'qm-e2e.service')).stdout.trim(), 'enabled');
  t.is((await qm('disable', 'vehicle', 'qm-e2e.service')).code, 0);
  t.is((await node!.exec(['systemctl', 'is-enabled', 'qm-e2e.service'])).stdout.trim(), 'disabled');
});

test.serial('the systemd client: jobs, properties, state stream and unit files on the host bus', async (t) => {
  const manager = systemd(nodeBus!, { jobTimeoutMs: 30_000 });
  t.true(['running', 'degraded'].includes(await manager.systemState()));
  const active = firstValueFrom(
    manager.unitStates$('qm-e2e.service').pipe(
      filter((change) => change.activeState === 'active'),
      take(1),
      timeout(15_000),
    ),
  );
  const end = await manager.runJob('start', 'qm-e2e.service');
  t.is(end.result, 'done');
  t.deepEqual(await active, { unit: 'qm-e2e.service', activeState: 'active', subState: 'running' });
  const properties = await manager.unitProperties('qm-e2e.service');
  t.is(properties.ActiveState?.value, 'active');
  t.is(await manager.unitProperty('qm-e2e.service', 'org.freedesktop.systemd1.Unit', 'SubState'), 'running');
  t.is((await manager.runJob('stop', 'qm-e2e.service')).result, 'done');

  const enabled = await manager.enableUnitFiles(['qm-e2e.service']);
  t.true(enabled.carriesInstallInfo);
  t.true(enabled.changes.some((change) => change.type === 'symlink' && change.file.endsWith('multi-user.target.wants/qm-e2e.service')));
  t.is(await manager.getUnitFileState('qm-e2e.service'), 'enabled');
  await manager.disableUnitFiles(['qm-e2e.service']);
  await manager.reload();
  t.is(await manager.getUnitFileState('qm-e2e.service'), 'disabled');
  t.true((await manager.listUnits()).some((unit) => unit.name === 'dbus.service' && unit.activeState === 'active'));

  const missing = await t.throwsAsync(manager.runJob('start', 'qm-no-such.service'), { instanceOf: QmError });
  t.is(missing.code, 'unit-unknown');
  t.regex(missing.message, /qm-no-such\.service not found/);
});

test.serial('the systemd client trusts only systemd: a spoofed JobRemoved "done" and unit state change nothing', async (t) => {
  const manager = systemd(nodeBus!, { jobTimeoutMs: 30_000 });
  const unit = 'qm-e2e-fails-later.service';
  const spoofer = dbus.sessionBus({ busAddress: node!.systemBusAddress });
  t.teardown(() => spoofer.disconnect());
  await new Promise<void>((resolve) => spoofer.once('connect', () => resolve()));
  // Each JobNew systemd announces for the unit is answered at once with a forged end and a forged state.
  const forge = (path: string, iface: string, member: string, signature: string, body: unknown[]) => {
    spoofer.send(dbus.Message.newSignal(path, iface, member, signature, body));
    const direct = dbus.Message.newSignal(path, iface, member, signature, body);
    direct.destination = nodeBus!.uniqueName;
    spoofer.send(direct);
  };
  let forged = 0;
  spoofer.on('message', (message: dbus.Message) => {
    if (message.member !== 'JobNew' || message.body[2] !== unit) return;
    forged += 1;
    forge('/org/freedesktop/systemd1', 'org.freedesktop.systemd1.Manager', 'JobRemoved', 'uoss', [message.body[0], message.body[1], unit, 'done']);
    forge('/org/freedesktop/systemd1/unit/qm_2de2e_2dfails_2dlater_2eservice', 'org.freedesktop.DBus.Properties', 'PropertiesChanged', 'sa{sv}as', [
      'org.freedesktop.systemd1.Unit',
      { ActiveState: new dbus.Variant('s', 'active'), SubState: new dbus.Variant('s', 'exited') },
      [],
    ]);
  });
  await spoofer.call(
    new dbus.Message({
      destination: 'org.freedesktop.DBus',
      path: '/org/freedesktop/DBus',
      interface: 'org.freedesktop.DBus',
      member: 'AddMatch',
      signature: 's',
      body: ["type='signal',sender='org.freedesktop.systemd1',member='JobNew'"],
    }),
  );
  const states = manager.unitStates$(unit);
  const seen: string[] = [];
  const failed = firstValueFrom(states.pipe(filter((change) => change.activeState === 'failed'), take(1), timeout(15_000)));
  const all = states.subscribe((change) => seen.push(change.activeState));
  t.teardown(() => all.unsubscribe());
  await states.ready();
  const end = await manager.runJob('start', unit);
  await failed;
  t.is(forged, 1, 'the forgery was sent while the job ran');
  t.is(end.result, 'failed');
  t.false(seen.includes('active'), `states seen: ${seen.join(', ')}`);
  await manager.resetFailedUnit(unit);
});

test.serial('a missing systemd is named as systemd, not as the BlueChi controller', async (t) => {
  const bus = await startPrivateBus();
  t.teardown(() => bus.stop());
  const connection = await connectBus(bus.address);
  t.teardown(() => connection.close());
  const error = await t.throwsAsync(systemd(connection).systemState(), { instanceOf: QmError });
  t.is(error.code, 'unreachable');
  t.regex(error.message, /^systemd \(org\.freedesktop\.systemd1\) is not running on the bus at unix:/);
});
