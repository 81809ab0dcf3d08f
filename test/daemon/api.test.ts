// qmctl talking to a running qm-controller over org.qm.Controller1: controller-status (-w), apply as the daemon's
// client (its job and JobRemoved) with the same summary and JSON as a direct apply, controller-reload.
import test from 'ava';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { connectBus } from '../../controller/bus/connection.ts';
import { DAEMON_NAME, DAEMON_PATH } from '../../controller/daemon/api.ts';
import { stopChild } from '../support/dbus-daemon.ts';
import { qmctl, QMCTL_BIN } from '../support/qmctl.ts';
import { realNodes, starts, startDaemonVehicle, until } from './harness.ts';

const real = realNodes(['a']);
test.before(() => real.boot());
test.after.always(() => real.stop());

const LAYOUT = `nodes:
  a:
    units:
      db.service: {}
      web.service: { needs: [db.service] }
`;
const nodes = (online = true) => [{ name: 'a', online, jobLatencyMs: 20, units: [{ name: 'db.service' }, { name: 'web.service' }, { name: 'extra.service' }] }];

test('controller-status shows each unit against the layout; apply goes through the daemon, a job whose JobRemoved carries the summary', async (t) => {
  const { bus, standin, daemon } = await startDaemonVehicle(t, nodes(false), LAYOUT);
  const env = { DBUS_SYSTEM_BUS_ADDRESS: bus.address };
  await daemon.settled();
  const before = await qmctl(['controller-status'], env);
  t.is(before.code, 1, before.stderr);
  t.regex(before.stdout, /BlueChi: up; nodes: a offline/);
  t.regex(before.stdout, /a +db\.service +running +unknown +0\/3/);
  t.regex(before.stdout, /\ndiverged\n$/);
  await standin.setOnline('a', true);
  await until('converged', async () => (await daemon.status()).converged);
  const status = await qmctl(['controller-status', '--json'], env);
  t.is(status.code, 0, status.stderr);
  t.like(JSON.parse(status.stdout), { status: 'converged', bluechi: 'up', converged: true, nodes: [{ name: 'a', online: true }] });
  t.deepEqual(JSON.parse(status.stdout), JSON.parse(JSON.stringify(await daemon.status())), 'the properties carry the whole status');

  // The job and its JobRemoved, as a client subscribed before calling sees them.
  const probe = await connectBus(bus.address);
  t.teardown(() => probe.close());
  const seen: unknown[][] = [];
  const signals = probe.signals({ sender: DAEMON_NAME, path: DAEMON_PATH, interface: 'org.qm.Controller1' });
  const subscription = signals.subscribe((signal) => seen.push([signal.member, ...signal.body.slice(0, 3)]));
  t.teardown(() => subscription.unsubscribe());
  await signals.ready();
  const applied = await qmctl(['apply', '--json'], env);
  t.is(applied.code, 0, applied.stderr);
  t.like(JSON.parse(applied.stdout), { path: 'qm-controller', trigger: 'operator', outcome: 'applied', steps: [], unconverged: [], errors: [] });
  await until('JobRemoved seen', () => seen.some(([member]) => member === 'JobRemoved'));
  t.deepEqual(seen, [
    ['JobNew', 1, '/org/qm/Controller1/job/1'],
    ['JobRemoved', 1, '/org/qm/Controller1/job/1', 'done'],
  ]);
  const text = await qmctl(['apply'], env);
  t.is(text.stdout, 'No changes: the vehicle matches the layout.\nApplied by qm-controller.\n');
});

test('qmctl apply prints the same summary and JSON shape through the daemon as directly (--direct), options alike', async (t) => {
  const { bus, standin, daemon, dir } = await startDaemonVehicle(t, nodes(), LAYOUT);
  const env = { DBUS_SYSTEM_BUS_ADDRESS: bus.address };
  await until('converged', async () => (await daemon.status()).converged);
  await daemon.settled();
  const shape = (json: string) => {
    const { path, startedAt, endedAt, steps, ...rest } = JSON.parse(json) as Record<string, unknown> & { steps: Array<Record<string, unknown>> };
    t.truthy(startedAt);
    t.truthy(endedAt);
    return { path, rest, steps: steps.map(({ startedMs, endedMs, job, ...step }) => (t.true(typeof startedMs === 'number' && typeof endedMs === 'number' && typeof job === 'string'), step)) };
  };
  const stopBoth = async () => {
    await standin.onNode('a', 'web.service', 'stop');
    await standin.onNode('a', 'db.service', 'stop');
    await until('the daemon sees both stopped', async () => (await daemon.status()).units.every((unit) => !unit.converged));
  };
  await stopBoth();
  const through = await qmctl(['apply', '--json', '--wait-offline', '5'], env);
  t.is(through.code, 0, through.stderr);
  await stopBoth();
  const direct = await qmctl(['apply', '--json', '--direct', '--wait-offline', '5', dir], env);
  t.is(direct.code, 0, direct.stderr);
  const [a, b] = [shape(through.stdout), shape(direct.stdout)];
  t.is(a.path, 'qm-controller');
  t.is(b.path, 'direct');
  t.deepEqual(a.rest, b.rest);
  t.deepEqual(a.steps, b.steps);
  t.deepEqual(a.steps.map((step) => step.id), ['start a/db.service', 'start a/web.service']);

  // The text summary: the same table and count, and the path.
  await stopBoth();
  const viaText = await qmctl(['apply'], env);
  await stopBoth();
  const directText = await qmctl(['apply', dir], env);
  const table = (stdout: string) => stdout.replace(/\d+ ms/g, 'N ms').split('\n');
  t.deepEqual(table(viaText.stdout).slice(0, -2), table(directText.stdout).slice(0, -2));
  t.deepEqual(table(viaText.stdout).slice(-3), ['2 of 2 steps done.', 'Applied by qm-controller.', '']);
  t.deepEqual(table(directText.stdout).slice(-3), ['2 of 2 steps done.', 'Applied by qmctl directly (LAYOUT given).', '']);
  t.is(starts(standin, 'a', 'db.service'), 5);
});

test('apply --dry-run through the daemon is its Plan: what it would do, nothing done', async (t) => {
  const { bus, standin, daemon } = await startDaemonVehicle(t, nodes(), LAYOUT);
  const env = { DBUS_SYSTEM_BUS_ADDRESS: bus.address };
  await until('converged', async () => (await daemon.status()).converged);
  await daemon.settled();
  await standin.onNode('a', 'web.service', 'stop');
  standin.clearCalls();
  const dry = await qmctl(['apply', '--dry-run'], env);
  t.is(dry.code, 0, dry.stderr);
  t.regex(dry.stdout, /\+ start +web\.service +inactive → running/);
  t.regex(dry.stdout, /Plan: 1 to start, 0 to stop/);
  const json = JSON.parse((await qmctl(['apply', '--dry-run', '--json'], env)).stdout) as { steps: Array<{ id: string; after: string[] }> };
  t.deepEqual(json.steps.map((step) => step.id), ['start a/web.service']);
  t.false(standin.calls('a').some((call) => call.method === 'StartUnit'));
});

test('qmctl controller-reload reads the layout and applies nothing; apply applies it; an invalid one is reported with file:line and the old one kept', async (t) => {
  const { bus, standin, daemon, dir, writeLayout, log } = await startDaemonVehicle(t, nodes(), LAYOUT);
  const env = { DBUS_SYSTEM_BUS_ADDRESS: bus.address };
  await until('converged', async () => (await daemon.status()).converged);
  await daemon.settled();
  await writeLayout(`nodes:\n  a:\n    units:\n      db.service: {}\n      web.service: { state: stopped }\n      extra.service: {}\n`);
  const reloaded = await qmctl(['controller-reload'], env);
  t.is(reloaded.code, 0, reloaded.stderr);
  t.is(reloaded.stdout, `qm-controller reloaded ${join(dir, 'layout.yaml')}; 'qmctl apply' applies it\n`);
  await daemon.settled();
  const activeState = async (unit: string) => (await standin.readUnitState('a', unit)).activeState;
  t.is(await activeState('extra.service'), 'inactive', 'reloading applied nothing');
  const diverged = await qmctl(['controller-status', '--json'], env);
  t.like(JSON.parse(diverged.stdout), { status: 'diverged', layout: { units: 3 }, lastReload: { reloaded: true } });
  const applied = await qmctl(['apply'], env);
  t.is(applied.code, 0, applied.stderr);
  t.is(await activeState('extra.service'), 'active');
  t.is(await activeState('web.service'), 'inactive');

  await writeLayout(`nodes:\n  a:\n    units:\n      db.service: { state: off }\n`);
  const refused = await qmctl(['controller-reload'], env);
  t.is(refused.code, 2);
  t.deepEqual(refused.stderr.trim().split('\n'), [
    `qmctl controller-reload: ${join(dir, 'layout.yaml')}:4:28: nodes.a.units[db.service].state: state must be one of running, stopped, not "off"`,
    'qmctl controller-reload: 1 error(s); qm-controller keeps the layout it had',
  ]);
  t.true(log.some((line) => line.startsWith(`error: reload: ${join(dir, 'layout.yaml')}:4:28:`)));
  // Still the previous layout: extra.service is owned, and repaired.
  await standin.onNode('a', 'extra.service', 'kill');
  await until('extra.service repaired under the kept layout', async () => (await activeState('extra.service')) === 'active');
  const status = await daemon.status();
  t.is(status.layout.units, 3);
  t.like(status.lastReload, { reloaded: false });
  // reload is bluechictl's unit reload only: it needs NODE and UNIT.
  t.is((await qmctl(['reload'], env)).code, 2);
  t.is((await qmctl(['reload', 'a'], env)).code, 2);
});

test('controller-status -w prints again on each change, until interrupted', async (t) => {
  const { bus, standin, daemon } = await startDaemonVehicle(t, nodes(), LAYOUT);
  await until('converged', async () => (await daemon.status()).converged);
  await daemon.settled();
  const child = spawn(process.execPath, [QMCTL_BIN, 'controller-status', '-w', '--json', '--log-level', 'debug'], { env: { PATH: process.env.PATH, DBUS_SYSTEM_BUS_ADDRESS: bus.address }, stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => stopChild(child, 'SIGKILL'));
  await new Promise<void>((resolve) => createInterface({ input: child.stderr }).on('line', (line) => /subscribed: following changes/.test(line) && resolve()));
  // Each document ends with a closing brace alone on its line.
  const documents: string[] = [];
  let current = '';
  const statusSays = (wanted: string) =>
    new Promise<void>((resolve) =>
      createInterface({ input: child.stdout }).on('line', (line) => {
        current += `${line}\n`;
        if (line !== '}') return;
        documents.push(current);
        current = '';
        if ((JSON.parse(documents.at(-1)!) as { status: string }).status === wanted) resolve();
      }),
    );
  const diverged = statusSays('diverged');
  // Not owned: the monitor's change of a unit the layout does not own changes no property.
  await standin.onNode('a', 'extra.service', 'start');
  await standin.onNode('a', 'db.service', 'kill');
  await diverged;
  t.true(documents.length >= 2, 'the status at start, then after the change');
  t.is((JSON.parse(documents[0]!) as { status: string }).status, 'converged');
  child.kill('SIGINT');
  t.is(await new Promise<number | null>((resolve) => child.once('exit', resolve)), 0);
});

test('without a daemon: controller-reload and controller-status (-w too) say it is not running', async (t) => {
  const { bus, daemon } = await startDaemonVehicle(t, nodes(), LAYOUT);
  await until('converged', async () => (await daemon.status()).converged);
  await daemon.stop();
  const env = { DBUS_SYSTEM_BUS_ADDRESS: bus.address };
  const reload = await qmctl(['controller-reload'], env);
  t.is(reload.code, 3);
  t.regex(reload.stderr, /qm-controller is not running on unix:path=.* \(no owner of org\.qm\.Controller1\)/);
  t.is((await qmctl(['controller-status'], env)).code, 3);
  t.is((await qmctl(['controller-status', '-w'], env)).code, 3);
});
