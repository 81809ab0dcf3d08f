// `qmctl check` as a library call: the isolation checks that are safe on a production vehicle, each by name, run
// from QM root, from a container nested in QM and from the host. The syscall probes are check/qm-probe.c (built
// into dist/qm-probe), copied into QM's writable /var and run there; every probe is a harmless variant whose
// permission check comes before any effect. Judging is pure (check-judge.ts); this file holds the effects.
import { spawn } from 'node:child_process';
import { copyFile, mkdir, readFile, readlink, rm, stat, statfs, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { QmError } from '../errors.ts';
import { requireQmRunning } from './container.ts';
import { decodeCapabilities, declaredCapabilities } from './check-capabilities.ts';
import {
  escapeCases,
  judgeEscape,
  judgeExists,
  judgeModules,
  judgeProbe,
  parseProbeLines,
  sysctlKeys,
  type CheckResult,
  type ProbeCase,
  type ProbeResult,
} from './check-judge.ts';
import { qmContainer, qmUnit } from './paths.ts';
import { qmInitPid, containerConfig } from './show.ts';
import { run } from './process.ts';
import { selinuxEnabled } from './selinux.ts';

export type { CheckResult, CheckStatus } from './check-judge.ts';

export interface CheckReport {
  readonly checks: readonly CheckResult[];
  readonly passed: number;
  readonly failed: number;
  readonly notApplicable: number;
  readonly seconds: number;
  readonly stress: boolean;
}

export interface CheckOptions {
  /** The checks that load the machine (memory pressure, fork bomb, disk). */
  readonly stress?: boolean;
  /** The probe executable; found next to qmctl when not given. */
  readonly probe?: string;
  readonly container?: string;
  /** One line per step, for a person watching. */
  readonly progress?: (line: string) => void;
}

/** Where qm-probe is: $QM_PROBE, next to the running qmctl (dist/), or where make install puts it (PREFIX/libexec/qm). */
export async function findProbe(explicit?: string): Promise<string> {
  const bin = process.argv[1] ? dirname(process.argv[1]) : undefined;
  const candidates = [explicit, process.env.QM_PROBE, bin && join(bin, 'qm-probe'), bin && join(bin, '..', 'libexec', 'qm', 'qm-probe'), '/usr/libexec/qm/qm-probe'];
  for (const candidate of candidates) {
    if (candidate && (await stat(candidate).catch(() => undefined))?.isFile()) return candidate;
  }
  throw new QmError('io', `qm-probe is not installed (looked for ${candidates.filter(Boolean).join(', ')}); build it with npm run build, or set QM_PROBE`);
}

/** The host directory podman mounts at `destination` in QM (qm.container's Volume= lines), if any. */
async function qmMountSource(container: string, destination: string): Promise<string | undefined> {
  const result = await run(['podman', 'container', 'inspect', '--format', '{{json .Mounts}}', container]);
  if (result.code !== 0) throw new QmError('io', `cannot read QM's mounts (podman inspect ${container}: ${result.stderr.trim()})`);
  return (JSON.parse(result.stdout) as Array<{ Source: string; Destination: string }>).find((mount) => mount.Destination === destination)?.Source;
}

/** The host directory podman mounts at QM's /var/tmp (RWVARFS/tmp in qm.container). */
async function qmVarTmp(container: string): Promise<string> {
  const varTmp = await qmMountSource(container, '/var/tmp');
  if (varTmp) return varTmp;
  const qmVar = await qmMountSource(container, '/var');
  if (!qmVar) throw new QmError('io', `cannot find the host directory behind QM's /var/tmp (podman inspect ${container}: no such mount)`);
  return join(qmVar, 'tmp');
}

/** argv for the probe running CASES one after another (';' between cases). */
const probeArgv = (probe: string, cases: readonly ProbeCase[]): string[] => [probe, ...cases.flatMap((c, index) => [...(index > 0 ? [';'] : []), ...c.argv])];

/** Runs the probe's cases where `prefix` says (podman exec qm …, or nothing for the host); one result per case. */
async function runProbe(prefix: readonly string[], probe: string, cases: readonly ProbeCase[]): Promise<ProbeResult[] | string> {
  const result = await run([...prefix, ...probeArgv(probe, cases)], { timeoutMs: 120_000 });
  const results = parseProbeLines(result.stdout);
  if (results.length !== cases.length) return `exit ${result.code}: ${(result.stderr.trim() || result.stdout.trim()).split('\n').slice(-3).join(' ')}`;
  return results;
}

async function text(path: string): Promise<string | undefined> {
  return (await readFile(path, 'utf8').catch(() => undefined))?.trim();
}

/** Field 22 of /proc/PID/stat. */
async function startTime(pid: number): Promise<string> {
  const stat = (await text(`/proc/${pid}/stat`)) ?? '';
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '0';
}

/** The first block device of the host (/proc/partitions), as MAJOR:MINOR. */
async function hostDisk(): Promise<string | undefined> {
  const rows = ((await text('/proc/partitions')) ?? '').split('\n').slice(1).map((line) => line.trim().split(/\s+/)).filter((fields) => fields.length === 4);
  return rows[0] ? `${rows[0][0]}:${rows[0][1]}` : undefined;
}

export async function check(options: CheckOptions = {}): Promise<CheckReport> {
  const started = performance.now();
  const container = options.container ?? qmContainer;
  const progress = options.progress ?? (() => undefined);
  const probe = await findProbe(options.probe);
  await requireQmRunning(container);
  const pid = await qmInitPid();
  const varTmp = await qmVarTmp(container);
  const workName = `qm-check-${process.pid}`;
  const work = join(varTmp, workName);
  const nestedRoot = join(work, 'nested');
  const inQmProbe = `/var/tmp/${workName}/qm-probe`;
  const checks: CheckResult[] = [];
  const add = (...results: CheckResult[]) => checks.push(...results);
  const shmMarker = `/dev/shm/${workName}`;
  // A service only the host's loopback should reach: QM (its own network namespace) must not connect to it.
  const loopbackPeers: string[] = [];
  const loopback = createServer((socket) => {
    loopbackPeers.push(`${socket.remoteAddress}:${socket.remotePort}`);
    socket.destroy();
  });
  await new Promise<void>((resolve, reject) => loopback.once('error', reject).listen(0, '127.0.0.1', resolve));
  const loopbackPort = String((loopback.address() as { port: number }).port);
  try {
    await mkdir(nestedRoot, { recursive: true, mode: 0o700 });
    await copyFile(probe, join(work, 'qm-probe'));
    await copyFile(probe, join(nestedRoot, 'qm-probe'));
    await writeFile(shmMarker, 'qmctl check\n');

    const host = { pid: String(process.pid), start: await startTime(process.pid), disk: await hostDisk() };
    const escapes = escapeCases(host);
    const fileCases: ProbeCase[] = [
      { name: 'check_dev_console', argv: ['exists', '/dev/console'] },
      { name: 'check_dev_disk', argv: ['exists', '/dev/disk'] },
      { name: 'check_dev_kmsg', argv: ['exists', '/dev/kmsg'] },
      { name: 'dev_mem_not_present', argv: ['exists', '/dev/mem'] },
      { name: 'check_etc_qm', argv: ['exists', '/etc/qm'] },
      { name: 'check_usr_lib_qm', argv: ['exists', '/usr/lib/qm'] },
      { name: 'check_usr_share_qm', argv: ['exists', '/usr/share/qm'] },
      { name: 'check_dev_shm', argv: ['exists', shmMarker] },
      { name: 'check_run_systemd_journal_socket', argv: ['exists', '/run/systemd/journal/socket'] },
      { name: 'check_run_udev_control', argv: ['exists', '/run/udev/control'] },
      { name: 'engine_socket', argv: ['exists', '/run/podman/podman.sock'] },
      { name: 'sys_read_only', argv: ['read_only', '/sys'] },
      { name: 'read_only_root', argv: ['read_only', '/'] },
      { name: 'deny_sched_setattr', argv: ['sched_setattr'] },
      { name: 'deny_set_scheduler', argv: ['sched_fifo'] },
      { name: 'mqueue', argv: ['mqueue', '5'] },
      { name: 'tcp_max_syn_backlog', argv: ['write_same', '/proc/sys/net/ipv4/tcp_max_syn_backlog'] },
      { name: 'host_loopback', argv: ['tcp_connect', '127.0.0.1', loopbackPort] },
    ];
    const nestedCases: ProbeCase[] = [
      { name: 'qm_nested', argv: ['oom_score_adj'] },
      { name: 'dev_mem_not_present', argv: ['exists', '/dev/mem'] },
      { name: 'sys_read_only', argv: ['read_only', '/sys'] },
      { name: 'deny_sched_setattr', argv: ['sched_setattr'] },
      { name: 'deny_set_scheduler', argv: ['sched_fifo'] },
      ...sysctlKeys.map((key) => ({ name: 'sysctl', argv: ['write_same', `/proc/sys/${key.replaceAll('.', '/')}`] })),
      { name: 'host_loopback', argv: ['tcp_connect', '127.0.0.1', loopbackPort] },
    ];

    progress(`Running ${fileCases.length + escapes.length} probes as QM root`);
    const qmResults = await runProbe(['podman', 'exec', container], inQmProbe, [...fileCases, ...escapes]);
    progress(`Running ${nestedCases.length + escapes.length} probes in a container nested in QM`);
    const nestedResults = await runProbe(
      ['podman', 'exec', container, 'podman', 'run', '--rm', '--network', 'none', '--rootfs', `/var/tmp/${workName}/nested`],
      '/qm-probe',
      [...nestedCases, ...escapes],
    );
    progress('Reading QM from the host');
    const hostResults = await runProbe([], probe, [
      { name: 'mqueue', argv: ['mqueue', '1'] },
      { name: 'keyctl', argv: ['keyring'] },
      { name: 'check_run_systemd_journal_socket', argv: ['exists', '/run/systemd/journal/socket'] },
      { name: 'check_run_udev_control', argv: ['exists', '/run/udev/control'] },
      { name: 'host_loopback', argv: ['tcp_connect', '127.0.0.1', loopbackPort] },
    ]);
    const hostReached = typeof hostResults === 'string' ? undefined : hostResults[4];
    const judgeLoopback = (from: 'qm' | 'nested', result: ProbeResult): CheckResult => ({
      name: 'host_loopback',
      from,
      // The listener sees every connection: the host's own is the only one it may have seen.
      status: result.outcome === 'refused' && hostReached?.outcome === 'allowed' && loopbackPeers.length <= 1 ? 'pass' : 'fail',
      ...(result.errno ? { errno: result.errno } : {}),
      evidence: `${result.evidence}${result.errno ? ` (${result.errno})` : ''}; from the host: ${hostReached?.evidence ?? 'the probe did not run'}; the host's loopback service saw ${loopbackPeers.length} connection(s)`,
    });

    const hostKeyring = typeof hostResults === 'string' ? undefined : hostResults[1];
    const hostFacts = {
      journalSocket: typeof hostResults === 'string' ? undefined : hostResults[2],
      udevControl: typeof hostResults === 'string' ? undefined : hostResults[3],
      keyring: hostKeyring?.outcome === 'allowed' ? hostKeyring.evidence : undefined,
    };
    if (typeof qmResults === 'string') add({ name: 'probe', from: 'qm', status: 'fail', evidence: `the probe did not run in QM: ${qmResults}` });
    else {
      for (const [index, item] of fileCases.entries()) {
        const result = qmResults[index]!;
        if (item.name === 'mqueue') {
          const hostMqueue = typeof hostResults === 'string' ? undefined : hostResults[0];
          add(judgeProbe(item.name, 'qm', result, { pass: (r) => r.outcome === 'refused' && r.errno === 'ENOSPC' && /queues_max 4\b/.test(r.evidence), figures: mqueueFigures(result) }));
          add({
            name: 'mqueue',
            from: 'host',
            status: hostMqueue?.outcome === 'allowed' ? 'pass' : 'fail',
            evidence: hostMqueue ? `after QM's queues ran out, the host ${hostMqueue.evidence}` : 'the probe did not run on the host',
          });
          continue;
        }
        if (item.name === 'tcp_max_syn_backlog') {
          add(await judgeSynBacklog(result, pid));
          continue;
        }
        if (item.name === 'host_loopback') {
          add(judgeLoopback('qm', result));
          continue;
        }
        if (item.name === 'check_run_systemd_journal_socket') {
          add(judgeExists(item.name, 'qm', result, hostFacts.journalSocket));
          continue;
        }
        if (item.name === 'check_run_udev_control') {
          add(judgeExists(item.name, 'qm', result, hostFacts.udevControl));
          continue;
        }
        if (item.argv[0] === 'exists') add(judgeExists(item.name, 'qm', result));
        else add(judgeProbe(item.name, 'qm', result));
      }
      const escapeResults = qmResults.slice(fileCases.length);
      add(...escapes.map((item, index) => judgeEscape(item, 'qm', escapeResults[index]!, hostFacts)));
    }
    if (typeof nestedResults === 'string') add({ name: 'qm_nested', from: 'nested', status: 'fail', evidence: `a nested container did not run: ${nestedResults}` });
    else {
      for (const [index, item] of nestedCases.entries()) {
        const result = nestedResults[index]!;
        if (item.name === 'host_loopback') add(judgeLoopback('nested', result));
        else if (item.name === 'qm_nested') add({ name: 'qm_nested', from: 'nested', status: 'pass', evidence: `podman run --rm --rootfs in QM ran the probe (oom_score_adj ${result.evidence})` });
        else if (item.argv[0] === 'exists') add(judgeExists(item.name, 'nested', result));
        else add(judgeProbe(item.name, 'nested', result, item.name === 'sysctl' ? { note: item.argv[1] } : {}));
      }
      const escapeResults = nestedResults.slice(nestedCases.length);
      add(...escapes.map((item, index) => judgeEscape(item, 'nested', escapeResults[index]!, hostFacts)));
    }
    add(judgeModules(checks));
    add(...(await hostChecks(pid, typeof nestedResults === 'string' ? undefined : nestedResults[0])));
    if (options.stress) {
      const inQm = ['podman', 'exec', container, inQmProbe];
      const inNested = ['podman', 'exec', container, 'podman', 'run', '--rm', '--network', 'none', '--rootfs', `/var/tmp/${workName}/nested`, '/qm-probe'];
      progress('Memory pressure: a hog in QM, then one in a nested container, each until the OOM killer ends it');
      add(await memoryPressure('qm', [...inQm, 'memory_hog']));
      add(await memoryPressure('nested', [...inNested, 'memory_hog']));
      progress("Fork bomb: in QM, then in a nested container, until qm.service's pids limit refuses a fork; the host forks meanwhile");
      add(await forkBomb('qm', inQm));
      add(await forkBomb('nested', inNested));
      progress("Disk: QM's /var filled from QM and from a nested container, where it is a filesystem of its own");
      const fill = `qm-check-fill-${process.pid}`;
      add(
        ...(await diskFill(container, [
          { from: 'qm', probe: inQm, path: `/var/${fill}`, hostPath: (qmVar) => join(qmVar, fill) },
          { from: 'nested', probe: inNested, path: `/${fill}`, hostPath: () => join(nestedRoot, fill) },
        ])),
      );
    }
  } finally {
    loopback.close();
    await rm(work, { recursive: true, force: true }).catch(() => undefined);
    await rm(shmMarker, { force: true }).catch(() => undefined);
  }
  const count = (status: CheckResult['status']) => checks.filter((result) => result.status === status).length;
  return {
    checks: mergeSysctl(checks),
    passed: count('pass'),
    failed: count('fail'),
    notApplicable: count('not-applicable'),
    seconds: Math.round((performance.now() - started) / 100) / 10,
    stress: options.stress ?? false,
  };
}

/** The five nested sysctl writes are one check, `sysctl`, passing only when every write was refused. */
function mergeSysctl(checks: CheckResult[]): CheckResult[] {
  const parts = checks.filter((result) => result.name === 'sysctl');
  if (parts.length === 0) return checks;
  const merged: CheckResult = {
    name: 'sysctl',
    from: 'nested',
    status: parts.every((part) => part.status === 'pass') ? 'pass' : 'fail',
    evidence: parts.map((part) => part.evidence).join('; '),
    figures: { refused: parts.filter((part) => part.status === 'pass').length, tried: parts.length },
  };
  const first = checks.indexOf(parts[0]!);
  return [...checks.slice(0, first).filter((r) => r.name !== 'sysctl'), merged, ...checks.slice(first).filter((r) => r.name !== 'sysctl')];
}

function mqueueFigures(result: ProbeResult): Record<string, number> {
  const created = /created (\d+)/.exec(result.evidence);
  const max = /queues_max (\d+)/.exec(result.evidence);
  return { ...(created ? { created: Number(created[1]) } : {}), ...(max ? { queuesMax: Number(max[1]) } : {}) };
}

/** Refused in QM; or, if QM may write it, only in its own network namespace (the host's value stays). */
async function judgeSynBacklog(result: ProbeResult, pid: number): Promise<CheckResult> {
  const hostValue = await text('/proc/sys/net/ipv4/tcp_max_syn_backlog');
  const figures: Record<string, number> = hostValue ? { host: Number(hostValue) } : {};
  if (result.outcome === 'refused') return { name: 'tcp_max_syn_backlog', from: 'qm', status: 'pass', ...(result.errno ? { errno: result.errno } : {}), evidence: `${result.evidence}; the host's value stays ${hostValue}`, figures };
  const ownNet = (await readlinkSafe(`/proc/${pid}/ns/net`)) !== (await readlinkSafe('/proc/self/ns/net'));
  return {
    name: 'tcp_max_syn_backlog',
    from: 'qm',
    status: ownNet ? 'pass' : 'fail',
    evidence: ownNet ? `${result.evidence}, but only in QM's own network namespace; the host's value stays ${hostValue}` : `${result.evidence}, and QM shares the host's network namespace: it would change the host's`,
    figures,
  };
}

async function readlinkSafe(path: string): Promise<string> {
  return readlink(path).catch(() => '');
}

/** What is read from the host about QM: capabilities, OOM scores, cgroup, namespaces, the unit, SELinux. */
async function hostChecks(pid: number, nestedOom: ProbeResult | undefined): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const status = (await text(`/proc/${pid}/status`)) ?? '';
  const mask = (key: string) => new RegExp(`^${key}:\\s*([0-9a-f]+)$`, 'm').exec(status)?.[1] ?? '0';
  const capEff = mask('CapEff');
  const capBnd = mask('CapBnd');
  const held = decodeCapabilities(capEff);
  const declared = declaredCapabilities((await containerConfig()).map((file) => file.sections));
  const beyond = held.filter((capability) => !declared.allowed.has(capability));
  results.push({
    name: 'capabilities',
    from: 'host',
    status: beyond.length === 0 ? 'pass' : 'fail',
    evidence: `QM init CapEff ${capEff} CapBnd ${capBnd}: ${held.length} capabilities (${held.join(' ')}); the unit declares ${declared.text}${beyond.length > 0 ? `; held beyond it: ${beyond.join(' ')}` : ''}`,
    figures: { capEff, capBnd, held: held.length },
  });

  const serviceOom = (await run(['systemctl', 'show', '-P', 'OOMScoreAdjust', qmUnit])).stdout.trim();
  const initOom = await text(`/proc/${pid}/oom_score_adj`);
  const nested = nestedOom?.outcome === 'allowed' ? nestedOom.evidence : undefined;
  results.push({
    name: 'qm-oom-score-adj',
    from: 'host',
    status: serviceOom === '500' && initOom === '500' && nested === '750' ? 'pass' : 'fail',
    evidence: `qm.service OOMScoreAdjust ${serviceOom || '?'}, QM init ${initOom ?? '?'}, a nested container ${nested ?? '?'} (want 500, 500, 750)`,
    figures: { service: Number(serviceOom), init: Number(initOom), nested: Number(nested) },
  });

  const controlGroup = (await run(['systemctl', 'show', '-P', 'ControlGroup', qmUnit])).stdout.trim();
  const cgroupLines = ((await text(`/proc/${pid}/cgroup`)) ?? '').split('\n');
  const placed = cgroupLines.filter((line) => /:(memory|pids|cpu[^:]*|name=systemd)?:/.test(line) && line.split(':')[1] !== '');
  const outside = cgroupLines.filter((line) => /:(memory|pids):/.test(line) && !line.split(':').slice(2).join(':').startsWith(controlGroup));
  results.push({
    name: 'cgroup',
    from: 'host',
    status: controlGroup !== '' && outside.length === 0 ? 'pass' : 'fail',
    evidence: `qm.service's cgroup is ${controlGroup || '(none)'}; QM init is in ${placed.filter((line) => /:(memory|pids):/.test(line)).map((line) => line.split(':').slice(1).join(':')).join(', ')}${outside.length > 0 ? `; outside it: ${outside.join(', ')}` : ''}`,
  });

  // The cgroup namespace is reported, not required: podman shares it on cgroup v1, where QM's cgroup mounts show
  // only its own subtree, read-only (cgroup and sys_read_only above).
  const namespaces = ['pid', 'net', 'ipc', 'mnt', 'uts'];
  const shared: string[] = [];
  for (const type of namespaces) if ((await readlinkSafe(`/proc/${pid}/ns/${type}`)) === (await readlinkSafe(`/proc/self/ns/${type}`))) shared.push(type);
  const cgroupShared = (await readlinkSafe(`/proc/${pid}/ns/cgroup`)) === (await readlinkSafe('/proc/self/ns/cgroup'));
  results.push({
    name: 'namespaces',
    from: 'host',
    status: shared.length === 0 ? 'pass' : 'fail',
    evidence: `${shared.length === 0 ? `QM has its own ${namespaces.join(', ')} namespaces: the host's loopback-only services and pids are out of its reach` : `QM shares the host's ${shared.join(', ')} namespace(s)`}; the cgroup namespace is ${cgroupShared ? "the host's (podman's default on cgroup v1)" : "QM's own"}`,
  });

  const unit = (await run(['systemctl', 'show', '-p', 'LoadState,ActiveState,SourcePath,FragmentPath', qmUnit])).stdout;
  const property = (key: string) => new RegExp(`^${key}=(.*)$`, 'm').exec(unit)?.[1] ?? '';
  const fromQuadlet = property('LoadState') === 'loaded' && property('SourcePath').endsWith('/qm.container') && property('FragmentPath').startsWith('/run/systemd/generator');
  results.push({
    name: 'qm-unit-files',
    from: 'host',
    status: fromQuadlet && property('ActiveState') === 'active' ? 'pass' : 'fail',
    evidence: `qm.service ${property('LoadState')} ${property('ActiveState')}, generated at ${property('FragmentPath') || '?'} from ${property('SourcePath') || '?'}`,
  });

  if (!(await selinuxEnabled())) results.push({ name: 'selinux', from: 'host', status: 'not-applicable', evidence: 'not applicable: SELinux is not enabled on this host' });
  else {
    const label = (await text(`/proc/${pid}/attr/current`))?.replace(/\0/g, '') ?? '';
    results.push({ name: 'selinux', from: 'host', status: /:qm_t:/.test(label) ? 'pass' : 'fail', evidence: `QM init runs as ${label || '(no label)'} (want qm_t)` });
  }
  return results;
}

/** The kernel's count of OOM kills so far, memory cgroups' included (/proc/vmstat oom_kill). */
async function oomKills(): Promise<number> {
  return Number(/^oom_kill (\d+)$/m.exec((await text('/proc/vmstat')) ?? '')?.[1] ?? 0);
}

/** The host's MemAvailable, in bytes. */
async function memAvailable(): Promise<number> {
  return Number(/^MemAvailable:\s+(\d+) kB$/m.exec((await text('/proc/meminfo')) ?? '')?.[1] ?? 0) * 1024;
}

/**
 * Upstream's FFI "memory" check, for real: a host process standing in for an ASIL service holds memory (OOM
 * score 0, as host services have), and a hog where `from` says allocates until the machine (or the cgroup
 * QM lives in) runs out. It passes when the OOM killer ended the hog with SIGKILL while the stand-in and QM's
 * init lived on; the figures are how long the hog ran and how long the host took to get its memory back.
 */
async function memoryPressure(from: 'qm' | 'nested', hog: readonly string[]): Promise<CheckResult> {
  // It says "ready" once its memory is filled, so the hog starts against memory really held.
  const asil = spawn(process.execPath, ['-e', 'const b = Buffer.alloc(64 * 1024 * 1024, 1); process.stdout.write("ready\\n"); setInterval(() => { b[0]++; }, 1000);'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  try {
    await new Promise<void>((resolve, reject) => {
      asil.stdout.once('data', () => resolve());
      asil.once('exit', (code, signal) => reject(new QmError('io', `the host process standing in for an ASIL service ended before it held its memory (${signal ?? `exit ${code}`})`)));
    });
    const initBefore = await qmInitPid();
    const availableBefore = await memAvailable();
    const killsBefore = await oomKills();
    const started = performance.now();
    const result = await run(hog, { timeoutMs: 300_000 });
    const ranMs = performance.now() - started;
    let available = await memAvailable();
    while (available < availableBefore - 64 * 1024 * 1024 && performance.now() - started < ranMs + 10_000) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      available = await memAvailable();
    }
    const backMs = performance.now() - started - ranMs;
    const line = parseProbeLines(result.stdout)[0];
    const kills = (await oomKills()) - killsBefore;
    const killed = line?.outcome === 'error' && /status 9\)/.test(line.evidence) && kills > 0;
    const asilAlive = asil.exitCode === null && asil.signalCode === null;
    const initAfter = await qmInitPid().catch(() => undefined);
    const problems = [
      ...(killed ? [] : [`the hog was not OOM-killed (the kernel's OOM kills meanwhile: ${kills}): ${line ? line.evidence : `exit ${result.code}: ${result.stderr.trim().slice(-200)}`}`]),
      ...(asilAlive ? [] : [`the host process standing in for an ASIL service was killed (${asil.signalCode ?? asil.exitCode})`]),
      ...(initAfter === initBefore ? [] : ["QM's init was killed"]),
    ];
    const where = from === 'qm' ? 'in QM' : 'in a container nested in QM';
    return stressVerdict(
      'memory',
      from,
      problems,
      () =>
        `a hog ${where} was OOM-killed (SIGKILL, the kernel counted ${kills} OOM kill(s)) after ${(ranMs / 1000).toFixed(1)} s; a host process holding 64 MiB (OOM score 0) and QM's init lived on; the host had its memory back ${(backMs / 1000).toFixed(2)} s later`,
      { hogSeconds: Math.round(ranMs) / 1000, memoryBackSeconds: Math.round(backMs) / 1000, oomKills: kills },
    );
  } finally {
    asil.kill('SIGKILL');
  }
}

/** qm.service's directory in the pids controller: the v1 hierarchy holding `pids`, else the unified (v2) one. */
async function qmPidsCgroup(): Promise<string | undefined> {
  const controlGroup = (await run(['systemctl', 'show', '-P', 'ControlGroup', qmUnit])).stdout.trim();
  if (controlGroup === '') return undefined;
  const mounts = ((await text('/proc/self/mountinfo')) ?? '').split('\n').map((line) => {
    const [before = '', after = ''] = line.split(' - ');
    const [type = '', , options = ''] = after.split(' ');
    return { point: before.split(' ')[4] ?? '', type, options: options.split(',') };
  });
  for (const mount of [mounts.find((m) => m.type === 'cgroup' && m.options.includes('pids')), mounts.find((m) => m.type === 'cgroup2')]) {
    const dir = mount && join(mount.point, controlGroup);
    if (dir && (await stat(join(dir, 'pids.max')).catch(() => undefined))) return dir;
  }
  return undefined;
}

/** The most tasks the fork bomb is let run to: a higher pids limit is reported, not tried. */
const forkBombMost = 32_768;
/** How long the bomb holds QM at its limit; the host forks meanwhile. */
const forkBombHoldMs = 3000;
const hostForks = 10;

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** `true` run `hostForks` times on the host, one after another; `holding` tells whether the bomb still held when they were done. */
async function forkOnHost(holding: () => boolean): Promise<{ ran: number; failures: string[]; slowestMs: number; duringBomb: boolean }> {
  let ran = 0;
  let slowestMs = 0;
  const failures: string[] = [];
  for (let index = 0; index < hostForks; index++) {
    const started = performance.now();
    const result = await run(['true']).catch((error: unknown) => ({ code: -1, stderr: (error as Error).message }));
    slowestMs = Math.max(slowestMs, performance.now() - started);
    if (result.code === 0) ran++;
    else failures.push(result.stderr.trim() || `exit ${result.code}`);
  }
  return { ran, failures, slowestMs, duringBomb: holding() };
}

/**
 * Upstream's FFI "fork bomb" check, for real: a bomb where `from` says forks until the kernel refuses (qm.service's
 * TasksMax, as pids.max), holds its tasks while the host forks `hostForks` children, then is killed. It passes when
 * a fork was refused with EAGAIN (from QM: with qm.service at its pids.max; nested: at it or at a limit within QM),
 * every host fork ran during the bomb and QM's init lived on; the figures are the tasks QM reached and how long
 * its task count took to come back once the bomb ended.
 */
async function forkBomb(from: 'qm' | 'nested', probe: readonly string[]): Promise<CheckResult> {
  const dir = await qmPidsCgroup();
  if (!dir) return { name: 'fork_bomb', from, status: 'fail', evidence: "cannot find qm.service's pids cgroup (its ControlGroup in a pids hierarchy of /proc/self/mountinfo): nothing limits its tasks that qmctl can see" };
  const read = async (file: string) => (await text(join(dir, file))) ?? '';
  const maxText = await read('pids.max');
  const max = Number(maxText);
  if (!Number.isInteger(max) || max > forkBombMost) {
    const tasksMax = (await run(['systemctl', 'show', '-P', 'TasksMax', qmUnit])).stdout.trim();
    const reach =
      maxText === 'max'
        ? `the kernel holds no pids limit for qm.service although its TasksMax is ${tasksMax || '?'} (systemd did not apply it): a fork bomb in QM is stopped only by the host-wide limits, so it was not tried`
        : `a fork bomb in QM runs to ${maxText} tasks before the kernel stops it (TasksMax ${tasksMax || '?'}); this check forks at most ${forkBombMost} processes, so it was not tried (give qm.service a lower TasksMax in a drop-in)`;
    return { name: 'fork_bomb', from, status: 'fail', evidence: `${dir}/pids.max is ${maxText}: ${reach}`, figures: { pidsMax: maxText, tasksMax } };
  }
  const tasks = async () => Number(await read('pids.current'));
  const before = await tasks();
  const initBefore = await qmInitPid();
  let peak = before;
  let ending: number | undefined;
  let back: number | undefined;
  let host: ReturnType<typeof forkOnHost> | undefined;
  const sampler = setInterval(() => {
    void tasks().then((count) => {
      peak = Math.max(peak, count);
      if (ending !== undefined && back === undefined && count <= before) back = performance.now();
    });
  }, 10);
  let result: Awaited<ReturnType<typeof run>>;
  try {
    result = await run([...probe, 'fork_bomb', String(max), String(forkBombHoldMs)], {
      timeoutMs: 120_000,
      onLine: (line) => {
        if (line.endsWith('fork_bomb: holding')) host ??= forkOnHost(() => ending === undefined);
        else if (line.endsWith('fork_bomb: ending')) ending ??= performance.now();
      },
    });
    while (ending !== undefined && back === undefined && performance.now() - ending < 10_000) await delay(20);
  } finally {
    clearInterval(sampler);
  }
  const forked = await host;
  const line = parseProbeLines(result.stdout)[0];
  const number = (pattern: RegExp) => Number(pattern.exec(line?.evidence ?? '')?.[1] ?? Number.NaN);
  const refused = line?.outcome === 'refused' && line.errno === 'EAGAIN';
  const atLimit = peak >= max;
  const initAfter = await qmInitPid().catch(() => undefined);
  const where = from === 'qm' ? 'in QM' : 'in a container nested in QM';
  const limitText = `QM's tasks (qm.service's pids.current) went from ${before} to ${peak}, pids.max ${max}`;
  const problems = [
    ...(refused ? [] : [`the bomb ${where} was not refused with EAGAIN: ${line ? `${line.evidence}${line.errno ? ` (${line.errno})` : ''}` : `exit ${result.code}: ${result.stderr.trim().split('\n').slice(-2).join(' ')}`}`]),
    ...(refused && from === 'qm' && !atLimit ? [`${limitText}: the fork was refused below qm.service's limit`] : []),
    ...(forked === undefined
      ? ['the host did not fork: the bomb never reached a limit']
      : forked.ran < hostForks || !forked.duringBomb
        ? [`the host forked ${forked.ran} of ${hostForks} children${forked.duringBomb ? '' : ', and not all while the bomb held'}${forked.failures.length > 0 ? `: ${forked.failures[0]}` : ''}`]
        : []),
    ...(initAfter === initBefore ? [] : ["QM's init was killed"]),
  ];
  const backMs = back !== undefined && ending !== undefined ? back - ending : undefined;
  const backText = backMs === undefined ? `QM's tasks were not back to ${before} within 10 s of its end` : `QM's tasks were back to ${before} ${(backMs / 1000).toFixed(2)} s after it ended`;
  const heldBy = atLimit ? "qm.service's pids limit" : "a pids limit within QM, below qm.service's";
  return stressVerdict(
    'fork_bomb',
    from,
    problems,
    () =>
      `a fork bomb ${where} forked ${number(/forked (\d+)/)} processes in ${number(/in (\d+) ms/)} ms, then fork failed with EAGAIN: ${heldBy} held (${limitText}); meanwhile the host forked ${forked!.ran} of ${hostForks} children (the slowest in ${forked!.slowestMs.toFixed(0)} ms); the bomb was killed and reaped, ${backText}; QM's init lived on`,
    {
      qmTasksBefore: before,
      qmTasksPeak: peak,
      pidsMax: max,
      bombForked: number(/forked (\d+)/),
      limitReachedMs: number(/in (\d+) ms/),
      hostForks: forked?.ran ?? 0,
      hostForkSlowestMs: Math.round(forked?.slowestMs ?? 0),
      ...(backMs === undefined ? {} : { tasksBackSeconds: Math.round(backMs) / 1000 }),
    },
    limitText,
  );
}

const MiB = 1024 * 1024;
/** The most a fill writes, so a large partition takes bounded time. */
const fillMostMiB = 64 * 1024;
/** A fall in the host's free space beyond this during a fill stops it: it is filling the host's disk. */
const fillGuardMiB = 256;

interface FillCase {
  readonly from: 'qm' | 'nested';
  readonly probe: readonly string[];
  /** The fill file as the probe sees it. */
  readonly path: string;
  /** The same file on the host, given QM's /var there. */
  readonly hostPath: (qmVar: string) => string;
}

const freeBytes = async (path: string) => {
  const fs = await statfs(path);
  return fs.bavail * fs.bsize;
};

/** Device numbers as the kernel prints them, MAJOR:MINOR. */
const deviceName = (dev: number) => `${(dev >>> 8) & 0xfff}:${(dev & 0xff) | ((dev >>> 12) & 0xfff00)}`;

/**
 * Whether two paths share their space: one device, or one pool seen through two (a btrfs subvolume, an overlay over
 * the same disk), which shows as the same size and nearly the same free space.
 */
async function sameSpace(a: string, b: string): Promise<boolean> {
  const [statA, statB] = await Promise.all([stat(a), stat(b)]);
  if (statA.dev === statB.dev) return true;
  const [fsA, fsB] = await Promise.all([statfs(a), statfs(b)]);
  return fsA.bsize === fsB.bsize && fsA.blocks === fsB.blocks && Math.abs(fsA.bfree - fsB.bfree) * fsA.bsize < fillGuardMiB * MiB;
}

/**
 * Upstream's FFI "disk" check: filling QM's /var leaves the host's space. Where QM's /var is on the host's own
 * filesystem that cannot hold, so it fails from what is read, without writing anything; where it is a filesystem of
 * its own, each case fills it until ENOSPC and passes when the host's free space on / (and /var) stayed.
 */
async function diskFill(container: string, cases: readonly FillCase[]): Promise<CheckResult[]> {
  const qmVar = await qmMountSource(container, '/var');
  if (!qmVar) return [{ name: 'disk', from: 'host', status: 'fail', evidence: `QM's /var is not a host directory (podman inspect ${container}): nothing to fill` }];
  const hostPaths = (await sameSpace('/', '/var')) ? ['/'] : ['/', '/var'];
  const shared: string[] = [];
  for (const path of hostPaths) if (await sameSpace(qmVar, path)) shared.push(path);
  const device = deviceName((await stat(qmVar)).dev);
  if (shared.length > 0) {
    return [
      {
        name: 'disk',
        from: 'host',
        status: 'fail',
        evidence: `QM's /var is ${qmVar}, on the host's own filesystem (device ${device}, the space of the host's ${shared.join(' and ')}): filling QM's /var would fill the host's, so nothing was written. Upstream expects a filesystem of its own there: mount a partition or a filesystem image at ${qmVar} before qm.service starts`,
        figures: { device, hostFreeMiB: Math.floor((await freeBytes('/')) / MiB) },
      },
    ];
  }
  const results: CheckResult[] = [];
  for (const item of cases) results.push(await fillOnce(item, qmVar, device, hostPaths));
  return results;
}

async function fillOnce(item: FillCase, qmVar: string, device: string, hostPaths: readonly string[]): Promise<CheckResult> {
  const hostFile = item.hostPath(qmVar);
  const stopFile = `${hostFile}.stop`;
  const before = await Promise.all(hostPaths.map(freeBytes));
  const lowest = [...before];
  const qmVarFs = await statfs(qmVar);
  // Root may write the reserved blocks too: room for all of it, plus a margin that shows the write ended on ENOSPC.
  const capMiB = Math.min(Math.ceil((qmVarFs.bfree * qmVarFs.bsize) / MiB) + 64, fillMostMiB);
  const guard = setInterval(() => {
    void Promise.all(hostPaths.map(freeBytes)).then((now) => {
      for (const [index, free] of now.entries()) {
        lowest[index] = Math.min(lowest[index]!, free);
        if (before[index]! - free > fillGuardMiB * MiB) void writeFile(stopFile, '').catch(() => undefined);
      }
    });
  }, 50);
  let result: Awaited<ReturnType<typeof run>>;
  let leftBehind = false;
  try {
    result = await run([...item.probe, 'fill', item.path, String(capMiB)], { timeoutMs: 600_000 });
  } finally {
    clearInterval(guard);
    leftBehind = (await stat(hostFile).catch(() => undefined)) !== undefined;
    await rm(hostFile, { force: true }).catch(() => undefined);
    await rm(stopFile, { force: true }).catch(() => undefined);
  }
  const line = parseProbeLines(result.stdout)[0];
  const written = Number(/wrote (\d+) MiB/.exec(line?.evidence ?? '')?.[1] ?? 0);
  const fillMs = Number(/in (\d+) ms/.exec(line?.evidence ?? '')?.[1] ?? Number.NaN);
  // Filling the host's filesystem would lower its free space by all that was written: half of it, at most 64 MiB, is the bar.
  const toleranceMiB = Math.max(1, Math.min(written / 2, 64));
  const drops = before.map((free, index) => (free - lowest[index]!) / MiB);
  const full = line?.outcome === 'refused' && line.errno === 'ENOSPC';
  const where = item.from === 'qm' ? 'from QM' : 'from a container nested in QM';
  const hostText = hostPaths.map((path, index) => `${path} ${drops[index]! > 0 ? 'fell' : 'moved'} by ${Math.max(0, drops[index]!).toFixed(1)} MiB`).join(', ');
  const problems = [
    ...(full ? [] : [`the fill ${where} did not end with ENOSPC: ${line ? `${line.evidence}${line.errno ? ` (${line.errno})` : ''}` : `exit ${result.code}: ${result.stderr.trim().split('\n').slice(-2).join(' ')}`}`]),
    ...(drops.some((drop) => drop > toleranceMiB) ? [`the host's free space fell during the fill (${hostText}; tolerance ${toleranceMiB.toFixed(1)} MiB)`] : []),
    ...(leftBehind ? [`the probe left ${hostFile} behind (qmctl removed it)`] : []),
  ];
  return stressVerdict(
    'disk',
    item.from,
    problems,
    () =>
      `QM's /var (${qmVar} on the host, a filesystem of its own, device ${device}) filled ${where}: ${line!.evidence}; the host's free space stayed (${hostText}; tolerance ${toleranceMiB.toFixed(1)} MiB)`,
    { writtenMiB: written, fillSeconds: Math.round(fillMs) / 1000, hostFreeFellMiB: Math.round(Math.max(0, ...drops) * 10) / 10, toleranceMiB: Math.round(toleranceMiB * 10) / 10 },
  );
}

/**
 * A --stress check's result: a pass described by `passed` when nothing went wrong, else the problems are the
 * evidence (followed by `context`, where the reader needs it to judge them).
 */
function stressVerdict(
  name: string,
  from: CheckResult['from'],
  problems: readonly string[],
  passed: () => string,
  figures: NonNullable<CheckResult['figures']>,
  context?: string,
): CheckResult {
  if (problems.length === 0) return { name, from, status: 'pass', evidence: passed(), figures };
  return { name, from, status: 'fail', evidence: context ? `${problems.join('; ')} (${context})` : problems.join('; '), figures };
}
