// Ctrl-C on the built qmctl (dist/qmctl.cjs, as users run it) while it waits: it ends at once with exit 130 and
// says that what it submitted goes on; apply starts nothing new. Each SIGINT is sent once the wait is known to be
// under way (the stand-in recorded the job's call, or the daemon got the method call). Needs `npm run build`.
import test, { type ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentController } from '../daemon/fake-controller.ts';
import { until } from '../daemon/harness.ts';
import { startPrivateBus } from '../support/dbus-daemon.ts';
import { QMCTL_BIN } from '../support/qmctl.ts';
import { startStandin, type Standin } from '../standin/index.ts';

const JOB_MS = 3_000;

/** A private bus with the stand-in on it: node a, whose jobs take JOB_MS. */
async function slowVehicle(t: ExecutionContext): Promise<{ address: string; standin: Standin }> {
  if (!existsSync(QMCTL_BIN)) throw new Error(`${QMCTL_BIN} is missing: run npm run build`);
  const bus = await startPrivateBus();
  t.teardown(() => bus.stop());
  const standin = await startStandin({ address: bus.address, nodes: [{ name: 'a', jobLatencyMs: JOB_MS, units: [{ name: 'slow.service' }, { name: 'after.service' }] }] });
  t.teardown(() => standin.stop());
  return { address: bus.address, standin };
}

/** qmctl as a child process; `interrupt` sends it `signal` once and resolves with how it ended and how long that took. */
function qmctlProcess(t: ExecutionContext, args: readonly string[], address: string) {
  const child = spawn(process.execPath, [QMCTL_BIN, ...args], { env: { PATH: process.env.PATH, DBUS_SYSTEM_BUS_ADDRESS: address }, stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => void child.kill('SIGKILL'));
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  return {
    async interrupt(signal: NodeJS.Signals = 'SIGINT') {
      const sent = Date.now();
      child.kill(signal);
      const code = await exited;
      return { code, stdout, stderr, afterMs: Date.now() - sent };
    },
  };
}

const accepted = (standin: Standin, method: string, unit: string) => () => standin.calls('a').some((call) => call.method === method && call.unit === unit && call.online);

test('start: SIGINT while its job runs ends qmctl at once with 130; the job goes on', async (t) => {
  const { address, standin } = await slowVehicle(t);
  const qmctl = qmctlProcess(t, ['start', 'a', 'slow.service'], address);
  await until('the job was submitted', accepted(standin, 'StartUnit', 'slow.service'));
  const ended = await qmctl.interrupt();
  t.is(ended.code, 130, ended.stderr);
  t.is(ended.stderr, 'qmctl start: interrupted. Jobs continue in the background.\n');
  t.true(ended.afterMs < JOB_MS / 2, `ended ${ended.afterMs} ms after SIGINT`);
  await until('the job finished without qmctl', () => standin.unitState('a', 'slow.service')?.activeState === 'active');
  t.pass();
});

test('restart: SIGTERM does the same', async (t) => {
  const { address, standin } = await slowVehicle(t);
  const qmctl = qmctlProcess(t, ['restart', 'a', 'slow.service'], address);
  await until('the job was submitted', accepted(standin, 'RestartUnit', 'slow.service'));
  const ended = await qmctl.interrupt('SIGTERM');
  t.is(ended.code, 130, ended.stderr);
  t.regex(ended.stderr, /^qmctl restart: interrupted\. Jobs continue in the background\.\n$/);
  t.true(ended.afterMs < JOB_MS / 2);
});

test('apply: SIGINT ends it at once with 130; the running job goes on, steps not started end canceled and never start', async (t) => {
  const { address, standin } = await slowVehicle(t);
  const dir = await mkdtemp(join(tmpdir(), 'qm-interrupt-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'layout.yaml'), 'nodes:\n  a:\n    units:\n      slow.service: {}\n      after.service: { needs: [slow.service] }\n');
  const qmctl = qmctlProcess(t, ['apply', dir, '--json'], address);
  await until('the first step runs', accepted(standin, 'StartUnit', 'slow.service'));
  const ended = await qmctl.interrupt();
  t.is(ended.code, 130, ended.stderr);
  t.true(ended.afterMs < JOB_MS / 2);
  t.is(ended.stderr, 'qmctl apply: interrupted. Jobs already started continue in the background; no new step was started.\n');
  const steps = (JSON.parse(ended.stdout) as { steps: Array<{ id: string; result: string }> }).steps;
  t.deepEqual(steps.map((step) => [step.id, step.result]), [
    ['start a/slow.service', 'canceled'],
    ['start a/after.service', 'canceled'],
  ]);
  await until('the running job finished without qmctl', () => standin.unitState('a', 'slow.service')?.activeState === 'active');
  t.false(accepted(standin, 'StartUnit', 'after.service')(), 'the next step never started');
});

test('controller-status, controller-reload and apply through qm-controller: SIGINT ends the wait for the daemon at once with 130', async (t) => {
  const { address } = await slowVehicle(t);
  // A qm-controller that takes every call and never answers.
  const daemon = await silentController(address);
  const { called } = daemon;
  t.teardown(() => daemon.close());
  for (const [args, method, said] of [
    [['controller-status'], 'GetAll', 'qmctl controller-status: interrupted\n'],
    [['controller-reload'], 'Reload', 'qmctl controller-reload: interrupted. qm-controller goes on reloading its layout.\n'],
    [['apply'], 'Apply', "qmctl apply: interrupted. qm-controller's apply continues in the background.\n"],
  ] as const) {
    const qmctl = qmctlProcess(t, args, address);
    await until(`qm-controller got ${method}`, () => called.has(method));
    const ended = await qmctl.interrupt();
    t.is(ended.code, 130, `${args.join(' ')}: ${ended.stderr}`);
    t.is(ended.stderr, said);
    t.true(ended.afterMs < 2_000, `${args.join(' ')} ended ${ended.afterMs} ms after SIGINT`);
  }
});
