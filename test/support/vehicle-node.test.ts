// The vehicle-node fixture against the real thing: systemd 257 boots, a unit starts over D-Bus from the host,
// podman runs a nested container, and stop() leaves nothing behind.
import test from 'ava';
import dbus from 'dbus-next';
import { copyFile, mkdir, readdir, readFile, readlink, symlink, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { runCommand } from './command.ts';
import { ensureHostPackages } from './host-packages.ts';
import { buildRootfs } from './rootfs.ts';
import { bootVehicleNode, type VehicleNode } from './vehicle-node.ts';

const { Message } = dbus;

let node: VehicleNode | undefined;
let nodeNetwork = '';

test.after.always(async () => {
  await node?.stop();
});

const booted = (): VehicleNode => {
  if (!node) throw new Error('the node did not boot (see the first failing test)');
  return node;
};

test.serial('the rootfs is built once and then comes from the cache', async (t) => {
  const first = await buildRootfs();
  t.log(`rootfs ${first.key}: ${first.source} in ${first.seconds.toFixed(2)} s`);
  const again = await buildRootfs();
  t.is(again.source, 'tree');
  t.is(again.dir, first.dir);
  t.true(existsSync(join(first.dir, 'usr/lib/systemd/systemd')));
  t.true(existsSync(first.tarball));
});

test.serial('systemd boots as the node PID 1 and reaches running', async (t) => {
  node = await bootVehicleNode({ name: 'vn-fixture' });
  const report = await node.waitForSystemState('degraded');
  t.log(`boot to ${report.state} in ${report.seconds.toFixed(2)} s`);
  t.is(report.state, 'running', `failed units: ${report.failedUnits.join(', ')}`);
  t.is((await readFile(`/proc/${node.leaderPid}/comm`, 'utf8')).trim(), 'systemd');
  t.is((await node.exec(['hostname'])).stdout.trim(), 'vn-fixture');
  const busctl = await runCommand(['busctl', `--address=${node.systemBusAddress}`, 'get-property', 'org.freedesktop.systemd1',
    '/org/freedesktop/systemd1', 'org.freedesktop.systemd1.Manager', 'SystemState']);
  t.is(busctl.stdout.trim(), 's "running"', busctl.stderr);
  nodeNetwork = await readlink(`/proc/${node.leaderPid}/ns/net`);
  t.not(nodeNetwork, await readlink('/proc/self/ns/net'));
});

test.serial('a unit written into the node starts through a D-Bus call from the host', async (t) => {
  const vn = booted();
  await writeFile(
    join(vn.root, 'etc/systemd/system/qm-probe.service'),
    '[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/sh -c "echo started >/run/qm-probe"\n',
  );
  const bus = dbus.sessionBus({ busAddress: vn.systemBusAddress, authMethods: ['EXTERNAL'] });
  try {
    const systemd = (member: string, signature = '', body: unknown[] = []) =>
      bus.call(
        new Message({
          destination: 'org.freedesktop.systemd1',
          path: '/org/freedesktop/systemd1',
          interface: 'org.freedesktop.systemd1.Manager',
          member,
          signature,
          body,
        }),
      );
    const removed: unknown[][] = [];
    bus.on('message', (message) => {
      if (message.member === 'JobRemoved') removed.push(message.body);
    });
    await bus.call(
      new Message({
        destination: 'org.freedesktop.DBus',
        path: '/org/freedesktop/DBus',
        interface: 'org.freedesktop.DBus',
        member: 'AddMatch',
        signature: 's',
        body: ["type='signal',sender='org.freedesktop.systemd1',interface='org.freedesktop.systemd1.Manager',member='JobRemoved'"],
      }),
    );
    await systemd('Subscribe');
    await systemd('Reload');
    const reply = await systemd('StartUnit', 'ss', ['qm-probe.service', 'replace']);
    const job = reply?.body[0] as string;
    t.regex(job, /^\/org\/freedesktop\/systemd1\/job\/\d+$/);

    const deadline = Date.now() + 10_000;
    let done: unknown[] | undefined;
    while (!(done = removed.find((body) => body[1] === job)) && Date.now() < deadline) await delay(20);
    t.deepEqual(done?.slice(2), ['qm-probe.service', 'done']);

    const unit = (await systemd('GetUnit', 's', ['qm-probe.service']))?.body[0] as string;
    const activeState = await bus.call(
      new Message({
        destination: 'org.freedesktop.systemd1',
        path: unit,
        interface: 'org.freedesktop.DBus.Properties',
        member: 'Get',
        signature: 'ss',
        body: ['org.freedesktop.systemd1.Unit', 'ActiveState'],
      }),
    );
    t.is((activeState?.body[0] as { value: unknown }).value, 'active');
    t.is(await readFile(join(vn.root, 'run/qm-probe'), 'utf8'), 'started\n');
  } finally {
    bus.disconnect();
  }
});

test.serial('podman runs a nested container inside the node', async (t) => {
  const vn = booted();
  await ensureHostPackages(['busybox-static']);
  const tree = join(vn.root, 'tmp/busybox-image');
  await mkdir(join(tree, 'bin'), { recursive: true });
  await copyFile('/bin/busybox', join(tree, 'bin/busybox'));
  await symlink('busybox', join(tree, 'bin/sh'));
  const imported = await vn.exec(['sh', '-c', 'tar -C /tmp/busybox-image -c . | podman import - localhost/busybox:test']);
  t.is(imported.code, 0, imported.stderr);
  const run = await vn.exec(['podman', 'run', '--rm', '--network', 'none', 'localhost/busybox:test', 'sh', '-c', 'echo nested-ok']);
  t.is(run.code, 0, run.stderr);
  t.is(run.stdout.trim(), 'nested-ok');
});

test.serial("reboot: the node's systemd shuts down and boots again on the same files, under a new PID 1", async (t) => {
  const vn = booted();
  const before = vn.leaderPid;
  await vn.exec(['sh', '-c', 'echo kept > /var/tmp/vn-marker && echo gone > /run/vn-marker']);
  await vn.reboot();
  t.not(vn.leaderPid, before);
  const report = await vn.waitForSystemState('running');
  t.is((await readFile(`/proc/${vn.leaderPid}/comm`, 'utf8')).trim(), 'systemd');
  t.is((await vn.exec(['cat', '/var/tmp/vn-marker'])).stdout.trim(), 'kept');
  t.is((await vn.exec(['cat', '/run/vn-marker'])).code, 1, '/run is a new tmpfs, as after any boot');
  t.log(`rebooted to ${report.state}`);
  nodeNetwork = await readlink(`/proc/${vn.leaderPid}/ns/net`);
});

test.serial('stop leaves no process, rootfs, cgroup, mount or network namespace behind', async (t) => {
  const vn = booted();
  const { leaderPid, stateDir, cgroups, root } = vn;
  t.true(cgroups.length > 0);
  await vn.stop();
  t.false(existsSync(`/proc/${leaderPid}`) && (await readlink(`/proc/${leaderPid}/ns/net`).catch(() => '')) === nodeNetwork);
  t.false(existsSync(root));
  t.false(existsSync(stateDir), `${stateDir} still exists`);
  t.deepEqual(
    cgroups.filter((dir) => existsSync(dir)),
    [],
  );
  t.false((await readFile('/proc/self/mountinfo', 'utf8')).includes(stateDir));
  t.deepEqual(await processesInNetwork(nodeNetwork), []);
  t.true(
    (await readFile('/sys/fs/cgroup/unified/cgroup.controllers', 'utf8')).split(/\s+/).includes('hugetlb'),
    'hugetlb must stay on the unified hierarchy',
  );
  await vn.stop(); // idempotent
});

async function processesInNetwork(network: string): Promise<string[]> {
  const pids = (await readdir('/proc')).filter((entry) => /^\d+$/.test(entry));
  const inNetwork = await Promise.all(
    pids.map(async (pid) => ((await readlink(`/proc/${pid}/ns/net`).catch(() => '')) === network ? pid : undefined)),
  );
  return inNetwork.filter((pid): pid is string => pid !== undefined);
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
