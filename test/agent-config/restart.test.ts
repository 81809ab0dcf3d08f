// Restarting QM's bluechi-agent, with a fake command runner and a fake BlueChi.
import test from 'ava';
import { restartQmAgent, spawnRunner, type CommandRunner, type RunResult } from '../../agent-config/restart.ts';

function fakeRunner(result: Partial<RunResult>): { run: CommandRunner; calls: string[][] } {
  const calls: string[][] = [];
  return {
    calls,
    run: async (program, args) => {
      calls.push([program, ...args]);
      return { code: 0, stdout: '', stderr: '', ...result };
    },
  };
}

test('podman exec restarts the agent inside the qm container', async (t) => {
  const { run, calls } = fakeRunner({ code: 0 });
  const outcome = await restartQmAgent({ run });
  t.deepEqual(calls, [['podman', 'exec', 'qm', 'systemctl', 'restart', 'bluechi-agent.service']]);
  t.deepEqual(outcome, { method: 'podman', restarted: true, detail: 'restarted bluechi-agent.service in container qm (podman exec)' });
});

test('QM not running: nothing to restart, and BlueChi is not asked', async (t) => {
  const { run } = fakeRunner({
    code: 125,
    stderr: 'time="x" level=warning msg="Using cgroups-v1 which is deprecated"\nError: no container with name or ID "qm" found: no such container\n',
  });
  let asked = false;
  const outcome = await restartQmAgent({ run, node: 'qm.a', blueChiRestart: async () => void (asked = true) });
  t.false(asked);
  t.like(outcome, { method: 'none', restarted: false });
  t.is(outcome.detail, 'QM is not running (Error: no container with name or ID "qm" found: no such container); its bluechi-agent reads the new file when QM starts');
});

test('without podman, BlueChi restarts the unit on the QM node', async (t) => {
  const { run } = fakeRunner({ code: null, spawnError: 'ENOENT' });
  const asked: string[][] = [];
  const outcome = await restartQmAgent({ run, node: 'qm.a', blueChiRestart: async (node, unit) => void asked.push([node, unit]) });
  t.deepEqual(asked, [['qm.a', 'bluechi-agent.service']]);
  t.like(outcome, { method: 'bluechi', restarted: true });
});

test('when neither works, the outcome says why for each', async (t) => {
  const { run } = fakeRunner({ code: 1, stderr: 'Error: OCI runtime error: permission denied\n' });
  const outcome = await restartQmAgent({
    run,
    node: 'qm.a',
    blueChiRestart: async () => {
      throw new Error('node qm.a is offline');
    },
  });
  t.like(outcome, { method: 'none', restarted: false });
  t.regex(outcome.detail, /OCI runtime error: permission denied; BlueChi: node qm\.a is offline/);
});

test('the real runner reports a missing program as a spawn error, not a throw', async (t) => {
  const result = await spawnRunner()('/nonexistent/podman', ['exec']);
  t.is(result.spawnError, 'ENOENT');
  t.is((await spawnRunner()('sh', ['-c', 'echo out; echo err >&2; exit 3'])).code, 3);
});
