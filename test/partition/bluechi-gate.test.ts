// qm-bluechi-gate, the built executable, between clients standing where QM's processes stand and the stand-in's
// controller socket (test/standin/agent-socket.ts). The clients are real: qm-probe's minimal bluechi-agent (the
// Register call bluechi-agent makes, check/bluechi-peer.c) and systemd's busctl (sd-bus, as bluechi-agent is).
// What must hold: only QM's own registration reaches the controller; nothing QM sends disturbs a host agent.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import anyTest, { type TestFn } from 'ava';
import { startAgentSocket, type AgentSocket } from '../standin/agent-socket.ts';
import { runCommand } from '../support/command.ts';
import { projectDir } from './qm-node.ts';

const gateExecutable = join(projectDir, 'dist/qm-bluechi-gate.cjs');
const probe = join(projectDir, 'dist/qm-probe');

interface Context {
  dir: string;
  controller: AgentSocket;
  children: ChildProcess[];
}
const test = anyTest as TestFn<Context>;

interface ProbeLine {
  outcome: string;
  evidence: string;
}

async function probeCase(...args: string[]): Promise<ProbeLine> {
  const result = await runCommand([probe, ...args], { timeoutMs: 60_000 });
  const line = result.stdout.trim().split('\n').at(-1) ?? '';
  try {
    return JSON.parse(line) as ProbeLine;
  } catch {
    throw new Error(`qm-probe ${args.join(' ')}: exit ${result.code}: ${result.stdout}${result.stderr}`);
  }
}

/** Starts a child and waits until its output matches `ready`; the test's teardown stops it. */
async function startChild(t: { context: Context }, command: readonly string[], ready: RegExp): Promise<{ child: ChildProcess; output: () => string }> {
  // Its own process group: qm-probe runs each case in a child process, which must go with it.
  const child = spawn(command[0]!, command.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  t.context.children.push(child);
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${command.join(' ')} did not get ready: ${output}`)), 30_000);
    const take = (chunk: Buffer) => {
      output += chunk.toString();
      if (!ready.test(output)) return;
      clearTimeout(timer);
      resolve();
    };
    child.stdout!.on('data', take);
    child.stderr!.on('data', take);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${command.join(' ')} exited ${code ?? signal}: ${output}`));
    });
  });
  return { child, output: () => output };
}

async function startGate(t: { context: Context }, name: string, args: readonly string[] = []) {
  const socket = join(t.context.dir, `${name}.sock`);
  const gate = await startChild(t, [process.execPath, gateExecutable, '--listen', socket, ...args], /serving QM's agent/);
  return { socket, ...gate };
}

const fixedTarget = (t: { context: Context }) => ['--node', 'qm.vehicle', '--controller-socket', join(t.context.dir, 'controller.sock')];
const reached = (controller: AgentSocket) => controller.events.filter((event) => event.event === 'connected').length;

test.beforeEach(async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'qm-gate-'));
  t.context = { dir, children: [], controller: await startAgentSocket({ path: join(dir, 'controller.sock'), nodes: ['vehicle', 'qm.vehicle'] }) };
});

test.afterEach.always(async (t) => {
  for (const child of t.context.children) stopGroup(child, 'SIGKILL');
  await t.context.controller?.stop();
  await rm(t.context.dir, { recursive: true, force: true });
});

test.serial("QM's agent registers as qm.<host> through the gate: the controller sees it online", async (t) => {
  const gate = await startGate(t, 'gate', fixedTarget(t));
  const held = await startChild(t, [probe, 'bluechi_hold', gate.socket, 'qm.vehicle'], /"outcome"/);
  t.regex(held.output(), /"outcome":"allowed".*registered as qm\.vehicle/);
  t.deepEqual(t.context.controller.online(), ['qm.vehicle']);
  stopGroup(held.child, 'SIGTERM');
  await t.context.controller.until(() => t.context.controller.online().length === 0);
  t.deepEqual(
    t.context.controller.events.filter((event) => event.event !== 'connected').map((event) => [event.event, 'name' in event ? event.name : undefined]),
    [['register', 'qm.vehicle'], ['disconnected', 'qm.vehicle']],
  );
});

test.serial('a QM process registering as a host node is refused by the gate; the controller never sees it', async (t) => {
  const gate = await startGate(t, 'gate', fixedTarget(t));
  const result = await probeCase('bluechi_register', gate.socket, 'vehicle');
  t.is(result.outcome, 'refused');
  t.regex(result.evidence, /org\.freedesktop\.DBus\.Error\.AccessDenied: qm-bluechi-gate: it tried to register as "vehicle"; from QM only qm\.vehicle may register/);
  t.is(reached(t.context.controller), 0);
  t.regex(gate.output(), /refused a connection from QM: it tried to register as "vehicle"/);
});

test.serial("sd-bus's own client (busctl) authenticates with the gate, and its Hello is refused before anything reaches the controller", async (t) => {
  const gate = await startGate(t, 'gate', fixedTarget(t));
  // busctl says Hello first, as a bus client: the gate answers that call with AccessDenied and hangs up.
  const result = await runCommand(['busctl', `--address=unix:path=${gate.socket}`, 'call', 'org.eclipse.bluechi', '/org/eclipse/bluechi/internal', 'org.eclipse.bluechi.internal.Controller', 'Register', 's', 'qm.vehicle'], { timeoutMs: 30_000 });
  t.not(result.code, 0);
  t.regex(gate.output(), /refused a connection from QM: it sent method call org\.freedesktop\.DBus\.Hello on \/org\/freedesktop\/DBus before registering; only qm\.vehicle's Register call is passed on/);
  t.is(reached(t.context.controller), 0);
});

test.serial("the controller's own refusal passes back: a second qm.<host> while the first is connected", async (t) => {
  const gate = await startGate(t, 'gate', fixedTarget(t));
  await startChild(t, [probe, 'bluechi_hold', gate.socket, 'qm.vehicle'], /"outcome":"allowed"/);
  const second = await probeCase('bluechi_register', gate.socket, 'qm.vehicle');
  t.is(second.outcome, 'refused');
  t.regex(second.evidence, /org\.freedesktop\.DBus\.Error\.AddressInUse: The node is already connected/);
  t.deepEqual(t.context.controller.online(), ['qm.vehicle']);
});

test.serial("agent-flood: hundreds of connections from QM, registering the host's name or QM's, leave the host agent connected and reach the controller a few times at most", async (t) => {
  const gate = await startGate(t, 'gate', fixedTarget(t));
  // The host's agent, connected straight to the controller's socket (outside QM).
  const host = await startChild(t, [probe, 'bluechi_hold', join(t.context.dir, 'controller.sock'), 'vehicle'], /"outcome":"allowed"/);
  const started = performance.now();
  const asHost = await probeCase('bluechi_flood', gate.socket, '300:vehicle');
  const asQm = await probeCase('bluechi_flood', gate.socket, '300:qm.vehicle');
  const seconds = (performance.now() - started) / 1000;
  t.log(asHost.evidence);
  t.log(asQm.evidence);
  t.is(asHost.outcome, 'refused', asHost.evidence);
  t.regex(asHost.evidence, / 0 registered,/);
  // QM's own name may get through once (the controller has no qm.vehicle agent); then the controller refuses.
  t.regex(asQm.evidence, / [01] registered,/);
  const registrations = t.context.controller.events.filter((event) => event.event === 'register');
  t.true(registrations.every((event) => event.name === 'vehicle' ? event.connection === 1 : event.name === 'qm.vehicle'), JSON.stringify(registrations));
  // Door: 2 at once, 5 tokens refilled at 1/s; only registrations as qm.vehicle are passed on at all.
  t.true(reached(t.context.controller) - 1 <= 5 + Math.ceil(seconds), `${reached(t.context.controller)} connections reached the controller in ${seconds.toFixed(1)} s`);
  // The flood's own qm.vehicle connection closes with the probe; the controller hears of it through the gate.
  await t.context.controller.until(() => !t.context.controller.online().includes('qm.vehicle'));
  t.deepEqual(t.context.controller.online(), ['vehicle']);
  t.false(t.context.controller.events.some((event) => event.event === 'disconnected' && event.name === 'vehicle'));
  t.is(host.child.exitCode, null);
});

test.serial('a connection that never registers is closed at the deadline; one that is not D-Bus at once', async (t) => {
  const gate = await startGate(t, 'gate', [...fixedTarget(t), '--register-timeout-ms', '300']);
  const closedAfter = async (bytes: string) => {
    const socket = createConnection(gate.socket);
    const started = performance.now();
    socket.write(bytes);
    socket.resume();
    await new Promise((resolve) => socket.once('close', resolve));
    return performance.now() - started;
  };
  t.true((await closedAfter('\0AUTH EXTERNAL 30\r\n')) >= 250);
  t.true((await closedAfter('GET / HTTP/1.0\r\n\r\n')) < 250);
  t.regex(gate.output(), /it did not register within 0\.3 s/);
  t.regex(gate.output(), /it did not open with the NUL byte of D-Bus authentication/);
  t.is(reached(t.context.controller), 0);
});

test.serial("without --node the gate derives QM's node name from the host agent's configuration, as agent-config does", async (t) => {
  const config = join(t.context.dir, 'bluechi');
  await mkdir(join(config, 'agent.conf.d'), { recursive: true });
  await writeFile(join(config, 'agent.conf'), '[bluechi-agent]\nNodeName=ecu7\n');
  const gate = await startGate(t, 'derived', ['--host-config-dir', config]);
  const result = await probeCase('bluechi_register', gate.socket, 'ecu7');
  t.regex(result.evidence, /tried to register as "ecu7"; from QM only qm\.ecu7 may register/);
  // The derived controller is the host's /run/bluechi/bluechi.sock, absent here: QM's own name is answered NoServer.
  const own = await probeCase('bluechi_register', gate.socket, 'qm.ecu7');
  t.regex(own.evidence, /org\.freedesktop\.DBus\.Error\.NoServer: qm-bluechi-gate: the controller at \/run\/bluechi\/bluechi\.sock is unreachable/);
});

function stopGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, signal);
  } catch {
    // Already gone.
  }
}
