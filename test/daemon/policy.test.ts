// units/org.qm.Controller1.conf on a system-bus-style dbus-daemon (default deny): root owns and calls the
// daemon's API, a member of qm-operators calls it, anyone else is refused — checked by calling as those users.
import test from 'ava';
import { execFile, spawnSync } from 'node:child_process';
import { chmod, copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDaemon, type Daemon } from '../../controller/daemon/daemon.ts';
import { readLayout } from '../../controller/layout/index.ts';
import { startPrivateBus, type PrivateBus } from '../support/dbus-daemon.ts';

const POLICY_FILE = fileURLToPath(new URL('../../units/org.qm.Controller1.conf', import.meta.url));
const OUTSIDER = 'qm-test-outsider';
const OPERATOR = 'qm-test-operator';
const GROUP = 'qm-operators';

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
let daemon: Daemon | undefined;

const run = (command: string, args: string[]) => spawnSync(command, args, { encoding: 'utf8' });
const exists = (kind: 'passwd' | 'group', name: string) => run('getent', [kind, name]).status === 0;
const idOf = (flag: '-u' | '-g', name: string) => Number(run('id', [flag, name]).stdout.trim());

test.before(async () => {
  if (process.getuid?.() !== 0) throw new Error('this test needs root: it creates throwaway users and calls as them');
  if (!exists('group', GROUP)) {
    if (run('groupadd', ['-r', GROUP]).status !== 0) throw new Error(`groupadd ${GROUP} failed`);
    created.push(['group', GROUP]);
  }
  for (const [user, groups] of [[OUTSIDER, []], [OPERATOR, ['-G', GROUP]]] as const) {
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
  const layout = readLayout([{ file: 'layout.yaml', text: 'nodes:\n  a: {}\n' }]);
  if (!layout.ok) throw new Error('layout');
  const quiet = () => undefined;
  daemon = startDaemon({ busAddress: bus.address, layout: layout.layout, layoutPaths: [], log: { error: quiet, warn: quiet, info: quiet, debug: quiet } });
  await daemon.ready;
});

test.after.always(async () => {
  await daemon?.stop();
  await bus?.stop();
  if (policyDir) await rm(policyDir, { recursive: true, force: true });
  for (const [kind, name] of created.reverse()) run(kind === 'user' ? 'userdel' : 'groupdel', [name]);
});

/** dbus-send as `user`, with that user's groups (as after a login), as a child process. */
function callAs(user: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const command = ['--reuid', String(idOf('-u', user)), '--regid', String(idOf('-g', user)), '--init-groups', 'dbus-send', `--bus=${bus!.address}`, '--print-reply', ...args];
    execFile('setpriv', command, (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }));
  });
}
const status = (user: string) => callAs(user, '--dest=org.qm.Controller1', '/org/qm/Controller1', 'org.qm.Controller1.Status');

test('root calls Status', async (t) => {
  const result = await status('root');
  t.is(result.code, 0, result.stderr);
  t.regex(result.stdout, /"bluechi":"down"/);
});

test('a member of qm-operators calls Status', async (t) => {
  const result = await status(OPERATOR);
  t.is(result.code, 0, result.stderr);
  t.regex(result.stdout, /"layout"/);
});

test('any other user is refused with AccessDenied, for every method, and may not take the name', async (t) => {
  for (const method of ['Status', 'Apply', 'Reload']) {
    const result = await callAs(OUTSIDER, '--dest=org.qm.Controller1', '/org/qm/Controller1', `org.qm.Controller1.${method}`);
    t.not(result.code, 0, method);
    t.regex(result.stderr, /org\.freedesktop\.DBus\.Error\.AccessDenied/, method);
  }
  const own = await callAs(OUTSIDER, '--dest=org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus.RequestName', 'string:org.qm.Controller1', 'uint32:4');
  t.regex(own.stderr, /AccessDenied/);
});
