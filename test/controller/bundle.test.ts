// The built dist/qmctl.cjs, as installed: a launcher that compiles its program and, on first use, each large
// dependency from dist/qmctl.parts (controller/bundle/launch.ts).
import test from 'ava';
import { copyFile, mkdtemp, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { commandOf } from '../../controller/cli/command-line.ts';
import { commandNames, loadCommand } from '../../controller/cli/registry.ts';
import { runCommand } from '../support/command.ts';
import { qmctlBin, QMCTL_BIN } from '../support/qmctl.ts';

test('the executable is runnable directly', async (t) => {
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

const PARTS = QMCTL_BIN.replace(/\.cjs$/, '.parts');

/** qmctl installed as make install does: the launcher as PREFIX/bin/qmctl, its parts in PREFIX/share/qm/. */
async function installed(t: { teardown(fn: () => Promise<void>): void }, parts: (text: Buffer) => Buffer = (text) => text): Promise<string> {
  const prefix = await mkdtemp(join(tmpdir(), 'qm-bundle-'));
  t.teardown(() => rm(prefix, { recursive: true, force: true }));
  await mkdir(join(prefix, 'bin'));
  await mkdir(join(prefix, 'share/qm'), { recursive: true });
  await copyFile(QMCTL_BIN, join(prefix, 'bin/qmctl'));
  await writeFile(join(prefix, 'share/qm/qmctl.parts'), parts(await readFile(PARTS)));
  return join(prefix, 'bin/qmctl');
}

test('installed without an extension, qmctl finds its parts in ../share/qm and runs by its #! line', async (t) => {
  const qmctl = await installed(t);
  const result = await runCommand([qmctl, 'version']);
  t.is(result.code, 0, result.stderr);
  t.regex(result.stdout, /^qmctl version /);
  const bus = await runCommand([qmctl, '--bus-address', 'unix:path=/nonexistent/bus', 'list-nodes']);
  t.is(bus.code, 3);
  t.regex(bus.stderr, /cannot reach the D-Bus bus/);
});

test('a parts file from another build is refused, naming it', async (t) => {
  const qmctl = await installed(t, (text) => Buffer.concat([Buffer.from('qm-parts 0000'), text.subarray(13)]));
  const result = await runCommand([qmctl, 'version']);
  t.is(result.code, 1);
  t.is(result.stdout, '');
  t.regex(result.stderr, /^qmctl: \S+\/share\/qm\/qmctl\.parts is missing or was not built with \S+\/bin\/qmctl .*install both from one build\n$/);
});

test('a missing parts file is named', async (t) => {
  const qmctl = await installed(t);
  await rm(join(qmctl, '../../share/qm/qmctl.parts'));
  const result = await runCommand([qmctl, 'version']);
  t.is(result.code, 1);
  t.regex(result.stderr, /qmctl\.parts is missing .*ENOENT/);
});

test('every command runs from the part of the program the launcher picks for it, global options before it or not', async (t) => {
  // `COMMAND --help` loads the command's module: a part that did not hold it would say so and exit 1.
  for (const name of commandNames) {
    const command = (await loadCommand(name))!;
    const result = await qmctlBin([name, '--help']);
    t.is(result.code, 0, `${name}: ${result.stderr}`);
    t.true(result.stdout.startsWith(`Usage: qmctl ${command.usage}\n`), `${name}: ${result.stdout}`);
  }
  // An option's value that names a command is not the command.
  const bus = await qmctlBin(['--bus-address', 'unix:path=/nonexistent/start', '--timeout', '5', '--json', 'list-nodes']);
  t.is(bus.code, 3, bus.stderr);
  t.regex(bus.stderr, /cannot reach the D-Bus bus at unix:path=\/nonexistent\/start/);
});

test('the whole program answers help and commands it does not have', async (t) => {
  const help = await qmctlBin(['--json', '--help']);
  t.is(help.code, 0, help.stderr);
  for (const name of commandNames) t.regex(help.stdout, new RegExp(`^  ${name} `, 'm'));
  const unknown = await qmctlBin(['--json', 'toString']);
  t.is(unknown.code, 2);
  t.regex(unknown.stderr, /^qmctl: unknown command "toString"; 'qmctl --help' lists the commands\n$/);
});

test('the launcher finds the command as qmctl does', (t) => {
  t.is(commandOf(['list-nodes']), 'list-nodes');
  t.is(commandOf(['--bus-address', 'start', 'list-nodes']), 'list-nodes');
  t.is(commandOf(['--bus-address=unix:path=/x', '-v', 'status', 'n', 'u']), 'status');
  t.is(commandOf(['--timeout', '5', 'start', 'n', 'u']), 'start');
  t.is(commandOf(['--version']), 'version');
  t.is(commandOf(['--json', '--help']), undefined);
  t.is(commandOf(['-h', 'start']), undefined);
  t.is(commandOf(['help']), undefined);
  t.is(commandOf([]), undefined);
  t.is(commandOf(['--json']), undefined);
});
