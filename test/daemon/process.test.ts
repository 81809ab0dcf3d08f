// dist/qm-controller.cjs as systemd runs it: a process that owns its name when ready, reloads on SIGHUP
// (keeping the old layout when the new one is invalid) and exits 0 on SIGTERM. Needs `npm run build`.
import test, { type ExecutionContext } from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectBus, type Bus } from '../../controller/bus/connection.ts';
import { daemonRunning } from '../../controller/daemon/client.ts';
import { DAEMON_NAME, DAEMON_PATH } from '../../controller/daemon/api.ts';
import { stopChild } from '../support/dbus-daemon.ts';
import { layoutDir, realNodes, startVehicle, until, type Vehicle } from './harness.ts';

const real = realNodes(['a']);
test.before(() => real.boot());
test.after.always(() => real.stop());

const BIN = fileURLToPath(new URL('../../dist/qm-controller.cjs', import.meta.url));

function run(args: string[]): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

/** Node a holding `units`, a layout that runs one.service, and a connection to the bus to look at what is on it. */
async function vehicleRunningOne(t: ExecutionContext, units: readonly string[]): Promise<Vehicle & { probe: Bus }> {
  const vehicle = await startVehicle(t, [{ name: 'a', units: units.map((name) => ({ name })) }], 'nodes:\n  a:\n    units:\n      one.service: {}\n');
  const probe = await connectBus(vehicle.bus.address);
  t.teardown(() => probe.close());
  return { ...vehicle, probe };
}

test('ready when it owns org.qm.Controller1; SIGHUP reloads, an invalid layout is reported and the old kept; SIGTERM exits 0', async (t) => {
  if (!existsSync(BIN)) return t.fail(`${BIN} is missing: run npm run build`);
  const { bus, standin, dir, probe, writeLayout } = await vehicleRunningOne(t, ['one.service', 'two.service']);

  const daemon = run(['--layout', dir, '--bus-address', bus.address]);
  t.teardown(() => stopChild(daemon.child, 'SIGKILL'));
  await until('it owns its name', () => daemonRunning(probe));
  const activeState = async (unit: string) => (await standin.readUnitState('a', unit)).activeState;
  await until('one.service runs', async () => (await activeState('one.service')) === 'active');
  // Introspection is the one thing that loads xml2js, which the build keeps in a part of its own.
  const [xml] = await probe.call({ destination: DAEMON_NAME, path: DAEMON_PATH, interface: 'org.freedesktop.DBus.Introspectable', member: 'Introspect', replySignature: 's' });
  t.regex(xml as string, /<interface name="org\.qm\.Controller1">/);

  await writeLayout('nodes:\n  a:\n    units:\n      one.service: { state: stopped }\n      two.service: {}\n');
  daemon.child.kill('SIGHUP');
  await until('the new layout is applied', async () => (await activeState('two.service')) === 'active' && (await activeState('one.service')) === 'inactive');

  await writeLayout('nodes:\n  a:\n    units:\n      two.service: { needs: [ghost.service] }\n');
  daemon.child.kill('SIGHUP');
  // Two lines, which may reach us in two reads.
  await until('the error is logged', () => /error: reload: .*layout\.yaml:4:[\s\S]*still applying the layout from/.test(daemon.output()));
  await standin.onNode('a', 'one.service', 'start');
  await until('one.service stopped again under the kept layout', async () => (await activeState('one.service')) === 'inactive', 5_000);

  daemon.child.kill('SIGTERM');
  t.is(await daemon.exited, 0);
  t.false(await daemonRunning(probe));
});

test('an invalid layout at start: every error with file:line, exit 2, the name never taken', async (t) => {
  if (!existsSync(BIN)) return t.fail(`${BIN} is missing: run npm run build`);
  const dir = await layoutDir('nodes:\n  a:\n    units:\n      x.service: { state: off }\n      y.service: { bogus: 1 }\n');
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const daemon = run(['--layout', dir, '--bus-address', 'unix:path=/nonexistent']);
  t.teardown(() => stopChild(daemon.child, 'SIGKILL'));
  t.is(await daemon.exited, 2);
  t.regex(daemon.output(), /layout\.yaml:4:\d+: nodes\.a\.units\[x\.service\]\.state: state must be one of running, stopped/);
  t.regex(daemon.output(), /layout\.yaml:5:\d+: nodes\.a\.units\[y\.service\]\.bogus: unknown key "bogus"/);
});

test('a bus address that is not one: named with where it came from, exit 2', async (t) => {
  if (!existsSync(BIN)) return t.fail(`${BIN} is missing: run npm run build`);
  const dir = await layoutDir('nodes:\n  a:\n    units:\n      x.service: {}\n');
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const daemon = run(['--layout', dir, '--bus-address', 'system']);
  t.teardown(() => stopChild(daemon.child, 'SIGKILL'));
  t.is(await daemon.exited, 2);
  t.regex(daemon.output(), /error: --bus-address "system" is not a D-Bus address: "system" has no TRANSPORT: prefix/);
});

test('a second qm-controller while one owns the name: says so and exits 3, as its help promises', async (t) => {
  if (!existsSync(BIN)) return t.fail(`${BIN} is missing: run npm run build`);
  const { bus, dir, probe } = await vehicleRunningOne(t, ['one.service']);

  const first = run(['--layout', dir, '--bus-address', bus.address]);
  t.teardown(() => stopChild(first.child, 'SIGKILL'));
  await until('the first owns the name', () => daemonRunning(probe));
  const second = run(['--layout', dir, '--bus-address', bus.address]);
  t.teardown(() => stopChild(second.child, 'SIGKILL'));
  t.is(await second.exited, 3);
  t.regex(second.output(), /org\.qm\.Controller1 is already owned on .*: is another qm-controller running\?/);
  t.true(await daemonRunning(probe), 'the first keeps serving');
  const help = run(['--help']);
  t.is(await help.exited, 0);
  t.regex(help.output(), /3 cannot serve/);
});

/** Runs qm-controller with stderr going to a file, as systemd connects a service's stderr to the journal. */
async function runToFile(t: ExecutionContext, args: string[], journal: boolean): Promise<{ child: ChildProcess; text: () => Promise<string>; exited: Promise<number | null> }> {
  const dir = await mkdtemp(join(tmpdir(), 'qm-journal-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'stderr');
  const handle = await open(file, 'w');
  const { dev, ino } = await handle.stat({ bigint: true });
  const env = { PATH: process.env.PATH, ...(journal ? { JOURNAL_STREAM: `${dev}:${ino}` } : {}) };
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'ignore', handle.fd], env });
  await handle.close();
  t.teardown(() => stopChild(child, 'SIGKILL'));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, text: () => readFile(file, 'utf8'), exited };
}

test('under systemd (stderr is the journal: JOURNAL_STREAM names it) log lines carry sd-daemon priority prefixes; elsewhere none', async (t) => {
  if (!existsSync(BIN)) return t.fail(`${BIN} is missing: run npm run build`);
  const dir = await layoutDir('nodes:\n  a:\n    units:\n      one.service: {}\n');
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  // No bus: it warns and retries until stopped, then says so at info level.
  const waiting = await runToFile(t, ['--layout', dir, '--bus-address', 'unix:path=/nonexistent/bus'], true);
  await until('a warning is logged', async () => /^<4>warn: /m.test(await waiting.text()));
  waiting.child.kill('SIGTERM');
  t.is(await waiting.exited, 0);
  const lines = (await waiting.text()).trimEnd().split('\n');
  t.true(lines.every((line) => /^<[3467]>(error|warn|info|debug): /.test(line)), lines.join('\n'));
  t.is(lines.at(-1), '<6>info: stopped');

  const invalid = await layoutDir('nodes:\n  a:\n    units:\n      x.service: { state: off }\n');
  t.teardown(() => rm(invalid, { recursive: true, force: true }));
  const refused = await runToFile(t, ['--layout', invalid], true);
  t.is(await refused.exited, 2);
  t.regex(await refused.text(), /^<3>error: .*layout\.yaml:4:\d+: nodes\.a\.units\[x\.service\]\.state: /m);

  // The same stderr without JOURNAL_STREAM (a terminal, a pipe): time-stamped lines, no prefix.
  const plain = await runToFile(t, ['--layout', invalid], false);
  t.is(await plain.exited, 2);
  t.regex(await plain.text(), /^\d{4}-\d\d-\d\dT[\d:.]+Z error: /m);
  t.notRegex(await plain.text(), /^</m);
});
