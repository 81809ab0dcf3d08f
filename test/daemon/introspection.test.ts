// What the running daemon serves is what controller/daemon/org.qm.Controller1.xml says, member by member, argument
// names and types, property access, for the controller and for a job object.
import test from 'ava';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import xml2js from 'xml2js';
import { connectBus } from '../../controller/bus/connection.ts';
import { DAEMON_NAME, DAEMON_PATH } from '../../controller/daemon/api.ts';
import { startDaemonVehicle } from './harness.ts';

const COMMITTED = fileURLToPath(new URL('../../controller/daemon/org.qm.Controller1.xml', import.meta.url));

type Element = { $?: Record<string, string>; [child: string]: unknown };

/** Each interface named `org.qm.Controller1…`, as plain data: comments and the standard interfaces left out. */
async function interfaces(xml: string): Promise<Record<string, unknown>> {
  const parsed = (await xml2js.parseStringPromise(xml)) as { node: { interface?: Element[] } };
  return Object.fromEntries((parsed.node.interface ?? []).filter((iface) => iface.$!.name!.startsWith('org.qm.')).map((iface) => [iface.$!.name, iface]));
}

test('the daemon serves org.qm.Controller1 and org.qm.Controller1.Job exactly as the committed introspection XML', async (t) => {
  const { bus, standin, daemon } = await startDaemonVehicle(t, [{ name: 'a', jobLatencyMs: 2_000, units: [{ name: 'slow.service' }] }], 'nodes:\n  a:\n    units:\n      slow.service: {}\n', { backend: 'memory' });
  await daemon.settled();
  await standin.onNode('a', 'slow.service', 'stop');
  const probe = await connectBus(bus.address);
  t.teardown(() => probe.close());
  const introspect = async (path: string) =>
    (await probe.call({ destination: DAEMON_NAME, path, interface: 'org.freedesktop.DBus.Introspectable', member: 'Introspect', replySignature: 's' }))[0] as string;
  // A job object exists while its apply runs: the slow start keeps it there.
  const [job] = await probe.call({ destination: DAEMON_NAME, path: DAEMON_PATH, interface: 'org.qm.Controller1', member: 'Apply', signature: 'a{sv}', body: [{}], replySignature: 'o' });
  const served = { ...(await interfaces(await introspect(DAEMON_PATH))), ...(await interfaces(await introspect(job as string))) };
  t.deepEqual(served, await interfaces(await readFile(COMMITTED, 'utf8')));
  t.deepEqual(Object.keys(served), ['org.qm.Controller1', 'org.qm.Controller1.Job']);
  t.regex(await introspect(DAEMON_PATH), /<node name="job"\/>/);
});
