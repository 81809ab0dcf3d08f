// The built qmctl (dist/qmctl.cjs) as a Unix tool: a reader that goes away ends it quietly, and the first SIGINT or
// SIGTERM ends any command promptly, also one that is parsing a large layout or waiting for a reply that never
// comes. Needs `npm run build`.
import test, { type ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import dbus from 'dbus-next';
import type { DaemonStatus, UnitStatus } from '../../controller/daemon/api.ts';
import { runCommand } from '../support/command.ts';
import { startPrivateBus } from '../support/dbus-daemon.ts';
import { QMCTL_BIN } from '../support/qmctl.ts';
import { startStandin } from '../standin/index.ts';
import { fakeController } from '../daemon/fake-controller.ts';
import { until } from '../daemon/harness.ts';

const SIGNALS: Record<string, number> = { SIGINT: 2, SIGTERM: 15 };

function built(): void {
  if (!existsSync(QMCTL_BIN)) throw new Error(`${QMCTL_BIN} is missing: run npm run build`);
}

async function privateBus(t: ExecutionContext): Promise<string> {
  const bus = await startPrivateBus();
  t.teardown(() => bus.stop());
  return bus.address;
}

/** `qmctl ARGS | head -1` in bash: what head printed, and what qmctl said on stderr and exited with. */
async function pipedToHead(args: readonly string[], address: string) {
  const script = '"$0" "$@" | head -1; echo "qmctl exited ${PIPESTATUS[0]}" >&2';
  const result = await runCommand(['bash', '--norc', '--noprofile', '-c', script, process.execPath, QMCTL_BIN, ...args], {
    env: { PATH: process.env.PATH, DBUS_SYSTEM_BUS_ADDRESS: address },
  });
  return { stdout: result.stdout, stderr: result.stderr };
}

test.serial('qmctl list-units | head -1: the header, then qmctl ends quietly (141, as a tool ended by SIGPIPE)', async (t) => {
  built();
  const address = await privateBus(t);
  // Far more than a pipe holds (64 KiB), so qmctl is still writing when head has gone.
  const units = Array.from({ length: 3_000 }, (_, index) => ({ name: `unit-with-a-rather-long-name-${index}.service`, activeState: 'active' as const }));
  const standin = await startStandin({ address, nodes: [{ name: 'a', units }] });
  t.teardown(() => standin.stop());
  const result = await pipedToHead(['list-units'], address);
  t.regex(result.stdout, /^NODE +UNIT +LOAD +ACTIVE +SUB +DESCRIPTION\n$/);
  t.is(result.stderr, 'qmctl exited 141\n');
});

test.serial('qmctl controller-status | head -1: the first line, then qmctl ends quietly', async (t) => {
  built();
  const address = await privateBus(t);
  const unit = (index: number): UnitStatus => ({
    node: 'ecu-main',
    unit: `unit-with-a-rather-long-name-${index}.service`,
    desired: 'running',
    observed: 'active',
    converged: true,
    repairs: { done: 0, left: 3, budget: 3, exhausted: false },
  });
  const status: DaemonStatus = {
    status: 'converged',
    layout: { files: ['/etc/qm-controller/layout.yaml'], units: 3_000 },
    bluechi: 'up',
    converged: true,
    nodes: [{ name: 'ecu-main', online: true }],
    units: Array.from({ length: 3_000 }, (_, index) => unit(index)),
    applies: 1,
  };
  const daemon = await fakeController(address, { status: () => status });
  t.teardown(() => daemon.close());
  const result = await pipedToHead(['controller-status'], address);
  t.is(result.stdout, 'layout: /etc/qm-controller/layout.yaml (3000 units)\n');
  t.is(result.stderr, 'qmctl exited 141\n');
});

/** qmctl as a child process; `signal` sends it a signal and resolves with its status as a shell reports it, and how long it took to end. */
function qmctlProcess(t: ExecutionContext, args: readonly string[], address = 'unix:path=/nonexistent') {
  const child = spawn(process.execPath, [QMCTL_BIN, ...args], { env: { PATH: process.env.PATH, DBUS_SYSTEM_BUS_ADDRESS: address }, stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => void child.kill('SIGKILL'));
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const lines = createInterface({ input: child.stderr });
  lines.on('line', (line) => (stderr += `${line}\n`));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
  return {
    /** Resolves once qmctl wrote a line to stderr that matches `pattern`. */
    said: (pattern: RegExp) =>
      new Promise<void>((resolve, reject) => {
        lines.on('line', (line) => pattern.test(line) && resolve());
        void exited.then(() => reject(new Error(`qmctl ended before saying ${pattern}: ${stderr}`)));
      }),
    async signal(signal: NodeJS.Signals) {
      const sent = performance.now();
      child.kill(signal);
      const { code, signal: by } = await exited;
      return { status: code ?? 128 + SIGNALS[by!]!, by, stdout, stderr, afterMs: performance.now() - sent };
    },
  };
}

/**
 * A layout of `count` units in one long chain, in layout.yaml and again in two drop-ins (each file under the 4 MiB
 * limit for one file): some 10 MB in all, seconds of parsing and checking.
 */
async function bigLayout(t: ExecutionContext, count = 50_000): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'qm-big-layout-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const lines = ['nodes:', '  a:', '    units:'];
  for (let index = 0; index < count; index++) lines.push(`      u-${index}.service: { state: running, needs: [u-${index + 1}.service] }`);
  lines.push(`      u-${count}.service: {}`);
  const text = `${lines.join('\n')}\n`;
  await writeFile(join(dir, 'layout.yaml'), text);
  await mkdir(join(dir, 'layout.d'));
  for (const name of ['10-again.yaml', '20-again.yaml']) await writeFile(join(dir, 'layout.d', name), text);
  return dir;
}

for (const [signal, status] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
] as const) {
  test.serial(`${signal} while qmctl parses a 10 MB layout (three files) ends it at once (the shell sees ${status}); nothing is printed as checked`, async (t) => {
    built();
    const dir = await bigLayout(t);
    for (const command of [['layout', 'check'], ['plan']]) {
      const qmctl = qmctlProcess(t, [...command, dir, '--log-level', 'debug']);
      await qmctl.said(/debug: reading the layout from /);
      const ended = await qmctl.signal(signal);
      t.log(`${command.join(' ')}: ended ${ended.afterMs.toFixed(0)} ms after ${signal}`);
      t.is(ended.status, status, ended.stderr);
      t.true(ended.afterMs < 2_000, `${command.join(' ')} ended ${ended.afterMs} ms after ${signal}`);
      t.is(ended.stdout, '');
    }
  });
}

test.serial('SIGINT while qmctl waits for a reply that never comes (list-nodes, plan) ends it at once with 130', async (t) => {
  built();
  const address = await privateBus(t);
  // A BlueChi controller that takes every call and never answers.
  const calls: string[] = [];
  const raw = dbus.sessionBus({ busAddress: address });
  t.teardown(() => raw.disconnect());
  class Controller extends dbus.interface.Interface {}
  const prototype = Controller.prototype as unknown as Record<string, unknown>;
  const methods: Record<string, { inSignature: string; outSignature: string }> = {};
  for (const [name, out] of [
    ['ListNodes', 'a(soss)'],
    ['ListUnits', 'a{sa(ssssssouso)}'],
  ] as const) {
    prototype[name] = () => {
      calls.push(name);
      return new Promise<never>(() => undefined);
    };
    methods[name] = { inSignature: '', outSignature: out };
  }
  Controller.configureMembers({ methods });
  raw.export('/org/eclipse/bluechi', new Controller('org.eclipse.bluechi.Controller'));
  await raw.requestName('org.eclipse.bluechi', dbus.NameFlag.DO_NOT_QUEUE);
  const dir = await mkdtemp(join(tmpdir(), 'qm-layout-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'layout.yaml'), 'nodes:\n  a:\n    units:\n      x.service: {}\n');

  for (const args of [['list-nodes'], ['plan', dir]]) {
    const before = calls.length;
    const qmctl = qmctlProcess(t, args, address);
    await until(`the controller got ${args[0]}'s call`, () => calls.length > before);
    const ended = await qmctl.signal('SIGINT');
    t.is(ended.status, 130, ended.stderr);
    t.is(ended.stderr, `qmctl ${args[0]}: interrupted\n`);
    t.true(ended.afterMs < 2_000, `${args[0]} ended ${ended.afterMs} ms after SIGINT`);
  }
});
