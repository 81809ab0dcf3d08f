// Against the real thing, when there is one: QM_TEST_BLUECHI_AGENT names a bluechi-agent binary
// (QM_TEST_BLUECHI_CONTROLLER a bluechi-controller). Without them these tests pass as skipped.
// 1. Our parser against bluechi-agent's own, on generated files: its debug log dumps the
//    configuration it ended up with ("Final configuration used"), which must match ours.
// 2. The produced QM agent.conf, started with the real agent, registers under the derived name with a
//    real controller, through the controller's socket directory bind-mounted read-only at the path
//    the qm.container drop-in uses.
import { spawn, spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import test from 'ava';
import dbus from 'dbus-next';
import fc from 'fast-check';
import { QM_SOCKET_DIR, HOST_SOCKET_DIR } from '../../agent-config/derive.ts';
import { parseIni } from '../../agent-config/ini.ts';
import { fileSettings } from '../../agent-config/merge.ts';
import { startPrivateBus, type PrivateBus } from '../support/dbus-daemon.ts';
import { compiledDefaultConfig, provideMissingFiles } from '../support/real-bluechi.ts';
import { qmctl } from '../support/qmctl.ts';
import { PACKAGED_DEFAULT_TEXT, tempTree } from './helpers.ts';

const AGENT = process.env.QM_TEST_BLUECHI_AGENT;
const CONTROLLER = process.env.QM_TEST_BLUECHI_CONTROLLER;
// Without a real BlueChi these tests are reported as skipped, by name and with what to set: never as passed.
const withAgent = AGENT ? test : test.skip;
const withAgentAndController = AGENT && CONTROLLER ? test : test.skip;

/** Section → key → value from the agent's "Final configuration used:" debug dump. */
function finalConfiguration(stderr: string): Map<string, Map<string, string>> | undefined {
  const lines = stderr.split('\n');
  const start = lines.findIndex((line) => line.endsWith('Final configuration used:'));
  if (start < 0) return undefined;
  const sections = new Map<string, Map<string, string>>();
  let current: Map<string, string> | undefined;
  for (const line of lines.slice(start + 1)) {
    if (/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/.test(line)) break;
    const header = /^\[(.*)\]$/.exec(line);
    if (header) sections.set(header[1]!, (current = new Map()));
    else if (line !== '' && current) current.set(line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1));
  }
  return sections;
}

/** Raw lines from fragments that exercise the parser: separators, comment characters, indentation, over-long lines. */
const fragment = fc.constantFrom('[', ']', '=', ':', ';', ' ;', '#', ' ', '\t', 'a', 'b', 'Key', 'sec', 'bluechi-agent', 'x y', ';c', ' # c', 'ä', '\r');
const text = fc.array(fragment, { maxLength: 8 }).map((parts) => parts.join(''));
const line = fc.oneof(
  { weight: 3, arbitrary: text },
  { weight: 6, arbitrary: fc.tuple(fc.constantFrom('K', 'Key', 'a b', 'x', ''), fc.constantFrom('', ' ', '\t'), fc.constantFrom('=', ':'), text).map((parts) => parts.join('')) },
  { weight: 3, arbitrary: fc.tuple(fc.constantFrom(' ', '  ', '\t'), text).map((parts) => parts.join('')) },
  { weight: 2, arbitrary: fc.constantFrom('[bluechi-agent]', '[other]', 'K = v', '  continued', 'K=', '') },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom('K=', ' ', 'K=a '), fc.integer({ min: 480, max: 560 })).map(([head, n]) => head + 'v'.repeat(n)) },
);
const generatedFile = fc.tuple(fc.boolean(), fc.array(line, { maxLength: 12 })).map(([bom, lines]) => (bom ? '\ufeff' : '') + lines.join('\n') + '\n');

/** The packaged default configs the binaries refuse to start without, for a host with no BlueChi installed. */
async function packagedDefaults(layerDir: string): Promise<string[]> {
  const agentDefault = AGENT ? compiledDefaultConfig(AGENT, '/bluechi-agent/config/agent.conf') : undefined;
  const controllerDefault = CONTROLLER ? compiledDefaultConfig(CONTROLLER, '/bluechi/config/controller.conf') : undefined;
  return provideMissingFiles(layerDir, [
    ...(agentDefault ? [{ path: agentDefault, content: PACKAGED_DEFAULT_TEXT }] : []),
    ...(controllerDefault ? [{ path: controllerDefault, content: '[bluechi-controller]\n' }] : []),
  ]);
}

withAgent('bluechi-agent reads generated files exactly as our parser does (needs QM_TEST_BLUECHI_AGENT)', async (t) => {
  const dir = await tempTree(t);
  const file = join(dir, 'generated.conf');
  const mounts = await packagedDefaults(join(dir, 'defaults'));
  // Where the host lacks the packaged default, the agent runs in a mount namespace that has it.
  const [command, args] = mounts.length === 0 ? [AGENT!, ['-c', file]] : ['unshare', ['--mount', '--propagation', 'private', 'sh', '-c', `${mounts.join(' && ')} && exec "$0" -c "$1"`, AGENT!, file]];
  let compared = 0;
  let rejected = 0;
  await fc.assert(
    fc.asyncProperty(generatedFile, async (text) => {
      await writeFile(file, text);
      const run = spawnSync(command, args, {
        encoding: 'utf8',
        timeout: 10_000,
        env: { BC_LOG_LEVEL: 'DEBUG', BC_LOG_TARGET: 'stderr', DBUS_SYSTEM_BUS_ADDRESS: 'unix:path=/nonexistent', DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent' },
      });
      const ours = parseIni(Buffer.from(text), file);
      if (ours.rejected) {
        rejected++;
        const reported = /Error parsing configuration file '.*' on line (\d+)/.exec(run.stderr);
        t.truthy(reported, `bluechi-agent accepted what we reject:\n${JSON.stringify(text)}\n${run.stderr}`);
        const split = ours.diagnostics.some((d) => /bytes at a time/.test(d.message));
        const syntax = ours.diagnostics.find((d) => d.severity === 'error' && !/bytes at a time/.test(d.message));
        // inih counts fgets calls, we count physical lines: they agree unless a line was split.
        if (!split) t.is(Number(reported![1]) as number | undefined, syntax?.line, JSON.stringify(text));
        return;
      }
      const dump = finalConfiguration(run.stderr);
      t.truthy(dump, `no configuration dump for\n${JSON.stringify(text)}\n${run.stderr}`);
      for (const [section, keys] of fileSettings(ours)) {
        for (const [key, setting] of keys) {
          t.is(dump!.get(section)?.get(key), setting.value ?? '', `[${section}] ${key} in\n${JSON.stringify(text)}`);
        }
      }
      compared++;
    }),
    { numRuns: 500 },
  );
  t.log(`${compared} files compared key by key, ${rejected} rejected by both`);
});

/** org.freedesktop.systemd1 as much as bluechi-agent needs at start: Subscribe and ListUnits. */
async function serveSystemdStandIn(address: string) {
  const bus = dbus.sessionBus({ busAddress: address });
  class Manager extends dbus.interface.Interface {
    Subscribe(): void {}
    ListUnits(): unknown[] {
      return [];
    }
  }
  Manager.configureMembers({ methods: { Subscribe: { inSignature: '', outSignature: '' }, ListUnits: { inSignature: '', outSignature: 'a(ssssssouso)' } } });
  bus.export('/org/freedesktop/systemd1', new Manager('org.freedesktop.systemd1.Manager'));
  await bus.requestName('org.freedesktop.systemd1', 0);
  return bus;
}

const canUnshare = spawnSync('unshare', ['-m', 'true'], { stdio: 'ignore' }).status === 0;

withAgentAndController(
  'the produced agent.conf makes a real bluechi-agent register as qm.<node> through the mounted socket (needs QM_TEST_BLUECHI_AGENT and QM_TEST_BLUECHI_CONTROLLER)',
  async (t) => {
  if (!canUnshare) return t.fail('needs root and mount namespaces (unshare -m)');
  const root = await tempTree(t, {
    'host/agent.conf': '[bluechi-agent]\nNodeName=ecu7\nLogLevel=DEBUG\nLogTarget=stderr\n',
    'share/agent.conf': PACKAGED_DEFAULT_TEXT,
    'rootfs/usr/share/bluechi-agent/config/agent.conf': PACKAGED_DEFAULT_TEXT,
    'etc-qm/.keep': '',
    'controller.conf': '[bluechi-controller]\nAllowedNodeNames=qm.ecu7\nControllerPort=18425\nLogLevel=DEBUG\nLogTarget=stderr\n',
  });
  const applied = await qmctl(['agent-config', 'apply', '--no-restart', '--host-config-dir', join(root, 'host'), '--packaged-default', join(root, 'share/agent.conf'), '--rootfs', join(root, 'rootfs'), '--rwetcfs', join(root, 'etc-qm')]);
  t.is(applied.code, 0, applied.stderr);
  const produced = join(root, 'etc-qm/bluechi/agent.conf');
  t.regex(await readFile(produced, 'utf8'), /^ControllerAddress=unix:path=\/run\/bluechi-controller\/bluechi\.sock$/m);

  let bus: PrivateBus | undefined;
  let systemd: dbus.MessageBus | undefined;
  const done = join(root, 'done');
  try {
    bus = await startPrivateBus();
    systemd = await serveSystemdStandIn(bus.address);
    // A private /run: the controller's socket lands in a tmpfs, bind-mounted read-only where QM sees it.
    const script = [
      'set -e',
      ...(await packagedDefaults(join(root, 'defaults'))),
      'mount -t tmpfs tmpfs /run',
      `mkdir -p ${HOST_SOCKET_DIR} ${QM_SOCKET_DIR}`,
      `DBUS_SYSTEM_BUS_ADDRESS=${bus.address} ${CONTROLLER} -c ${join(root, 'controller.conf')} 2>${join(root, 'controller.log')} &`,
      'controller=$!',
      `for i in $(seq 100); do [ -S ${HOST_SOCKET_DIR}/bluechi.sock ] && break; sleep 0.05; done`,
      `mount --bind ${HOST_SOCKET_DIR} ${QM_SOCKET_DIR}`,
      `mount -o remount,bind,ro ${QM_SOCKET_DIR}`,
      `DBUS_SESSION_BUS_ADDRESS=${bus.address} ${AGENT} -u -c ${produced} 2>${join(root, 'agent.log')} &`,
      'agent=$!',
      `for i in $(seq 300); do [ -e ${done} ] && break; sleep 0.05; done`,
      'kill $agent $controller; wait',
    ].join('\n');
    // Its own process group, so a failed test still takes the controller and agent down with it.
    const namespace = spawn('unshare', ['-m', 'sh', '-c', script], { stdio: 'ignore', detached: true });
    const exited = new Promise((resolve) => namespace.once('exit', resolve));
    t.teardown(() => {
      if (namespace.exitCode === null) process.kill(-namespace.pid!, 'SIGKILL');
    });

    const client = dbus.sessionBus({ busAddress: bus.address });
    let nodes: unknown[] = [];
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      try {
        const controller = await (await client.getProxyObject('org.eclipse.bluechi', '/org/eclipse/bluechi')).getInterface('org.eclipse.bluechi.Controller');
        nodes = (await controller.ListNodes!()) as unknown[];
        if (JSON.stringify(nodes).includes('"online"')) break;
      } catch {
        // The controller is not on the bus yet.
      }
      await sleep(100);
    }
    client.disconnect();
    await writeFile(done, '');
    await exited;
    const agentLog = await readFile(join(root, 'agent.log'), 'utf8');
    t.deepEqual(nodes, [['qm.ecu7', '/org/eclipse/bluechi/node/qm_2eecu7', 'online', '']], agentLog);
    t.regex(agentLog, /Connected to controller as 'qm\.ecu7'/);
  } finally {
    systemd?.disconnect();
    await bus?.stop();
  }
  },
);
