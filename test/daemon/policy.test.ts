// units/org.qm.Controller1.conf on a system-bus-style dbus-daemon (default deny): root owns the name and calls
// everything, a member of qm-operators calls everything, a member of qm-observers reads (properties, Introspect,
// Plan, signals) and is denied Apply and Reload, anyone else is denied everything — checked by calling as those
// users, with dbus-send and with the built qmctl. Needs root and `npm run build`.
import test from 'ava';
import { execFile, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startDaemon, type Daemon } from '../../controller/daemon/daemon.ts';
import { loadLayout } from '../../controller/layout/index.ts';
import { startPrivateBus, stopChild, type PrivateBus } from '../support/dbus-daemon.ts';
import { QMCTL_BIN } from '../support/qmctl.ts';
import { layoutDir } from './harness.ts';

const POLICY_FILE = fileURLToPath(new URL('../../units/org.qm.Controller1.conf', import.meta.url));
const OUTSIDER = 'qm-test-outsider';
const OPERATOR = 'qm-test-operator';
const OBSERVER = 'qm-test-observer';
const OPERATORS = 'qm-operators';
const OBSERVERS = 'qm-observers';

// What Debian's system.conf says by default: no one owns names or calls methods unless a policy allows it.
const systemDefault = `<policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
  </policy>`;

const created: Array<['user' | 'group', string]> = [];
let bus: PrivateBus | undefined;
let policyDir: string | undefined;
let layoutDirectory: string | undefined;
let daemon: Daemon | undefined;

const run = (command: string, args: string[]) => spawnSync(command, args, { encoding: 'utf8' });
const exists = (kind: 'passwd' | 'group', name: string) => run('getent', [kind, name]).status === 0;
const idOf = (flag: '-u' | '-g', name: string) => Number(run('id', [flag, name]).stdout.trim());

test.before(async () => {
  if (process.getuid?.() !== 0) throw new Error('this test needs root: it creates throwaway users and calls as them');
  if (!existsSync(QMCTL_BIN)) throw new Error(`${QMCTL_BIN} is missing: run npm run build`);
  for (const group of [OPERATORS, OBSERVERS]) {
    if (exists('group', group)) continue;
    if (run('groupadd', ['-r', group]).status !== 0) throw new Error(`groupadd ${group} failed`);
    created.push(['group', group]);
  }
  for (const [user, groups] of [[OUTSIDER, []], [OPERATOR, ['-G', OPERATORS]], [OBSERVER, ['-G', OBSERVERS]]] as const) {
    if (exists('passwd', user)) continue;
    const result = run('useradd', ['-r', '-M', '-s', '/usr/sbin/nologin', ...groups, user]);
    if (result.status !== 0) throw new Error(`useradd ${user} failed: ${result.stderr}`);
    created.push(['user', user]);
  }
  policyDir = await mkdtemp(join(tmpdir(), 'qm-policy-'));
  await copyFile(POLICY_FILE, join(policyDir, 'org.qm.Controller1.conf'));
  bus = await startPrivateBus({ policy: systemDefault, extra: `<includedir>${policyDir}</includedir>` });
  // Other users must reach the socket at all; the policy is what is under test.
  await chmod(bus.dir, 0o755);
  await chmod(join(bus.dir, 'bus'), 0o666);
  layoutDirectory = await layoutDir('nodes:\n  a: {}\n');
  const layout = await loadLayout([layoutDirectory]);
  if (!layout.ok) throw new Error('layout');
  const quiet = () => undefined;
  daemon = startDaemon({ busAddress: bus.address, layout: layout.layout, layoutPaths: [layoutDirectory], log: { error: quiet, warn: quiet, info: quiet, debug: quiet } });
  await daemon.ready;
});

test.after.always(async () => {
  await daemon?.stop();
  await bus?.stop();
  if (policyDir) await rm(policyDir, { recursive: true, force: true });
  if (layoutDirectory) await rm(layoutDirectory, { recursive: true, force: true });
  for (const [kind, name] of created.reverse()) run(kind === 'user' ? 'userdel' : 'groupdel', [name]);
});

/** `command` as `user`, with that user's groups (as after a login). */
const asUser = (user: string, command: string[]) => ['--reuid', String(idOf('-u', user)), '--regid', String(idOf('-g', user)), '--init-groups', ...command];

/** dbus-send as `user`, as a child process. */
function callAs(user: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('setpriv', asUser(user, ['dbus-send', `--bus=${bus!.address}`, '--print-reply', '--dest=org.qm.Controller1', ...args]), (error, stdout, stderr) =>
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** The built qmctl as `user`. */
function qmctlAs(user: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('setpriv', asUser(user, [process.execPath, QMCTL_BIN, ...args]), { env: { PATH: process.env.PATH, DBUS_SYSTEM_BUS_ADDRESS: bus!.address } }, (error, stdout, stderr) =>
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** Apply({}) as `user`, with gdbus (dbus-send cannot send a{sv}). */
function applyAs(user: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const call = ['gdbus', 'call', '--address', bus!.address, '--dest', 'org.qm.Controller1', '--object-path', '/org/qm/Controller1', '--method', 'org.qm.Controller1.Apply', '{}'];
    execFile('setpriv', asUser(user, call), (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }));
  });
}

const getStatus = (user: string) => callAs(user, '/org/qm/Controller1', 'org.freedesktop.DBus.Properties.Get', 'string:org.qm.Controller1', 'string:Status');
const DENIED = /org\.freedesktop\.DBus\.Error\.AccessDenied/;

test('root reads the properties and calls Reload', async (t) => {
  const status = await getStatus('root');
  t.is(status.code, 0, status.stderr);
  t.regex(status.stdout, /variant\s+string "down"/);
  const reload = await callAs('root', '/org/qm/Controller1', 'org.qm.Controller1.Reload');
  t.is(reload.code, 0, reload.stderr);
  t.regex(reload.stdout, /boolean true/);
});

test('a member of qm-operators reads and calls Apply, which returns a job object', async (t) => {
  t.is((await getStatus(OPERATOR)).code, 0);
  const apply = await applyAs(OPERATOR);
  t.is(apply.code, 0, apply.stderr);
  t.regex(apply.stdout, /^\(objectpath '\/org\/qm\/Controller1\/job\/\d+',\)$/m);
});

test('a member of qm-observers reads (Get, GetAll, Introspect, Plan) and is denied Apply and Reload', async (t) => {
  for (const args of [
    ['org.freedesktop.DBus.Properties.Get', 'string:org.qm.Controller1', 'string:Status'],
    ['org.freedesktop.DBus.Properties.GetAll', 'string:org.qm.Controller1'],
    ['org.freedesktop.DBus.Introspectable.Introspect'],
  ]) {
    const read = await callAs(OBSERVER, '/org/qm/Controller1', ...args);
    t.is(read.code, 0, `${args[0]}: ${read.stderr}`);
  }
  // Plan reaches the daemon, which answers that BlueChi is away: the policy let it through.
  const plan = await callAs(OBSERVER, '/org/qm/Controller1', 'org.qm.Controller1.Plan');
  t.regex(plan.stderr, /org\.qm\.Controller1\.Error\.Unreachable/);
  for (const [method, result] of [
    ['Apply', await applyAs(OBSERVER)],
    ['Reload', await callAs(OBSERVER, '/org/qm/Controller1', 'org.qm.Controller1.Reload')],
  ] as const) {
    t.not(result.code, 0, method);
    t.regex(result.stderr, DENIED, method);
  }
});

test('qmctl as a member of qm-observers: controller-status reads, apply and controller-reload are denied', async (t) => {
  const status = await qmctlAs(OBSERVER, 'controller-status', '--json');
  t.is(status.code, 1, status.stderr);
  t.like(JSON.parse(status.stdout), { status: 'down', bluechi: 'down', nodes: [{ name: 'a', online: false }] });
  const apply = await qmctlAs(OBSERVER, 'apply');
  t.is(apply.code, 1);
  t.regex(apply.stderr, /^qmctl apply: qm-controller refused Apply: access denied \(root and the qm-operators group may\)/);
  const reload = await qmctlAs(OBSERVER, 'controller-reload');
  t.is(reload.code, 1);
  t.regex(reload.stderr, /refused Reload: access denied/);
});

test('qmctl controller-status -w as a member of qm-observers prints again when the daemon\'s properties change', async (t) => {
  const child = spawn('setpriv', asUser(OBSERVER, [process.execPath, QMCTL_BIN, 'controller-status', '-w', '--log-level', 'debug']), {
    env: { PATH: process.env.PATH, DBUS_SYSTEM_BUS_ADDRESS: bus!.address },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => stopChild(child, 'SIGKILL'));
  const printed: string[] = [];
  const said = (pattern: RegExp, stream: NodeJS.ReadableStream) =>
    new Promise<void>((resolve) => createInterface({ input: stream }).on('line', (line) => (printed.push(line), pattern.test(line) && resolve())));
  // Its debug line says it follows changes: a change made after that is seen.
  await said(/subscribed: following changes/, child.stderr!);
  const secondPrint = new Promise<void>((resolve) => {
    let layouts = 0;
    createInterface({ input: child.stdout! }).on('line', (line) => /^layout: /.test(line) && ++layouts === 2 && resolve());
  });
  // An operator's reload changes LastReload: PropertiesChanged, and the observer prints again.
  const reload = await callAs(OPERATOR, '/org/qm/Controller1', 'org.qm.Controller1.Reload');
  t.is(reload.code, 0, reload.stderr);
  await secondPrint;
  child.kill('SIGINT');
  t.is(await new Promise<number | null>((resolve) => child.once('exit', resolve)), 0);
});

test('any other user is denied everything, reading included, and may not take the name', async (t) => {
  for (const args of [
    ['org.freedesktop.DBus.Properties.Get', 'string:org.qm.Controller1', 'string:Status'],
    ['org.freedesktop.DBus.Properties.GetAll', 'string:org.qm.Controller1'],
    ['org.freedesktop.DBus.Introspectable.Introspect'],
    ['org.qm.Controller1.Plan'],
    ['org.qm.Controller1.Reload'],
  ]) {
    const result = await callAs(OUTSIDER, '/org/qm/Controller1', ...args);
    t.not(result.code, 0, args[0]);
    t.regex(result.stderr, DENIED, args[0]);
  }
  const apply = await applyAs(OUTSIDER);
  t.not(apply.code, 0);
  t.regex(apply.stderr, DENIED);
  const status = await qmctlAs(OUTSIDER, 'controller-status');
  t.is(status.code, 1);
  t.regex(status.stderr, /refused reading its status: access denied \(root and the groups qm-observers and qm-operators may\)/);
  const own = await new Promise<string>((resolve) =>
    execFile('setpriv', asUser(OUTSIDER, ['dbus-send', `--bus=${bus!.address}`, '--print-reply', '--dest=org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus.RequestName', 'string:org.qm.Controller1', 'uint32:4']), (_error, _stdout, stderr) => resolve(stderr)),
  );
  t.regex(own, DENIED);
});
