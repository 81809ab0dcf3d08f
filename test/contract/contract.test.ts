// The contract, checked against what the real services answered (recorded/, see RECORDING.md): the
// product's declared signatures, and the stand-in's introspection, against real bluechi-controller 1.2.2
// and systemd 257.
import test from 'ava';
import { readdir, readFile } from 'node:fs/promises';
import { ControllerInterface, JobInterface, MonitorInterface, NodeInterface } from '../../controller/bluechi/contract.ts';
import { PropertiesInterface, type InterfaceSpec } from '../../controller/bus/signature.ts';
import { connectBus, type Bus } from '../../controller/bus/connection.ts';
import { ManagerInterface } from '../../controller/systemd/contract.ts';
import { standinTarget, type StandinTarget } from '../support/bluechi-target.ts';
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

// One stand-in for the tests below, its node holding a job that stays pending (a job object exists only while it runs).
let standin: StandinTarget | undefined;
let client: Bus | undefined;
let job: string;
test.before(async () => {
  standin = await standinTarget(['node1'], 60_000);
  client = await connectBus(standin.address);
  [job] = (await call('/org/eclipse/bluechi/node/node1', 'org.eclipse.bluechi.Node', 'StartUnit', 'ss', [standin.unit, 'replace'])) as [string];
});
test.after.always(async () => {
  client?.close();
  await standin?.stop();
});

function call(path: string, iface: string, member: string, signature = '', body: unknown[] = []): Promise<unknown[]> {
  return client!.call({ destination: 'org.eclipse.bluechi', path, interface: iface, member, signature, body });
}

test('the stand-in introspects as the real controller does: controller, node, job and monitor objects', async (t) => {
  const [monitor] = await call('/org/eclipse/bluechi', 'org.eclipse.bluechi.Controller', 'CreateMonitor');
  const introspect = async (path: string) => parseIntrospection(String((await call(path, 'org.freedesktop.DBus.Introspectable', 'Introspect'))[0]));

  const objects: Array<[file: string, path: string, interfaces: string[]]> = [
    ['bluechi-controller.xml', '/org/eclipse/bluechi', ['org.eclipse.bluechi.Controller', 'org.eclipse.bluechi.Metrics', 'org.freedesktop.DBus.Properties']],
    ['bluechi-node.xml', '/org/eclipse/bluechi/node/node1', ['org.eclipse.bluechi.Node', 'org.freedesktop.DBus.Properties']],
    ['bluechi-job.xml', job, ['org.eclipse.bluechi.Job', 'org.freedesktop.DBus.Properties']],
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
  const getAll = async (path: string, iface: string) =>
    Object.keys((await call(path, 'org.freedesktop.DBus.Properties', 'GetAll', 's', [iface]))[0] as object).sort();
  t.deepEqual(await getAll('/org/eclipse/bluechi/node/node1', 'org.eclipse.bluechi.Node'), await recordedKeys('node-GetAll.json'));
  t.deepEqual(await getAll(job, 'org.eclipse.bluechi.Job'), await recordedKeys('job-GetAll.json'));
});
