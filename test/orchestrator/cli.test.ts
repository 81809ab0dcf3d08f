// qmctl plan, apply and layout check, in-process, against the stand-in.
import test from 'ava';
import { mkdtemp, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { qmctl } from '../support/qmctl.ts';
import { realNodes, startVehicle } from './vehicle.ts';

const real = realNodes(['a', 'b']);
test.before(() => real.boot());
test.after.always(() => real.stop());

async function layoutDir(main: string, dropIns: Record<string, string> = {}): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'qm-layout-'));
  await writeFile(join(dir, 'layout.yaml'), main);
  await mkdir(join(dir, 'layout.d'));
  for (const [name, text] of Object.entries(dropIns)) await writeFile(join(dir, 'layout.d', name), text);
  return dir;
}

const LAYOUT = `nodes:
  a:
    units:
      db.service: { enabled: true }
      web.service: { needs: [db.service] }
  b:
    units:
      cache.service: { needs: [a/db.service] }
`;

const nodes = [
  { name: 'a', units: [{ name: 'db.service' }, { name: 'web.service' }] },
  { name: 'b', units: [{ name: 'cache.service' }] },
];

test('layout check: valid, and every error with file:line:column from the right file', async (t) => {
  const dir = await layoutDir(LAYOUT, { '10-x.yaml': 'nodes:\n  a:\n    units:\n      web.service: { state: off }\n  c:\n    bogus: 1\n' });
  const bad = await qmctl(['layout', 'check', dir]);
  t.is(bad.code, 2);
  t.deepEqual(bad.stderr.trim().split('\n'), [
    `qmctl layout check: ${dir}/layout.d/10-x.yaml:4:29: nodes.a.units[web.service].state: state must be one of running, stopped, not "off"`,
    `qmctl layout check: ${dir}/layout.d/10-x.yaml:6:5: nodes.c.bogus: unknown key "bogus"; known keys: qm, units, qm-units`,
    'qmctl layout check: 2 errors; nothing was changed',
  ]);
  const json = await qmctl(['layout', 'check', '--json', dir]);
  t.like(JSON.parse(json.stdout).errors[0], { code: 'config', line: 4, column: 29, field: 'nodes.a.units[web.service].state' });
  const good = await qmctl(['layout', 'check', join(await layoutDir(LAYOUT), 'layout.yaml')]);
  t.is(good.code, 0, good.stderr);
  t.regex(good.stdout, /valid — 3 units on 2 nodes \(a, b\)/);
  t.is((await qmctl(['layout', 'lint', dir])).code, 2);
});

test('plan: a readable diff; --detailed-exitcode 2 with changes, 0 without, 1 on errors', async (t) => {
  const { bus } = await startVehicle(t, nodes);
  const env = { DBUS_SYSTEM_BUS_ADDRESS: bus.address };
  const dir = await layoutDir(LAYOUT);
  const plan = await qmctl(['plan', dir, '--detailed-exitcode'], env);
  t.is(plan.code, 2, plan.stderr);
  t.is(
    plan.stdout,
    `a
  ~ enable         db.service   disabled → enabled
  ↻ daemon-reload               reload unit files
  + start          db.service   inactive → running
  + start          web.service  inactive → running  after a/db.service

b
  + start  cache.service  inactive → running  after a/db.service

Plan: 3 to start, 0 to stop, 1 to enable, 0 to disable, 1 daemon-reload.
`,
  );
  t.is((await qmctl(['plan', dir], env)).code, 0);
  const applied = await qmctl(['apply', dir], env);
  t.is(applied.code, 0, applied.stderr + applied.stdout);
  const after = await qmctl(['plan', dir, '--detailed-exitcode'], env);
  t.is(after.code, 0);
  t.is(after.stdout, 'No changes: the vehicle matches the layout.\n');
  t.is((await qmctl(['plan', join(dir, 'nonexistent.yaml'), '--detailed-exitcode'], env)).code, 1);
  t.is((await qmctl(['plan', dir, '--detailed-exitcode'], { DBUS_SYSTEM_BUS_ADDRESS: 'unix:path=/nonexistent' })).code, 1);
  const unknown = await qmctl(['plan', await layoutDir('nodes:\n  zz: {}\n')], env);
  t.is(unknown.code, 4);
  t.regex(unknown.stderr, /layout.yaml:2:3: nodes.zz: node zz is in the layout but not known to the BlueChi controller; known nodes: a, b/);
});

test('apply: summary table, --json with every job result, exit 1 when a step failed, --dry-run changes nothing', async (t) => {
  // In memory: the point is an injected failure.
  const { bus, standin } = await startVehicle(t, nodes, { backend: 'memory' });
  const env = { DBUS_SYSTEM_BUS_ADDRESS: bus.address };
  const dir = await layoutDir(LAYOUT);
  const dry = await qmctl(['apply', dir, '--dry-run'], env);
  t.is(dry.code, 0);
  t.regex(dry.stdout, /Plan: 3 to start/);
  t.deepEqual(standin.calls('a'), []);

  standin.failNext('a', 'web.service', 'failed');
  const failed = await qmctl(['apply', dir, '--json'], env);
  t.is(failed.code, 1);
  const steps = JSON.parse(failed.stdout).steps as Array<{ id: string; result: string; job?: string; attempts: number }>;
  t.deepEqual(
    steps.map((step) => [step.id, step.result]),
    [
      ['enable a/db.service', 'done'],
      ['daemon-reload a', 'done'],
      ['start a/db.service', 'done'],
      ['start a/web.service', 'failed'],
      ['start b/cache.service', 'done'],
    ],
  );
  t.regex(steps[3]!.job!, /^\/org\/eclipse\/bluechi\/job\/\d+$/);

  const retry = await qmctl(['apply', dir], env);
  t.is(retry.code, 0, retry.stdout);
  t.regex(retry.stdout, /^NODE +ACTION +UNIT +RESULT +TIME +DETAIL\na +start +web.service +done +\d+ ms\n1 of 1 steps done.\nApplied by qmctl directly \(LAYOUT given\)\.\n$/);
  standin.clearCalls();
  const again = await qmctl(['apply', dir], env);
  t.is(again.code, 0);
  t.is(again.stdout, 'No changes: the vehicle matches the layout.\nApplied by qmctl directly (LAYOUT given).\n');
  t.deepEqual([...standin.calls('a'), ...standin.calls('b')], []);
});

test('apply with a node offline: the rest is applied, exit 4 names what waits', async (t) => {
  const { bus } = await startVehicle(t, [nodes[0]!, { ...nodes[1]!, online: false }]);
  const result = await qmctl(['apply', await layoutDir(LAYOUT)], { DBUS_SYSTEM_BUS_ADDRESS: bus.address });
  t.is(result.code, 4);
  t.regex(result.stdout, /waiting: b\/cache.service: node b is offline/);
  t.regex(result.stdout, /4 of 4 steps done/);
});

test('apply: a failed step stops what depends on it, not the rest (as --help says): a failed or refused enable holds back only its own unit', async (t) => {
  const help = await qmctl(['apply', '--help']);
  t.regex(help.stdout.replace(/\s+/g, ' '), /a failed step stops what depends on it, not the rest/);
  const { bus } = await startVehicle(t, [
    { name: 'a', units: [{ name: 'db.service' }, { name: 'web.service' }, { name: 'radio.service', unitFileState: 'masked' }] },
    { name: 'b', units: [{ name: 'cache.service' }] },
  ]);
  // ghost.service is not installed on a: systemd refuses to enable it; radio.service is masked.
  const dir = await layoutDir(`nodes:
  a:
    units:
      db.service: { enabled: true }
      web.service: { needs: [db.service] }
      radio.service: { enabled: true }
      ghost.service: { enabled: true }
  b:
    units:
      cache.service: { needs: [a/db.service] }
`);
  const applied = await qmctl(['apply', dir, '--json'], { DBUS_SYSTEM_BUS_ADDRESS: bus.address });
  t.is(applied.code, 1, applied.stderr);
  const steps = JSON.parse(applied.stdout).steps as Array<{ id: string; result: string; blockedBy?: string; error?: { code: string; message: string; node?: string; unit?: string } }>;
  t.deepEqual(Object.fromEntries(steps.map((step) => [step.id, step.result])), {
    'enable a/db.service': 'done',
    'enable a/radio.service': 'error',
    'enable a/ghost.service': 'error',
    'daemon-reload a': 'done',
    'start a/db.service': 'done',
    'start a/web.service': 'done',
    'start b/cache.service': 'done',
    'start a/radio.service': 'dependency',
    'start a/ghost.service': 'dependency',
  });
  const radio = steps.find((step) => step.id === 'enable a/radio.service')!;
  t.like(radio.error, { node: 'a', unit: 'radio.service', message: 'radio.service on node a is masked: systemd refuses to enable it (unmask it, or leave out enabled)' });
  t.like(steps.find((step) => step.id === 'enable a/ghost.service')!.error, { node: 'a', unit: 'ghost.service' });

  const plan = await qmctl(['plan', dir], { DBUS_SYSTEM_BUS_ADDRESS: bus.address });
  t.regex(plan.stdout, /! enable +radio\.service +masked: cannot be enabled/);
});

test('apply ends with the truth: a needed unit that fails right after its start job ended done (ExecStart=/bin/false) is named, what needs it is not started, exit 1', async (t) => {
  // slow.service (a oneshot of 1 s) is needed too, so web and cache are about to start well after db failed: right
  // after a job ended done, a Type=simple unit may not have failed yet, and no look can tell that it will.
  const { bus, standin } = await startVehicle(t, [
    { name: 'a', units: [{ name: 'db.service', fails: true }, { name: 'slow.service', startMs: 1_000 }, { name: 'web.service' }] },
    { name: 'b', units: [{ name: 'cache.service' }] },
  ]);
  const env = { DBUS_SYSTEM_BUS_ADDRESS: bus.address };
  const dir = await layoutDir(`nodes:
  a:
    units:
      db.service: {}
      slow.service: {}
      web.service: { needs: [db.service, slow.service] }
  b:
    units:
      cache.service: { needs: [a/db.service, a/slow.service] }
`);
  const applied = await qmctl(['apply', dir], env);
  t.is(applied.code, 1, applied.stderr);
  const lines = applied.stdout.trimEnd().split('\n');
  t.regex(lines[0]!, /^NODE +ACTION +UNIT +RESULT +TIME +DETAIL$/);
  t.regex(lines[1]!, /^a +start +db\.service +done +\d+ ms$/);
  t.regex(lines[2]!, /^a +start +slow\.service +done +\d+ ms$/);
  t.regex(lines[3]!, /^a +start +web\.service +dependency +not run: a\/db\.service, which it needs, is failed$/);
  t.regex(lines[4]!, /^b +start +cache\.service +dependency +not run: a\/db\.service, which it needs, is failed$/);
  t.deepEqual(lines.slice(5), [
    'not as the layout wants: a/db.service is failed, wanted running',
    'not as the layout wants: a/web.service is inactive, wanted running',
    'not as the layout wants: b/cache.service is inactive, wanted running',
    '2 of 4 steps done, 2 not; 3 units not as the layout wants.',
    'Applied by qmctl directly (LAYOUT given).',
  ]);
  t.false(standin.calls('a').some((call) => call.method === 'StartUnit' && call.unit === 'web.service'));

  await standin.onNode('a', 'slow.service', 'stop');
  const json = await qmctl(['apply', dir, '--json'], env);
  t.is(json.code, 1);
  t.deepEqual(JSON.parse(json.stdout).unconverged, [
    { node: 'a', unit: 'db.service', desired: 'running', observed: 'failed' },
    { node: 'a', unit: 'web.service', desired: 'running', observed: 'inactive' },
    { node: 'b', unit: 'cache.service', desired: 'running', observed: 'inactive' },
  ]);
});
