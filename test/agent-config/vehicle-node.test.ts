// The production mechanism in a real systemd (257, in a vehicle node): qm-agent-config.path sees the
// host's agent.conf change and qm-agent-config.service rewrites QM's agent.conf; a bad value fails the
// service and leaves the file alone. Also: systemd 257 verifies the units, and quadlet merges the
// qm.container drop-ins into qm.service.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { bootVehicleNode, type VehicleNode, type VehicleNodeFile } from '../support/vehicle-node.ts';
import { until as untilWithin } from './helpers.ts';

const until = <T>(what: string, probe: () => Promise<T | undefined>) => untilWithin(what, probe, 20_000);

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const unit = (name: string) => readFile(join(REPO, 'units', name), 'utf8');

let node: VehicleNode | undefined;
test.after.always(async () => {
  await node?.stop();
});


test.before(async () => {
  const files: VehicleNodeFile[] = [
    // qmctl as installed: the repository (bind-mounted) run by the host's node binary.
    { path: '/usr/bin/qmctl', mode: 0o755, content: '#!/bin/sh\ncd /opt/qm && exec /usr/local/bin/node --import tsx /opt/qm/controller/cli/qmctl.ts "$@"\n' },
    { path: '/etc/systemd/system/qm-agent-config.path', content: await unit('qm-agent-config.path') },
    { path: '/etc/systemd/system/qm-agent-config.service', content: await unit('qm-agent-config.service') },
    { path: '/etc/systemd/system/paths.target.wants/qm-agent-config.path', symlink: '../qm-agent-config.path' },
    { path: '/etc/bluechi/agent.conf', content: '[bluechi-agent]\nNodeName=ecu1\n' },
    { path: '/usr/share/bluechi-agent/config/agent.conf', content: '[bluechi-agent]\n#NodeName=\n' },
    { path: '/usr/lib/qm/rootfs/usr/share/bluechi-agent/config/agent.conf', content: '[bluechi-agent]\n' },
    { path: '/etc/qm/.keep', content: '' },
    // For the quadlet dry run only (not in the generator's path, so QM is not started at boot).
    { path: '/root/quadlet/qm.container', content: await unit('qm.container') },
    { path: '/root/quadlet/qm.container.d/10-bluechi-agent-config.conf', content: await unit('qm.container.d/10-bluechi-agent-config.conf') },
    { path: '/root/quadlet/qm.container.d/20-bluechi-controller-socket.conf', content: await unit('qm.container.d/20-bluechi-controller-socket.conf') },
  ];
  node = await bootVehicleNode({
    name: 'agent-config',
    files,
    binds: [
      { host: REPO.replace(/\/$/, ''), node: '/opt/qm', readOnly: true },
      { host: process.execPath, node: '/usr/local/bin/node', readOnly: true },
    ],
  });
  await node.waitForSystemState('degraded');
});

const booted = (t: { fail(message?: string): void }) => {
  if (!node) t.fail('the vehicle node did not boot (needs root)');
  return node;
};
const qmFile = (vn: VehicleNode) => readFile(join(vn.root, 'etc/qm/bluechi/agent.conf'), 'utf8').catch(() => '');

test.serial('the path unit is active and the units verify under systemd 257', async (t) => {
  const vn = booted(t);
  if (!vn) return;
  t.is((await vn.exec(['systemctl', 'is-active', 'qm-agent-config.path'])).stdout.trim(), 'active');
  const verify = await vn.exec(['systemd-analyze', 'verify', '--man=no', '/etc/systemd/system/qm-agent-config.path', '/etc/systemd/system/qm-agent-config.service']);
  t.is(verify.code, 0, verify.stderr);
  t.is(verify.stderr, '');
});

test.serial('a change to the host agent.conf is followed into /etc/qm/bluechi/agent.conf', async (t) => {
  const vn = booted(t);
  if (!vn) return;
  const write = await vn.exec(['sh', '-c', 'printf "[bluechi-agent]\\nNodeName=ecu1\\nLogLevel=DEBUG\\n" > /etc/bluechi/agent.conf']);
  t.is(write.code, 0, write.stderr);
  const content = await until('QM agent.conf', async () => ((await qmFile(vn)).includes('NodeName=qm.ecu1') ? qmFile(vn) : undefined));
  t.regex(content, /^LogLevel=DEBUG$/m);
  t.regex(content, /^ControllerAddress=unix:path=\/run\/bluechi-controller\/bluechi\.sock$/m);

  // A drop-in created later.
  await vn.exec(['sh', '-c', 'mkdir -p /etc/bluechi/agent.conf.d && printf "[bluechi-agent]\\nNodeName=ecu2\\n" > /etc/bluechi/agent.conf.d/50-name.conf']);
  await until('the drop-in to be followed', async () => ((await qmFile(vn)).includes('NodeName=qm.ecu2') ? true : undefined));
  await until('the service to finish', async () => ((await vn.exec(['systemctl', 'is-active', 'qm-agent-config.service'])).stdout.trim() === 'inactive' ? true : undefined));
  const journal = await vn.exec(['journalctl', '-u', 'qm-agent-config.service', '--no-pager', '-o', 'cat']);
  t.regex(journal.stdout, /changed NodeName: "qm\.ecu1" → "qm\.ecu2"/);
  t.regex(journal.stdout, /QM is not running \(Error: .*no such container\)/);
});

test.serial('a bad value fails the service with file:line:key in the journal; the QM file stays', async (t) => {
  const vn = booted(t);
  if (!vn) return;
  const before = await qmFile(vn);
  await vn.exec(['sh', '-c', 'printf "[bluechi-agent]\\nControllerPort=70000\\n" > /etc/bluechi/agent.conf.d/60-port.conf']);
  await until('the service to fail', async () => ((await vn.exec(['systemctl', 'is-failed', 'qm-agent-config.service'])).stdout.trim() === 'failed' ? true : undefined));
  const journal = await vn.exec(['journalctl', '-u', 'qm-agent-config.service', '--no-pager', '-o', 'cat']);
  t.regex(journal.stdout, /\/etc\/bluechi\/agent\.conf\.d\/60-port\.conf:2: ControllerPort: 70000 is outside 1–65535/);
  t.is(await qmFile(vn), before);
  // Fixed: the path unit still watches, and the failed service runs again.
  await vn.exec(['sh', '-c', 'printf "[bluechi-agent]\\nControllerPort=8420\\n" > /etc/bluechi/agent.conf.d/60-port.conf']);
  await until('the fix to be applied', async () => ((await vn.exec(['systemctl', 'is-failed', 'qm-agent-config.service'])).stdout.trim() !== 'failed' ? true : undefined));
  t.regex(await qmFile(vn), /NodeName=qm\.ecu2/);
});

test.serial("quadlet merges the drop-ins: apply before start, the gate's socket mounted read-only", async (t) => {
  const vn = booted(t);
  if (!vn) return;
  const generated = await vn.exec(['/usr/lib/systemd/system-generators/podman-system-generator', '--dryrun'], { env: { QUADLET_UNIT_DIRS: '/root/quadlet' } });
  t.is(generated.code, 0, generated.stderr);
  t.regex(generated.stdout, /^ExecStartPre=-\/usr\/bin\/qmctl agent-config apply --no-restart --rootfs \$\{ROOTFS\} --rwetcfs \$\{RWETCFS\}$/m);
  t.regex(generated.stdout, /^ExecStartPre=\/usr\/bin\/mkdir -p -m 0700 \/run\/qm\/bluechi-gate$/m);
  t.regex(generated.stdout, /-v \/run\/qm\/bluechi-gate:\/run\/bluechi-controller:ro/);
});
