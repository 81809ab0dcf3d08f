// Records what a real bluechi-controller (with real bluechi-agents on real systemd 257 vehicle nodes) answers, into
// test/contract/recorded/: Introspect XML of every object kind, replies and errors of the calls the product makes,
// and the order of messages on the bus around jobs, monitors and node connection changes. See RECORDING.md.
//
//   QM_TEST_BLUECHI_CONTROLLER=/path/bluechi-controller QM_TEST_BLUECHI_AGENT=/path/bluechi-agent \
//     node --import tsx test/contract/record.ts [OUTDIR]
//
// It starts its own vehicle (test/support/real-bluechi.ts) so that ids start at 1, and stops it at the end.
// Only busctl (calls, introspection, `busctl monitor --json=short`), dbus-send (to see error names) and one
// dbus-next connection (a monitor lives as long as its creator's connection) talk to the controller.
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import dbus from 'dbus-next';
import { runCommand } from '../support/command.ts';
import { realBlueChiBinaries, startRealBlueChi, type RealBlueChi } from '../support/real-bluechi.ts';
import type { VehicleNodeFile } from '../support/vehicle-node.ts';

const outDir = process.argv[2] ?? fileURLToPath(new URL('./recorded/', import.meta.url));
const BC = 'org.eclipse.bluechi';
const CONTROLLER_PATH = '/org/eclipse/bluechi';
const CONTROLLER = 'org.eclipse.bluechi.Controller';
const NODE = 'org.eclipse.bluechi.Node';
const node1Path = '/org/eclipse/bluechi/node/node1';
const node2Path = '/org/eclipse/bluechi/node/node2';

/** Units only the recording needs, on every node. */
const recordingUnits: VehicleNodeFile[] = [
  {
    // A job that stays alive long enough to introspect, cancel and merge into.
    path: '/etc/systemd/system/qm-test-slow.service',
    content: '[Unit]\nDescription=qm contract: slow to start\n\n[Service]\nExecStartPre=/bin/sleep 4\nExecStart=/bin/sleep infinity\n',
  },
  {
    path: '/usr/lib/systemd/system/qm-test-masked.service',
    content: '[Unit]\nDescription=qm contract: masked\n\n[Service]\nExecStart=/bin/sleep infinity\n\n[Install]\nWantedBy=multi-user.target\n',
  },
  { path: '/etc/systemd/system/qm-test-masked.service', symlink: '/dev/null' },
  {
    path: '/usr/lib/systemd/system/qm-test-runtime.service',
    content: '[Unit]\nDescription=qm contract: enabled at runtime\n\n[Service]\nExecStart=/bin/sleep infinity\n\n[Install]\nWantedBy=multi-user.target\n',
  },
];

interface Captured {
  type: string;
  sender?: string;
  destination?: string;
  path?: string;
  interface?: string;
  member?: string;
  error_name?: string;
  cookie?: number;
  reply_cookie?: number;
  'timestamp-realtime': number;
  payload?: { type: string; data: unknown[] };
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const quote = (arg: string) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`);

async function main(): Promise<void> {
  const binaries = realBlueChiBinaries();
  if (!binaries) throw new Error('set QM_TEST_BLUECHI_CONTROLLER and QM_TEST_BLUECHI_AGENT');
  await mkdir(join(outDir, 'introspect'), { recursive: true });
  await mkdir(join(outDir, 'replies'), { recursive: true });
  await mkdir(join(outDir, 'sequences'), { recursive: true });
  const log = (line: string) => process.stderr.write(`record: ${line}\n`);
  const vehicle = await startRealBlueChi({ ...binaries, files: recordingUnits, log });
  try {
    await record(vehicle, log);
  } finally {
    await vehicle.stop();
  }
}

async function record(vehicle: RealBlueChi, log: (line: string) => void): Promise<void> {
  const A = vehicle.address;
  const busctlArgs = (args: readonly string[], address = A) => [`--address=${address}`, ...args];
  const shown = (tool: string, args: readonly string[]) => {
    let text = [tool, ...args].map(quote).join(' ').replaceAll(A, '$ADDRESS');
    // A vehicle node's system bus, e.g. $NODE1_SYSTEM_BUS.
    for (const [name, node] of vehicle.vehicleNodes) text = text.replaceAll(node.systemBusAddress, `$${name.replace(/\W/g, '_').toUpperCase()}_SYSTEM_BUS`);
    return text;
  };

  // Every message on the controller's bus, as busctl sees it.
  const capture: Captured[] = [];
  const monitor = spawn('busctl', busctlArgs(['monitor', '--json=short']), { stdio: ['ignore', 'pipe', 'pipe'] });
  createInterface({ input: monitor.stdout }).on('line', (line) => {
    if (line.startsWith('{')) capture.push(JSON.parse(line) as Captured);
  });
  await new Promise<void>((resolve) => createInterface({ input: monitor.stderr }).once('line', () => resolve()));

  const write = async (file: string, content: unknown) => {
    await writeFile(join(outDir, file), typeof content === 'string' ? content : `${JSON.stringify(content, null, 2)}\n`);
    log(`wrote ${file}`);
  };

  const busctl = async (args: readonly string[], address = A) => {
    const result = await runCommand(['busctl', ...busctlArgs(args, address)], { timeoutMs: 30_000 });
    if (result.code !== 0) throw new Error(`busctl ${args.join(' ')}: ${result.stderr}`);
    return result.stdout;
  };
  /** A successful call, its reply as busctl's JSON. */
  const call = async (args: readonly string[]) => {
    const full = ['--json=short', 'call', ...args];
    const text = (await busctl(full)).trim();
    // An empty reply (no out arguments) prints nothing.
    const reply = (text === '' ? { type: '', data: [] } : JSON.parse(text)) as { type: string; data: unknown[] };
    return { command: shown('busctl', busctlArgs(full)), reply };
  };
  /** A call through dbus-send, which prints the error name busctl hides. */
  const send = async (path: string, member: string, ...args: string[]) => {
    const argv = [`--bus=${A}`, '--print-reply', `--dest=${BC}`, path, member, ...args];
    const result = await runCommand(['dbus-send', ...argv], { timeoutMs: 30_000 });
    const error = /^Error (\S+): ([\s\S]*)$/.exec(result.stderr.trim());
    return {
      command: shown('dbus-send', argv),
      ...(error ? { error: { name: error[1], message: error[2] } } : { reply: result.stdout.trim() }),
    };
  };
  const introspect = async (file: string, service: string, path: string, address = A) => {
    const args = ['--xml-interface', 'introspect', service, path];
    await write(file, await busctl(args, address));
    return shown('busctl', busctlArgs(args, address));
  };

  const controllerName = JSON.parse(await busctl(['--json=short', 'call', 'org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus', 'GetNameOwner', 's', BC])).data[0] as string;
  /** The messages between two instants, bus-daemon traffic left out, unique names replaced by roles. */
  const window = (from: number, to = Date.now() * 1000) => {
    const roles = new Map<string, string>([[controllerName, 'controller']]);
    const role = (name: string | undefined) => {
      if (name === undefined) return undefined;
      if (!roles.has(name)) roles.set(name, `client${roles.size}`);
      return roles.get(name);
    };
    return capture
      .filter((m) => m['timestamp-realtime'] >= from && m['timestamp-realtime'] <= to)
      .filter((m) => m.sender !== 'org.freedesktop.DBus' && m.destination !== 'org.freedesktop.DBus')
      .map((m) => ({
        type: m.type,
        sender: role(m.sender),
        ...(m.destination ? { destination: m.destination === BC ? BC : role(m.destination) } : {}),
        ...(m.path ? { path: m.path } : {}),
        ...(m.interface ? { interface: m.interface } : {}),
        ...(m.member ? { member: m.member } : {}),
        ...(m.error_name ? { error_name: m.error_name } : {}),
        ...(m.cookie !== undefined ? { cookie: m.cookie } : {}),
        ...(m.reply_cookie !== undefined ? { reply_cookie: m.reply_cookie } : {}),
        payload: m.payload,
      }));
  };
  const now = () => Date.now() * 1000;
  /** Waits until the capture holds a message matching `test` that arrived after `from`. */
  const seen = async (from: number, what: string, test: (m: Captured) => boolean, timeoutMs = 20_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!capture.some((m) => m['timestamp-realtime'] >= from && test(m))) {
      if (Date.now() > deadline) throw new Error(`record: no ${what} within ${timeoutMs} ms`);
      await delay(20);
    }
    await delay(300); // whatever follows at once
  };
  const jobRemoved = (job: string) => (m: Captured) => m.member === 'JobRemoved' && (m.payload?.data[1] as string) === job;
  const nodeCall = (path: string, member: string, signature: string, ...args: string[]) => [BC, path, NODE, member, signature, ...args];

  // --- Introspection of the controller's objects -------------------------------------------------------------
  const commands: Record<string, string> = {};
  commands.controller = await introspect('introspect/bluechi-controller.xml', BC, CONTROLLER_PATH);
  commands.node = await introspect('introspect/bluechi-node.xml', BC, node1Path);
  await write('replies/controller-ListNodes.json', await call([BC, CONTROLLER_PATH, CONTROLLER, 'ListNodes']));
  await write('replies/controller-Status.json', {
    command: shown('busctl', busctlArgs(['--json=short', 'get-property', BC, CONTROLLER_PATH, CONTROLLER, 'Status'])),
    reply: JSON.parse(await busctl(['--json=short', 'get-property', BC, CONTROLLER_PATH, CONTROLLER, 'Status'])),
  });
  await write('replies/node-GetAll.json', await call([BC, node1Path, 'org.freedesktop.DBus.Properties', 'GetAll', 's', NODE]));
  await write('replies/controller-GetNode-node1.json', await call([BC, CONTROLLER_PATH, CONTROLLER, 'GetNode', 's', 'node1']));
  await write('replies/controller-GetNode-unknown.json', await send(CONTROLLER_PATH, `${CONTROLLER}.GetNode`, 'string:qm-no-such-node'));

  // --- A job, start to end: JobNew, the method reply, JobRemoved -----------------------------------------------
  {
    const from = now();
    const started = await call(nodeCall(node1Path, 'StartUnit', 'ss', 'qm-test.service', 'replace'));
    const job = started.reply.data[0] as string;
    await seen(from, `JobRemoved of ${job}`, jobRemoved(job));
    await write('sequences/StartUnit.json', { command: started.command, reply: started.reply, messages: window(from) });
  }

  // --- A job kept alive: its object, its properties, Cancel -----------------------------------------------------
  {
    const from = now();
    const started = await call(nodeCall(node1Path, 'StartUnit', 'ss', 'qm-test-slow.service', 'replace'));
    const job = started.reply.data[0] as string;
    commands.job = await introspect('introspect/bluechi-job.xml', BC, job);
    await write('replies/job-GetAll.json', await call([BC, job, 'org.freedesktop.DBus.Properties', 'GetAll', 's', 'org.eclipse.bluechi.Job']));
    const cancel = await call([BC, job, 'org.eclipse.bluechi.Job', 'Cancel']);
    await seen(from, `JobRemoved of ${job}`, jobRemoved(job));
    await write('sequences/Job-Cancel.json', { commands: [started.command, cancel.command], messages: window(from) });
  }

  // --- Two starts of one unit while the first job runs ----------------------------------------------------------
  {
    const from = now();
    const first = await call(nodeCall(node1Path, 'StartUnit', 'ss', 'qm-test-slow.service', 'replace'));
    await delay(500);
    const second = await call(nodeCall(node1Path, 'StartUnit', 'ss', 'qm-test-slow.service', 'replace'));
    await seen(from, 'JobRemoved of the second start', jobRemoved(second.reply.data[0] as string), 20_000);
    await delay(2000); // a JobRemoved for the first job, if there is one, has come by now
    await write('sequences/StartUnit-twice-while-running.json', { commands: [first.command, second.command], messages: window(from) });
    const from2 = now();
    const stop = await call(nodeCall(node1Path, 'StopUnit', 'ss', 'qm-test-slow.service', 'replace'));
    await seen(from2, 'JobRemoved of the stop', jobRemoved(stop.reply.data[0] as string));
  }

  // --- A unit that does not exist ----------------------------------------------------------------------------------
  {
    const from = now();
    const result = await send(node1Path, `${NODE}.StartUnit`, 'string:qm-no-such-unit.service', 'string:replace');
    await delay(2000);
    await write('sequences/StartUnit-unknown-unit.json', { ...result, messages: window(from) });
    await write('replies/node-GetUnitProperty-unknown-unit.json', await call(nodeCall(node1Path, 'GetUnitProperty', 'sss', 'qm-no-such-unit.service', 'org.freedesktop.systemd1.Unit', 'LoadState')));
  }

  // --- A monitor: its object, and what subscribing yields -------------------------------------------------------
  const client = dbus.sessionBus({ busAddress: A });
  const invoke = async (path: string, iface: string, member: string, signature = '', body: unknown[] = []) => {
    const reply = await client.call(new dbus.Message({ destination: BC, path, interface: iface, member, signature, body }));
    return reply?.body as unknown[];
  };
  try {
    {
      const from = now();
      const started = await call(nodeCall(node1Path, 'StartUnit', 'ss', 'qm-test.service', 'replace'));
      await seen(from, 'JobRemoved', jobRemoved(started.reply.data[0] as string));
    }
    const [monitorPath] = (await invoke(CONTROLLER_PATH, CONTROLLER, 'CreateMonitor')) as [string];
    commands.monitor = await introspect('introspect/bluechi-monitor.xml', BC, monitorPath);
    {
      const from = now();
      const one = await invoke(monitorPath, 'org.eclipse.bluechi.Monitor', 'Subscribe', 'ss', ['node1', 'qm-test.service']);
      await delay(1500);
      const wildcard = await invoke(monitorPath, 'org.eclipse.bluechi.Monitor', 'Subscribe', 'ss', ['node2', '*']);
      await delay(1500);
      await write('sequences/Monitor-Subscribe.json', {
        calls: [
          { call: `CreateMonitor() -> ${monitorPath}`, note: 'through one dbus-next connection (client1 below), which keeps the monitor alive' },
          { call: "Subscribe('node1', 'qm-test.service') while the unit is active", reply: one },
          { call: "Subscribe('node2', '*')", reply: wildcard },
        ],
        messages: window(from),
      });
    }
    {
      const from = now();
      const restarted = await call(nodeCall(node1Path, 'RestartUnit', 'ss', 'qm-test.service', 'replace'));
      await seen(from, 'JobRemoved', jobRemoved(restarted.reply.data[0] as string));
      await write('sequences/Monitor-RestartUnit.json', { command: restarted.command, messages: window(from) });
    }

    // --- systemd 257 on a vehicle node: Manager and a service unit ------------------------------------------------
    const node1 = vehicle.vehicleNodes.get('node1')!;
    commands.systemdManager = await introspect('introspect/systemd-manager.xml', 'org.freedesktop.systemd1', '/org/freedesktop/systemd1', node1.systemBusAddress);
    commands.systemdUnit = await introspect('introspect/systemd-unit-service.xml', 'org.freedesktop.systemd1', '/org/freedesktop/systemd1/unit/qm_2dtest_2eservice', node1.systemBusAddress);
    const systemdVersion = JSON.parse(await busctl(['--json=short', 'get-property', 'org.freedesktop.systemd1', '/org/freedesktop/systemd1', 'org.freedesktop.systemd1.Manager', 'Version'], node1.systemBusAddress)).data as string;

    // --- Unit files ---------------------------------------------------------------------------------------------
    const fileState = (unit: string) => call(nodeCall(node1Path, 'GetUnitFileState', 's', unit));
    await write('replies/unit-files-runtime.json', [
      { step: 'enable at runtime', ...(await call(nodeCall(node1Path, 'EnableUnitFiles', 'asbb', '1', 'qm-test-runtime.service', 'true', 'false'))) },
      { step: 'state', ...(await fileState('qm-test-runtime.service')) },
      { step: 'disable with runtime=false', ...(await call(nodeCall(node1Path, 'DisableUnitFiles', 'asb', '1', 'qm-test-runtime.service', 'false'))) },
      { step: 'state', ...(await fileState('qm-test-runtime.service')) },
      { step: 'disable with runtime=true', ...(await call(nodeCall(node1Path, 'DisableUnitFiles', 'asb', '1', 'qm-test-runtime.service', 'true'))) },
      { step: 'state', ...(await fileState('qm-test-runtime.service')) },
    ]);
    await write('replies/unit-files-masked.json', [
      { step: 'state', ...(await fileState('qm-test-masked.service')) },
      { step: 'enable', ...(await send(node1Path, `${NODE}.EnableUnitFiles`, 'array:string:qm-test-masked.service', 'boolean:false', 'boolean:false')) },
      { step: 'enable with force', ...(await send(node1Path, `${NODE}.EnableUnitFiles`, 'array:string:qm-test-masked.service', 'boolean:false', 'boolean:true')) },
      { step: 'state', ...(await fileState('qm-test-masked.service')) },
    ]);
    await write('replies/unit-files-other.json', [
      { step: 'state of a unit without [Install] section', ...(await fileState('qm-test-slow.service')) },
      { step: 'state of a unit file that does not exist', ...(await send(node1Path, `${NODE}.GetUnitFileState`, 'string:qm-no-such-unit.service')) },
    ]);

    // --- ListUnits once qm-test.service is stopped and nothing references it ---------------------------------------
    {
      const from = now();
      const stopped = await call(nodeCall(node1Path, 'StopUnit', 'ss', 'qm-test.service', 'replace'));
      await seen(from, 'JobRemoved', jobRemoved(stopped.reply.data[0] as string));
      await delay(1000);
      const listed = await call(nodeCall(node1Path, 'ListUnits', ''));
      const rows = listed.reply.data[0] as unknown[][];
      await write('replies/node-ListUnits.json', {
        ...listed,
        note: `after StopUnit(qm-test.service): qm-test.service is ${rows.some((row) => row[0] === 'qm-test.service') ? '' : 'NOT '}listed (systemd unloads an inactive unit nothing references)`,
      });
    }

    // --- Log levels, transient units ----------------------------------------------------------------------------
    await write('replies/SetLogLevel.json', [
      { step: 'node, unknown level', ...(await send(node1Path, `${NODE}.SetLogLevel`, 'string:LOUD')) },
      { step: 'node, DEBUG', ...(await send(node1Path, `${NODE}.SetLogLevel`, 'string:DEBUG')) },
      { step: 'controller, unknown level', ...(await send(CONTROLLER_PATH, `${CONTROLLER}.SetLogLevel`, 'string:LOUD')) },
      { step: 'controller, INFO', ...(await send(CONTROLLER_PATH, `${CONTROLLER}.SetLogLevel`, 'string:INFO')) },
    ]);
    {
      const from = now();
      const transient = await call(
        nodeCall(node1Path, 'StartTransientUnit', 'ssa(sv)a(sa(sv))', 'qm-test-transient.service', 'replace', '1', 'ExecStart', 'a(sasb)', '1', '/bin/sleep', '2', '/bin/sleep', '30', 'false', '0'),
      );
      await delay(2000);
      await write('sequences/StartTransientUnit.json', { command: transient.command, reply: transient.reply, messages: window(from) });
      const from2 = now();
      const stop = await call(nodeCall(node1Path, 'StopUnit', 'ss', 'qm-test-transient.service', 'replace'));
      await seen(from2, 'JobRemoved', jobRemoved(stop.reply.data[0] as string));
    }

    // --- A node going offline and coming back -----------------------------------------------------------------
    const node2 = vehicle.vehicleNodes.get('node2')!;
    {
      const from = now();
      const started = await call(nodeCall(node2Path, 'StartUnit', 'ss', 'qm-test.service', 'replace'));
      await seen(from, 'JobRemoved', jobRemoved(started.reply.data[0] as string));
    }
    const monitorPath2 = ((await invoke(CONTROLLER_PATH, CONTROLLER, 'CreateMonitor')) as [string])[0];
    await invoke(monitorPath2, 'org.eclipse.bluechi.Monitor', 'Subscribe', 'ss', ['node2', 'qm-test.service']);
    await delay(1000);
    {
      // A job in flight when the agent leaves.
      const from = now();
      const slow = await call(nodeCall(node2Path, 'StartUnit', 'ss', 'qm-test-slow.service', 'replace'));
      await delay(500);
      const stopped = await node2.exec(['systemctl', 'stop', 'bluechi-agent.service']);
      if (stopped.code !== 0) throw new Error(`stopping node2's agent: ${stopped.stderr}`);
      await seen(from, "node2's Status PropertiesChanged", (m) => m.member === 'PropertiesChanged' && m.path === node2Path);
      await delay(5000); // the slow job would have ended by now
      await write('sequences/node-goes-offline.json', {
        commands: [slow.command, "inside node2: systemctl stop bluechi-agent.service (monitor client1 subscribed to node2/qm-test.service, qm-test.service active; a start of qm-test-slow.service in flight)"],
        messages: window(from),
      });
    }
    await write('replies/offline.json', [
      { step: 'ListNodes', ...(await call([BC, CONTROLLER_PATH, CONTROLLER, 'ListNodes'])) },
      { step: 'controller Status', command: shown('busctl', busctlArgs(['--json=short', 'get-property', BC, CONTROLLER_PATH, CONTROLLER, 'Status'])), reply: JSON.parse(await busctl(['--json=short', 'get-property', BC, CONTROLLER_PATH, CONTROLLER, 'Status'])) },
      { step: 'properties of the offline node', ...(await call([BC, node2Path, 'org.freedesktop.DBus.Properties', 'GetAll', 's', NODE])) },
      { step: 'StartUnit on the offline node', ...(await send(node2Path, `${NODE}.StartUnit`, 'string:qm-test.service', 'string:replace')) },
      { step: 'GetUnitFileState on the offline node', ...(await send(node2Path, `${NODE}.GetUnitFileState`, 'string:qm-test.service')) },
      { step: 'ListUnits on the offline node', ...(await send(node2Path, `${NODE}.ListUnits`)) },
      { step: 'controller ListUnits: the nodes it answers for', command: shown('busctl', busctlArgs(['--json=short', 'call', BC, CONTROLLER_PATH, CONTROLLER, 'ListUnits'])), nodes: Object.keys((await call([BC, CONTROLLER_PATH, CONTROLLER, 'ListUnits'])).reply.data[0] as object) },
    ]);
    {
      const from = now();
      const started = await node2.exec(['systemctl', 'start', 'bluechi-agent.service']);
      if (started.code !== 0) throw new Error(`starting node2's agent: ${started.stderr}`);
      await seen(from, "node2's Status PropertiesChanged", (m) => m.member === 'PropertiesChanged' && m.path === node2Path);
      await delay(2000);
      await write('sequences/node-comes-back.json', { commands: ['inside node2: systemctl start bluechi-agent.service'], messages: window(from) });
    }

    // --- The controller stopped with SIGTERM while a job runs -------------------------------------------------
    {
      const from = now();
      const slow = await call(nodeCall(node1Path, 'StartUnit', 'ss', 'qm-test-slow.service', 'replace'));
      await delay(500);
      process.kill(vehicle.controllerPid, 'SIGTERM');
      await seen(from, `${BC} leaving the bus`, (m) => m.member === 'NameOwnerChanged' && (m.payload?.data[0] as string) === BC);
      const messages = window(from);
      // The bus daemon's NameOwnerChanged says when the controller was gone: keep it.
      const gone = capture.filter((m) => m['timestamp-realtime'] >= from && m.member === 'NameOwnerChanged' && (m.payload?.data[0] as string) === BC);
      await write('sequences/controller-SIGTERM.json', {
        commands: [slow.command, 'kill -TERM <bluechi-controller>'],
        messages: [...messages, ...gone.map((m) => ({ type: m.type, sender: 'bus', member: m.member, payload: m.payload }))],
      });
    }

    await write('recorded-with.json', {
      date: new Date().toISOString(),
      controller: (await runCommand([vehicle.env.QM_TEST_BLUECHI_CONTROLLER!, '-v'])).stdout.trim() || (await runCommand([vehicle.env.QM_TEST_BLUECHI_CONTROLLER!, '-v'])).stderr.trim(),
      agent: (await runCommand([vehicle.env.QM_TEST_BLUECHI_AGENT!, '-v'])).stdout.trim() || (await runCommand([vehicle.env.QM_TEST_BLUECHI_AGENT!, '-v'])).stderr.trim(),
      systemd: systemdVersion,
      busctl: (await runCommand(['busctl', '--version'])).stdout.split('\n')[0],
      nodes: vehicle.nodes,
      introspectCommands: commands,
    });
  } finally {
    client.disconnect();
    monitor.kill('SIGTERM');
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`record: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
