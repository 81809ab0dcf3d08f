// qmctl talking to a running qm-controller over org.qm.Controller1: controller-status, apply, reload.
import test from 'ava';
import { join } from 'node:path';
import { qmctl } from '../support/qmctl.ts';
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

test('controller-status shows each unit against the layout; apply without LAYOUT goes through the daemon', async (t) => {
  const { bus, standin, daemon } = await startDaemonVehicle(t, nodes(false), LAYOUT);
  const env = { DBUS_SYSTEM_BUS_ADDRESS: bus.address };
  await daemon.settled();
  const before = await qmctl(['controller-status'], env);
  t.is(before.code, 1, before.stderr);
  t.regex(before.stdout, /BlueChi: up; nodes: a offline/);
  t.regex(before.stdout, /a +db\.service +running +unknown +0\/3/);
  t.regex(before.stdout, /not converged/);
  await standin.setOnline('a', true);
  await until('converged', async () => (await daemon.status()).converged);
  const status = await qmctl(['controller-status', '--json'], env);
  t.is(status.code, 0, status.stderr);
  t.like(JSON.parse(status.stdout), { bluechi: 'up', converged: true, nodes: [{ name: 'a', online: true }] });
  const applied = await qmctl(['apply', '--json'], env);
  t.is(applied.code, 0, applied.stderr);
  t.like(JSON.parse(applied.stdout), { trigger: 'operator', outcome: 'applied', steps: [] });
});

test('apply calls made at once never interleave: every unit is started once', async (t) => {
  const { bus, standin, daemon } = await startDaemonVehicle(t, nodes(false), LAYOUT);
  const env = { DBUS_SYSTEM_BUS_ADDRESS: bus.address };
  await daemon.settled();
  await standin.setOnline('a', true);
  const results = await Promise.all(Array.from({ length: 6 }, () => qmctl(['apply', '--json'], env)));
  for (const result of results) t.is(result.code, 0, result.stderr);
  t.is(starts(standin, 'a', 'db.service'), 1);
  t.is(starts(standin, 'a', 'web.service'), 1);
});

test('qmctl reload: a new layout is applied; an invalid one is reported with file:line and the old one kept', async (t) => {
  const { bus, standin, daemon, dir, writeLayout, log } = await startDaemonVehicle(t, nodes(), LAYOUT);
  const env = { DBUS_SYSTEM_BUS_ADDRESS: bus.address };
  await until('converged', async () => (await daemon.status()).converged);
  await writeLayout(`nodes:\n  a:\n    units:\n      db.service: {}\n      web.service: { state: stopped }\n      extra.service: {}\n`);
  const reloaded = await qmctl(['reload'], env);
  t.is(reloaded.code, 0, reloaded.stderr);
  t.is(reloaded.stdout, `qm-controller reloaded ${join(dir, 'layout.yaml')}\n`);
  const activeState = async (unit: string) => (await standin.readUnitState('a', unit)).activeState;
  await until('the new layout is applied', async () => (await activeState('extra.service')) === 'active' && (await activeState('web.service')) === 'inactive');

  await writeLayout(`nodes:\n  a:\n    units:\n      db.service: { state: off }\n`);
  const refused = await qmctl(['reload'], env);
  t.is(refused.code, 2);
  t.deepEqual(refused.stderr.trim().split('\n'), [
    `qmctl reload: ${join(dir, 'layout.yaml')}:4:28: nodes.a.units[db.service].state: state must be one of running, stopped, not "off"`,
    'qmctl reload: 1 error(s); qm-controller keeps the layout it had',
  ]);
  t.true(log.some((line) => line.startsWith(`error: reload: ${join(dir, 'layout.yaml')}:4:28:`)));
  // Still the previous layout: extra.service is owned, and repaired.
  await standin.onNode('a', 'extra.service', 'kill');
  await until('extra.service repaired under the kept layout', async () => (await activeState('extra.service')) === 'active');
  const status = await daemon.status();
  t.is(status.layout.units, 3);
  t.like(status.lastReload, { reloaded: false });
  t.is((await qmctl(['reload', 'a'], env)).code, 2, 'one argument: neither form');
});

test('without a daemon: qmctl reload says it is not running; controller-status too', async (t) => {
  const { bus, daemon } = await startDaemonVehicle(t, nodes(), LAYOUT);
  await daemon.stop();
  const env = { DBUS_SYSTEM_BUS_ADDRESS: bus.address };
  const reload = await qmctl(['reload'], env);
  t.is(reload.code, 3);
  t.regex(reload.stderr, /qm-controller is not running on unix:path=.* \(no owner of org\.qm\.Controller1\)/);
  t.is((await qmctl(['controller-status'], env)).code, 3);
});
