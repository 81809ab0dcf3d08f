// A vehicle node that runs qm from its Debian packages, as an integrator installs it: the .debs built by make deb,
// installed with apt from local files into a fresh trixie node, `qmctl setup`, a reboot after which systemd alone
// brings everything up, an upgrade to a rebuilt package, the video and input sub-packages, removal and purge.
import anyTest, { type TestFn } from 'ava';
import { cp, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { importBusybox, provideQmRootfsCache, setupCacheDir, waitForQmScript } from '../partition/qm-node.ts';
import { devices, EPERM, madeInQm, probe, reachedKernel, restartQm, type Shell } from '../subpackages/devices.ts';
import type { CommandResult } from '../support/command.ts';
import { ensureHostPackages } from '../support/host-packages.ts';
import { bootVehicleNode, type VehicleNode } from '../support/vehicle-node.ts';
import { buildPackages, type Built } from './packaging.ts';

interface Context {
  node: VehicleNode & Shell;
  scratch: string;
  /** Where the node finds each build's .debs. */
  first: { dir: string; version: string };
  rebuilt: { dir: string; version: string };
  /** Paths below / before qm was installed. */
  before: Set<string>;
}
const test = anyTest as TestFn<Context>;

const name = 'qm-pkg-node';
/** What apt, dpkg, systemd and the journal keep for themselves; neither qm's packages nor setup own any of it. */
const bookkeeping = /^\/(var\/(lib\/(apt|dpkg|systemd)|cache|log|tmp)|etc\/ld\.so\.cache|run|tmp|proc|sys|dev)(\/|$)/;

async function copyDebs(built: Built, node: VehicleNode, dir: string): Promise<void> {
  await mkdir(join(node.root, dir), { recursive: true });
  for (const file of Object.values(built.debs)) await cp(file, join(node.root, dir, file.slice(file.lastIndexOf('/') + 1)));
}

const expectOk = (result: CommandResult, what: string): string => {
  if (result.code !== 0) throw new Error(`${what} failed (${result.code}):\n${result.stdout}\n${result.stderr}`);
  return result.stdout.trim();
};

/** Every path of the node's own file systems, but for the bookkeeping above and QM's own trees. */
async function snapshot(node: Shell): Promise<Set<string>> {
  const listed = expectOk(await node.sh('find / -xdev \\( -path /proc -o -path /sys -o -path /dev -o -path /run -o -path /var/lib/containers \\) -prune -o -print', 120_000), 'find');
  return new Set(listed.split('\n').filter((path) => !bookkeeping.test(path)));
}

const apt = (node: Shell, args: string) =>
  node.sh(`DEBIAN_FRONTEND=noninteractive apt-get -o Dpkg::Use-Pty=0 -y --no-install-recommends ${args}`, 300_000);

const unitState = async (node: Shell, unit: string, property: string) => (await node.sh(`systemctl show -P ${property} ${unit}`)).stdout.trim();

test.before(async (t) => {
  t.timeout(30 * 60_000, 'building packages, the node rootfs with nodejs and the QM rootfs on a fresh machine');
  await ensureHostPackages(['dpkg-dev', 'debhelper', 'pkgconf', 'busybox-static']);
  const scratch = await mkdtemp('/var/tmp/qm-pkg-e2e-');
  t.context.scratch = scratch;
  const version = (await import('../../package.json', { with: { type: 'json' } })).default.version;
  const first = await buildPackages(join(scratch, 'first'), { formats: ['deb'] });
  const rebuilt = await buildPackages(join(scratch, 'rebuilt'), { formats: ['deb'], version: `${version}+rebuild1` });
  await provideQmRootfsCache();
  const node = await bootVehicleNode({
    name,
    // nodejs is what qm depends on; zstd unpacks setup's cached rootfs tarball.
    packages: ['nodejs', 'zstd'],
    // Read-only and beside /var/cache/qm, which the packages own (their code caches): setup finds the rootfs
    // tarball through a link, and nothing the packages write reaches the host's shared cache.
    binds: [
      { host: setupCacheDir, node: '/var/cache/qm-host', readOnly: true },
      { host: '/bin/busybox', node: '/usr/local/lib/busybox', readOnly: true },
    ],
  });
  const shell = Object.assign(node, { sh: (script: string, timeoutMs = 120_000) => node.exec(['sh', '-c', script], { timeoutMs }) });
  t.context.node = shell;
  await node.waitForSystemState('running');
  expectOk(await shell.sh('test -e /dev/fuse || mknod -m 666 /dev/fuse c 10 229'), 'mknod /dev/fuse');
  expectOk(await shell.sh('mkdir -p /var/cache/qm && ln -s /var/cache/qm-host/rootfs-*.tar.zst /var/cache/qm/'), 'link the rootfs tarball');
  t.context.before = await snapshot(shell);
  t.context.first = { dir: '/var/tmp/debs/first', version: `${version}-1` };
  t.context.rebuilt = { dir: '/var/tmp/debs/rebuilt', version: `${version}+rebuild1-1` };
  await copyDebs(first, node, t.context.first.dir);
  await copyDebs(rebuilt, node, t.context.rebuilt.dir);
});

test.after.always(async (t) => {
  await t.context.node?.stop();
  if (t.context.scratch) await rm(t.context.scratch, { recursive: true, force: true });
});

test.serial('apt installs qm and qm-controller from the .debs; their scripts enable and start qm-controller and qm-agent-config.path, and nothing runs setup', async (t) => {
  const { node, first } = t.context;
  const installed = await apt(node, `install ${first.dir}/qm_*.deb ${first.dir}/qm-controller_*.deb`);
  t.is(installed.code, 0, installed.stdout + installed.stderr);
  t.is((await node.sh("dpkg-query -W -f '${Version} ${db:Status-Abbrev}' qm qm-controller")).stdout, `${first.version} ii ${first.version} ii `);
  for (const unit of ['qm-controller.service', 'qm-agent-config.path']) {
    t.is(await unitState(node, unit, 'UnitFileState'), 'enabled', `${unit} enabled`);
    t.is(await unitState(node, unit, 'ActiveState'), 'active', `${unit} started: ${(await node.sh(`journalctl --no-pager -u ${unit}`)).stdout}`);
  }
  t.is(await unitState(node, 'qm-controller.service', 'Type'), 'dbus');
  t.is((await node.sh('getent group qm-operators qm-observers | cut -d: -f1')).stdout, 'qm-operators\nqm-observers\n', "the D-Bus policy's groups");
  t.regex((await node.sh('busctl --system --no-pager status org.qm.Controller1')).stdout, /^Comm=.*$/m, 'qm-controller owns org.qm.Controller1');
  // No BlueChi on this node: the daemon holds the packaged layout and says the vehicle is not converged (exit 1).
  const status = await node.sh('qmctl controller-status');
  t.regex(status.stdout, /^layout: \/etc\/qm-controller\/layout\.yaml \(6 units\)\nBlueChi: down;/, `the installed qmctl asks the installed daemon: ${status.stderr}`);
  // quadlet generated qm.service from the packaged qm.container; it waits for qmctl setup.
  t.is(await unitState(node, 'qm.service', 'LoadState'), 'loaded');
  t.is(await unitState(node, 'qm.service', 'SourcePath'), '/usr/share/containers/systemd/qm.container');
  t.is(await unitState(node, 'qm.service', 'ActiveState'), 'inactive');
  t.is((await node.sh('test -e /usr/lib/qm/rootfs || echo none')).stdout.trim(), 'none', 'no package script ran qmctl setup');
  // Root's qmctl run left its V8 code cache, root's own and read-only to others (controller/bundle/code-cache.ts).
  t.is((await node.sh("stat -c '%U %a' /var/cache/qm/code-cache/qmctl-dbus-next.v8")).stdout, 'root 644\n');
});

test.serial("qmctl setup (the installed one) starts QM; after a reboot systemd alone brings up qm.service, qm-controller and qm-agent-config.path, and QM's agent config is derived at QM start", async (t) => {
  const { node } = t.context;
  const setup = await node.sh('qmctl setup', 600_000);
  t.is(setup.code, 0, setup.stdout + setup.stderr);
  t.regex(setup.stderr + setup.stdout, /QM is running/);
  t.regex(setup.stderr + setup.stdout, /SELinux is not enabled on this host: QM's files are not labelled/, 'setup says it skipped labelling');
  t.deepEqual(JSON.parse(expectOk(await node.sh('cat /usr/share/qm/setup.json'), 'setup.json')).files.filter((file: string) => /^\/usr\/(share\/containers|lib\/systemd)\//.test(file)), [], "setup records none of the package's files as its own");
  // Gone before the reboot: only QM's start can write it again.
  expectOk(await node.sh('rm /etc/qm/bluechi/agent.conf'), 'rm agent.conf');
  await node.reboot();
  await node.waitForSystemState('running', { timeoutMs: 120_000 });
  // As a vehicle's kernel would make it at every boot (the node's /dev is a new tmpfs): QM's nested podman needs it.
  expectOk(await node.sh('test -e /dev/fuse || mknod -m 666 /dev/fuse c 10 229'), 'mknod /dev/fuse');
  for (const unit of ['qm.service', 'qm-controller.service', 'qm-agent-config.path']) {
    t.is(await unitState(node, unit, 'ActiveState'), 'active', `${unit} after the reboot`);
  }
  t.regex((await node.sh('busctl --system --no-pager status org.qm.Controller1')).stdout, /^Comm=/m);
  const qmState = (await node.sh(`${waitForQmScript}\necho "$state"`, 90_000)).stdout.trim();
  t.is(qmState, 'running', "QM's own systemd");
  const agentConf = expectOk(await node.sh('cat /etc/qm/bluechi/agent.conf'), "QM's agent.conf");
  t.regex(agentConf, new RegExp(`^NodeName=qm\\.${name}$`, 'm'));
  const pre = await unitState(node, 'qm.service', 'ExecStartPre');
  t.regex(pre, /path=\/usr\/bin\/qmctl ; argv\[\]=\/usr\/bin\/qmctl agent-config apply --no-restart [^;]*; [^}]*status=0 }/, pre);
});

test.serial('upgrading to a rebuilt package keeps the edited layout, restarts qm-controller and leaves the running QM alone', async (t) => {
  const { node, rebuilt } = t.context;
  expectOk(await node.sh("printf '# edited by the integrator\\n' >> /etc/qm-controller/layout.yaml"), 'edit layout');
  const controllerPid = await unitState(node, 'qm-controller.service', 'MainPID');
  const qmPid = await unitState(node, 'qm.service', 'MainPID');
  const qmStarted = expectOk(await node.sh("podman inspect qm --format '{{.State.StartedAt}}'"), 'podman inspect');
  const upgraded = await apt(node, `install ${rebuilt.dir}/qm_*.deb ${rebuilt.dir}/qm-controller_*.deb`);
  t.is(upgraded.code, 0, upgraded.stdout + upgraded.stderr);
  t.is((await node.sh("dpkg-query -W -f '${Version} ' qm qm-controller")).stdout, `${rebuilt.version} ${rebuilt.version} `);
  t.regex(expectOk(await node.sh('cat /etc/qm-controller/layout.yaml'), 'layout'), /# edited by the integrator$/, 'the conffile keeps the edit');
  t.is(await unitState(node, 'qm-controller.service', 'ActiveState'), 'active');
  t.not(await unitState(node, 'qm-controller.service', 'MainPID'), controllerPid, 'qm-controller restarted');
  t.is((await node.sh("stat -c '%U %a' /var/cache/qm/code-cache/qm-controller-dbus-next.v8")).stdout, 'root 644\n', 'the stopped daemon left its code cache');
  t.is(await unitState(node, 'qm.service', 'MainPID'), qmPid, 'qm.service not restarted');
  t.is(expectOk(await node.sh("podman inspect qm --format '{{.State.StartedAt}}'"), 'podman inspect'), qmStarted, 'the QM container not restarted');
  t.is(await unitState(node, 'qm-agent-config.path', 'ActiveState'), 'active');
});

test.serial("the video and input sub-packages' .debs bring the node's devices into QM and a nested container; removed, they are gone", async (t) => {
  const { node, rebuilt } = t.context;
  expectOk(await node.sh(devices.map((device) => `mkdir -p $(dirname ${device.path}) && mknod ${device.path} c ${device.major} ${device.minor}`).join(' && ')), 'mknod');
  await importBusybox(node);
  const paths = devices.map((device) => device.path);
  t.deepEqual(Object.values(await probe(node, 'qm', paths)).map((found) => found.device), [undefined, undefined], 'not in QM before');
  const installed = await apt(node, `install ${rebuilt.dir}/qm-mount-bind-video_*.deb ${rebuilt.dir}/qm-mount-bind-input_*.deb`);
  t.is(installed.code, 0, installed.stdout + installed.stderr);
  t.regex(installed.stderr + installed.stdout, /run 'systemctl restart qm\.service' to apply them/, "qm's trigger reloaded systemd and said what is left to do");
  await restartQm(node);
  const inQm = await probe(node, 'qm', paths);
  const nested = await probe(node, 'nested', paths, paths.map((path) => `--device ${path}`).join(' '));
  for (const device of devices) {
    for (const [where, found] of [['QM', inQm], ['nested', nested]] as const) {
      t.is(found[device.path]?.device, `${device.major}:${device.minor}`, `${device.path} in ${where}`);
      t.true(reachedKernel.includes(found[device.path]?.errno ?? -1), `${device.path} in ${where}: errno ${found[device.path]?.errno}`);
    }
  }
  const removed = await apt(node, 'remove qm-mount-bind-video qm-mount-bind-input');
  t.is(removed.code, 0, removed.stdout + removed.stderr);
  await restartQm(node);
  const after = await probe(node, 'qm', paths);
  for (const device of devices) {
    t.is(after[device.path]?.device, undefined, `${device.path} gone from QM`);
    t.is(await madeInQm(node, device), EPERM);
  }
});

test.serial('purge while QM runs stops it, and leaves nothing the packages made; setup --remove (before) takes what setup made', async (t) => {
  const { node, before } = t.context;
  const packaged = expectOk(await node.sh('dpkg-query -L qm qm-controller'), 'dpkg -L').split('\n').filter((path) => path.startsWith('/'));
  const manifest = JSON.parse(expectOk(await node.sh('cat /usr/share/qm/setup.json'), 'setup.json')) as { files: string[]; dirs: string[] };
  const purged = await apt(node, 'purge qm qm-controller');
  t.is(purged.code, 0, purged.stdout + purged.stderr);
  t.is(await unitState(node, 'qm.service', 'ActiveState'), 'inactive', "qm's prerm stopped QM");
  t.is((await node.sh('podman ps -q --filter name=^qm$')).stdout.trim(), '', 'the QM container is gone');
  for (const unit of ['qm-controller.service', 'qm-agent-config.path']) t.is(await unitState(node, unit, 'LoadState'), 'not-found', unit);
  t.is((await node.sh('busctl --system --no-pager status org.qm.Controller1 >/dev/null 2>&1; echo $?')).stdout.trim(), '1', 'nobody owns org.qm.Controller1');
  t.is((await node.sh('getent group qm-operators qm-observers')).stdout, '', 'purge took the groups it made');
  t.is((await node.sh('ls -A /var/cache/qm/code-cache 2>&1')).code, 2, 'purge took the code caches and their directory');
  const leftFromPackages = [];
  for (const path of packaged) if ((await node.sh(`test -e '${path}' && ! test -d '${path}'`)).code === 0) leftFromPackages.push(path);
  t.deepEqual(leftFromPackages, [], "no file of qm's packages is left");
  // What is new since before the install must be setup's (the integrator removes it with setup --remove, which the
  // purged qmctl can no longer run) or systemd's and apt's own bookkeeping.
  const setupMade = (path: string) =>
    manifest.files.includes(path) || manifest.dirs.some((dir) => path === dir || path.startsWith(`${dir}/`)) || /^\/usr\/share\/qm(\/|$)|^\/etc\/qm(\/|$)|^\/var\/qm(\/|$)|^\/usr\/lib\/qm(\/|$)/.test(path);
  const added = [...(await snapshot(node))].filter((path) => !before.has(path) && !setupMade(path));
  t.deepEqual(added, [], 'paths neither setup nor the package system made');
});
