// A real BlueChi vehicle for tests, started (never built) from binaries you already have:
//
//   QM_TEST_BLUECHI_CONTROLLER=/path/to/bluechi-controller QM_TEST_BLUECHI_AGENT=/path/to/bluechi-agent
//
// What it starts, and tears down again on stop(), on exit or on SIGINT/SIGTERM/SIGHUP:
// - a private dbus-daemon (test/support/dbus-daemon.ts), used as bluechi-controller's system bus;
// - bluechi-controller on the host, on that bus, with TCP off: it listens only on its compiled-in Unix socket
//   (/run/bluechi/bluechi.sock), which in its private mount namespace lies in a directory of ours, and finds its
//   packaged default config there too if the host has none; the host's /run and /usr stay untouched, and the
//   controller dies with the process that started it (parent-death signal);
// - one vehicle node per BlueChi node (test/support/vehicle-node.ts: systemd 257 in systemd-nspawn, network `lo`
//   only), each running the real bluechi-agent as a systemd service of the node, reaching the controller through
//   its socket bind-mounted into the node; the agent binary's directory is bind-mounted read-only.
// Each node has the units the integration suite assumes (see bluechi-target.ts): `qm-test.service` (safe to
// start, stop, reload, enable and disable; not enabled) and `other.service`.
// If the starting process is SIGKILLed, the controller dies with it and the nodes' supervisors tear the nodes
// down; the private dbus-daemon and the run directory are left, and the next start removes them
// (sweepOrphanedRuns). Needs root, util-linux (setpriv, unshare) and what vehicle nodes need.
//
// From a shell: `node --import tsx test/support/real-bluechi-main.ts --help`.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { registerCleanup } from './cleanup.ts';
import { runCommand } from './command.ts';
import { rootOwnsPolicy, startPrivateBus, stopChild, type PrivateBus } from './dbus-daemon.ts';
import { bootVehicleNode, type VehicleNode, type VehicleNodeFile } from './vehicle-node.ts';

export const defaultRealNodes: readonly string[] = ['node1', 'node2', 'qm.node1'];
export const defaultRealUnit = 'qm-test.service';

export interface RealBlueChiBinaries {
  readonly controller: string;
  readonly agent: string;
}

/** The binaries named by QM_TEST_BLUECHI_CONTROLLER and QM_TEST_BLUECHI_AGENT, or undefined if either is unset. */
export function realBlueChiBinaries(env: NodeJS.ProcessEnv = process.env): RealBlueChiBinaries | undefined {
  const controller = env.QM_TEST_BLUECHI_CONTROLLER;
  const agent = env.QM_TEST_BLUECHI_AGENT;
  return controller && agent ? { controller, agent } : undefined;
}

export interface RealBlueChiOptions extends RealBlueChiBinaries {
  /** BlueChi node names, one vehicle node each. Default node1, node2, qm.node1. */
  readonly nodes?: readonly string[];
  /** The unit the integration suite drives (QM_TEST_BLUECHI_UNIT). Default qm-test.service. */
  readonly unit?: string;
  /** Files added to every node (units for a recording, say), besides the suite's. */
  readonly files?: readonly VehicleNodeFile[];
  /** LogLevel of controller and agents. Default INFO. */
  readonly logLevel?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
  /** Reports progress (boots, connections). Default: nothing. */
  readonly log?: (line: string) => void;
  /** How long to wait for every agent to be online. Default 60 s. */
  readonly onlineTimeoutMs?: number;
}

export interface RealBlueChi {
  /** Where bluechi-controller serves org.eclipse.bluechi: QM_TEST_BLUECHI_ADDRESS. */
  readonly address: string;
  /** BlueChi node names, all online: QM_TEST_BLUECHI_NODES. */
  readonly nodes: readonly string[];
  readonly unit: string;
  /** The vehicle node behind each BlueChi node. */
  readonly vehicleNodes: ReadonlyMap<string, VehicleNode>;
  /** Host path of the controller's Unix socket (agents see it at `agentSocketPath`). */
  readonly controllerSocket: string;
  readonly controllerPid: number;
  /** The controller's log so far (stderr). */
  controllerLog(): string;
  /** The agent's journal on one node. */
  agentLog(node: string): Promise<string>;
  /** QM_TEST_BLUECHI_ADDRESS, QM_TEST_BLUECHI_NODES, QM_TEST_BLUECHI_UNIT, QM_TEST_BLUECHI_CONTROLLER, QM_TEST_BLUECHI_AGENT. */
  readonly env: Readonly<Record<string, string>>;
  /** Stops agents, nodes, controller and bus; removes what was made. Idempotent. */
  stop(): Promise<void>;
}

/** Where, inside a node, the controller's socket directory is mounted (as qm.container mounts it into QM). */
export const agentSocketDir = '/run/bluechi-controller';
export const agentSocketPath = `${agentSocketDir}/bluechi.sock`;
/** Where, inside a node, the agent binary's directory is mounted. */
const agentBinDir = '/opt/qm-test-bluechi';
/** Run directories of started vehicles; one per start, removed by its stop. */
const runsDir = '/tmp';
const runPrefix = 'qm-real-bluechi-';

/** A vehicle node's hostname for a BlueChi node name (`qm.node1` → `qm-node1`). */
export function hostnameFor(node: string): string {
  const name = node.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40);
  return name === '' ? 'node' : name;
}

/** A path compiled into a BlueChi binary, e.g. its packaged default config (it refuses to start without it). */
function compiledString(binary: string, pattern: RegExp): string | undefined {
  return pattern.exec(readFileSync(binary).toString('latin1'))?.[0];
}

export function compiledDefaultConfig(binary: string, suffix: string): string | undefined {
  return compiledString(binary, new RegExp(`(?<=\\0)/[!-~]*?${suffix.replace(/[.]/g, '\\.')}(?=\\0)`));
}

function existingAncestor(path: string): string {
  let dir = path;
  while (!existsSync(dir)) dir = dirname(dir);
  return dir;
}

/**
 * Shell commands that, run in a private mount namespace, make each of `files` exist where the host has none:
 * a read-only overlay of a layer under `layerDir` over its deepest existing ancestor. For the packaged default
 * configs BlueChi's binaries refuse to start without, which a host without BlueChi installed lacks.
 */
export async function provideMissingFiles(layerDir: string, files: ReadonlyArray<{ readonly path: string; readonly content: string }>): Promise<string[]> {
  const layers = new Map<string, string>();
  for (const file of files) {
    if (existsSync(file.path)) continue;
    const base = existingAncestor(dirname(file.path));
    if (base === '/') throw new Error(`cannot provide ${file.path}: nothing below / to overlay; create it`);
    const layer = join(layerDir, `layer${base.replaceAll('/', '_')}`);
    const inLayer = join(layer, file.path.slice(base.length));
    await mkdir(dirname(inLayer), { recursive: true });
    await writeFile(inLayer, file.content);
    layers.set(base, layer);
  }
  return [...layers].map(([base, layer]) => `mount -t overlay qm-test-bluechi -o 'ro,lowerdir=${layer}:${base}' '${base}'`);
}

/** The unit files every node gets: what test/integration assumes of a node. */
export function suiteUnitFiles(unit: string = defaultRealUnit): VehicleNodeFile[] {
  return [
    {
      path: `/etc/systemd/system/${unit}`,
      content: `[Unit]
Description=qm integration test unit

[Service]
ExecStart=/bin/sleep infinity
ExecReload=/bin/true

[Install]
WantedBy=multi-user.target
`,
    },
    {
      path: '/etc/systemd/system/other.service',
      content: `[Unit]
Description=another unit

[Service]
ExecStart=/bin/sleep infinity

[Install]
WantedBy=multi-user.target
`,
    },
  ];
}

function agentFiles(node: string, agentName: string, defaultConfig: string | undefined, defaultText: string, logLevel: string): VehicleNodeFile[] {
  return [
    ...(defaultConfig ? [{ path: defaultConfig, content: defaultText }] : []),
    {
      path: '/etc/bluechi/agent.conf',
      content: `# Written by qm's test/support/real-bluechi.ts.
[bluechi-agent]
NodeName=${node}
ControllerAddress=unix:path=${agentSocketPath}
LogLevel=${logLevel}
LogTarget=journald
`,
    },
    {
      // The agent owns org.eclipse.bluechi.Agent on the node's system bus.
      path: '/etc/dbus-1/system.d/qm-test-bluechi-agent.conf',
      content: rootOwnsPolicy('org.eclipse.bluechi.Agent'),
    },
    {
      path: '/etc/systemd/system/bluechi-agent.service',
      content: `[Unit]
Description=BlueChi agent (started by qm's test/support/real-bluechi.ts)
Wants=dbus.service
After=dbus.service

[Service]
Type=simple
ExecStart=${agentBinDir}/${agentName}
Restart=on-abnormal

[Install]
WantedBy=multi-user.target
`,
    },
    { path: '/etc/systemd/system/multi-user.target.wants/bluechi-agent.service', symlink: '../bluechi-agent.service' },
  ];
}

/** Makes a run directory's owner findable, so a later start can clean up after a harness that was SIGKILLed. */
function identity(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return `${pid} ${stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]}`;
  } catch {
    return undefined;
  }
}

/** Kills the controller and bus of vehicles whose harness died without stopping them, and removes their run dirs. */
export async function sweepOrphanedRuns(): Promise<string[]> {
  const swept: string[] = [];
  for (const entry of await readdir(runsDir).catch(() => [] as string[])) {
    if (!entry.startsWith(runPrefix)) continue;
    const dir = join(runsDir, entry);
    const owner = await readFile(join(dir, 'owner'), 'utf8').catch(() => '');
    if (owner === '' && Date.now() - (statSync(dir, { throwIfNoEntry: false })?.mtimeMs ?? 0) < 60_000) continue;
    if (owner !== '' && identity(Number(owner.split(' ')[0])) === owner) continue;
    for (const line of (await readFile(join(dir, 'pids'), 'utf8').catch(() => '')).split('\n')) {
      const [pid, ...rest] = line.split(' ');
      if (pid && identity(Number(pid)) === `${pid} ${rest.join(' ')}`) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // gone meanwhile
        }
      }
    }
    // The private bus's own directory (test/support/dbus-daemon.ts), which its stop() would have removed.
    const busDir = (await readFile(join(dir, 'bus-dir'), 'utf8').catch(() => '')).trim();
    if (dirname(busDir) === tmpdir() && basename(busDir).startsWith('qm-bus-')) await rm(busDir, { recursive: true, force: true });
    await rm(dir, { recursive: true, force: true });
    swept.push(entry);
  }
  return swept;
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function startRealBlueChi(options: RealBlueChiOptions): Promise<RealBlueChi> {
  const nodes = [...(options.nodes ?? defaultRealNodes)];
  const unit = options.unit ?? defaultRealUnit;
  const logLevel = options.logLevel ?? 'INFO';
  const log = options.log ?? (() => undefined);
  if (nodes.length === 0) throw new Error('real BlueChi: no nodes');
  const hostnames = nodes.map(hostnameFor);
  if (new Set(hostnames).size !== hostnames.length) throw new Error(`real BlueChi: node names ${nodes.join(', ')} map to the same hostname`);
  for (const node of nodes) if (!/^[A-Za-z0-9._-]+$/.test(node)) throw new Error(`real BlueChi: node name ${JSON.stringify(node)}`);
  const controllerBin = realpathSync(options.controller);
  const agentBin = realpathSync(options.agent);
  for (const binary of [controllerBin, agentBin]) {
    if ((statSync(binary).mode & 0o111) === 0) throw new Error(`real BlueChi: ${binary} is not executable`);
  }
  for (const tool of ['setpriv', 'unshare']) {
    if (spawnSync(tool, ['--help'], { stdio: 'ignore' }).error) throw new Error(`real BlueChi: needs ${tool} (Debian package util-linux)`);
  }
  const compiledSocket = compiledString(controllerBin, /(?<=\0)\/[!-~]*?\.sock(?=\0)/) ?? '/run/bluechi/bluechi.sock';
  const controllerDefault = compiledDefaultConfig(controllerBin, '/bluechi/config/controller.conf');
  const agentDefault = compiledDefaultConfig(agentBin, '/bluechi-agent/config/agent.conf');

  await sweepOrphanedRuns();
  const runDir = await mkdtemp(join(runsDir, runPrefix));
  await writeFile(join(runDir, 'owner'), identity(process.pid) ?? '');
  // The controller's socket directory: our `run` directory is mounted over the deepest existing ancestor of it.
  const socketAncestor = existingAncestor(dirname(compiledSocket));
  const runOver = join(runDir, 'run');
  const socketDir = join(runOver, dirname(compiledSocket).slice(socketAncestor.length));
  const controllerSocket = join(socketDir, basename(compiledSocket));
  await mkdir(socketDir, { recursive: true });

  let bus: PrivateBus | undefined;
  let controller: ChildProcess | undefined;
  let controllerExit: Promise<void> = Promise.resolve();
  let controllerLog = '';
  const vehicleNodes = new Map<string, VehicleNode>();
  let stopping: Promise<void> | undefined;

  const pids = async () => {
    const lines = [bus?.pid, controller?.pid].filter((pid): pid is number => pid !== undefined && pid > 0).map((pid) => identity(pid));
    await writeFile(join(runDir, 'pids'), lines.filter(Boolean).join('\n') + '\n');
  };

  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      const errors: unknown[] = [];
      // Agents first (they say goodbye to the controller), then the controller, then the bus.
      const stops = await Promise.allSettled([...vehicleNodes.values()].map((node) => node.stop()));
      for (const result of stops) if (result.status === 'rejected') errors.push(result.reason);
      if (controller) await stopChild(controller);
      await controllerExit;
      await bus?.stop().catch((error: unknown) => errors.push(error));
      await rm(runDir, { recursive: true, force: true });
      unregister();
      if (errors.length > 0) throw new AggregateError(errors, `real BlueChi: teardown incomplete: ${errors.map(String).join('; ')}`);
    })();
    return stopping;
  };
  const unregister = registerCleanup({
    label: 'real BlueChi controller and bus',
    run: stop,
    runSync: () => {
      for (const child of [controller]) if (child && child.exitCode === null) child.kill('SIGKILL');
      if (bus) {
        try {
          process.kill(bus.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      spawnSync('rm', ['-rf', runDir]);
    },
  });

  try {
    bus = await startPrivateBus();
    await writeFile(join(runDir, 'bus-dir'), bus.dir);
    await pids();

    // The controller: its Unix socket only (UseTCP off), so nothing on the host's network.
    const controllerConf = join(runDir, 'controller.conf');
    await writeFile(
      controllerConf,
      `# Written by qm's test/support/real-bluechi.ts.
[bluechi-controller]
AllowedNodeNames=${nodes.join(',')}
UseTCP=false
UseUDS=true
LogLevel=${logLevel}
LogTarget=stderr
`,
    );
    // In its own mount namespace: our directory over the socket's, and its packaged default config (which it
    // refuses to start without) added by a read-only overlay if the host has none.
    const mounts = [
      `mount --bind '${runOver}' '${socketAncestor}'`,
      ...(controllerDefault ? await provideMissingFiles(join(runDir, 'default-config'), [{ path: controllerDefault, content: '[bluechi-controller]\n' }]) : []),
    ];
    const argv = [
      'setpriv',
      '--pdeathsig',
      'KILL',
      '--',
      'unshare',
      '--mount',
      '--propagation',
      'private',
      '--',
      'sh',
      '-c',
      `${mounts.join(' && ')} && exec "$0" -c "$1"`,
      controllerBin,
      controllerConf,
    ];
    log(`starting ${controllerBin} on ${bus.address}`);
    controller = spawn(argv[0]!, argv.slice(1), {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', DBUS_SYSTEM_BUS_ADDRESS: bus.address },
    });
    const child = controller;
    controllerExit = new Promise((resolve) => child.once('exit', () => resolve()));
    const append = (chunk: Buffer) => (controllerLog = (controllerLog + chunk.toString()).slice(-200_000));
    child.stdout!.on('data', append);
    child.stderr!.on('data', append);
    await pids();

    // Up when it owns org.eclipse.bluechi.
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`bluechi-controller exited (${child.exitCode ?? child.signalCode}):\n${controllerLog}`);
      const owner = await runCommand(['busctl', `--address=${bus.address}`, 'status', 'org.eclipse.bluechi'], { timeoutMs: 5000 });
      if (owner.code === 0 && existsSync(controllerSocket)) break;
      if (Date.now() > deadline) throw new Error(`bluechi-controller did not take org.eclipse.bluechi and listen on ${controllerSocket} within 15 s:\n${controllerLog}`);
      await delay(50);
    }
    log(`controller up (pid ${child.pid}), socket ${controllerSocket}`);

    // The nodes, booted one at a time (2-core machines), each agent starting as its node reaches multi-user.
    const hostDefault = agentDefault && existsSync(agentDefault) ? await readFile(agentDefault, 'utf8') : '[bluechi-agent]\n';
    for (const [index, node] of nodes.entries()) {
      const hostname = hostnames[index]!;
      log(`booting vehicle node ${hostname} for BlueChi node ${node}`);
      const vehicle = await bootVehicleNode({
        name: hostname,
        binds: [
          { host: socketDir, node: agentSocketDir },
          { host: dirname(agentBin), node: agentBinDir, readOnly: true },
        ],
        files: [...suiteUnitFiles(unit), ...agentFiles(node, basename(agentBin), agentDefault, hostDefault, logLevel), ...(options.files ?? [])],
      });
      vehicleNodes.set(node, vehicle);
      await vehicle.waitForSystemState('running');
    }

    // Every agent online.
    const onlineDeadline = Date.now() + (options.onlineTimeoutMs ?? 60_000);
    for (;;) {
      const listed = await runCommand(
        ['busctl', `--address=${bus.address}`, '--json=short', 'call', 'org.eclipse.bluechi', '/org/eclipse/bluechi', 'org.eclipse.bluechi.Controller', 'ListNodes'],
        { timeoutMs: 5000 },
      );
      const rows = listed.code === 0 ? ((JSON.parse(listed.stdout) as { data: [Array<[string, string, string, string]>] }).data[0] ?? []) : [];
      const offline = nodes.filter((node) => !rows.some(([name, , status]) => name === node && status === 'online'));
      if (offline.length === 0) break;
      if (Date.now() > onlineDeadline) {
        const logs = await Promise.all(offline.map(async (node) => `--- agent on ${node} ---\n${await agentJournal(vehicleNodes.get(node))}`));
        throw new Error(`real BlueChi: not online: ${offline.join(', ')}\n--- controller ---\n${controllerLog.slice(-4000)}\n${logs.join('\n')}`);
      }
      await delay(100);
    }
    log(`all online: ${nodes.join(', ')}`);
  } catch (error) {
    await stop().catch(() => undefined);
    throw error;
  }

  const address = bus.address;
  return {
    address,
    nodes,
    unit,
    vehicleNodes,
    controllerSocket,
    controllerPid: controller.pid!,
    controllerLog: () => controllerLog,
    agentLog: (node) => agentJournal(vehicleNodes.get(node)),
    env: {
      QM_TEST_BLUECHI_ADDRESS: address,
      QM_TEST_BLUECHI_NODES: nodes.join(','),
      QM_TEST_BLUECHI_UNIT: unit,
      QM_TEST_BLUECHI_CONTROLLER: controllerBin,
      QM_TEST_BLUECHI_AGENT: agentBin,
    },
    stop,
  };
}

async function agentJournal(node: VehicleNode | undefined): Promise<string> {
  if (!node) return '(no such node)';
  const journal = await node.exec(['journalctl', '--no-pager', '--lines=60', '--unit=bluechi-agent.service']);
  return journal.stdout.trim();
}
