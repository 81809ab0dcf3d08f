// qm-controller.service and its D-Bus policy, as systemd and dbus-daemon read them.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const UNITS = fileURLToPath(new URL('../../units/', import.meta.url));

test('systemd-analyze verify accepts qm-controller.service', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'qm-units-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  // verify checks that ExecStart's program is executable: point it at a stand-in.
  const program = join(dir, 'qm-controller');
  await writeFile(program, '#!/bin/sh\n');
  await chmod(program, 0o755);
  const unit = join(dir, 'qm-controller.service');
  await writeFile(unit, (await readFile(join(UNITS, 'qm-controller.service'), 'utf8')).replaceAll('/usr/libexec/qm-controller', program));
  const result = spawnSync('systemd-analyze', ['verify', '--man=no', unit], { encoding: 'utf8' });
  t.is(result.status, 0, result.stderr);
  t.is(result.stderr, '');
});

test('qm-controller.service is ready when it owns the name qmctl and the policy use', async (t) => {
  const unit = await readFile(join(UNITS, 'qm-controller.service'), 'utf8');
  const policy = await readFile(join(UNITS, 'org.qm.Controller1.conf'), 'utf8');
  t.regex(unit, /^Type=dbus$/m);
  t.regex(unit, /^BusName=org\.qm\.Controller1$/m);
  t.regex(unit, /^Restart=on-failure$/m);
  t.regex(policy, /<allow own="org\.qm\.Controller1"\/>/);
  t.regex(policy, /group="qm-operators"/);
});
