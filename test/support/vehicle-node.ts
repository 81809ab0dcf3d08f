// A real systemd "vehicle node" for tests: systemd 257 as PID 1 of a systemd-nspawn container on a trixie rootfs,
// with podman 5 + quadlet inside. Boot one per test file and stop it in `test.after.always`:
//
//   let node: VehicleNode;
//   test.before(async () => { node = await bootVehicleNode({ name: 'node1' }); await node.waitForSystemState('running'); });
//   test.after.always(async () => { await node?.stop(); });
//
// Why systemd-nspawn (not host podman 4.3.1): it needs no host systemd, boots in about half a second, and gives
// the node a cgroup namespace rooted in a cgroup we create, so everything the node's systemd (and nested
// podman) creates stays below it. systemd-nspawn mounts only the v1 hierarchies the host already has, on a
// read-only tmpfs, so the node's systemd cannot mount hugetlb, net_cls,net_prio or perf_event (which would
// move those controllers machine-wide).
//
// Each node: its own cgroups below ours, an overlay of the shared cached rootfs (read-only) and a private upper
// layer, mounted in a private mount namespace so no mount can outlive the node, a private network namespace
// (only `lo`), and a supervisor process that tears all of it down on stop(), on our exit, or when we die.
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readlinkSync, watch } from 'node:fs';
import { chmod, chown, lstat, mkdir, readdir, readlink, stat, symlink, writeFile } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { dirname, join, relative } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { registerCleanup } from './cleanup.ts';
import { runCommand, type CommandResult } from './command.ts';
import { ensureHostPackages, vehicleNodeHostPackages } from './host-packages.ts';
import { createChildCgroups } from './node-cgroups.ts';
import { buildRootfs, vehicleNodePackages } from './rootfs.ts';

export interface VehicleNodeBind {
  /** Absolute host path. */
  readonly host: string;
  /** Absolute path inside the node. */
  readonly node: string;
  readonly readOnly?: boolean;
}

/** A file or symlink (e.g. `multi-user.target.wants/x.service` → `../x.service`) written into the node. */
export type VehicleNodeFile =
  | {
      /** Absolute path inside the node. */
      readonly path: string;
      readonly content: string;
      /** Default 0o644. */
      readonly mode?: number;
    }
  | { readonly path: string; readonly symlink: string };

export interface VehicleNodeOptions {
  /** The node's hostname; also names its state directory and cgroups. Lower-case letters, digits, dashes. */
  readonly name: string;
  /** A prepared rootfs tree, used read-only as the overlay's lower layer. Default: the cached trixie rootfs. */
  readonly rootfs?: string;
  /** Packages on top of vehicleNodePackages for the default rootfs (a separate cached rootfs). */
  readonly packages?: readonly string[];
  readonly binds?: readonly VehicleNodeBind[];
  /** Files written into the node before it boots (units, quadlet files, drop-ins). */
  readonly files?: readonly VehicleNodeFile[];
}

export type SystemState =
  | 'initializing'
  | 'starting'
  | 'running'
  | 'degraded'
  | 'maintenance'
  | 'stopping'
  | 'offline'
  | 'unknown';

export interface SystemStateReport {
  readonly state: SystemState;
  /** Units in the `failed` state, e.g. `foo.service`. */
  readonly failedUnits: readonly string[];
  /** Seconds from the start of bootVehicleNode's container to this state. */
  readonly seconds: number;
}

export interface ExecOptions {
  /** Written to the command's standard input. */
  readonly input?: string;
  /** Added to the command's environment (PATH, HOME, LANG and PODMAN_IGNORE_CGROUPSV1_WARNING=1 are set). */
  readonly env?: Readonly<Record<string, string>>;
  /** Working directory inside the node. Default `/`. */
  readonly cwd?: string;
  readonly timeoutMs?: number;
}

export interface VehicleNode {
  readonly name: string;
  /** Host pid of the node's PID 1 (systemd). */
  readonly leaderPid: number;
  /** Host path to the node's root directory (`/proc/<leader>/root`): read and write the node's files here. */
  readonly root: string;
  /** The node's system bus, reachable from the host by a root client with EXTERNAL auth. */
  readonly systemBusAddress: string;
  /** Host directory with the node's private state (overlay upper layer, /var/lib/containers, console log). */
  readonly stateDir: string;
  /** Host cgroup directories the node lives in, one per hierarchy; its cgroup namespace is rooted there. */
  readonly cgroups: readonly string[];
  /** Runs argv inside the node (all of its namespaces, its root); resolves with the exit code, never rejects on one. */
  exec(argv: readonly string[], options?: ExecOptions): Promise<CommandResult>;
  /**
   * Waits until the node's boot has finished. `wanted` is the worst acceptable outcome: 'running' accepts only
   * running, 'degraded' also accepts running. Any other outcome rejects, naming the failed units with their logs.
   */
  waitForSystemState(wanted: 'running' | 'degraded', options?: { readonly timeoutMs?: number }): Promise<SystemStateReport>;
  /** Halts the node and removes its processes, cgroups, mounts and state; rejects if anything is left. Idempotent. */
  stop(): Promise<void>;
  /**
   * `systemctl reboot` inside the node: its systemd shuts down, and the node boots again on the same state (files,
   * /var/lib/containers). Resolves once the new PID 1 is there (leaderPid, root and systemBusAddress then name it);
   * wait for its boot with waitForSystemState.
   */
  reboot(options?: { readonly timeoutMs?: number }): Promise<void>;
  /** The node's console output so far (systemd's boot messages), for failure messages. */
  consoleLog(): string;
}

/** Where node state directories live; one per node, removed by its teardown. */
export const nodesDir = '/var/tmp/qm-test/nodes';

const supervisorScript = fileURLToPath(new URL('./vehicle-node-supervisor.sh', import.meta.url));
const nodeEnv = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  HOME: '/root',
  LANG: 'C.UTF-8',
  PODMAN_IGNORE_CGROUPSV1_WARNING: '1',
};
const finishedStates: readonly SystemState[] = ['running', 'degraded', 'maintenance', 'stopping'];

export async function bootVehicleNode(options: VehicleNodeOptions): Promise<VehicleNode> {
  const { name } = options;
  if (!/^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$/.test(name)) {
    throw new Error(`vehicle node name ${JSON.stringify(name)}: use 1-40 lower-case letters, digits and inner dashes`);
  }
  for (const bind of options.binds ?? []) {
    for (const path of [bind.host, bind.node]) {
      if (!path.startsWith('/') || path.includes(':')) throw new Error(`vehicle node ${name}: bind path ${path} must be absolute, without ':'`);
    }
  }
  await ensureHostPackages(vehicleNodeHostPackages);
  await sweepOrphanedNodes();
  const lower = options.rootfs ?? (await buildRootfs({ packages: [...vehicleNodePackages, ...(options.packages ?? [])] })).dir;

  const id = `${name}-${randomBytes(3).toString('hex')}`;
  const stateDir = join(nodesDir, id);
  for (const sub of ['upper', 'work', 'root', 'containers']) await mkdir(join(stateDir, sub), { recursive: true });
  await writeFile(join(stateDir, 'owner'), processIdentity(process.pid) ?? '');
  const teardownNow = () => runCommand([supervisorScript, 'teardown', stateDir]);
  let cgroups: string[] = [];
  try {
    for (const file of [...nodeFiles(name), ...(options.files ?? [])]) await addFile(lower, join(stateDir, 'upper'), file);
    cgroups = await createChildCgroups(`qm-node-${id}`);
    await writeFile(join(stateDir, 'cgroups'), cgroups.map((dir) => `${dir}\n`).join(''));
  } catch (error) {
    await teardownNow();
    throw error;
  }

  const started = performance.now();
  const args = ['run', stateDir, lower, '--', ...nspawnArguments(id, name, stateDir, options.binds ?? [])];
  const supervisor = spawn(supervisorScript, args, { detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
  let supervisorErrors = '';
  supervisor.stderr.setEncoding('utf8').on('data', (chunk: string) => (supervisorErrors = (supervisorErrors + chunk).slice(-20_000)));
  const supervisorExit = new Promise<number>((resolve) => supervisor.once('exit', (code) => resolve(code ?? 1)));
  supervisor.stdin.on('error', () => undefined); // the supervisor may already be gone when we say stop
  // A forgotten stop() must not keep the test process alive: our exit closes the lifeline and the supervisor cleans up.
  supervisor.unref();
  (supervisor.stderr as Socket).unref();
  const consoleLog = () => readText(join(stateDir, 'console.log'));

  const execs = new AbortController();
  let stopping: Promise<void> | undefined;
  const unregister = registerCleanup({
    label: `vehicle node ${name}`,
    run: () => stop(),
    runSync: () => stopSync(supervisor.pid),
  });
  let leader: { pid: number; pidNamespace: string } | undefined;

  async function stop(): Promise<void> {
    stopping ??= (async () => {
      execs.abort();
      supervisor.ref();
      (supervisor.stderr as Socket).ref();
      supervisor.stdin.end('stop\n');
      let timer: NodeJS.Timeout | undefined;
      let code = await Promise.race([supervisorExit, new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), 60_000)))]);
      clearTimeout(timer);
      if (code === undefined) supervisor.kill('SIGKILL');
      // A supervisor that was killed, or timed out, left its work undone: the teardown is idempotent, run it again.
      if (code !== 0 && existsSync(stateDir)) code = (await teardownNow()).code;
      unregister();
      const left = leftovers(stateDir, cgroups, leader);
      if (code !== 0 || left.length > 0) {
        throw new Error(`vehicle node ${name}: teardown incomplete (exit ${code}): ${left.join('; ')}\n${supervisorErrors}`);
      }
    })();
    return stopping;
  }

  try {
    const nspawnPid = await firstLine(supervisor);
    leader = await findLeader(nspawnPid, 15_000);
  } catch (error) {
    const log = consoleLog();
    await stop().catch(() => undefined);
    throw new Error(`vehicle node ${name} did not start: ${(error as Error).message}\n${supervisorErrors}\n--- console ---\n${log}`);
  }
  let current = leader;
  const rootOf = (pid: number) => `/proc/${pid}/root`;

  const exec = (argv: readonly string[], execOptions: ExecOptions = {}): Promise<CommandResult> => {
    const chdir = execOptions.cwd === undefined ? [] : ['/usr/bin/env', `--chdir=${execOptions.cwd}`];
    return runCommand(['nsenter', `--target=${current.pid}`, '--all', '--root', '--wd', '--', ...chdir, ...argv], {
      env: { ...nodeEnv, ...execOptions.env },
      input: execOptions.input,
      timeoutMs: execOptions.timeoutMs,
      signal: execs.signal,
    });
  };

  const failedUnits = async (): Promise<string[]> => {
    const listed = await exec(['systemctl', 'list-units', '--state=failed', '--plain', '--no-legend', '--no-pager']);
    return listed.stdout
      .split('\n')
      .map((line) => line.trim().split(/\s+/)[0] ?? '')
      .filter((unit) => unit !== '');
  };

  const waitForSystemState = async (
    wanted: 'running' | 'degraded',
    waitOptions: { readonly timeoutMs?: number } = {},
  ): Promise<SystemStateReport> => {
    const deadline = performance.now() + (waitOptions.timeoutMs ?? 60_000);
    let state: SystemState = 'unknown';
    for (;;) {
      if (!sameProcess(current.pid, current.pidNamespace)) {
        throw new Error(`vehicle node ${name}: PID 1 exited while booting\n--- console ---\n${consoleLog()}`);
      }
      state = ((await exec(['systemctl', 'is-system-running'])).stdout.trim() || 'unknown') as SystemState;
      if (finishedStates.includes(state)) break;
      if (performance.now() > deadline) {
        throw new Error(`vehicle node ${name}: still ${state} after ${waitOptions.timeoutMs ?? 60_000} ms\n--- console ---\n${consoleLog()}`);
      }
      await delay(50);
    }
    const report = { state, failedUnits: await failedUnits(), seconds: (performance.now() - started) / 1000 };
    if (state === wanted || (wanted === 'degraded' && state === 'running')) return report;
    const logs = await Promise.all(
      report.failedUnits.map(async (unit) => {
        const journal = await exec(['journalctl', '--boot', '--no-pager', '--lines=20', `--unit=${unit}`]);
        return `--- ${unit} ---\n${journal.stdout.trim()}`;
      }),
    );
    throw new Error(
      `vehicle node ${name}: system state ${state}, wanted ${wanted}; failed units: ${report.failedUnits.join(', ') || 'none'}\n${logs.join('\n')}`,
    );
  };

  const reboot = async (rebootOptions: { readonly timeoutMs?: number } = {}): Promise<void> => {
    const timeoutMs = rebootOptions.timeoutMs ?? 60_000;
    const deadline = performance.now() + timeoutMs;
    const pidFile = join(stateDir, 'nspawn.pid');
    const nspawnBefore = readText(pidFile).trim();
    // The supervisor renames a new nspawn.pid into place only once the old nspawn has exited with 133: that rename is
    // the event. Watched before the reboot is asked for, so it cannot be missed.
    const watcher = watch(stateDir);
    let settle: (error?: Error) => void = () => undefined;
    const renamed = new Promise<void>((resolve, reject) => (settle = (error) => (error ? reject(error) : resolve())));
    const check = () => {
      if (readText(pidFile).trim() !== nspawnBefore && readText(pidFile).trim() !== '') settle();
    };
    watcher.on('change', check);
    const timer = setTimeout(() => settle(new Error(`vehicle node ${name}: no reboot within ${timeoutMs} ms\n--- console ---\n${consoleLog()}`)), timeoutMs);
    void supervisorExit.then(() => settle(new Error(`vehicle node ${name}: its supervisor exited during the reboot\n${supervisorErrors}`)));
    try {
      // The exec ends with the node's processes; its outcome says nothing.
      exec(['systemctl', 'reboot']).catch(() => undefined);
      check();
      await renamed;
    } finally {
      clearTimeout(timer);
      watcher.close();
    }
    current = leader = await findLeader(Number(readText(pidFile).trim()), Math.max(deadline - performance.now(), 1000));
  };

  return {
    name,
    get leaderPid() {
      return current.pid;
    },
    get root() {
      return rootOf(current.pid);
    },
    get systemBusAddress() {
      return `unix:path=${rootOf(current.pid)}/run/dbus/system_bus_socket`;
    },
    stateDir,
    cgroups,
    exec,
    waitForSystemState,
    stop,
    reboot,
    consoleLog,
  };
}

function nspawnArguments(id: string, name: string, stateDir: string, binds: readonly VehicleNodeBind[]): string[] {
  return [
    '--quiet',
    '--boot',
    // There is no host systemd to register with or to ask for a scope: stay in the cgroup we made.
    '--register=no',
    '--keep-unit',
    '--console=read-only',
    '--link-journal=no',
    '--resolv-conf=off',
    '--timezone=off',
    // Only `lo`: nothing the node (or podman in it) does to networking reaches the host.
    '--private-network',
    `--machine=${id}`,
    `--hostname=${name}`,
    '--capability=all',
    // runc and podman need keyctl(), which systemd-nspawn's default seccomp filter refuses.
    '--system-call-filter=@keyring',
    // Nested podman's overlay storage cannot sit on the node's overlayfs root: give it a plain directory.
    `--bind=${stateDir}/containers:/var/lib/containers`,
    ...binds.map((bind) => `--bind${bind.readOnly ? '-ro' : ''}=${bind.host}:${bind.node}`),
  ];
}

const mask = (unit: string): VehicleNodeFile => ({ path: `/etc/systemd/system/${unit}`, symlink: '/dev/null' });

/** The node's own configuration, written into its upper layer before boot (the cached rootfs stays pristine). */
function nodeFiles(name: string): VehicleNodeFile[] {
  return [
    { path: '/etc/hostname', content: `${name}\n` },
    // Its socket activation fails with `accept4: operation not supported` here.
    mask('podman.service'),
    mask('systemd-modules-load.service'),
    // Most sysctls are machine-wide (kernel.core_pattern, kernel.pid_max): a test node must not set them.
    mask('systemd-sysctl.service'),
    {
      path: '/usr/local/libexec/vehicle-node-cgroup-rw',
      mode: 0o755,
      content: `#!/bin/sh
# Nested podman creates cgroups in the v1 hierarchies, which systemd-nspawn mounts read-only: make those bind
# mounts writable. The tmpfs holding them stays read-only, so no hierarchy can be added (or moved) from here.
while read -r _ _ _ _ mountpoint options rest; do
  case " $rest" in *" - cgroup "*) ;; *) continue ;; esac
  case ",$options," in *,ro,*) mount -o remount,rw,bind "$mountpoint" || exit 1 ;; esac
done </proc/self/mountinfo
`,
    },
    {
      path: '/etc/systemd/system/vehicle-node-cgroup-rw.service',
      content: `[Unit]
Description=Writable cgroup v1 controller mounts for nested containers
DefaultDependencies=no
Before=sysinit.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/libexec/vehicle-node-cgroup-rw
`,
    },
    {
      path: '/etc/systemd/system/sysinit.target.wants/vehicle-node-cgroup-rw.service',
      symlink: '../vehicle-node-cgroup-rw.service',
    },
    {
      path: '/etc/containers/containers.conf.d/50-vehicle-node.conf',
      content: `# From test/support/vehicle-node.ts: what podman needs inside a test vehicle node on these machines.
[containers]
# The host's hard limits cap the node's, and CAP_SYS_RESOURCE is not in the bounding set.
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
# crun refuses the hybrid cgroup layout.
runtime = "runc"

[network]
# netavark otherwise wants nft, which the node does not have.
firewall_driver = "iptables"
`,
    },
  ];
}

/** Writes one entry into the overlay's upper layer, creating parents with the lower layer's modes and owners. */
async function addFile(lower: string, upper: string, entry: VehicleNodeFile): Promise<void> {
  if (!entry.path.startsWith('/') || entry.path.split('/').includes('..')) {
    throw new Error(`vehicle node file ${entry.path}: must be an absolute path without '..'`);
  }
  const target = join(upper, entry.path);
  let dir = '';
  for (const part of relative(upper, dirname(target)).split('/').filter((p) => p !== '')) {
    dir = join(dir, part);
    if (existsSync(join(upper, dir))) continue;
    const model = await stat(join(lower, dir)).catch(() => undefined);
    await mkdir(join(upper, dir), { mode: model ? model.mode & 0o7777 : 0o755 });
    if (model) await chown(join(upper, dir), model.uid, model.gid);
  }
  if ('symlink' in entry) {
    if (await lstat(target).catch(() => undefined)) {
      if ((await readlink(target).catch(() => '')) === entry.symlink) return;
    }
    await symlink(entry.symlink, target);
    return;
  }
  await writeFile(target, entry.content);
  await chmod(target, entry.mode ?? 0o644);
}

function firstLine(supervisor: ChildProcessWithoutNullStreams): Promise<number> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: supervisor.stdout });
    const fail = (why: string) => reject(new Error(`supervisor ${why} before starting systemd-nspawn`));
    supervisor.once('error', (error) => fail(`failed (${error.message})`));
    supervisor.once('exit', (code) => fail(`exited with ${code}`));
    lines.once('line', (line) => {
      lines.close();
      (supervisor.stdout as Socket).unref();
      const pid = Number(line.trim());
      if (Number.isInteger(pid) && pid > 0) resolve(pid);
      else fail(`printed ${JSON.stringify(line)}`);
    });
  });
}

/** The node's PID 1: the child of systemd-nspawn (a subreaper) that lives in another pid namespace. */
async function findLeader(nspawnPid: number, timeoutMs: number): Promise<{ pid: number; pidNamespace: string }> {
  const deadline = performance.now() + timeoutMs;
  const hostNamespace = readlinkSync('/proc/self/ns/pid');
  while (performance.now() < deadline) {
    if (!isRunning(nspawnPid)) throw new Error(`systemd-nspawn (pid ${nspawnPid}) exited`);
    for (const entry of await readdir('/proc')) {
      if (!/^\d+$/.test(entry) || parentPid(Number(entry)) !== nspawnPid) continue;
      const pidNamespace = readLinkOrEmpty(`/proc/${entry}/ns/pid`);
      if (pidNamespace !== '' && pidNamespace !== hostNamespace) return { pid: Number(entry), pidNamespace };
    }
    await delay(10);
  }
  throw new Error(`no container PID 1 under systemd-nspawn (pid ${nspawnPid}) after ${timeoutMs} ms`);
}

/** The fields of /proc/PID/stat after the command name (which may contain spaces and parentheses). */
function statFields(pid: number): string[] | undefined {
  const text = readText(`/proc/${pid}/stat`);
  return text === '' ? undefined : text.slice(text.lastIndexOf(')') + 2).split(' ');
}

const parentPid = (pid: number): number | undefined => {
  const ppid = statFields(pid)?.[1];
  return ppid === undefined ? undefined : Number(ppid);
};

/** Running: exists and is not a zombie. */
const isRunning = (pid: number): boolean => {
  const state = statFields(pid)?.[0];
  return state !== undefined && state !== 'Z';
};

/** `pid starttime`, which names a process even after its pid is reused. */
function processIdentity(pid: number): string | undefined {
  const startTime = statFields(pid)?.[19];
  return startTime === undefined ? undefined : `${pid} ${startTime}`;
}

const sameProcess = (pid: number, pidNamespace: string | undefined): boolean =>
  isRunning(pid) && pidNamespace !== undefined && readLinkOrEmpty(`/proc/${pid}/ns/pid`) === pidNamespace;

function leftovers(
  stateDir: string,
  cgroups: readonly string[],
  leader: { pid: number; pidNamespace: string } | undefined,
): string[] {
  const left: string[] = [];
  if (leader && sameProcess(leader.pid, leader.pidNamespace)) left.push(`PID 1 (${leader.pid}) still running`);
  if (existsSync(stateDir)) left.push(`${stateDir} still there`);
  for (const dir of cgroups) if (existsSync(dir)) left.push(`cgroup ${dir} still there`);
  return left;
}

/** At process exit nothing can be awaited: signal the supervisor to tear down and wait for it synchronously. */
function stopSync(supervisorPid: number | undefined): void {
  if (supervisorPid === undefined || !isRunning(supervisorPid)) return;
  process.kill(supervisorPid, 'SIGTERM');
  const wait = 'for i in $(seq 300); do s=$(cat /proc/$1/stat 2>/dev/null) || exit 0; s=${s##*) }; [ "${s%% *}" = Z ] && exit 0; sleep 0.1; done';
  spawnSync('sh', ['-c', wait, 'sh', String(supervisorPid)], { stdio: 'ignore', timeout: 35_000 });
}

/**
 * Tears down nodes left by test processes that died without stopping them (SIGKILL, OOM): those whose owner and
 * supervisor are both gone. Everything in such a node was started by this fixture, in cgroups it created.
 */
export async function sweepOrphanedNodes(): Promise<string[]> {
  const swept: string[] = [];
  const entries = await readdir(nodesDir).catch(() => [] as string[]);
  for (const entry of entries) {
    const stateDir = join(nodesDir, entry);
    const owner = readText(join(stateDir, 'owner')).trim();
    const ownerAlive = owner !== '' && processIdentity(Number(owner.split(' ')[0])) === owner;
    const age = Date.now() - ((await stat(stateDir).catch(() => undefined))?.mtimeMs ?? 0);
    if (ownerAlive || (owner === '' && age < 60_000)) continue;
    // Its supervisor outlives the owner while it tears the node down.
    const supervisor = Number(readText(join(stateDir, 'supervisor.pid')).trim());
    if (supervisor > 1 && isRunning(supervisor) && readText(`/proc/${supervisor}/cmdline`).includes('vehicle-node-supervisor')) continue;
    const result = await runCommand([supervisorScript, 'teardown', stateDir]);
    if (result.code !== 0) console.error(`could not tear down orphaned vehicle node ${entry}: ${result.stderr}`);
    swept.push(entry);
  }
  return swept;
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

function readLinkOrEmpty(path: string): string {
  try {
    return readlinkSync(path);
  } catch {
    return '';
  }
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
