// The built dist/qmctl.mjs, as installed: one file whose large dependencies load on first use.
import test from 'ava';
import { mkdtemp, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { qmctlBin, QMCTL_BIN } from '../support/qmctl.ts';

test('the executable is one file, runnable directly', async (t) => {
  const info = await stat(QMCTL_BIN);
  t.true((info.mode & 0o111) !== 0);
  t.true((await readFile(QMCTL_BIN, 'utf8')).startsWith('#!/usr/bin/env node\n'));
  const result = await qmctlBin(['version']);
  t.regex(result.stdout, /^qmctl version /);
});

test('dbus-next loads on first use: an unreachable bus is reported, not a missing module', async (t) => {
  const result = await qmctlBin(['--bus-address', 'unix:path=/nonexistent/bus', 'list-nodes']);
  t.is(result.code, 3);
  t.regex(result.stderr, /cannot reach the D-Bus bus at unix:path=\/nonexistent\/bus/);
});

test('winston loads on first use: -v logs to stderr', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'qm-bundle-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await mkdir(join(dir, 'host'));
  await mkdir(join(dir, 'rootfs/etc'), { recursive: true });
  await writeFile(join(dir, 'host/agent.conf'), '[bluechi-agent]\nNodeName=ecu1\n');
  await writeFile(join(dir, 'default.conf'), '[bluechi-agent]\n');
  const result = await qmctlBin([
    'agent-config',
    'apply',
    '-v',
    '--no-restart',
    '--rootfs',
    join(dir, 'rootfs'),
    '--host-config-dir',
    join(dir, 'host'),
    '--packaged-default',
    join(dir, 'default.conf'),
  ]);
  t.is(result.code, 0, result.stderr);
  t.regex(result.stderr, /^\S+Z info: changed NodeName/m);
  t.regex(await readFile(join(dir, 'rootfs/etc/bluechi/agent.conf'), 'utf8'), /^NodeName=qm\.ecu1$/m);
});
