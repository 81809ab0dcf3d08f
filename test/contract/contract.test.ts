// The contract, checked against what the real services answered (recorded/, see RECORDING.md): the
// product's declared signatures, and the stand-in's introspection, against real bluechi-controller 1.2.2
// and systemd 257.
import test from 'ava';
import { readdir, readFile } from 'node:fs/promises';
import { ControllerInterface, JobInterface, MonitorInterface, NodeInterface } from '../../controller/bluechi/contract.ts';
import { PropertiesInterface, type InterfaceSpec } from '../../controller/bus/signature.ts';
import { connectBus } from '../../controller/bus/connection.ts';
import { ManagerInterface } from '../../controller/systemd/contract.ts';
import { startPrivateBus } from '../support/dbus-daemon.ts';
import { startStandin } from '../standin/index.ts';
import { declarationDifferences, introspectionDifferences, parseIntrospection, recordedInterfaces } from './introspection.ts';

interface RecordedMessage {
  readonly type: string;
  readonly sender?: string;
  readonly interface?: string;
  readonly member?: string;
  readonly payload?: { readonly type: string };
}

/** `interface.member` → signature of every signal the real controller was recorded sending. */
async function sentSignatures(): Promise<Map<string, string>> {
  const dir = new URL('./recorded/sequences/', import.meta.url);
  const sent = new Map<string, string>();
  for (const file of await readdir(dir)) {
    const { messages } = JSON.parse(await readFile(new URL(file, dir), 'utf8')) as { messages: RecordedMessage[] };
    for (const message of messages) {
      if (message.type === 'signal' && message.sender === 'controller') sent.set(`${message.interface}.${message.member}`, message.payload?.type ?? '');
    }
  }
  return sent;
}

const bluechiObjects: Array<[file: string, specs: InterfaceSpec[]]> = [
  ['bluechi-controller.xml', [ControllerInterface, PropertiesInterface]],
  ['bluechi-node.xml', [NodeInterface, PropertiesInterface]],
  ['bluechi-job.xml', [JobInterface, PropertiesInterface]],
  ['bluechi-monitor.xml', [MonitorInterface]],
];

test('what the product declares of BlueChi is what the real controller serves and sends', async (t) => {
  const sent = await sentSignatures();
  const differences: string[] = [];
  for (const [file, specs] of bluechiObjects) {
    const served = await recordedInterfaces(file);
    for (const spec of specs) differences.push(...declarationDifferences(spec, served.get(spec.name), sent).map((line) => `${file}: ${line}`));
  }
  t.deepEqual(differences, []);
});

test('the monitor signals the real controller sends carry the arguments its introspection leaves out', async (t) => {
  // Upstream's vtable declares UnitNew/UnitRemoved with two arguments but emits three (node, unit, reason).
  const sent = await sentSignatures();
  const monitor = (await recordedInterfaces('bluechi-monitor.xml')).get(MonitorInterface.name)!;
  t.is(monitor.signals.get('UnitNew')?.args.length, 2);
  t.is(sent.get('org.eclipse.bluechi.Monitor.UnitNew'), 'sss');
  t.is(MonitorInterface.signals.UnitNew, 'sss');
});

test('what the product declares of systemd is what systemd 257 serves', async (t) => {
  const manager = await recordedInterfaces('systemd-manager.xml');
  const unit = await recordedInterfaces('systemd-unit-service.xml');
  t.deepEqual(
    [...declarationDifferences(ManagerInterface, manager.get(ManagerInterface.name)), ...declarationDifferences(PropertiesInterface, unit.get(PropertiesInterface.name))],
    [],
  );
});

test('a declaration that differs from the recording is reported, naming the member', (t) => {
  const wrong = { ...ControllerInterface, methods: { ...ControllerInterface.methods, ListNodes: { in: '', out: 'a(ss)' } }, signals: { JobNew: 'uo', Missing: 's' } };
  return recordedInterfaces('bluechi-controller.xml').then((served) => {
    t.deepEqual(declarationDifferences(wrong, served.get(ControllerInterface.name)), [
      'org.eclipse.bluechi.Controller.ListNodes: declared () → (a(ss)), served () → (a(soss))',
      'org.eclipse.bluechi.Controller.Missing: no such signal',
    ]);
  });
});

test('the stand-in introspects as the real controller does: controller, node, job and monitor objects', async (t) => {
  const bus = await startPrivateBus();
  t.teardown(() => bus.stop());
  const standin = await startStandin({ address: bus.address, nodes: [{ name: 'node1', jobLatencyMs: 60_000, units: [{ name: 'qm-test-slow.service' }] }] });
  t.teardown(() => standin.stop());
  const client = await connectBus(bus.address);
  t.teardown(() => client.close());
  const call = (path: string, iface: string, member: string, signature = '', body: unknown[] = []) =>
    client.call({ destination: 'org.eclipse.bluechi', path, interface: iface, member, signature, body });
  const [job] = await call('/org/eclipse/bluechi/node/node1', 'org.eclipse.bluechi.Node', 'StartUnit', 'ss', ['qm-test-slow.service', 'replace']);
  const [monitor] = await call('/org/eclipse/bluechi', 'org.eclipse.bluechi.Controller', 'CreateMonitor');
  const introspect = async (path: string) => parseIntrospection(String((await call(path, 'org.freedesktop.DBus.Introspectable', 'Introspect'))[0]));

  const objects: Array<[file: string, path: string, interfaces: string[]]> = [
    ['bluechi-controller.xml', '/org/eclipse/bluechi', ['org.eclipse.bluechi.Controller', 'org.eclipse.bluechi.Metrics', 'org.freedesktop.DBus.Properties']],
    ['bluechi-node.xml', '/org/eclipse/bluechi/node/node1', ['org.eclipse.bluechi.Node', 'org.freedesktop.DBus.Properties']],
    ['bluechi-job.xml', String(job), ['org.eclipse.bluechi.Job', 'org.freedesktop.DBus.Properties']],
    ['bluechi-monitor.xml', String(monitor), ['org.eclipse.bluechi.Monitor']],
  ];
  const differences: string[] = [];
  for (const [file, path, interfaces] of objects) {
    const real = await recordedInterfaces(file);
    differences.push(...introspectionDifferences(real, await introspect(path), interfaces).map((line) => `${path}: ${line}`));
  }
  t.deepEqual(differences, []);
});

test('GetAll answers what the real controller answers: explicit properties only through Get', async (t) => {
  const recordedKeys = async (file: string) =>
    Object.keys((JSON.parse(await readFile(new URL(`./recorded/replies/${file}`, import.meta.url), 'utf8')) as { reply: { data: [object] } }).reply.data[0]).sort();
  const bus = await startPrivateBus();
  t.teardown(() => bus.stop());
  const standin = await startStandin({ address: bus.address, nodes: [{ name: 'node1', jobLatencyMs: 60_000, units: [{ name: 'qm-test-slow.service' }] }] });
  t.teardown(() => standin.stop());
  const client = await connectBus(bus.address);
  t.teardown(() => client.close());
  const getAll = async (path: string, iface: string) =>
    Object.keys((await client.call({ destination: 'org.eclipse.bluechi', path, interface: 'org.freedesktop.DBus.Properties', member: 'GetAll', signature: 's', body: [iface] }))[0] as object).sort();
  const [job] = await client.call({ destination: 'org.eclipse.bluechi', path: '/org/eclipse/bluechi/node/node1', interface: 'org.eclipse.bluechi.Node', member: 'StartUnit', signature: 'ss', body: ['qm-test-slow.service', 'replace'] });
  t.deepEqual(await getAll('/org/eclipse/bluechi/node/node1', 'org.eclipse.bluechi.Node'), await recordedKeys('node-GetAll.json'));
  t.deepEqual(await getAll(String(job), 'org.eclipse.bluechi.Job'), await recordedKeys('job-GetAll.json'));
});
