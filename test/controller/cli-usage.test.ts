// qmctl's argument handling, in-process: exit codes and messages a user sees, no bus needed.
import test from 'ava';
import { qmctl } from '../support/qmctl.ts';
import { commandNames } from '../../controller/cli/registry.ts';
import { globToRegExp } from '../../controller/cli/glob.ts';
import { table } from '../../controller/cli/format.ts';
import { signalNumber } from '../../controller/cli/commands/kill.ts';

test('every command has --help with its usage', async (t) => {
  for (const name of commandNames) {
    const result = await qmctl([name, '--help']);
    t.is(result.code, 0, name);
    t.true(result.stdout.startsWith(`Usage: qmctl ${name}`), name);
  }
});

test('no command is a usage error listing the commands', async (t) => {
  const result = await qmctl([]);
  t.is(result.code, 2);
  t.regex(result.stdout, /start +Start units/);
});

test('unknown commands and options exit 2 with the usage', async (t) => {
  t.is((await qmctl(['frobnicate'])).code, 2);
  const result = await qmctl(['start', '--bogus', 'n', 'a.service']);
  t.is(result.code, 2);
  t.regex(result.stderr, /Unknown option '--bogus'[\s\S]*Usage: qmctl start/);
});

test('a bus address that is not one is a usage error naming where it came from, before any connection', async (t) => {
  // An option's value taken for the address: it failed in dbus-next with "Cannot read properties of undefined".
  const swapped = await qmctl(['--bus-address', 'start', 'list-nodes']);
  t.is(swapped.code, 2);
  t.is(swapped.stderr, 'qmctl: --bus-address "start" is not a D-Bus address: "start" has no TRANSPORT: prefix (e.g. unix:path=/var/run/dbus/system_bus_socket)\n');
  const fromEnv = await qmctl(['list-nodes'], { DBUS_SYSTEM_BUS_ADDRESS: 'unix:abstract=/tmp/dbus-x' });
  t.is(fromEnv.code, 2);
  t.regex(fromEnv.stderr, /^qmctl: \$DBUS_SYSTEM_BUS_ADDRESS "unix:abstract=\/tmp\/dbus-x" is not a D-Bus address: unix: takes path, guid, not "abstract"\n$/);
  for (const [address, problem] of [
    ['tcp:host=h', 'tcp: needs port='],
    ['unix:path=', 'unix: path= is empty'],
    ['unix:path', '"path" in "unix:path" is not KEY=VALUE'],
    ['launchd:env=X', 'transport "launchd" is not supported'],
    ['unix:path=/run/a;nope', '"nope" has no TRANSPORT: prefix'],
  ]) {
    const result = await qmctl(['--bus-address', address!, 'status', 'n', 'u.service']);
    t.is(result.code, 2, address);
    t.true(result.stderr.includes(problem!), `${address}: ${result.stderr}`);
  }
  // Good ones pass the check: the connection itself then says it cannot reach them (exit 3).
  for (const address of ['unix:path=/nonexistent/bus,guid=0123', 'unix:path=/nonexistent/a;unix:path=/nonexistent/b']) {
    const result = await qmctl(['--bus-address', address, 'list-nodes']);
    t.is(result.code, 3, `${address}: ${result.stderr}`);
    t.regex(result.stderr, /cannot reach the D-Bus bus/);
  }
});

test('names of Object.prototype members are unknown commands, not a crash', async (t) => {
  for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
    const result = await qmctl([name]);
    t.is(result.code, 2, name);
    t.is(result.stderr, `qmctl: unknown command ${JSON.stringify(name)}; 'qmctl --help' lists the commands\n`, name);
  }
});

test('wrong argument counts exit 2', async (t) => {
  const result = await qmctl(['is-enabled', 'node1']);
  t.is(result.code, 2);
  t.regex(result.stderr, /expected 2 arguments, got 1/);
});

test('an invalid unit name is refused before any bus is contacted', async (t) => {
  // The bus address does not exist: had qmctl connected, it would exit 3, not 2.
  const result = await qmctl(['start', 'node1', 'bad unit'], { DBUS_SYSTEM_BUS_ADDRESS: 'unix:path=/nonexistent' });
  t.is(result.code, 2);
  t.regex(result.stderr, /invalid unit name "bad unit"/);
});

test('an unreachable bus exits 3 and names the address tried', async (t) => {
  const result = await qmctl(['list-nodes'], { DBUS_SYSTEM_BUS_ADDRESS: 'unix:path=/nonexistent/bus' });
  t.is(result.code, 3);
  t.regex(result.stderr, /unix:path=\/nonexistent\/bus/);
  const flag = await qmctl(['--bus-address', 'unix:path=/nonexistent/other', 'list-nodes']);
  t.is(flag.code, 3);
  t.regex(flag.stderr, /unix:path=\/nonexistent\/other/);
});

test('--json errors go to stdout as a document, the message to stderr', async (t) => {
  const result = await qmctl(['--json', 'list-nodes'], { DBUS_SYSTEM_BUS_ADDRESS: 'unix:path=/nonexistent/bus' });
  t.is(result.code, 3);
  t.is(JSON.parse(result.stdout).error.code, 'unreachable');
});

test('version, plain and JSON', async (t) => {
  t.regex((await qmctl(['version'])).stdout, /^qmctl version \d+\.\d+\.\d+\n$/);
  t.regex(JSON.parse((await qmctl(['version', '--json'])).stdout).version, /^\d+\.\d+\.\d+$/);
});

test('globs match as fnmatch does', (t) => {
  t.true(globToRegExp('qm*.service').test('qm-a.service'));
  t.false(globToRegExp('qm*.service').test('qm-a.socket'));
  t.true(globToRegExp('a?[0-9].target').test('ab1.target'));
  t.false(globToRegExp('[!a]x').test('ax'));
  t.true(globToRegExp('a.b').test('a.b'));
  t.false(globToRegExp('a.b').test('axb'));
});

test('tables align on visible width even with colour', (t) => {
  const text = table(['A', 'B'], [['\u001b[32mok\u001b[0m', 'x'], ['long', 'y']]);
  t.deepEqual(
    text.split('\n').map((line) => line.replace(/\u001b\[[0-9;]*m/g, '')),
    ['A     B', 'ok    x', 'long  y'],
  );
});

test('signals by name or number', (t) => {
  t.is(signalNumber('TERM'), 15);
  t.is(signalNumber('SIGKILL'), 9);
  t.is(signalNumber('9'), 9);
  t.is(signalNumber('NOPE'), undefined);
});

test('exec passes the command line through, dashes and all', async (t) => {
  // No QM here: the point is that qmctl does not take '-la' or '--json' after CMD as its own options.
  const result = await qmctl(['exec', 'ls', '-la', '--bogus']);
  t.notRegex(result.stderr, /Unknown option/);
  const usage = await qmctl(['exec', '--bogus', 'ls']);
  t.is(usage.code, 2);
  t.regex(usage.stderr, /Unknown option '--bogus'/);
});

test('waits beyond Node\'s timer limit (2^31-1 ms) are refused before anything is done, not fired after 1 ms', async (t) => {
  // The bus address does not exist: had qmctl gone on, it would exit 3, not 2.
  const env = { DBUS_SYSTEM_BUS_ADDRESS: 'unix:path=/nonexistent' };
  const timeout = await qmctl(['start', 'node1', 'a.service', '--timeout', '2147484'], env);
  t.is(timeout.code, 2);
  t.is(timeout.stderr, 'qmctl: --timeout takes a number of seconds > 0 up to 2147483 (about 24.8 days, the longest a timer can wait), not "2147484"\n');
  t.is((await qmctl(['start', 'node1', 'a.service', '--timeout', '2147483'], env)).code, 3, 'the longest timeout is taken');
  for (const value of ['0', '-1', 'soon', '', 'Infinity']) t.is((await qmctl(['list-nodes', '--timeout', value], env)).code, 2, value);
  const wait = await qmctl(['apply', '/nonexistent/layout.yaml', '--wait-offline', '2147484'], env);
  t.is(wait.code, 2);
  t.is(wait.stderr, 'qmctl apply: --wait-offline takes a number of seconds ≥ 0 up to 2147483 (about 24.8 days, the longest a timer can wait), not "2147484"\n');
});

test('partition commands name a file once in their errors (it leads the line; the message does not repeat it)', async (t) => {
  const missing = `/nonexistent-${process.pid}/file`;
  const copy = await qmctl(['cp', missing, 'qm:/tmp']);
  t.is(copy.code, 1);
  t.is(copy.stderr, `qmctl cp: ${missing}: no such file or directory\n`);
  const show = await qmctl(['show', 'container']);
  t.is(show.code, 1);
  // This machine has no QM installed; if it had, the command would print the unit instead.
  t.is(show.stderr.split('/usr/share/containers/systemd/qm.container').length, 2, show.stderr);
});
