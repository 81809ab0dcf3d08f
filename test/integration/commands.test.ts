// The rest of bluechictl's words, through qmctl against the stand-in: what an operator sees.
import test from 'ava';
import { standinTarget, type StandinTarget } from '../support/bluechi-target.ts';
import { startPrivateBus } from '../support/dbus-daemon.ts';
import { startStandin } from '../standin/index.ts';
import { qmctl } from '../support/qmctl.ts';
import { followLines } from './follow.ts';

let target: StandinTarget;

test.before(async () => {
  target = await standinTarget(['node1', 'node2'], 20, ['multi-user.target', 'rescue.target']);
});
test.after.always(async () => {
  await target?.stop();
});

const run = (...args: string[]) => qmctl(['--bus-address', target.address, ...args]);
const unit = 'qm-test.service';

test.serial('freeze and thaw a running unit', async (t) => {
  t.is((await run('start', 'node1', unit)).code, 0);
  const frozen = await run('freeze', 'node1', unit);
  t.is(frozen.code, 0, frozen.stderr);
  t.regex(frozen.stdout, /Froze qm-test\.service on node1/);
  t.is(JSON.parse((await run('status', 'node1', unit, '--json')).stdout)[0].freezerState, 'frozen');
  t.is((await run('thaw', 'node1', unit)).code, 0);
  t.is(JSON.parse((await run('status', 'node1', unit, '--json')).stdout)[0].freezerState, 'running');
});

test.serial('kill sends the signal asked for, by name or number', async (t) => {
  const result = await run('kill', 'node1', unit, '--signal', 'KILL', '--kill-whom', 'main', '--json');
  t.is(result.code, 0, result.stderr);
  t.deepEqual(JSON.parse(result.stdout), { node: 'node1', unit, whom: 'main', signal: 9 });
  const call = target.standin.calls('node1').findLast((entry) => entry.method === 'KillUnit');
  t.deepEqual(call?.args, [unit, 'main', 9]);
  const bad = await run('kill', 'node1', unit, '--signal', 'NOPE');
  t.is(bad.code, 2);
  t.is(target.standin.calls('node1').filter((entry) => entry.method === 'KillUnit').length, 1, 'a bad signal makes no call');
});

test.serial('list-unit-files per node and across nodes', async (t) => {
  const one = JSON.parse((await run('list-unit-files', 'node2', '--json')).stdout) as Array<{ node: string; path: string; state: string }>;
  t.true(one.length > 0);
  t.true(one.every((file) => file.node === 'node2'));
  t.true(one.some((file) => file.path.endsWith(`/${unit}`)));
  const all = JSON.parse((await run('list-unit-files', '--json')).stdout) as Array<{ node: string }>;
  t.deepEqual([...new Set(all.map((file) => file.node))], ['node1', 'node2']);
});

test.serial('get-default and set-default', async (t) => {
  const before = await run('get-default', 'node2');
  t.is(before.code, 0, before.stderr);
  t.regex(before.stdout.trim(), /\.target$/);
  const set = await run('set-default', 'node2', 'rescue.target', '--json');
  t.is(set.code, 0, set.stderr);
  t.like(JSON.parse(set.stdout), { node: 'node2', target: 'rescue.target' });
  t.is(JSON.parse((await run('get-default', 'node2', '--json')).stdout).target, 'rescue.target');
  const missing = await run('set-default', 'node2', 'qm-nosuch.target');
  t.is(missing.code, 1);
  t.regex(missing.stderr, /qm-nosuch\.target/);
  const notTarget = await run('set-default', 'node2', 'foo.service');
  t.is(notTarget.code, 2);
});

test.serial('set-loglevel for the controller and for a node; bad levels are usage errors', async (t) => {
  t.is((await run('set-loglevel', 'debug')).code, 0);
  t.is((await run('set-loglevel', 'node1', 'INFO')).code, 0);
  const bad = await run('set-loglevel', 'LOUD');
  t.is(bad.code, 2);
  t.regex(bad.stderr, /DEBUG, INFO, WARN, ERROR/);
});

test.serial('reset-failed on every node, one node, or named units', async (t) => {
  target.standin.setUnitState('node1', unit, 'failed', 'failed');
  t.is((await run('reset-failed', 'node1', unit)).code, 0);
  t.is(target.standin.unitState('node1', unit)?.activeState, 'inactive');
  target.standin.setUnitState('node2', unit, 'failed', 'failed');
  const all = await run('reset-failed', '--json');
  t.deepEqual(JSON.parse(all.stdout), [{ node: 'node1' }, { node: 'node2' }]);
  t.is(target.standin.unitState('node2', unit)?.activeState, 'inactive');
});

test.serial('monitor prints unit changes as JSON lines until interrupted, then exits 0', async (t) => {
  const result = await followLines(target.address, ['monitor', 'node2', unit, '--json'], 2, () => run('restart', 'node2', unit));
  t.is(result.code, 0, result.stderr);
  const events = result.lines.map((line) => JSON.parse(line) as { kind: string; node: string; unit: string });
  t.true(events.length >= 2);
  t.true(events.every((event) => event.node === 'node2' && event.unit === unit));
  t.true(events.some((event) => event.kind === 'UnitStateChanged'));
});

test.serial('status -w follows node status changes', async (t) => {
  // Its own stand-in: flipping a node here must not disturb the other tests.
  const bus = await startPrivateBus();
  const standin = await startStandin({ address: bus.address, nodes: [{ name: 'a' }, { name: 'b' }] });
  t.teardown(async () => {
    await standin.stop();
    await bus.stop();
  });
  const result = await followLines(bus.address, ['status', '-w', '--json'], 2, () => standin.setOnline('b', false));
  t.is(result.code, 0, result.stderr);
  const [first, second] = result.lines.map((line) => JSON.parse(line) as Array<{ node: string; status: string }>);
  t.deepEqual(first!.map((row) => row.status), ['online', 'online']);
  t.deepEqual(second!.map((row) => [row.node, row.status]), [
    ['a', 'online'],
    ['b', 'offline'],
  ]);
});

test.serial('on a terminal: colour and progress; not with NO_COLOR, --json or a pipe', async (t) => {
  const args = ['--bus-address', target.address, 'start', 'node1,node2', unit];
  const terminal = await qmctl(args, {}, true);
  t.is(terminal.code, 0, terminal.stderr);
  t.regex(terminal.stdout, /\u001b\[32mdone\u001b\[0m/);
  t.regex(terminal.stderr, /start: 2\/2 jobs finished/);
  for (const [env, extra] of [[{ NO_COLOR: '1' }, []], [{}, ['--json']]] as const) {
    const plain = await qmctl([...args, ...extra], env, true);
    t.notRegex(plain.stdout, /\u001b\[/);
    t.is(plain.stderr, '');
  }
  const piped = await qmctl(args);
  t.notRegex(piped.stdout + piped.stderr, /\u001b\[|jobs finished/);
  await run('stop', 'node1,node2', unit);
});
