// The apply pipeline as a library: plan first, then write and restart only what the plan says.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { applyUntilStable, carryOut, planApply, qmEffective, type RenderRequest } from '../../agent-config/apply.ts';
import type { RestartOutcome } from '../../agent-config/restart.ts';
import { PACKAGED_DEFAULT_TEXT, tempTree, writeTree } from './helpers.ts';

async function setup(t: ExecutionContext, qmDropIns: Record<string, string> = {}) {
  const root = await tempTree(t, {
    'host/agent.conf': '[bluechi-agent]\nNodeName=ecu1\n',
    'share/agent.conf': PACKAGED_DEFAULT_TEXT,
    'rootfs/usr/share/bluechi-agent/config/agent.conf': PACKAGED_DEFAULT_TEXT,
    'etc-qm/.keep': '',
    ...Object.fromEntries(Object.entries(qmDropIns).map(([name, text]) => [`etc-qm/bluechi/agent.conf.d/${name}`, text])),
  });
  const request: RenderRequest = {
    hostname: 'h',
    locations: { hostConfigDir: join(root, 'host'), packagedDefault: join(root, 'share/agent.conf'), rootfs: join(root, 'rootfs'), rwetcfs: join(root, 'etc-qm') },
  };
  const restarts: string[] = [];
  const restart = async (): Promise<RestartOutcome> => {
    restarts.push('restart');
    return { method: 'podman', restarted: true, detail: 'restarted' };
  };
  return { root, request, restarts, restart, target: join(root, 'etc-qm/bluechi/agent.conf') };
}

test('the plan is made before anything is touched; carrying it out writes and restarts once', async (t) => {
  const s = await setup(t);
  const plan = await planApply(s.request);
  t.true(plan.write);
  t.true(plan.restart);
  t.is(plan.current, null);
  t.deepEqual(plan.changes.map((change) => change.key), ['NodeName', 'ControllerAddress']);
  await t.throwsAsync(readFile(s.target));
  const outcome = await carryOut(plan, { restart: s.restart });
  t.true(outcome.written);
  t.deepEqual(s.restarts, ['restart']);
  const again = await planApply(s.request);
  t.false(again.write);
  t.deepEqual(await carryOut(again, { restart: s.restart }), { written: false });
  t.deepEqual(s.restarts, ['restart']);
});

test('a host change that a QM drop-in overrides rewrites the file but needs no restart', async (t) => {
  const s = await setup(t, { '90-log.conf': '[bluechi-agent]\nLogLevel=WARN\n' });
  await carryOut(await planApply(s.request), { restart: s.restart });
  await writeTree(s.root, { 'host/agent.conf': '[bluechi-agent]\nNodeName=ecu1\nLogLevel=DEBUG\n' });
  const plan = await planApply(s.request);
  t.true(plan.write);
  t.deepEqual(plan.changes, [{ key: 'LogLevel', before: undefined, after: 'DEBUG' }]);
  t.deepEqual(plan.effectiveChanges, []);
  t.false(plan.restart);
  const lines: string[] = [];
  await carryOut(plan, { restart: s.restart, log: (line) => lines.push(line) });
  t.deepEqual(s.restarts, ['restart']);
  t.regex(lines.at(-1)!, /QM's own drop-ins decide\): no restart/);
});

test('a change to the host files during a run is applied in a second round', async (t) => {
  const s = await setup(t);
  let changed = false;
  const rounds = await applyUntilStable(s.request, {
    restart: async () => {
      // Stands for an admin's second edit while the first one is being applied.
      if (!changed) await writeFile(join(s.root, 'host/agent.conf'), '[bluechi-agent]\nNodeName=ecu2\n');
      changed = true;
      return { method: 'none', restarted: false, detail: '' };
    },
  });
  t.is(rounds.length, 2);
  t.regex(await readFile(s.target, 'utf8'), /NodeName=qm\.ecu2/);
});

test('qmEffective reads what the QM agent reads, in its order', async (t) => {
  const s = await setup(t, { '10-a.conf': '[bluechi-agent]\nLogLevel=WARN\n' });
  await carryOut(await planApply(s.request));
  const view = await qmEffective(s.request.locations);
  t.deepEqual(
    view.files.map((file) => file.file.slice(s.root.length + 1)),
    ['rootfs/usr/share/bluechi-agent/config/agent.conf', 'etc-qm/bluechi/agent.conf', 'etc-qm/bluechi/agent.conf.d/10-a.conf'],
  );
  t.is(view.agent.get('NodeName')!.value, 'qm.ecu1');
  t.is(view.agent.get('LogLevel')!.line, 2);
});
