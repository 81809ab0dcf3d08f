// Issue 10's controller socket, end to end on a vehicle node: `qmctl setup` installs qm-bluechi-gate.socket and
// mounts only its directory into QM; the stand-in's controller socket (test/standin/agent-socket.ts) listens at
// the host's /run/bluechi/bluechi.sock with a host agent connected (qm-probe bluechi_hold, outside QM). From QM
// root: qm-probe's minimal bluechi-agent and QM's own busctl (sd-bus, systemd 257) try to register as the host,
// register as QM, and flood (upstream's FFI "agent-flood"). What reaches the controller is read from its record.
import anyTest, { type TestFn } from 'ava';
import type { AgentSocketEvent } from '../standin/agent-socket.ts';
import { bootQmNode, installedProject, setUpQm, type QmNode } from './qm-node.ts';

const test = anyTest as TestFn<{ node: QmNode; host: string }>;

const controllerLog = '/run/qm-test-controller.log';
const qmSocket = '/run/bluechi-controller/bluechi.sock';

async function sh(node: QmNode, script: string): Promise<string> {
  const result = await node.sh(script);
  if (result.code !== 0) throw new Error(`${script}\nexit ${result.code}: ${result.stdout}${result.stderr}`);
  return result.stdout.trim();
}

interface ProbeLine {
  outcome: string;
  evidence: string;
}

async function inQm(node: QmNode, ...args: string[]): Promise<ProbeLine> {
  const line = await sh(node, `podman exec qm /var/tmp/qm-probe ${args.join(' ')}`);
  return JSON.parse(line) as ProbeLine;
}

async function controllerEvents(node: QmNode): Promise<AgentSocketEvent[]> {
  const text = await sh(node, `cat ${controllerLog}`);
  return text
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as AgentSocketEvent);
}

test.before(async (t) => {
  t.timeout(20 * 60_000, 'building the node and QM rootfs on a fresh machine');
  const node = await bootQmNode('qm-gate');
  t.context.node = node;
  await setUpQm(node);
  const host = await sh(node, 'hostname');
  t.context.host = host;
  await sh(node, `systemd-run --unit=qm-test-controller -p RuntimeDirectory=bluechi -p WorkingDirectory=${installedProject} -p StandardOutput=file:${controllerLog} -p StandardError=journal node --import tsx test/standin/agent-socket-main.ts --socket /run/bluechi/bluechi.sock --node ${host} --node qm.${host}`);
  await waitForLog(node, '^ready$', 'the stand-in controller to listen');
  await sh(node, `systemd-run --unit=qm-test-host-agent ${installedProject}/dist/qm-probe bluechi_hold /run/bluechi/bluechi.sock ${host}`);
  await waitForLog(node, 'register', 'the host agent to register');
  await sh(node, `cp ${installedProject}/dist/qm-probe /var/qm/tmp/qm-probe`);
});

/** Waits, inside the node, for a line of the stand-in's record to match `pattern` (grep on `tail -F`, no polling). */
async function waitForLog(node: QmNode, pattern: string, what: string): Promise<void> {
  const waited = await node.sh(`bash -c 'grep -q -m1 -E "${pattern}" < <(timeout 60 tail -n +1 -F ${controllerLog} 2>/dev/null)'`, 90_000);
  if (waited.code !== 0) {
    const log = (await node.sh(`cat ${controllerLog} 2>/dev/null`)).stdout;
    const journal = (await node.sh('journalctl -u qm-test-controller -u qm-test-host-agent --no-pager | tail -30')).stdout;
    throw new Error(`timed out waiting for ${what}:\n${log}\n${journal}`);
  }
}

test.after.always(async (t) => {
  await t.context.node?.sh('systemctl stop qm-test-host-agent qm-test-controller').catch(() => undefined);
  await t.context.node?.stop();
});

test.serial("QM sees the gate's socket and not the controller's; the host agent is connected", async (t) => {
  const { node, host } = t.context;
  t.is(await sh(node, 'podman exec qm ls -A /run/bluechi-controller'), 'bluechi.sock');
  t.not((await node.sh('podman exec qm test -e /run/bluechi/bluechi.sock')).code, 0);
  t.is(await sh(node, 'systemctl is-active qm-bluechi-gate.socket'), 'active');
  const events = await controllerEvents(node);
  t.deepEqual(events.filter((event) => event.event === 'register'), [{ event: 'register', connection: 1, name: host }]);
});

test.serial('QM root registering as the host node is refused by the gate and never reaches the controller', async (t) => {
  const { node, host } = t.context;
  const before = (await controllerEvents(node)).length;
  const result = await inQm(node, 'bluechi_register', qmSocket, host);
  t.is(result.outcome, 'refused', result.evidence);
  t.true(result.evidence.includes(`org.freedesktop.DBus.Error.AccessDenied: qm-bluechi-gate: it tried to register as "${host}"; from QM only qm.${host} may register`), result.evidence);
  t.is((await controllerEvents(node)).length, before);
  t.regex(await sh(node, 'journalctl -u qm-bluechi-gate --no-pager'), /refused a connection from QM: it tried to register as/);
});

test.serial("QM's busctl (sd-bus) authenticates with the gate and is refused before anything reaches the controller", async (t) => {
  const { node, host } = t.context;
  const before = (await controllerEvents(node)).length;
  const result = await node.sh(`podman exec qm busctl --address=unix:path=${qmSocket} call org.eclipse.bluechi /org/eclipse/bluechi/internal org.eclipse.bluechi.internal.Controller Register s ${host}`);
  t.not(result.code, 0);
  t.is((await controllerEvents(node)).length, before);
  t.regex(await sh(node, 'journalctl -u qm-bluechi-gate --no-pager'), /sent method call org\.freedesktop\.DBus\.Hello/);
});

test.serial("QM's own registration as qm.<host> passes the gate and the controller accepts it", async (t) => {
  const { node, host } = t.context;
  // The door holds 5 tokens: the two earlier tests took one each.
  const result = await inQm(node, 'bluechi_register', qmSocket, `qm.${host}`);
  t.is(result.outcome, 'allowed', result.evidence);
  const registered = (await controllerEvents(node)).filter((event) => event.event === 'register' && event.name === `qm.${host}`);
  t.is(registered.length, 1);
  t.false(registered[0] && 'error' in registered[0] && Boolean(registered[0].error));
});

test.serial('agent-flood: hundreds of connections from QM leave the host agent connected; only QM registrations reach the controller, a few', async (t) => {
  const { node, host } = t.context;
  const before = await controllerEvents(node);
  const started = performance.now();
  const asHost = await inQm(node, 'bluechi_flood', qmSocket, `200:${host}`);
  const asQm = await inQm(node, 'bluechi_flood', qmSocket, `200:qm.${host}`);
  const seconds = (performance.now() - started) / 1000;
  t.log(asHost.evidence);
  t.log(asQm.evidence);
  t.is(asHost.outcome, 'refused', asHost.evidence);
  t.regex(asHost.evidence, / 0 registered,/);
  const after = await controllerEvents(node);
  const added = after.slice(before.length);
  const reached = added.filter((event) => event.event === 'connected').length;
  t.true(reached <= 5 + Math.ceil(seconds), `${reached} connections reached the controller in ${seconds.toFixed(1)} s`);
  t.true(added.filter((event) => event.event === 'register').every((event) => 'name' in event && event.name === `qm.${host}`), JSON.stringify(added));
  t.false(after.some((event) => event.event === 'disconnected' && event.name === host), "the host agent's connection was never dropped");
  t.is(await sh(node, 'systemctl is-active qm-test-host-agent'), 'active');
});
