// The installed files: systemd accepts the units, and they agree with the code and with qm.container.
import { spawnSync } from 'node:child_process';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { GATE_SOCKET_DIR, HOST_SOCKET_DIR, QM_SOCKET_DIR } from '../../agent-config/derive.ts';
import { tempTree } from './helpers.ts';

const UNITS = fileURLToPath(new URL('../../units/', import.meta.url));
const read = (name: string) => readFile(join(UNITS, name), 'utf8');
/** `Key=value` lines of a unit file, comments dropped. */
const settings = (text: string) => text.split('\n').filter((line) => /^[A-Za-z]+=/.test(line));

const hasAnalyze = spawnSync('systemd-analyze', ['--version'], { stdio: 'ignore' }).status === 0;

test('systemd-analyze verify accepts the path and service units', async (t) => {
  if (!hasAnalyze) return t.fail('systemd-analyze is not installed (Debian package systemd)');
  const dir = await tempTree(t);
  // The units name /usr/bin/qmctl; verify checks that it is executable, so point it at a stand-in.
  await writeFile(join(dir, 'qmctl'), '#!/bin/sh\n');
  await chmod(join(dir, 'qmctl'), 0o755);
  for (const name of ['qm-agent-config.path', 'qm-agent-config.service']) {
    await writeFile(join(dir, name), (await read(name)).replaceAll('/usr/bin/qmctl', join(dir, 'qmctl')));
  }
  const result = spawnSync('systemd-analyze', ['verify', '--man=no', join(dir, 'qm-agent-config.path'), join(dir, 'qm-agent-config.service')], { encoding: 'utf8' });
  t.is(result.status, 0, result.stderr);
  t.is(result.stderr, '');
});

test('the path unit watches the host files the merge reads and starts the apply service', async (t) => {
  const path = settings(await read('qm-agent-config.path'));
  t.deepEqual(
    path.filter((line) => line.startsWith('PathChanged=')),
    ['PathChanged=/etc/bluechi/agent.conf', 'PathChanged=/etc/bluechi/agent.conf.d', 'PathChanged=/usr/share/bluechi-agent/config/agent.conf'],
  );
  t.true(path.includes('Unit=qm-agent-config.service'));
  const service = settings(await read('qm-agent-config.service'));
  t.true(service.includes('Type=oneshot'));
  t.true(service.includes('ExecStart=/usr/bin/qmctl agent-config apply --rootfs ${ROOTFS} --rwetcfs ${RWETCFS}'));
});

test("the service's ROOTFS and RWETCFS are qm.container's", async (t) => {
  const container = settings(await read('qm.container'));
  const service = settings(await read('qm-agent-config.service'));
  for (const variable of ['ROOTFS', 'RWETCFS']) {
    const line = container.find((entry) => entry.startsWith(`Environment=${variable}=`));
    t.truthy(line, variable);
    t.true(service.includes(line!), `${line} in qm-agent-config.service`);
  }
  // QM's /etc is RWETCFS: that is where its agent reads agent.conf, so that is where apply writes.
  t.true(container.includes('Volume=${RWETCFS}:/etc'));
});

test("the qm.container drop-ins: apply before start without failing QM, the gate's socket directory (not the controller's) mounted read-only", async (t) => {
  const apply = settings(await read('qm.container.d/10-bluechi-agent-config.conf'));
  t.deepEqual(apply, ['ExecStartPre=-/usr/bin/qmctl agent-config apply --no-restart --rootfs ${ROOTFS} --rwetcfs ${RWETCFS}']);
  const socket = settings(await read('qm.container.d/20-bluechi-controller-socket.conf'));
  t.true(socket.includes(`Volume=${GATE_SOCKET_DIR}:${QM_SOCKET_DIR}:ro`));
  t.true(socket.includes(`ExecStartPre=/usr/bin/mkdir -p -m 0700 ${GATE_SOCKET_DIR}`));
  t.false(socket.some((line) => new RegExp(`${HOST_SOCKET_DIR}([:/\\s]|$)`).test(line)), "the controller's own socket directory is never mounted into QM");
  t.true(socket.includes('Wants=qm-bluechi-gate.socket') && socket.includes('After=qm-bluechi-gate.socket'));
  const gateSocket = settings(await read('qm-bluechi-gate.socket'));
  t.true(gateSocket.includes(`ListenStream=${GATE_SOCKET_DIR}/bluechi.sock`));
});
