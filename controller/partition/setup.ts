// `qmctl setup` as a library call: what upstream's setup script does, validated first, recorded so
// `--remove` takes away exactly what setup made, and safe to run again.
import { statfs } from 'node:fs/promises';
import { lstat, mkdir, readdir, readFile, readlink, rename, rm, symlink, chmod, rmdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { carryOut, planApply } from '../../agent-config/apply.ts';
import { QmError } from '../errors.ts';
import type { Systemd } from '../systemd/client.ts';
import { adminDropInDir, gateExecutable, gateUnits, installDir, qmContainer, qmUnit, quadletFile, systemUnitDir, vendorDropInDir } from './paths.ts';
import { exists, nearestExisting, previousVersion, writeFileAtomic } from './files.ts';
import { distroOf, parseOsRelease } from './platform.ts';
import { preflight, type PlatformFacts, type Preflight } from './preflight.ts';
import { onPath, run, runChecked } from './process.ts';
import { hostIdRanges, qmContainerIds, qmStorageConf, setupDropIn, withIdRange, withoutLines, type PlatformTraits } from './qm-config.ts';
import { agentProbe, buildCommand, cachedTarball, rootfsCacheDir, rootfsRecipe, tarOptions, type RootfsRecipe } from './rootfs.ts';
import { findDefaultProfile, hostProfileOptions, installNoRtProfile, noRtProfilePath } from './seccomp.ts';
import { labelPlan, moduleLoaded, policyModule, selinuxEnabled, skippedMessage, unlabelCommands, type Equivalence } from './selinux.ts';
import { isWithin, type SetupOptions } from './setup-options.ts';

export const manifestPath = join(installDir, 'setup.json');
export const setupDropInPath = join(adminDropInDir, '50-qmctl-setup.conf');
const rootfsStamp = join(installDir, 'rootfs.key');
const quadletCandidates = ['/usr/libexec/podman/quadlet', '/usr/lib/podman/quadlet'];
const generatorCandidates = ['/usr/lib/systemd/system-generators/podman-system-generator', ...quadletCandidates];

/** What setup made, so that --remove takes away exactly that (and a re-run adds to it). */
export interface Manifest {
  readonly version: 1;
  readonly rootfs: string;
  readonly rwetcfs: string;
  readonly rwvarfs: string;
  /** Files setup created (each removed with its .previous). */
  readonly files: string[];
  /** Directory trees setup created (removed whole). */
  readonly dirs: string[];
  /** Lines setup appended to files it did not create (/etc/subuid …). */
  readonly lines: Array<{ readonly file: string; readonly line: string }>;
  /** QM's /etc and /var once filled from the rootfs (absent in manifests of earlier versions: non-empty means filled). */
  readonly seeded?: string[];
  /** SELinux file-context equivalence rules setup added for trees outside the policy's own paths. */
  readonly labels?: Equivalence[];
}

export interface SetupIo {
  /** One line per step, for a person watching. */
  progress(line: string): void;
  warn(line: string): void;
  /** Connects to the host's systemd; only called when systemctl steps run. */
  systemd(): Promise<Systemd>;
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
}

export interface SetupReport {
  readonly rootfs: 'built' | 'cache' | 'current';
  readonly rootfsSeconds: number;
  readonly packages: readonly string[];
  readonly changed: readonly string[];
  /** QM's systemd state after start; undefined with --skip-systemctl. */
  readonly qmState?: string;
  /** Seconds from the start job to QM's systemd running. */
  readonly bootSeconds?: number;
  readonly warnings: readonly string[];
}

/** Where setup's own files come from: the source tree's units/ (qmctl run from it or its dist/), or a package's install. */
export interface UnitSources {
  readonly qmContainer: string;
  readonly containersConf: string;
  readonly dropInDir: string;
  /** Holds the gate's socket and service units. */
  readonly unitDir: string;
  /** The SELinux contexts file for QM's podman (qm-selinux installs it; only read where SELinux is enabled). */
  readonly selinuxContexts: string;
}

const treeSources = (units: string): UnitSources => ({
  qmContainer: join(units, 'qm.container'),
  containersConf: join(units, 'containers.conf'),
  dropInDir: join(units, 'qm.container.d'),
  unitDir: units,
  selinuxContexts: join(dirname(units), 'selinux', 'qm_contexts'),
});

/** Where a package (or make install) puts them: setup then writes each file onto itself, which changes nothing. */
export const packageSources: UnitSources = {
  qmContainer: quadletFile,
  containersConf: join(installDir, 'containers.conf'),
  dropInDir: vendorDropInDir,
  unitDir: systemUnitDir,
  selinuxContexts: join(installDir, 'contexts'),
};

/**
 * $QM_UNITS_DIR, else a units/ directory above this module (the source tree, or its dist/), else the packaged files
 * (qmctl at /usr/bin/qmctl has no units/ beside it).
 */
export async function findUnitSources(env: NodeJS.ProcessEnv = process.env): Promise<UnitSources> {
  if (env.QM_UNITS_DIR) return treeSources(env.QM_UNITS_DIR);
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 5; depth++) {
    if (await exists(join(dir, 'units', 'qm.container'))) return treeSources(join(dir, 'units'));
    dir = dirname(dir);
  }
  if ((await exists(packageSources.qmContainer)) && (await exists(packageSources.containersConf))) return packageSources;
  throw new QmError('io', `cannot find qm's units/ directory (qm.container) next to qmctl, nor an installed ${packageSources.qmContainer}; set QM_UNITS_DIR`);
}

const firstExisting = async (paths: readonly string[]) => {
  for (const path of paths) if (await exists(path)) return path;
  return undefined;
};

/** Observes the machine for preflight; reads, never writes. */
export async function observePlatform(options: SetupOptions): Promise<PlatformFacts & PlatformTraits & { recipe?: RootfsRecipe }> {
  const podman = await run(['podman', '--version']).catch(() => undefined);
  const [mmdebstrap, debootstrap, dnf, zstd] = await Promise.all(['mmdebstrap', 'debootstrap', 'dnf', 'zstd'].map(onPath));
  const space = await statfs(await nearestExisting(dirname(options.rootfs)));
  const osRelease = await readFile('/etc/os-release', 'utf8').catch(() => readFile('/usr/lib/os-release', 'utf8').catch(() => undefined));
  let recipe: RootfsRecipe | undefined;
  try {
    const distro = distroOf(parseOsRelease(osRelease ?? ''));
    const hasAgent = (await run(agentProbe(distro)).catch(() => undefined))?.code === 0;
    recipe = rootfsRecipe(distro, hasAgent);
  } catch {
    // preflight reports the distribution problem, with the others.
  }
  const stamp = (await readFile(rootfsStamp, 'utf8').catch(() => '')).trim();
  return {
    uid: process.getuid?.() ?? -1,
    osRelease,
    podmanVersion: podman?.code === 0 ? podman.stdout : undefined,
    quadlet: await firstExisting(quadletCandidates),
    tools: { mmdebstrap: mmdebstrap!, debootstrap: debootstrap!, dnf: dnf! },
    freeBytes: space.bavail * space.bsize,
    rootfsCurrent: recipe !== undefined && stamp === recipe.key && (await exists(join(options.rootfs, 'sbin', 'init'))),
    rootfsCached: recipe !== undefined && ((zstd! && (await exists(cachedTarball(recipe, true)))) || (await exists(cachedTarball(recipe, false)))),
    systemdBooted: await exists('/run/systemd/system'),
    defaultSeccomp: await findDefaultProfile().catch(() => undefined),
    selinux: await selinuxEnabled(),
    ...(recipe ? { recipe } : {}),
  };
}

export async function readManifest(): Promise<Manifest | undefined> {
  const text = await readFile(manifestPath, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as Manifest;
  } catch (error) {
    throw new QmError('config', `${manifestPath} is not valid JSON: ${(error as Error).message}`, { file: manifestPath });
  }
}

/** Tracks what this run creates, on top of what earlier runs recorded. */
class Record {
  readonly files = new Set<string>();
  readonly dirs = new Set<string>();
  readonly lines: Array<{ file: string; line: string }> = [];
  readonly seeded = new Set<string>();
  readonly labels: Equivalence[] = [];
  /** The earlier manifest predates `seeded`. */
  readonly legacy: boolean;
  readonly changed: string[] = [];
  constructor(
    private readonly options: SetupOptions,
    earlier: Manifest | undefined,
  ) {
    earlier?.files.forEach((file) => this.files.add(file));
    earlier?.dirs.forEach((dir) => this.dirs.add(dir));
    earlier?.seeded?.forEach((dir) => this.seeded.add(dir));
    this.labels.push(...(earlier?.labels ?? []));
    this.legacy = earlier !== undefined && earlier.seeded === undefined;
    if (earlier) this.lines.push(...earlier.lines);
  }
  async dir(path: string, mode?: number): Promise<void> {
    const first = await mkdir(path, { recursive: true, ...(mode ? { mode } : {}) });
    if (first !== undefined && ![...this.dirs].some((dir) => isWithin(first, dir))) this.dirs.add(first);
    if (mode) await chmod(path, mode);
  }
  async write(path: string, content: string, mode?: number): Promise<void> {
    await this.dir(dirname(path));
    const hadPrevious = await exists(previousVersion(path));
    const outcome = await writeFileAtomic(path, content, mode ? { mode } : {});
    if (outcome === 'created') this.files.add(path);
    // The previous version of a file setup changed but did not make (/etc/subuid) is setup's own: --remove takes it.
    if (outcome === 'replaced' && !hadPrevious && !this.files.has(path)) this.files.add(previousVersion(path));
    if (outcome !== 'unchanged') this.changed.push(path);
  }
  async link(path: string, target: string): Promise<void> {
    if ((await readlink(path).catch(() => undefined)) === target) return;
    await this.dir(dirname(path));
    await rm(path, { force: true });
    await symlink(target, path);
    this.files.add(path);
    this.changed.push(path);
  }
  async appendIdRange(file: string, name: string, range: string): Promise<void> {
    const before = await readFile(file, 'utf8').catch(() => '');
    const { text, added } = withIdRange(before, name, range);
    if (added === undefined) return;
    await this.write(file, text);
    if (!this.files.has(file)) this.lines.push({ file, line: added });
  }
  manifest(): Manifest {
    const { rootfs, rwetcfs, rwvarfs } = this.options;
    return { version: 1, rootfs, rwetcfs, rwvarfs, files: [...this.files].sort(), dirs: [...this.dirs].sort(), lines: this.lines, seeded: [...this.seeded].sort(), labels: this.labels };
  }
}

/** The whole setup. Throws a QmError (nothing written) when preflight fails. */
export async function setup(options: SetupOptions, io: SetupIo): Promise<SetupReport> {
  const warnings: string[] = [];
  const warn = (line: string) => {
    warnings.push(line);
    io.warn(line);
  };
  // Validate everything before acting: our files, the options against an earlier setup, the machine.
  const sources = await findUnitSources();
  const qmContainerText = await readFile(sources.qmContainer, 'utf8');
  const nestedConf = await readFile(sources.containersConf, 'utf8');
  const vendorDropIns = await readDropIns(sources.dropInDir);
  const gateFiles = await Promise.all(gateUnits.map(async (name) => [name, await readFile(join(sources.unitDir, name), 'utf8')] as const));
  const gate = await gateExecStartDropIn(gateFiles.find(([name]) => name.endsWith('.service'))![1]);
  const earlier = await readManifest();
  if (earlier && (earlier.rootfs !== options.rootfs || earlier.rwetcfs !== options.rwetcfs || earlier.rwvarfs !== options.rwvarfs)) {
    throw new QmError(
      'usage',
      `QM is already set up with --rootfs ${earlier.rootfs} --rwetcfs ${earlier.rwetcfs} --rwvarfs ${earlier.rwvarfs}; run qmctl setup --remove first to move it`,
      { file: manifestPath },
    );
  }
  const facts = await observePlatform(options);
  const dropIn = setupDropIn(options, facts);
  const checked = preflight(options, facts, dropIn !== undefined || vendorDropIns.length > 0);
  const recipe = facts.recipe!;
  const rootfsCurrent = facts.rootfsCurrent;
  await validateQuadlet(qmContainerText, vendorDropIns, dropIn);
  let selinuxContexts: string | undefined;
  if (facts.selinux) {
    selinuxContexts = await readFile(sources.selinuxContexts, 'utf8').catch(() => undefined);
    const modules = await run(['semodule', '-l']).catch(() => undefined);
    if (modules?.code !== 0 || !moduleLoaded(modules.stdout) || selinuxContexts === undefined) {
      throw new QmError('config', `SELinux is enabled but its policy has no '${policyModule}' module (semodule -l) or ${sources.selinuxContexts} is missing: QM's types qm_t and qm_file_t would name nothing. Install the qm-selinux package, then run qmctl setup again`);
    }
  }
  io.progress(`Setting up QM on ${checked.distro.prettyName} with podman ${checked.podman.text}: rootfs ${options.rootfs}, /etc from ${options.rwetcfs}, /var from ${options.rwvarfs}`);

  const record = new Record(options, earlier);
  const saveRecord = () => record.write(manifestPath, `${JSON.stringify(record.manifest(), null, 2)}\n`);
  let systemd: Systemd | undefined;
  try {
    if (!options.skipSystemctl) {
      systemd = await io.systemd();
      if ((await activeState(systemd)) !== 'inactive') {
        io.progress('Stopping qm.service to update it');
        await systemd.runJob('stop', qmUnit);
      }
    }
    await record.dir(installDir);
    await saveRecord();

    io.progress(`Installing ${noRtProfilePath} (from ${checked.defaultSeccomp}), ${quadletFile} and drop-ins`);
    const seccompOutcome = await installNoRtProfile(checked.defaultSeccomp, noRtProfilePath, await hostProfileOptions());
    if (seccompOutcome === 'created') record.files.add(noRtProfilePath);
    await record.write(join(installDir, 'containers.conf'), nestedConf);
    await record.write(quadletFile, qmContainerText);
    for (const [name, text] of vendorDropIns) await record.write(join(vendorDropInDir, name), text);
    if (dropIn) await record.write(setupDropInPath, dropIn);
    else if (await exists(setupDropInPath)) await rm(setupDropInPath);
    for (const [name, text] of gateFiles) await record.write(join(systemUnitDir, name), text);
    if (gate.missing) warn(gate.missing);
    if (gate.dropIn) await record.write(gateDropInPath, gate.dropIn);
    else if (await exists(gateDropInPath)) await rm(gateDropInPath);

    const rootfsStarted = performance.now();
    const rootfsSource = rootfsCurrent ? 'current' : await provideRootfs(options, recipe, checked, record, io);
    const rootfsSeconds = (performance.now() - rootfsStarted) / 1000;
    await record.write(rootfsStamp, `${recipe.key}\n`);

    io.progress(`Preparing ${options.rwetcfs} (QM's /etc) and ${options.rwvarfs} (QM's /var)`);
    await seedFrom(join(options.rootfs, 'etc'), options.rwetcfs, record);
    await seedFrom(join(options.rootfs, 'var'), options.rwvarfs, record);
    await record.dir(join(options.rwvarfs, 'tmp'), 0o1777);
    await record.dir(join(options.rwvarfs, 'tmp.images'));
    await record.dir(join(options.rwvarfs, 'lib', 'shared'));
    await saveRecord();

    io.progress("Configuring QM's own podman (nested containers), ids, and systemd");
    const qmEtc = options.rwetcfs;
    await record.write(join(qmEtc, 'containers', 'containers.conf'), nestedConf);
    const storageBase =
      (await readFile(join(qmEtc, 'containers', 'storage.conf'), 'utf8').catch(() => undefined)) ??
      (await readFile(join(options.rootfs, 'usr/share/containers/storage.conf'), 'utf8').catch(() => undefined));
    await record.write(join(qmEtc, 'containers', 'storage.conf'), qmStorageConf(storageBase));
    for (const file of ['subuid', 'subgid']) await record.appendIdRange(join(qmEtc, file), 'containers', qmContainerIds);
    // QM loads no kernel modules (it lacks CAP_SYS_MODULE): the unit could only fail, and QM would boot degraded.
    await record.link(join(qmEtc, 'systemd/system/systemd-modules-load.service'), '/dev/null');

    io.progress(`Writing QM's bluechi agent configuration (NodeName=qm.${options.hostname})`);
    const agentPlan = await planApply({ hostname: options.hostname, hostnameFrom: '--hostname', locations: { rootfs: options.rootfs, rwetcfs: qmEtc } });
    const agentExisted = await exists(agentPlan.target);
    const agentOutcome = await carryOut(agentPlan);
    if (agentOutcome.written) record.changed.push(agentPlan.target);
    if (!agentExisted && agentOutcome.written) record.files.add(agentPlan.target);
    const agentUnit = 'usr/lib/systemd/system/bluechi-agent.service';
    if (await exists(join(options.rootfs, agentUnit))) {
      for (const message of new Set(agentPlan.diagnostics.filter((d) => d.severity !== 'error').map((d) => d.message))) warn(`agent config: ${message}`);
      await record.link(join(qmEtc, 'systemd/system/multi-user.target.wants/bluechi-agent.service'), `/${agentUnit}`);
    } else {
      warn(`${checked.distro.prettyName} does not package bluechi-agent: its configuration is written, but QM runs no agent until one is installed`);
    }

    if (facts.selinux) {
      io.progress(`Labelling ${options.rootfs}, ${options.rwetcfs} and ${options.rwvarfs} for SELinux (qm_file_t)`);
      // QM's podman labels nested containers from this file: the rootfs's own names container_t, which qm_t may not enter.
      await record.write(join(options.rootfs, 'usr/share/containers/selinux/contexts'), selinuxContexts!);
      const plan = labelPlan(options);
      for (const command of plan.commands) await runChecked(command, { signal: io.signal });
      for (const rule of plan.equivalences) if (!record.labels.some((known) => known.path === rule.path)) record.labels.push(rule);
    } else {
      io.progress(skippedMessage);
    }

    for (const { name, range } of hostIdRanges) {
      for (const file of ['/etc/subuid', '/etc/subgid']) await record.appendIdRange(file, name, range);
    }
    await saveRecord();

    if (!systemd) {
      io.progress('Skipping systemctl: run `systemctl daemon-reload && systemctl start qm.service` to start QM');
      return { rootfs: rootfsSource, rootfsSeconds, packages: recipe.packages, changed: record.changed, warnings };
    }
    io.progress('Reloading systemd and starting qm.service');
    await systemd.reload();
    const started = performance.now();
    const job = await systemd.runJob('start', qmUnit, 'replace', io.timeoutMs);
    if (job.result !== 'done') throw await startFailure(`starting qm.service ended '${job.result}'`);
    const qmState = await waitForQmSystemd(io.timeoutMs - (performance.now() - started), io.signal);
    const bootSeconds = (performance.now() - started) / 1000;
    if (qmState.state !== 'running') {
      throw await startFailure(`QM's systemd is ${qmState.state}${qmState.failed.length ? `; failed units inside QM: ${qmState.failed.join(', ')}` : ''}`);
    }
    io.progress(`QM is running (systemd inside reached 'running' ${bootSeconds.toFixed(2)} s after the start)`);
    return { rootfs: rootfsSource, rootfsSeconds, packages: recipe.packages, changed: record.changed, qmState: qmState.state, bootSeconds, warnings };
  } finally {
    if (await exists(installDir)) await saveRecord().catch(() => undefined);
  }
}

const gateDropInPath = join(systemUnitDir, 'qm-bluechi-gate.service.d', '50-qmctl-setup.conf');

/**
 * Where the gate's unit names a program that is not there (qmctl runs from the source tree, not from a package), the
 * gate runs from beside this qmctl: a drop-in naming node and dist/qm-bluechi-gate.cjs. Undefined when it is there.
 */
async function gateExecStartDropIn(serviceText: string): Promise<{ dropIn?: string; missing?: string }> {
  const program = /^ExecStart=(\S+)/m.exec(serviceText)?.[1] ?? gateExecutable;
  if (await exists(program)) return {};
  const beside = process.argv[1] ? join(dirname(process.argv[1]), 'qm-bluechi-gate.cjs') : undefined;
  if (!beside || !(await exists(beside))) {
    return { missing: `qm-bluechi-gate is neither at ${program} nor beside qmctl (npm run build makes dist/qm-bluechi-gate.cjs): QM's agent cannot reach the controller until it is` };
  }
  const dropIn = `# qmctl setup: this qmctl runs from ${dirname(beside)}, not from a package, so the gate runs from there too.
[Service]
ExecStart=
ExecStart=${process.execPath} ${beside}
`;
  return { dropIn };
}

async function readDropIns(dir: string): Promise<Array<[string, string]>> {
  const names = (await readdir(dir).catch(() => [] as string[])).filter((name) => name.endsWith('.conf')).sort();
  return Promise.all(names.map(async (name) => [name, await readFile(join(dir, name), 'utf8')] as [string, string]));
}

/** Runs quadlet on the files about to be installed, in a scratch directory: a file it cannot convert stops setup here. */
async function validateQuadlet(qmContainerText: string, vendorDropIns: ReadonlyArray<[string, string]>, dropIn: string | undefined): Promise<void> {
  const generator = await firstExisting(generatorCandidates);
  if (!generator) return;
  const scratch = join('/run', `qm-setup-${process.pid}`);
  await rm(scratch, { recursive: true, force: true });
  try {
    await mkdir(join(scratch, 'qm.container.d'), { recursive: true });
    await writeFileAtomic(join(scratch, 'qm.container'), qmContainerText, { keepPrevious: false });
    for (const [name, text] of vendorDropIns) await writeFileAtomic(join(scratch, 'qm.container.d', name), text, { keepPrevious: false });
    if (dropIn) await writeFileAtomic(join(scratch, 'qm.container.d', '50-qmctl-setup.conf'), dropIn, { keepPrevious: false });
    const result = await run([generator, '--dryrun'], { env: { ...process.env, QUADLET_UNIT_DIRS: scratch } });
    if (result.code !== 0 || !result.stdout.includes('---qm.service---')) {
      throw new QmError('config', `quadlet cannot convert qm.container: ${(result.stderr || result.stdout).trim().split('\n').slice(-5).join('\n')}`, { file: quadletFile });
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** Puts the recipe's rootfs in place: from the cached tarball when there, else built (and then cached). */
async function provideRootfs(options: SetupOptions, recipe: RootfsRecipe, checked: Preflight, record: Record, io: SetupIo): Promise<'built' | 'cache'> {
  const zstd = await onPath('zstd');
  const cached = await firstExisting([cachedTarball(recipe, true), cachedTarball(recipe, false)]);
  const staging = `${options.rootfs}.new`;
  await rm(staging, { recursive: true, force: true });
  await record.dir(dirname(options.rootfs));
  await mkdir(staging, { recursive: true });
  let source: 'built' | 'cache';
  try {
    if (cached && (cached.endsWith('.gz') || zstd)) {
      io.progress(`Unpacking QM's rootfs from ${cached}`);
      await runChecked(['tar', ...tarOptions, '-I', cached.endsWith('.zst') ? 'zstd' : 'gzip', '-C', staging, '-xpf', cached], { signal: io.signal });
      source = 'cache';
    } else {
      io.progress(`Building QM's rootfs with ${checked.tool} (${recipe.distro.release}: ${recipe.packages.join(' ')}); this takes a minute or two`);
      await runChecked(buildCommand(checked.tool, recipe, staging), {
        env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
        onLine: (line) => io.progress(`  ${checked.tool}: ${line}`),
        signal: io.signal,
      });
      const tarball = cachedTarball(recipe, zstd);
      io.progress(`Caching it as ${tarball}`);
      await mkdir(rootfsCacheDir, { recursive: true });
      const partial = `${tarball}.${process.pid}.partial`;
      await runChecked(['tar', ...tarOptions, '-I', zstd ? 'zstd -T0 -3' : 'gzip', '-C', staging, '-cf', partial, '.'], { signal: io.signal });
      await rename(partial, tarball);
      source = 'built';
    }
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
  const old = `${options.rootfs}.old`;
  if (await exists(options.rootfs)) {
    await rm(old, { recursive: true, force: true });
    await rename(options.rootfs, old);
  } else if (![...record.dirs].some((dir) => isWithin(options.rootfs, dir))) {
    record.dirs.add(options.rootfs);
  }
  await rename(staging, options.rootfs);
  await rm(old, { recursive: true, force: true });
  return source;
}

/**
 * Fills QM's writable /etc or /var from the rootfs the first time only: later runs keep what QM changed there. Files
 * already there (a drop-in sub-package's /etc/qm/containers/containers.conf.d, installed before setup) are kept.
 */
async function seedFrom(source: string, target: string, record: Record): Promise<void> {
  const filled = record.seeded.has(target) || (record.legacy && (await exists(target)) && (await readdir(target)).length > 0);
  await record.dir(target);
  if (!filled && (await exists(source))) await runChecked(['cp', '-a', '--no-clobber', `${source}/.`, `${target}/`]);
  record.seeded.add(target);
}

async function activeState(systemd: Systemd): Promise<string> {
  const state = await systemd.unitProperty(qmUnit, 'org.freedesktop.systemd1.Unit', 'ActiveState').catch(() => 'inactive');
  return String(state);
}

async function startFailure(what: string): Promise<QmError> {
  const journal = await run(['journalctl', '--no-pager', '--lines=60', `--unit=${qmUnit}`]).catch(() => undefined);
  return new QmError('job-failed', `${what}\n--- journal of ${qmUnit} ---\n${journal?.stdout.trim() || '(no journal)'}`, { unit: qmUnit });
}

export interface QmSystemState {
  /** `systemctl is-system-running` inside QM, `unknown` when it never answered, `offline` when qm.service is down. */
  readonly state: string;
  readonly failed: readonly string[];
  /** When state is `offline`: qm.service's state on the host (`inactive`, `failed`). */
  readonly qmService?: string;
}

/**
 * Waits until QM's own systemd has finished booting (running, or any state boot cannot leave by itself). It stops
 * early, `offline`, when qm.service on the host is inactive or failed: nothing would ever boot.
 */
export async function waitForQmSystemd(timeoutMs: number, signal?: AbortSignal): Promise<QmSystemState> {
  const deadline = performance.now() + Math.max(timeoutMs, 1000);
  let state = 'unknown';
  while (performance.now() < deadline && !signal?.aborted) {
    const result = await run(['podman', 'exec', qmContainer, 'systemctl', 'is-system-running'], { timeoutMs: 10_000 });
    state = result.stdout.trim() || 'unknown';
    if (['running', 'degraded', 'maintenance', 'stopping'].includes(state)) break;
    if (state === 'unknown') {
      // No answer: QM's container is not there yet, or its systemd has no socket yet. Unless qm.service is down.
      const qmService = (await run(['systemctl', 'is-active', qmUnit], { timeoutMs: 10_000 })).stdout.trim();
      if (qmService === 'inactive' || qmService === 'failed') return { state: 'offline', failed: [], qmService };
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  if (state === 'running') return { state, failed: [] };
  const failed = await run(['podman', 'exec', qmContainer, 'systemctl', 'list-units', '--state=failed', '--plain', '--no-legend']);
  return { state, failed: failed.stdout.split('\n').map((line) => line.trim().split(/\s+/)[0] ?? '').filter(Boolean) };
}

export interface RemoveReport {
  readonly removed: readonly string[];
  readonly unmounted: readonly string[];
  readonly found: boolean;
}

/** Stops QM and removes what the manifest says setup made; with no manifest there is nothing of ours to remove. */
export async function removeSetup(options: SetupOptions, io: SetupIo): Promise<RemoveReport> {
  const manifest = await readManifest();
  if (!manifest) {
    io.progress(`Nothing to remove: no QM setup recorded at ${manifestPath}`);
    return { removed: [], unmounted: [], found: false };
  }
  if (process.getuid?.() !== 0) throw new QmError('access-denied', `qmctl setup --remove must run as root (running as uid ${process.getuid?.()})`);
  let systemd: Systemd | undefined;
  if (!options.skipSystemctl && (await exists('/run/systemd/system'))) {
    systemd = await io.systemd();
    if ((await activeState(systemd)) !== 'inactive') {
      io.progress('Stopping qm.service');
      await systemd.runJob('stop', qmUnit, 'replace', io.timeoutMs);
    }
  }
  if ((await run(['podman', 'container', 'exists', qmContainer]).catch(() => undefined))?.code === 0) {
    io.progress('Removing the qm container');
    await runChecked(['podman', 'rm', '--force', '--ignore', qmContainer]);
  }
  if (manifest.labels?.length && (await selinuxEnabled())) {
    for (const command of unlabelCommands(manifest.labels)) await run(command);
  }
  const trees = [manifest.rootfs, manifest.rwetcfs, manifest.rwvarfs];
  const unmounted = await unmountBelow(trees);
  const removed: string[] = [];
  for (const { file, line } of manifest.lines) {
    const text = await readFile(file, 'utf8').catch(() => undefined);
    if (text === undefined) continue;
    const without = withoutLines(text, [line]);
    if (without !== text) {
      await writeFileAtomic(file, without, { keepPrevious: false });
      removed.push(`${file}: ${line}`);
    }
  }
  for (const path of [...manifest.files, ...manifest.files.map(previousVersion)]) {
    if (await lstat(path).catch(() => undefined)) {
      await rm(path, { force: true });
      removed.push(path);
    }
  }
  for (const dir of [...manifest.dirs].sort((a, b) => b.length - a.length)) {
    if (await exists(dir)) {
      await rm(dir, { recursive: true, force: true });
      removed.push(dir);
    }
  }
  for (const leftover of [`${manifest.rootfs}.new`, `${manifest.rootfs}.old`, manifestPath, rootfsStamp]) {
    if (await exists(leftover)) {
      await rm(leftover, { recursive: true, force: true });
      removed.push(leftover);
    }
  }
  // Empty directories setup's files lived in (qm.container.d/, /usr/share/qm) go too, never one with others' files.
  for (const dir of [dirname(setupDropInPath), vendorDropInDir, dirname(gateDropInPath), installDir]) await rmdir(dir).catch(() => undefined);
  if (systemd) {
    io.progress('Reloading systemd');
    await systemd.reload();
  }
  io.progress(`Removed QM: ${removed.length} paths${unmounted.length ? `, ${unmounted.length} mounts` : ''}`);
  return { removed, unmounted, found: true };
}

/** Unmounts every mount at or below `trees`, deepest first. */
async function unmountBelow(trees: readonly string[]): Promise<string[]> {
  const mountinfo = await readFile('/proc/self/mountinfo', 'utf8');
  const points = mountinfo
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((point): point is string => point !== undefined && trees.some((tree) => isWithin(unescapeMount(point), tree)))
    .map(unescapeMount)
    .sort((a, b) => b.length - a.length);
  for (const point of points) {
    const result = await run(['umount', point]);
    if (result.code !== 0) await runChecked(['umount', '--lazy', point]);
  }
  return points;
}

const unescapeMount = (point: string) => point.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
