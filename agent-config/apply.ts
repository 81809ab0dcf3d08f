// From the host's agent configuration to the QM's agent.conf: read, validate whole, derive, render,
// compare, and only then write (atomically) and restart the QM agent when what it runs with changed.
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { readConfigFile } from '../controller/config-file.ts';
import { QmError } from '../controller/errors.ts';
import { quote } from '../controller/quote.ts';
import { checkControllerAllows } from './controller-allows.ts';
import { deriveQmAgentConfig, type DeriveOptions, type QmAgentConfig } from './derive.ts';
import { error, errorsIn, throwIfErrors, warning, type Diagnostic } from './diagnostics.ts';
import { settingChanges, describeChange, unifiedDiff, type SettingChange } from './diff.ts';
import { agentFiles, errnoOf, ioError, loadAgentFiles, MAX_AGENT_FILE_BYTES, writeFileAtomically, type AgentFiles } from './files.ts';
import { parseIni, type IniFile } from './ini.ts';
import { AGENT_SECTION, HOST_CONFIG_DIR, PACKAGED_DEFAULT } from './keys.ts';
import { BUILT_IN, builtInSettings, environmentSettings, fileSettings, mergeSettings, section, type Section, type Settings } from './merge.ts';
import { renderAgentConf, renderProblem } from './render.ts';
import type { RestartOutcome } from './restart.ts';
import { checkFiles, checkValues } from './validate.ts';

export const DEFAULT_ROOTFS = '/usr/lib/qm/rootfs';
/** Inside QM, where its own drop-ins go. */
const QM_DROP_IN_DIR = '/etc/bluechi/agent.conf.d';

export interface Locations {
  /** The host's BlueChi configuration directory (default /etc/bluechi). */
  readonly hostConfigDir?: string;
  /** The host's packaged default agent.conf. */
  readonly packagedDefault?: string;
  /** QM's root filesystem (default /usr/lib/qm/rootfs). */
  readonly rootfs?: string;
  /** The host directory QM sees as /etc (qm.container: Volume=${RWETCFS}:/etc); default <rootfs>/etc. */
  readonly rwetcfs?: string;
}

export interface ResolvedLocations {
  readonly hostConfigDir: string;
  readonly host: AgentFiles;
  readonly rootfs: string;
  readonly qmEtc: string;
  readonly qm: AgentFiles;
}

export function resolveLocations(locations: Locations = {}): ResolvedLocations {
  const rootfs = locations.rootfs ?? DEFAULT_ROOTFS;
  const qmEtc = locations.rwetcfs ?? join(rootfs, 'etc');
  const hostConfigDir = locations.hostConfigDir ?? HOST_CONFIG_DIR;
  return {
    hostConfigDir,
    host: agentFiles(locations.packagedDefault ?? PACKAGED_DEFAULT, hostConfigDir),
    rootfs,
    qmEtc,
    qm: agentFiles(join(rootfs, PACKAGED_DEFAULT), join(qmEtc, 'bluechi')),
  };
}

export interface AgentView {
  readonly files: readonly IniFile[];
  readonly settings: Settings;
  /** The [bluechi-agent] section the agent runs with, each key with its origin. */
  readonly agent: Section;
  readonly diagnostics: readonly Diagnostic[];
}

/** What an agent runs with, given its files in load order: built-in defaults, files, environment. */
export function agentView(files: readonly IniFile[], options: { hostname: string; env?: Readonly<Record<string, string | undefined>> }): AgentView {
  const settings = mergeSettings([
    builtInSettings(AGENT_SECTION, options.hostname),
    ...files.map(fileSettings),
    ...(options.env ? [environmentSettings(AGENT_SECTION, options.env)] : []),
  ]);
  const agent = section(settings, AGENT_SECTION);
  const checked = new Map([...agent].filter(([, setting]) => setting.file !== BUILT_IN));
  return { files, settings, agent, diagnostics: [...checkFiles(files), ...checkValues(checked)] };
}

export interface Rendered {
  readonly host: AgentView;
  readonly config: QmAgentConfig;
  readonly content: string;
  /** Every problem found; rendering only succeeds when none is an error. */
  readonly diagnostics: readonly Diagnostic[];
}

/** Pure: the QM's agent.conf from the host's parsed files. Throws the config error when any input is bad. */
export function renderFromHost(files: readonly IniFile[], options: DeriveOptions & { env?: Readonly<Record<string, string | undefined>> }): Rendered {
  const host = agentView(files, { hostname: options.hostname, ...(options.env ? { env: options.env } : {}) });
  const config = deriveQmAgentConfig(host.agent, options);
  // A value that cannot be written back (too long, with a key too long to continue it) is named where the host set it.
  const unwritable = [...config.settings].flatMap(([key, value]) => {
    const problem = renderProblem(key, value);
    const setting = host.agent.get(key);
    return problem ? [error(setting?.file ?? 'rendered agent.conf', setting?.line, key, problem)] : [];
  });
  const diagnostics = [...host.diagnostics, ...config.diagnostics, ...unwritable];
  throwIfErrors(diagnostics);
  const sources = files.filter((file) => !file.rejected).map((file) => file.file);
  const content = renderAgentConf(config, { sources, dropInDir: QM_DROP_IN_DIR });
  assertReadsBack(content, config);
  return { host, config, content, diagnostics };
}

/** The written file must read back, through the BlueChi parser, as exactly the derived settings. */
function assertReadsBack(content: string, config: QmAgentConfig): void {
  const parsed = parseIni(content, 'rendered agent.conf');
  const back = settingValues(section(fileSettings(parsed), AGENT_SECTION));
  const changes = settingChanges(config.settings, back);
  if (parsed.rejected || errorsIn(parsed.diagnostics).length > 0 || changes.length > 0) {
    throw new Error(`internal error: the rendered agent.conf does not read back as written: ${changes.map(describeChange).join('; ')}`);
  }
}

export function settingValues(agent: Section): Map<string, string | null> {
  return new Map([...agent].map(([key, setting]) => [key, setting.value]));
}

export interface RenderRequest extends DeriveOptions {
  readonly locations?: Locations;
}

/** Reads the host's files and renders; throws on io or config errors. */
export async function renderQmAgentConf(request: RenderRequest): Promise<Rendered & { readonly locations: ResolvedLocations; readonly fingerprint: string }> {
  const locations = resolveLocations(request.locations);
  const loaded = await loadAgentFiles(locations.host);
  const rendered = renderFromHost(loaded.files, request);
  // Only a controller on this host (reached through its socket) reads this host's controller.conf.
  const controller = rendered.config.controller.via === 'unix' ? await checkControllerAllows(locations.hostConfigDir, rendered.config.nodeName) : [];
  return { ...rendered, diagnostics: [...loaded.diagnostics, ...rendered.diagnostics, ...controller], locations, fingerprint: loaded.fingerprint };
}

/** The fingerprint of the host files as they are now (see LoadedFiles.fingerprint). */
export async function hostFingerprint(locations: ResolvedLocations): Promise<string> {
  return (await loadAgentFiles(locations.host)).fingerprint;
}

/** Inside QM the built-in NodeName would be the container's hostname, which the host cannot know. */
const QM_HOSTNAME = '(QM container hostname)';

export interface Plan {
  readonly locations: ResolvedLocations;
  readonly rendered: Rendered;
  /** The host files' fingerprint when they were read. */
  readonly fingerprint: string;
  readonly target: string;
  /** The target's current text; null when it does not exist. */
  readonly current: string | null;
  /** Key-by-key changes to the QM's agent.conf. */
  readonly changes: readonly SettingChange[];
  /** Changes to what the QM agent runs with, after QM's own drop-ins; a restart is due when any. */
  readonly effectiveChanges: readonly SettingChange[];
  readonly write: boolean;
  readonly restart: boolean;
  readonly diff: string;
  /** Warnings and errors from the host's files, the derivation, and the QM's own files. */
  readonly diagnostics: readonly Diagnostic[];
}

/** Everything apply would do, decided before touching anything. Throws on io or config errors. */
export async function planApply(request: RenderRequest): Promise<Plan> {
  const rendered = await renderQmAgentConf(request);
  const { locations } = rendered;
  await requireDirectory(locations.rootfs, 'QM rootfs', '--rootfs');
  await requireDirectory(locations.qmEtc, "directory QM sees as /etc", '--rwetcfs');
  const target = locations.qm.configFile;
  const current = await readText(target);

  const qmBefore = await loadAgentFiles(locations.qm);
  const qmAfter = await loadAgentFiles(locations.qm, { configFileContent: rendered.content });
  const before = agentView(qmBefore.files, { hostname: QM_HOSTNAME });
  const after = agentView(qmAfter.files, { hostname: QM_HOSTNAME });
  const currentSettings = current === null ? new Map<string, string | null>() : settingValues(section(fileSettings(parseIni(current, target)), AGENT_SECTION));

  const changes = settingChanges(currentSettings, rendered.config.settings);
  const effectiveChanges = settingChanges(settingValues(before.agent), settingValues(after.agent));
  const qmSide = [...qmAfter.diagnostics, ...after.diagnostics.filter((d) => d.file !== target)].map((d) => (d.severity === 'error' ? warning(d.file, d.line, d.field, `in QM's own configuration: ${d.message}`) : d));
  const diagnostics = [...rendered.diagnostics, ...dedupe(qmSide), ...overrides(after.agent, rendered.config, locations.qm.dropInDir)];
  const write = current !== rendered.content;
  return {
    locations,
    rendered,
    fingerprint: rendered.fingerprint,
    target,
    current,
    changes,
    effectiveChanges,
    write,
    restart: write && effectiveChanges.length > 0,
    diff: unifiedDiff(current ?? '', rendered.content, { before: current === null ? '/dev/null' : target, after: target }),
    diagnostics,
  };
}

/** QM drop-ins that override what was derived for QM: the QM agent will not use the derived value. */
function overrides(agent: Section, config: QmAgentConfig, dropInDir: string): Diagnostic[] {
  return [...config.settings.keys()]
    .filter((key) => ['NodeName', 'ControllerAddress', 'ControllerHost', 'ControllerPort'].includes(key))
    .flatMap((key) => {
      const setting = agent.get(key);
      if (!setting || !setting.file.startsWith(`${dropInDir}/`) || setting.value === config.settings.get(key)) return [];
      return [warning(setting.file, setting.line, key, `this QM drop-in overrides the derived ${key} ${quote(config.settings.get(key) ?? '')} with ${setting.value === null ? 'an empty value' : quote(setting.value)}`)];
    });
}

function dedupe(diagnostics: readonly Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  return diagnostics.filter((d) => {
    const key = JSON.stringify(d);
    return seen.has(key) ? false : (seen.add(key), true);
  });
}

async function requireDirectory(path: string, what: string, option: string): Promise<void> {
  try {
    const stat = await fs.stat(path);
    if (stat.isDirectory()) return;
    throw new QmError('io', `the ${what} is not a directory (give ${option})`, { file: path });
  } catch (error) {
    if (error instanceof QmError) throw error;
    if (errnoOf(error) === 'ENOENT') throw new QmError('io', `the ${what} does not exist (give ${option})`, { file: path });
    throw ioError(error, path, `cannot inspect the ${what}`);
  }
}

async function readText(path: string): Promise<string | null> {
  const read = await readConfigFile(path, MAX_AGENT_FILE_BYTES);
  if (read.ok) return read.bytes.toString('utf8');
  if (read.missing) return null;
  throw new QmError('io', `cannot read the current file: ${read.reason}`, { file: path }, { cause: read.cause });
}

export interface ApplyOptions {
  readonly dryRun?: boolean;
  /** Called only when the file was written and what the QM agent runs with changed. */
  readonly restart?: (plan: Plan) => Promise<RestartOutcome>;
  /** Receives one line per changed key, and what was done. */
  readonly log?: (line: string) => void;
}

export interface ApplyOutcome {
  readonly written: boolean;
  /** Where the replaced version was kept. */
  readonly previous?: string;
  readonly restart?: RestartOutcome;
}

/** Carries out a plan: writes only when the bytes differ, restarts only when the settings differ. */
export async function carryOut(plan: Plan, options: ApplyOptions = {}): Promise<ApplyOutcome> {
  if (options.dryRun || !plan.write) return { written: false };
  const log = options.log ?? (() => undefined);
  await fs.mkdir(join(plan.locations.qmEtc, 'bluechi'), { recursive: true }).catch((error: unknown) => {
    throw ioError(error, join(plan.locations.qmEtc, 'bluechi'), 'cannot create');
  });
  const { previous } = await writeFileAtomically(plan.target, plan.rendered.content, { keepPrevious: true });
  log(`wrote ${plan.target}${previous ? ` (previous version kept as ${previous})` : ''}`);
  for (const change of plan.changes) log(`changed ${describeChange(change)}`);
  if (!plan.restart) {
    log(plan.changes.length === 0 ? 'settings unchanged (only the header differs): no restart' : "what the QM agent runs with is unchanged (QM's own drop-ins decide): no restart");
    return previous ? { written: true, previous } : { written: true };
  }
  const restart = options.restart ? await options.restart(plan) : undefined;
  if (restart) log(restart.detail);
  return { written: true, ...(previous ? { previous } : {}), ...(restart ? { restart } : {}) };
}

export interface Round {
  readonly plan: Plan;
  readonly outcome: ApplyOutcome;
}

/**
 * Plans and carries out until the host's files are the same after a round as before it. A path unit
 * does not start its service again while it runs, so a change made during a run would otherwise wait
 * for the next one. Gives up re-running after `maxRounds` (the files keep changing).
 */
export async function applyUntilStable(request: RenderRequest, options: ApplyOptions & { readonly maxRounds?: number; readonly onRound?: (round: Round) => void } = {}): Promise<Round[]> {
  const rounds: Round[] = [];
  const maxRounds = options.maxRounds ?? 5;
  for (;;) {
    const plan = await planApply(request);
    const outcome = await carryOut(plan, options);
    const round = { plan, outcome };
    rounds.push(round);
    options.onRound?.(round);
    if (options.dryRun || rounds.length >= maxRounds || (await hostFingerprint(plan.locations)) === plan.fingerprint) return rounds;
    options.log?.("the host's configuration changed while it was applied: applying again");
  }
}

/** The QM agent's view as it is on disk now, for `show --effective`. */
export async function qmEffective(locations: Locations = {}): Promise<AgentView & { readonly locations: ResolvedLocations }> {
  const resolved = resolveLocations(locations);
  await requireDirectory(resolved.rootfs, 'QM rootfs', '--rootfs');
  const loaded = await loadAgentFiles(resolved.qm);
  const view = agentView(loaded.files, { hostname: QM_HOSTNAME });
  return { ...view, diagnostics: [...loaded.diagnostics, ...view.diagnostics], locations: resolved };
}

/** The host agent's view, for `show --host`. */
export async function hostEffective(locations: Locations, hostname: string): Promise<AgentView & { readonly locations: ResolvedLocations }> {
  const resolved = resolveLocations(locations);
  const loaded = await loadAgentFiles(resolved.host);
  const view = agentView(loaded.files, { hostname });
  return { ...view, diagnostics: [...loaded.diagnostics, ...view.diagnostics], locations: resolved };
}
