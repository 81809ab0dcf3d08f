// End to end on a trixie vehicle node set up by `qmctl setup`: the video and input sub-packages bring a device node
// of the host into QM and into a container nested in QM, and without them it does not reach QM, even for QM root
// who makes the node itself. The nodes have no driver behind them, so the errno of open() tells who answered: the
// kernel finding no driver (ENXIO, ENODEV) means the device cgroup let the open through; EPERM is the device cgroup.
import anyTest, { type TestFn } from 'ava';
import { bootQmNode, setUpQm, type QmNode } from '../partition/qm-node.ts';
import { devices, EPERM, madeInQm, probe, reachedKernel, restartQm } from './devices.ts';
import { installSubpackage, removeSubpackage } from './install.ts';

const test = anyTest as TestFn<{ node: QmNode }>;

test.before(async (t) => {
  t.timeout(20 * 60_000, 'building the node and QM rootfs on a fresh machine');
  const node = await bootQmNode('qm-subpkg-devices');
  t.context.node = node;
  const made = await node.sh(devices.map((device) => `mkdir -p $(dirname ${device.path}) && mknod ${device.path} c ${device.major} ${device.minor}`).join(' && '));
  if (made.code !== 0) throw new Error(`cannot make device nodes on the node: ${made.stderr}`);
  const setup = await setUpQm(node);
  t.log(`qmctl setup in ${setup.seconds.toFixed(1)} s`);
});

test.after.always(async (t) => {
  await t.context.node?.stop();
});

test.serial("the node itself may open its device nodes: systemd-nspawn's device policy does not stand in the way", async (t) => {
  const { node } = t.context;
  // No device cgroup entry of its own (--register=no, --keep-unit): what the node gets, QM could be given.
  for (const device of devices) {
    const opened = await node.sh(`head -c 1 ${device.path} 2>&1 >/dev/null`);
    t.regex(opened.stdout, /No such device/, `${device.path} on the node: ${opened.stdout}`);
  }
});

test.serial('without the sub-packages the devices do not reach QM, not even when QM root makes the nodes', async (t) => {
  const { node } = t.context;
  const inQm = await probe(node, 'qm', devices.map((device) => device.path));
  t.log(`QM: ${JSON.stringify(inQm)}`);
  for (const device of devices) {
    t.is(inQm[device.path]?.device, undefined, `${device.path} is not in QM`);
    t.is(await madeInQm(node, device), EPERM, `QM's device cgroup refuses ${device.major}:${device.minor}`);
  }
});

test.serial('with mount_bind_video and mount_bind_input the devices reach QM and a container nested in QM', async (t) => {
  const { node } = t.context;
  await installSubpackage(node, 'mount_bind_video');
  await installSubpackage(node, 'mount_bind_input');
  const started = performance.now();
  await restartQm(node);
  t.log(`QM restarted with the drop-ins in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  const run = await node.sh('systemctl cat qm.service');
  t.regex(run.stdout, /--device \/dev\/video0 /);
  t.regex(run.stdout, /--device \/dev\/input /);

  const paths = devices.map((device) => device.path);
  const inQm = await probe(node, 'qm', paths);
  const nested = await probe(node, 'nested', paths, paths.map((path) => `--device ${path}`).join(' '));
  t.log(`QM: ${JSON.stringify(inQm)}\nnested: ${JSON.stringify(nested)}`);
  for (const device of devices) {
    for (const [where, probes] of [['QM', inQm], ['nested', nested]] as const) {
      t.is(probes[device.path]?.device, `${device.major}:${device.minor}`, `${device.path} in ${where}`);
      t.true(reachedKernel.includes(probes[device.path]?.errno ?? -1), `${device.path} in ${where}: open() got errno ${probes[device.path]?.errno}, not the device cgroup's EPERM`);
    }
    t.true(reachedKernel.includes(await madeInQm(node, device)), `QM's device cgroup allows ${device.major}:${device.minor}`);
  }
  const plain = await probe(node, 'nested', paths);
  t.deepEqual(Object.values(plain).map((probe) => probe.device), [undefined, undefined], 'a nested container gets them only when it asks (--device, AddDevice=)');
});

test.serial('an input device that appears after QM started is not in QM (hotplug is not covered: restart QM)', async (t) => {
  const { node } = t.context;
  const made = await node.sh('mknod /dev/input/event1 c 13 65');
  t.is(made.code, 0, made.stderr);
  const inQm = await probe(node, 'qm', ['/dev/input/event0', '/dev/input/event1']);
  t.is(inQm['/dev/input/event0']?.device, '13:64');
  t.is(inQm['/dev/input/event1']?.device, undefined);
  t.is(await madeInQm(node, { major: 13, minor: 65 }), EPERM);
  await restartQm(node);
  t.is((await probe(node, 'qm', ['/dev/input/event1']))['/dev/input/event1']?.device, '13:65', 'after a restart it is');
});

test.serial('removing the sub-packages and restarting QM takes the devices away again', async (t) => {
  const { node } = t.context;
  await removeSubpackage(node, 'mount_bind_video');
  await removeSubpackage(node, 'mount_bind_input');
  await restartQm(node);
  const inQm = await probe(node, 'qm', devices.map((device) => device.path));
  for (const device of devices) {
    t.is(inQm[device.path]?.device, undefined, `${device.path} is gone from QM`);
    t.is(await madeInQm(node, device), EPERM);
  }
});

test.serial("with ros2_rolling nested containers share QM's IPC namespace and its 512 MiB /dev/shm, and QM keeps its own", async (t) => {
  const { node } = t.context;
  await installSubpackage(node, 'ros2_rolling');
  await restartQm(node);
  const ns = (where: string) => node.sh(`${where} /proc/self/ns/ipc`).then((result) => result.stdout.trim());
  const inNested = 'podman exec qm podman run --rm localhost/busybox busybox readlink';
  const [host, qm, nested] = await Promise.all([ns('readlink'), ns('podman exec qm readlink'), ns(inNested)]);
  t.regex(qm, /^ipc:\[\d+\]$/);
  t.not(qm, host, "QM's IPC namespace is its own, not the node's");
  t.is(nested, qm, "a nested container is in QM's IPC namespace");
  const shm = await node.sh(
    "podman exec qm sh -c 'echo from-qm > /dev/shm/qm-e2e && df -k --output=size /dev/shm | tail -1' && podman exec qm podman run --rm localhost/busybox cat /dev/shm/qm-e2e && test ! -e /dev/shm/qm-e2e",
  );
  t.is(shm.code, 0, shm.stderr);
  t.deepEqual(shm.stdout.trim().split('\n').map((line) => line.trim()), [String(512 * 1024), 'from-qm']);
  await removeSubpackage(node, 'ros2_rolling');
  await restartQm(node);
  t.not(await ns(inNested), await ns('podman exec qm readlink'), 'without it a nested container has its own again');
});
