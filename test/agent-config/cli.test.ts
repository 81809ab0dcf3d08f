// `qmctl agent-config` in-process: what a user sees, exit codes, and what ends up on disk.
import { chmod, mkdir, readFile, readdir, rmdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { qmctl } from '../support/qmctl.ts';
import { makeFifo, within } from '../support/special-files.ts';
import { PACKAGED_DEFAULT_TEXT, tempTree, writeTree } from './helpers.ts';

// Each in-process run listens for SIGINT/SIGTERM while it runs; these tests run many at once.
process.setMaxListeners(50);

interface Setup {
  readonly root: string;
  readonly target: string;
  /** Options pointing every path into the temp tree. */
  readonly paths: string[];
  readonly podmanLog: string;
  readonly env: NodeJS.ProcessEnv;
}

/** A host /etc/bluechi, packaged default, QM rootfs and /etc/qm in a temp dir, and a fake podman. */
async function setup(t: ExecutionContext, host: Record<string, string> = {}, podman = 'exit 0'): Promise<Setup> {
  const root = await tempTree(t, {
    'host/usr/share/bluechi-agent/config/agent.conf': PACKAGED_DEFAULT_TEXT,
    'host/etc/bluechi/agent.conf': '[bluechi-agent]\nNodeName=vehicle-a\n',
    'rootfs/usr/share/bluechi-agent/config/agent.conf': PACKAGED_DEFAULT_TEXT,
    'etc-qm/.keep': '',
    ...Object.fromEntries(Object.entries(host).map(([path, text]) => [`host/etc/bluechi/${path}`, text])),
  });
  const podmanLog = join(root, 'podman.log');
  await writeFile(join(root, 'podman'), `#!/bin/sh\necho "$@" >> ${podmanLog}\n${podman}\n`);
  await chmod(join(root, 'podman'), 0o755);
  return {
    root,
    target: join(root, 'etc-qm/bluechi/agent.conf'),
    paths: [
      '--host-config-dir', join(root, 'host/etc/bluechi'),
      '--packaged-default', join(root, 'host/usr/share/bluechi-agent/config/agent.conf'),
      '--rootfs', join(root, 'rootfs'),
      '--rwetcfs', join(root, 'etc-qm'),
    ],
    podmanLog,
    env: { QMCTL_PODMAN: join(root, 'podman'), DBUS_SYSTEM_BUS_ADDRESS: 'unix:path=/nonexistent/bus', PATH: process.env.PATH },
  };
}
const hostOnly = (s: Setup) => s.paths.slice(0, 4);
const podmanCalls = (s: Setup) => readFile(s.podmanLog, 'utf8').catch(() => '');

test('render prints the QM agent.conf; --json gives its parts', async (t) => {
  const s = await setup(t);
  const result = await qmctl(['agent-config', 'render', ...hostOnly(s)], s.env);
  t.is(result.code, 0, result.stderr);
  t.regex(result.stdout, /\n\[bluechi-agent\]\nNodeName=qm\.vehicle-a\nControllerAddress=unix:path=\/run\/bluechi-controller\/bluechi\.sock\n$/);
  t.is(result.stderr, '');
  const json = JSON.parse((await qmctl(['agent-config', 'render', '--json', ...hostOnly(s)], s.env)).stdout);
  t.is(json.content, result.stdout);
  t.is(json.nodeName, 'qm.vehicle-a');
  t.is(json.controller.via, 'unix');
  t.deepEqual(json.settings, { NodeName: 'qm.vehicle-a', ControllerAddress: 'unix:path=/run/bluechi-controller/bluechi.sock' });
});

test('unknown keys are warnings on stderr with file:line; the output still comes', async (t) => {
  const s = await setup(t, { 'agent.conf.d/50-x.conf': '[bluechi-agent]\nFrobnicate=1\n' });
  const result = await qmctl(['agent-config', 'check', ...hostOnly(s)], s.env);
  t.is(result.code, 0);
  t.regex(result.stderr, /warning: .*host\/etc\/bluechi\/agent\.conf\.d\/50-x\.conf:2: Frobnicate: unknown key; bluechi-agent ignores it/);
  t.regex(result.stdout, /^ok: QM's bluechi-agent would register as qm\.vehicle-a .*\(1 warning above\)/);
});

test('a wrong value is an error naming file:line:key, exit 2, nothing written', async (t) => {
  const s = await setup(t, { 'agent.conf.d/10-port.conf': '[bluechi-agent]\n\nControllerPort=0\n' });
  await writeTree(s.root, { 'etc-qm/bluechi/agent.conf': 'previous\n' });
  for (const sub of ['check', 'render', 'apply']) {
    const result = await qmctl(['agent-config', sub, ...(sub === 'apply' ? s.paths : hostOnly(s))], s.env);
    t.is(result.code, 2, sub);
    t.regex(result.stderr, /^qmctl agent-config: .*\/agent\.conf\.d\/10-port\.conf:3: ControllerPort: 0 is outside 1–65535\n$/, sub);
    t.is(result.stdout, '', sub);
  }
  t.is(await readFile(s.target, 'utf8'), 'previous\n');
  t.deepEqual(await readdir(join(s.root, 'etc-qm/bluechi')), ['agent.conf']);
  const json = await qmctl(['agent-config', 'check', '--json', ...hostOnly(s)], s.env);
  t.like(JSON.parse(json.stdout).error, { code: 'config', line: 3, field: 'ControllerPort' });
});

test('every error is reported in one run', async (t) => {
  const s = await setup(t, { 'agent.conf': '[bluechi-agent]\nLogLevel=verbose\nLogIsQuiet=2\n' });
  const result = await qmctl(['agent-config', 'check', ...hostOnly(s)], s.env);
  t.is(result.code, 2);
  t.regex(result.stderr, /agent\.conf:2: LogLevel: .*\n {2}.*agent\.conf:3: LogIsQuiet: /);
});

test('a syntax error rejects the file: error at its line', async (t) => {
  const s = await setup(t, { 'agent.conf': '[bluechi-agent]\nNodeName=x\nno separator here\n' });
  const result = await qmctl(['agent-config', 'check', ...hostOnly(s)], s.env);
  t.is(result.code, 2);
  t.regex(result.stderr, /agent\.conf:3: "no separator here" is not a "key=value" setting.*rejects the whole file/);
});

test('apply writes atomically, keeps the previous version, restarts once, and is idempotent', async (t) => {
  const s = await setup(t);
  const first = await qmctl(['agent-config', 'apply', ...s.paths], s.env);
  t.is(first.code, 0, first.stderr);
  t.regex(first.stdout, /^wrote .*etc-qm\/bluechi\/agent\.conf\nchanged NodeName: \(unset\) → "qm\.vehicle-a"\nchanged ControllerAddress: .*\nrestarted bluechi-agent\.service in container qm/);
  t.regex(await readFile(s.target, 'utf8'), /NodeName=qm\.vehicle-a/);
  t.is(await podmanCalls(s), 'exec qm systemctl restart bluechi-agent.service\n');

  const mtime = (await stat(s.target)).mtimeMs;
  const again = await qmctl(['agent-config', 'apply', ...s.paths], s.env);
  t.is(again.stdout, `${s.target} is up to date\n`);
  t.is((await stat(s.target)).mtimeMs, mtime);
  t.is(await podmanCalls(s), 'exec qm systemctl restart bluechi-agent.service\n', 'no second restart');

  await writeTree(s.root, { 'host/etc/bluechi/agent.conf.d/90-debug.conf': '[bluechi-agent]\nLogLevel=DEBUG\n' });
  const third = await qmctl(['agent-config', 'apply', ...s.paths], s.env);
  t.regex(third.stdout, /previous version kept as .*agent\.conf\.prev\)\nchanged LogLevel: \(unset\) → "DEBUG"\nrestarted/);
  t.regex(await readFile(`${s.target}.prev`, 'utf8'), /^NodeName=qm\.vehicle-a$/m);
  t.notRegex(await readFile(`${s.target}.prev`, 'utf8'), /LogLevel/);
  t.deepEqual((await readdir(join(s.root, 'etc-qm/bluechi'))).sort(), ['agent.conf', 'agent.conf.prev']);
});

test('a header-only change rewrites the file without a restart', async (t) => {
  const s = await setup(t, { 'agent.conf.d/50-empty.conf': '' });
  await qmctl(['agent-config', 'apply', ...s.paths], s.env);
  await writeTree(s.root, { 'host/etc/bluechi/agent.conf.d/60-also-empty.conf': '# nothing\n' });
  const result = await qmctl(['agent-config', 'apply', ...s.paths], s.env);
  t.regex(result.stdout, /settings unchanged \(only the header differs\): no restart/);
  t.regex(await readFile(s.target, 'utf8'), /60-also-empty\.conf/);
  t.is((await podmanCalls(s)).split('\n').filter(Boolean).length, 1);
});

test('QM not running: written, and the restart is skipped with the reason', async (t) => {
  const s = await setup(t, {}, 'echo \'Error: no container with name or ID "qm" found: no such container\' >&2; exit 125');
  const result = await qmctl(['agent-config', 'apply', ...s.paths], s.env);
  t.is(result.code, 0);
  t.regex(result.stdout, /QM is not running .*reads the new file when QM starts/);
});

test('--no-restart writes without restarting', async (t) => {
  const s = await setup(t);
  const result = await qmctl(['agent-config', 'apply', '--no-restart', ...s.paths], s.env);
  t.is(result.code, 0);
  t.is(await podmanCalls(s), '');
});

test('apply --dry-run shows a unified diff and writes nothing', async (t) => {
  const s = await setup(t);
  await qmctl(['agent-config', 'apply', '--no-restart', ...s.paths], s.env);
  const before = await readFile(s.target, 'utf8');
  await writeTree(s.root, { 'host/etc/bluechi/agent.conf': '[bluechi-agent]\nNodeName=vehicle-b\n' });
  const result = await qmctl(['agent-config', 'apply', '--dry-run', ...s.paths], s.env);
  t.is(result.code, 0);
  t.regex(result.stdout, /^--- .*agent\.conf\n\+\+\+ .*agent\.conf\n@@ -\d+,\d+ \+\d+,\d+ @@\n[\s\S]*-NodeName=qm\.vehicle-a\n\+NodeName=qm\.vehicle-b\n/);
  t.regex(result.stdout, /would replace .* and restart QM's bluechi-agent\n$/);
  t.is(await readFile(s.target, 'utf8'), before);
  const json = JSON.parse((await qmctl(['agent-config', 'apply', '--dry-run', '--json', ...s.paths], s.env)).stdout);
  t.like(json, { dryRun: true, written: false, restartNeeded: true });
  t.deepEqual(json.changes, [{ key: 'NodeName', before: 'qm.vehicle-a', after: 'qm.vehicle-b' }]);
});

test('a missing rootfs or QM /etc is an io error, exit 1, nothing created', async (t) => {
  const s = await setup(t);
  const result = await qmctl(['agent-config', 'apply', ...hostOnly(s), '--rootfs', join(s.root, 'no-rootfs')], s.env);
  t.is(result.code, 1);
  t.regex(result.stderr, /no-rootfs: the QM rootfs does not exist \(give --rootfs\)/);
  const etc = await qmctl(['agent-config', 'apply', ...hostOnly(s), '--rootfs', join(s.root, 'rootfs'), '--rwetcfs', join(s.root, 'no-etc')], s.env);
  t.is(etc.code, 1);
  t.regex(etc.stderr, /no-etc: the directory QM sees as \/etc does not exist \(give --rwetcfs\)/);
});

test('without --rwetcfs the file goes to <rootfs>/etc/bluechi/agent.conf', async (t) => {
  const s = await setup(t);
  await writeTree(s.root, { 'rootfs/etc/.keep': '' });
  const result = await qmctl(['agent-config', 'apply', '--no-restart', ...s.paths.slice(0, 6)], s.env);
  t.is(result.code, 0, result.stderr);
  t.regex(await readFile(join(s.root, 'rootfs/etc/bluechi/agent.conf'), 'utf8'), /NodeName=qm\.vehicle-a/);
});

test('show prints the file; show --effective annotates each key with file:line, QM drop-ins included', async (t) => {
  const s = await setup(t);
  await qmctl(['agent-config', 'apply', '--no-restart', ...s.paths], s.env);
  await writeTree(s.root, { 'etc-qm/bluechi/agent.conf.d/50-qm.conf': '[bluechi-agent]\nLogLevel=WARN\nNodeName=qm.other\n' });
  const qmOnly = s.paths.slice(4);
  t.is((await qmctl(['agent-config', 'show', ...qmOnly], s.env)).stdout, await readFile(s.target, 'utf8'));
  const result = await qmctl(['agent-config', 'show', '--effective', ...qmOnly], s.env);
  t.is(result.code, 0, result.stderr);
  t.regex(result.stdout, /^\[bluechi-agent\]\n/);
  t.regex(result.stdout, /^NodeName=qm\.other +# .*etc-qm\/bluechi\/agent\.conf\.d\/50-qm\.conf:3$/m);
  t.regex(result.stdout, /^ControllerAddress=unix:path=\/run\/bluechi-controller\/bluechi\.sock +# .*etc-qm\/bluechi\/agent\.conf:\d+$/m);
  t.regex(result.stdout, /^LogLevel=WARN +# .*50-qm\.conf:2$/m);
  t.regex(result.stdout, /^HeartbeatInterval=2000 +# \(built-in default\)$/m);
  t.regex(result.stdout, /^ControllerHost=127\.0\.0\.1 +# \(built-in default\); unused: ControllerAddress overrides it$/m);
  // Documented order: NodeName first, ControllerAddress before ControllerHost.
  t.regex(result.stdout, /^\[bluechi-agent\]\nNodeName=.*\nControllerAddress=.*\nControllerHost=/);
  const json = JSON.parse((await qmctl(['agent-config', 'show', '--effective', '--json', ...qmOnly], s.env)).stdout);
  t.like(json.settings.find((entry: { key: string }) => entry.key === 'NodeName'), { value: 'qm.other', line: 3 });
  // apply warns that the QM drop-in overrides the derived name.
  const apply = await qmctl(['agent-config', 'apply', '--dry-run', ...s.paths], s.env);
  t.regex(apply.stderr, /50-qm\.conf:3: NodeName: this QM drop-in overrides the derived NodeName "qm\.vehicle-a" with "qm\.other"/);
});

test('show names the file once when it cannot read it: missing, a directory, a FIFO', async (t) => {
  const s = await setup(t);
  const qmOnly = s.paths.slice(4);
  const once = async (expected: RegExp) => {
    const result = await within(5000, 'agent-config show', qmctl(['agent-config', 'show', ...qmOnly], s.env));
    t.is(result.code, 1, result.stderr);
    t.is(result.stderr.split(s.target).length - 1, 1, result.stderr);
    t.regex(result.stderr, expected);
  };
  await writeTree(s.root, { 'etc-qm/bluechi/.keep': '' });
  await once(/^qmctl agent-config: \S+\/etc-qm\/bluechi\/agent\.conf: does not exist yet; run "qmctl agent-config apply"\n$/);
  await mkdir(s.target);
  await once(/^qmctl agent-config: \S+: cannot read: a directory, not a regular file\n$/);
  await rmdir(s.target);
  makeFifo(t, s.target);
  await once(/^qmctl agent-config: \S+: cannot read: a FIFO \(named pipe\), not a regular file\n$/);
});

test('apply --watch names a host directory it cannot watch once', async (t) => {
  const s = await setup(t);
  const missing = join(s.root, 'host/etc/nothing-here');
  const result = await qmctl(['agent-config', 'apply', '--watch', '--no-restart', '--host-config-dir', missing, ...s.paths.slice(2)], s.env);
  t.is(result.code, 1, result.stderr);
  t.is(result.stderr, `qmctl agent-config: cannot watch ${missing}: no such file or directory\n`);
});

test('show --host annotates the host agent settings', async (t) => {
  const s = await setup(t, { 'agent.conf.d/20-x.conf': '[bluechi-agent]\nHeartbeatInterval=500\n' });
  const result = await qmctl(['agent-config', 'show', '--host', '--hostname', 'h', ...hostOnly(s)], s.env);
  t.is(result.code, 0, result.stderr);
  t.regex(result.stdout, /^HeartbeatInterval=500 +# .*20-x\.conf:2$/m);
  t.regex(result.stdout, /^NodeName=vehicle-a +# .*host\/etc\/bluechi\/agent\.conf:2$/m);
});

test('usage errors: unknown sub-command, options that do not belong, bad --controller', async (t) => {
  t.is((await qmctl(['agent-config', 'frob'])).code, 2);
  t.is((await qmctl(['agent-config'])).code, 2);
  const foreign = await qmctl(['agent-config', 'render', '--dry-run']);
  t.is(foreign.code, 2);
  t.regex(foreign.stderr, /render does not take --dry-run/);
  t.regex((await qmctl(['agent-config', 'check', '--controller', 'udp'])).stderr, /--controller must be auto, unix or tcp/);
  t.true((await qmctl(['agent-config', '--help'])).stdout.startsWith('Usage: qmctl agent-config'));
});
