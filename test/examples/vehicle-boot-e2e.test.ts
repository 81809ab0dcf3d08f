// examples/vehicle at boot (issue 15): the three-node layout applied and converged by qm-controller as the node boots.
// Two vehicle nodes: ecu-main (systemd 257, QM set up, qm-controller from `make install`) and ecu-body. BlueChi is not
// packaged for Debian: on ecu-main a test-only bluechi-controller.service runs the BlueChi stand-in, serving
// org.eclipse.bluechi on ecu-main's system bus and backing the nodes ecu-main, qm.ecu-main and ecu-body by their real
// systemds (ecu-body's through its bus socket, which lies in a host directory both nodes bind). The README's node
// blocks run on ecu-main in order; its `systemctl reboot` is the fixture's reboot, after which the test waits for
// qm-controller's `converged` by its PropertiesChanged, then reads each unit's state from the three systemds.
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { filter, firstValueFrom, timeout } from 'rxjs';
import { connectBus } from '../../controller/bus/connection.ts';
import { followControllerStatus } from '../../controller/daemon/client.ts';
import type { DaemonStatus } from '../../controller/daemon/api.ts';
import { loadLayout, type Layout, type UnitSpec } from '../../controller/layout/index.ts';
import { outputMatches, runnableBlocks, type RunnableBlock } from '../docs/blocks.ts';
import { bootQmNode, projectDir, waitForQmScript, type QmNode } from '../partition/qm-node.ts';
import { runChecked, type CommandResult } from '../support/command.ts';
import { rootOwnsPolicy } from '../support/dbus-daemon.ts';
import { bootVehicleNode, type VehicleNode } from '../support/vehicle-node.ts';
import { installQmctl, nodeShell, ownVehicleBlocks } from './node-blocks.ts';

interface Context {
  main: QmNode;
  body: VehicleNode;
  /** Host directory bound at ecu-body's /run/dbus and into ecu-main: ecu-body's bus socket, seen by both. */
  bodyBus: string;
  layout: Layout;
}
const test = anyTest as TestFn<Context>;

const readme = 'examples/vehicle/README.md';
const { blocks } = runnableBlocks(readme, await readFile(join(projectDir, readme), 'utf8'));
const nodeBlocks = blocks.filter((block) => block.where === 'node');
const rebootAt = nodeBlocks.findIndex((block) => block.code.trim() === 'systemctl reboot');

/** Where ecu-main sees ecu-body's /run/dbus. */
const bodyBusInMain = '/run/bluechi-standin/ecu-body';

/** Test-only: BlueChi's controller, played by the stand-in; enabled, so it starts at boot as bluechi-controller would. */
const standinUnit = `# test/examples/vehicle-boot-e2e.test.ts: the BlueChi stand-in as bluechi-controller; never shipped.
[Unit]
Description=BlueChi controller stand-in: ecu-main, qm.ecu-main and ecu-body, backed by their systemds
After=dbus.service qm.service
Wants=qm.service

[Service]
Type=dbus
BusName=org.eclipse.bluechi
WorkingDirectory=/opt/qm
Environment=PODMAN_IGNORE_CGROUPSV1_WARNING=1
ExecStart=/usr/local/libexec/bluechi-standin

[Install]
WantedBy=multi-user.target
`;

/**
 * The stand-in connects to each node's systemd once, as it starts: QM's must answer by then (a real controller would
 * instead see QM's agent register whenever QM is up). QM's bus is reached through its root as ecu-main sees it.
 */
const standinScript = `#!/bin/sh
# test/examples/vehicle-boot-e2e.test.ts: never shipped.
${waitForQmScript}
[ -n "$state" ] || { echo "QM's systemd did not answer" >&2; exit 1; }
qm=$(podman inspect --format '{{.State.Pid}}' qm) || exit 1
exec node --import tsx test/standin/main.ts --address unix:path=/run/dbus/system_bus_socket \\
  --node ecu-main --node qm.ecu-main --node ecu-body \\
  --systemd ecu-main=unix:path=/run/dbus/system_bus_socket \\
  --systemd qm.ecu-main=unix:path=/proc/$qm/root/run/dbus/system_bus_socket \\
  --systemd ecu-body=unix:path=${bodyBusInMain}/system_bus_socket
`;

/** Test-only, as BlueChi's package ships it: root owns org.eclipse.bluechi and may call it. */
const standinPolicy = rootOwnsPolicy('org.eclipse.bluechi');

const expectOk = (result: CommandResult, what: string): string => {
  if (result.code !== 0) throw new Error(`${what} failed (${result.code}):\n${result.stdout}\n${result.stderr}`);
  return result.stdout.trim();
};

/** The example's unit files for one BlueChi node, as files to write into /etc/systemd/system of a node before it boots. */
async function exampleUnits(node: string): Promise<Array<{ path: string; content: string }>> {
  const dir = join(projectDir, 'examples/vehicle/units', node);
  return Promise.all(
    (await readdir(dir)).map(async (name) => ({ path: `/etc/systemd/system/${name}`, content: await readFile(join(dir, name), 'utf8') })),
  );
}

test.before(async (t) => {
  t.timeout(20 * 60_000, 'building the nodes, QM and its rootfs on a fresh machine');
  const loaded = await loadLayout([join(projectDir, 'examples/vehicle/layout.yaml')]);
  if (!loaded.ok) throw new Error(`examples/vehicle does not load: ${loaded.errors.map((error) => error.message).join('; ')}`);
  t.context.layout = loaded.layout;
  t.context.bodyBus = await mkdtemp('/var/tmp/qm-vehicle-bus-');
  // ecu-body's services, installed as the README's ecu-body block does (before boot, so no daemon-reload).
  const body = await bootVehicleNode({ name: 'ecu-body', binds: [{ host: t.context.bodyBus, node: '/run/dbus' }], files: await exampleUnits('ecu-body') });
  t.context.body = body;
  await body.waitForSystemState('running');
  const main = await bootQmNode('ecu-main', [], { ownCacheDir: true, binds: [{ host: t.context.bodyBus, node: bodyBusInMain }] });
  t.context.main = main;
  await installQmctl(main);
  expectOk(await main.qmctl(['setup']), 'qmctl setup');
  // qm-controller as `make install` puts it (the qm-controller package's files), into ecu-main's root.
  await runChecked(['make', '-s', '-C', projectDir, 'install-qm-controller', `DESTDIR=${main.root}`]);
  const files: Array<[string, string, number]> = [
    ['etc/systemd/system/bluechi-controller.service', standinUnit, 0o644],
    ['usr/local/libexec/bluechi-standin', standinScript, 0o755],
    ['etc/dbus-1/system.d/org.eclipse.bluechi.conf', standinPolicy, 0o644],
  ];
  for (const [path, content, mode] of files) {
    await mkdir(dirname(join(main.root, path)), { recursive: true });
    await writeFile(join(main.root, path), content);
    await chmod(join(main.root, path), mode);
  }
  await mkdir(join(main.root, 'etc/systemd/system/multi-user.target.wants'), { recursive: true });
  await symlink('../bluechi-controller.service', join(main.root, 'etc/systemd/system/multi-user.target.wants/bluechi-controller.service'));
});

test.after.always(async (t) => {
  const { main, body, bodyBus } = t.context;
  await main?.stop();
  await body?.stop();
  if (bodyBus) await rm(bodyBus, { recursive: true, force: true });
});

/** `systemctl ARGS…` on the systemd that runs `spec`: ecu-main's, QM's (in ecu-main) or ecu-body's. */
function systemctl(context: Context, spec: UnitSpec, args: readonly string[]): Promise<CommandResult> {
  if (spec.partition) return context.main.exec(['podman', 'exec', 'qm', 'systemctl', ...args]);
  return (spec.node === 'ecu-body' ? context.body : context.main).exec(['systemctl', ...args]);
}

/** Each unit of the layout as its own systemd reports it: `node/unit active enabled`. */
async function observed(context: Context): Promise<string[]> {
  return Promise.all(
    [...context.layout.units.values()].map(async (spec) => {
      const active = (await systemctl(context, spec, ['is-active', spec.unit])).stdout.trim();
      const enabled = (await systemctl(context, spec, ['is-enabled', spec.unit])).stdout.trim();
      return `${spec.key} ${active} ${enabled}`;
    }),
  );
}

/** Runs README blocks on ecu-main in order, failing the test for each that exits non-zero or prints other than it shows. */
async function runBlocks(t: ExecutionContext<Context>, list: readonly RunnableBlock[]): Promise<void> {
  const shell = await nodeShell(t.context.main, readme);
  for (const block of list) {
    const where = `${readme}:${block.line}`;
    const started = performance.now();
    const run = await shell.run(block.code);
    t.log(`${where}: ${((performance.now() - started) / 1000).toFixed(1)} s`);
    if (run.code !== 0) t.fail(`${where}: the block ${run.timedOut ? 'timed out' : `exited ${run.code}`}; it printed:\n${run.output}`);
    else if (block.output && !outputMatches(block.output.text, run.output))
      t.fail(`${where}: the output shown at line ${block.output.line} is not what it printed.\nShown:\n${block.output.text}\nPrinted:\n${run.output}`);
    else t.pass();
  }
}

test.serial('the README has node blocks before and after a `systemctl reboot` block, and book-e2e leaves them to this test', (t) => {
  t.true(rebootAt > 0, 'a block that is exactly `systemctl reboot`, after the set-up blocks');
  t.true(rebootAt < nodeBlocks.length - 1, 'blocks after the reboot');
  t.is(ownVehicleBlocks.get(readme), 'test/examples/vehicle-boot-e2e.test.ts');
});

test.serial('before the reboot: services, layout and qm-controller installed on ecu-main, nothing of the layout running anywhere', async (t) => {
  t.timeout(5 * 60_000);
  await runBlocks(t, nodeBlocks.slice(0, rebootAt));
  const units = [...t.context.layout.units.values()];
  t.deepEqual(await observed(t.context), units.map((spec) => `${spec.key} inactive disabled`));
  t.is((await t.context.main.exec(['systemctl', 'is-active', 'qm-controller.service', 'bluechi-controller.service'])).stdout, 'inactive\ninactive\n');
  t.is((await t.context.main.exec(['systemctl', 'is-enabled', 'qm-controller.service', 'bluechi-controller.service'])).stdout, 'enabled\nenabled\n');
});

test.serial('at boot: qm-controller converges the three nodes to the layout, as their own systemds report', async (t) => {
  t.timeout(10 * 60_000);
  const { main, layout } = t.context;
  const started = performance.now();
  const seconds = () => ((performance.now() - started) / 1000).toFixed(1);
  await main.reboot({ timeoutMs: 120_000 });
  await main.waitForSystemState('running', { timeoutMs: 240_000 });
  t.log(`ecu-main rebooted to running in ${seconds()} s`);
  // Running means qm-controller.service started (Type=dbus: it owns org.qm.Controller1); now its own signals.
  const bus = await connectBus(main.systemBusAddress);
  let status: DaemonStatus;
  try {
    // Units reach their states before the apply that started them has ended: wait for both.
    const settled = followControllerStatus(bus).pipe(filter((each) => each.converged && each.lastApply !== undefined));
    status = await firstValueFrom(settled.pipe(timeout({ first: 180_000 })));
  } finally {
    bus.close();
  }
  t.log(`converged ${seconds()} s after the reboot was asked for`);
  t.is(status.status, 'converged');
  t.deepEqual(status.nodes.map((node) => `${node.name} ${node.online}`).sort(), ['ecu-body true', 'ecu-main true', 'qm.ecu-main true']);
  // The one apply since boot, started by the stand-in's org.eclipse.bluechi being there when qm-controller started.
  t.like(status, { applies: 1, lastApply: { trigger: 'BlueChi up', outcome: 'applied' } });
  t.true(status.lastApply!.steps.every((step) => step.result === 'done'), JSON.stringify(status.lastApply!.steps));
  // As systemctl words them; a unit whose enablement the layout leaves alone is compared on its state only.
  const seen = await observed(t.context);
  const desired = [...layout.units.values()].map((spec, index) => {
    const enabled = spec.enabled === undefined ? seen[index]!.split(' ')[2] : spec.enabled ? 'enabled' : 'disabled';
    return `${spec.key} ${spec.state === 'running' ? 'active' : 'inactive'} ${enabled}`;
  });
  t.deepEqual(seen, desired);
});

test.serial('after the reboot: the README blocks print what they show', async (t) => {
  t.timeout(5 * 60_000);
  await runBlocks(t, nodeBlocks.slice(rebootAt + 1));
});
