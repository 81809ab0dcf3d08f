// A bus whose policy refuses a call: qmctl reports access denied, naming node and unit.
import test from 'ava';
import { startPrivateBus, type PrivateBus } from '../support/dbus-daemon.ts';
import { startStandin, type Standin } from '../standin/index.ts';
import { qmctl } from '../support/qmctl.ts';

let bus: PrivateBus | undefined;
let standin: Standin | undefined;

test.before(async () => {
  bus = await startPrivateBus({
    policy: `<policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
    <allow user="*"/>
    <deny send_destination="org.eclipse.bluechi" send_interface="org.eclipse.bluechi.Node" send_member="StopUnit"/>
  </policy>`,
  });
  standin = await startStandin({ address: bus.address, nodes: [{ name: 'node1', units: [{ name: 'brakes.service', activeState: 'active' }] }] });
});
test.after.always(async () => {
  await standin?.stop();
  await bus?.stop();
});

test('a call the bus policy refuses exits 1 with access denied for that unit on that node', async (t) => {
  const result = await qmctl(['--bus-address', bus!.address, 'stop', 'node1', 'brakes.service', '--json']);
  t.is(result.code, 1);
  t.like(JSON.parse(result.stdout)[0], {
    node: 'node1',
    unit: 'brakes.service',
    error: { code: 'access-denied', dbusName: 'org.freedesktop.DBus.Error.AccessDenied' },
  });
  t.regex(JSON.parse(result.stdout)[0].error.message, /access denied for unit brakes\.service on node node1/);
  t.is(standin!.unitState('node1', 'brakes.service')?.activeState, 'active');
});
