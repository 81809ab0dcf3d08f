// An in-memory systemd for one node, after systemd 257 and checked against one (parity.test.ts runs the same
// assertions on both): unit files "on disk" and the units loaded from them, garbage collection of unreferenced
// inactive units, jobs that take `latencyMs` and merge as job_install() merges them, enablement in /etc and /run,
// masking, daemon-reload, and systemd's signals and error texts. "Observed" below means answered by a real
// systemd 257 (Debian trixie) in a vehicle node (test/support/vehicle-node.ts).
import dbus from 'dbus-next';
import type { Variant as VariantType } from 'dbus-next';
import {
  EventQueue,
  type JobMethod,
  type Properties,
  type Systemd,
  type SystemdEvent,
  type UnitFileChange,
  type UnitFileInfo,
  type UnitInfo,
  SYSTEMD_PATH,
  SystemdErrors,
  UNIT_INTERFACE,
  unitPath,
} from './systemd.ts';

const { DBusError, Variant } = dbus;

/** A unit file's state as GetUnitFileState answers it, for the states a test can give a unit file. */
export type UnitFileState = 'disabled' | 'enabled' | 'enabled-runtime' | 'static' | 'masked';

/** A unit as a test declares it: its file (rendered for a real systemd by unit-files.ts) and its state at the start. */
export interface UnitOptions {
  readonly name: string;
  /** Its state when the test begins, as after boot; default inactive. */
  readonly activeState?: string;
  readonly subState?: string;
  /**
   * disabled (default: [Install] WantedBy=multi-user.target, not linked), enabled (linked in /etc),
   * enabled-runtime (linked in /run), static (no [Install] section), masked (a symlink to /dev/null).
   */
  readonly unitFileState?: UnitFileState;
  readonly description?: string;
  /** Whether the unit has ExecReload=; without it systemd refuses ReloadUnit. Default false. */
  readonly canReload?: boolean;
  /** A Type=oneshot, RemainAfterExit=yes service whose start takes this long; default a Type=simple service. */
  readonly startMs?: number;
  /** Its main process exits with status 1 right after it started (ExecStart=/bin/false): the start job is done, then the unit fails. */
  readonly fails?: boolean;
}

/** What a unit file says; the unit loaded from it keeps its copy until a daemon-reload. */
interface Definition {
  readonly description: string;
  readonly canReload: boolean;
  readonly masked: boolean;
  /** Has [Install] WantedBy=multi-user.target. */
  readonly install: boolean;
  readonly startMs?: number;
  readonly fails: boolean;
}

interface UnitFile {
  definition: Definition;
  /** A symlink in /etc/systemd/system/multi-user.target.wants. */
  enabled: boolean;
  /** A symlink in /run/systemd/system/multi-user.target.wants. */
  enabledRuntime: boolean;
}

type JobType = 'start' | 'stop' | 'restart' | 'reload';

interface Unit {
  readonly name: string;
  /** As loaded; undefined for a name without a unit file (load state not-found). */
  definition: Definition | undefined;
  readonly transient: boolean;
  description: string;
  activeState: string;
  subState: string;
  freezerState: string;
  result: string;
  mainPid: number;
  execMainStatus: number;
  readonly timestamps: Map<string, bigint>;
  job?: Job;
  /** What the unit is doing without a job (a canceled job's start or stop goes on; a failing main process exits). */
  pending?: NodeJS.Timeout;
}

interface Job {
  readonly id: number;
  readonly path: string;
  readonly unit: Unit;
  type: JobType;
  state: 'waiting' | 'running';
  /** The unit's state when the job's current phase began, restored when a fault ends it without effect. */
  before?: { activeState: string; subState: string };
  /** The end of the current phase, and what the unit reaches then. */
  phase?: { timer: NodeJS.Timeout; endsAt: number; reaches: readonly [string, string] };
  immediate?: NodeJS.Immediate;
}

const JOB_TYPES: Record<JobMethod, JobType> = {
  StartUnit: 'start',
  StopUnit: 'stop',
  RestartUnit: 'restart',
  ReloadUnit: 'reload',
};

/** systemd's job modes (job_mode_from_string). */
const JOB_MODES = new Set([
  'fail',
  'replace',
  'replace-irreversibly',
  'isolate',
  'flush',
  'ignore-dependencies',
  'ignore-requirements',
  'triggering',
  'restart-dependencies',
]);

const UNIT_TYPES = ['service', 'socket', 'target', 'device', 'mount', 'automount', 'swap', 'timer', 'path', 'slice', 'scope'];
const UNIT_NAME = new RegExp(`^[A-Za-z0-9:_.\\\\-]+(@[A-Za-z0-9:_.\\\\-]+)?\\.(${UNIT_TYPES.join('|')})$`);

/** Resource-control and description settings systemd accepts in SetUnitProperties. */
const SETTABLE = new Set([
  'Description',
  'CPUWeight',
  'StartupCPUWeight',
  'CPUQuotaPerSecUSec',
  'CPUQuotaPeriodUSec',
  'AllowedCPUs',
  'StartupAllowedCPUs',
  'AllowedMemoryNodes',
  'MemoryMin',
  'MemoryLow',
  'MemoryHigh',
  'MemoryMax',
  'MemorySwapMax',
  'MemoryZSwapMax',
  'TasksMax',
  'IOWeight',
  'StartupIOWeight',
  'CPUAccounting',
  'MemoryAccounting',
  'IOAccounting',
  'TasksAccounting',
  'IPAccounting',
  'DevicePolicy',
  'ManagedOOMSwap',
  'ManagedOOMMemoryPressure',
]);

/** Signals whose delivery a service treats as a clean exit, and ones that do not end it. */
const CLEAN_EXIT_SIGNALS = new Set([1, 2, 13, 15]);
const HARMLESS_SIGNALS = new Set([0, 17, 18, 19, 20, 23, 28]);

/** Where the model keeps unit files: the admin's directory, as a vehicle node's tests install them. */
export const UNIT_DIR = '/etc/systemd/system';
const RUNTIME_DIR = '/run/systemd/system';
const TRANSIENT_DIR = '/run/systemd/transient';
const WANTS = 'multi-user.target.wants';

const error = (name: string, text: string) => new DBusError(name, text);
// Texts as systemd 257 answers them (observed).
const notFound = (name: string) => error(SystemdErrors.noSuchUnit, `Unit ${name} not found.`);
const notLoaded = (name: string) => error(SystemdErrors.noSuchUnit, `Unit ${name} not loaded.`);
const noUnitFile = (name: string) => error(SystemdErrors.noSuchUnit, `Unit ${name} does not exist`);
const masked = (name: string) => error(SystemdErrors.unitMasked, `Unit ${name} is masked.`);

const realtimeMicros = (): bigint => BigInt(Date.now()) * 1000n;
const monotonicMicros = (): bigint => process.hrtime.bigint() / 1000n;
const fileName = (file: string): string => file.slice(file.lastIndexOf('/') + 1);
const isActive = (unit: Unit): boolean => unit.activeState === 'active' || unit.activeState === 'reloading';
const isInactive = (unit: Unit): boolean => unit.activeState === 'inactive' || unit.activeState === 'failed';
const sameDefinition = (a: Definition | undefined, b: Definition | undefined): boolean => JSON.stringify(a) === JSON.stringify(b);

/** The interface of a unit's type, e.g. org.freedesktop.systemd1.Service for web.service. */
export function typeInterface(name: string): string {
  const type = name.slice(name.lastIndexOf('.') + 1);
  return `org.freedesktop.systemd1.${type.charAt(0).toUpperCase()}${type.slice(1)}`;
}

/** The unit file a test's declaration stands for. */
function unitFileOf(options: UnitOptions): UnitFile {
  const state = options.unitFileState ?? 'disabled';
  return {
    definition: {
      description: options.description ?? options.name,
      canReload: options.canReload ?? false,
      masked: state === 'masked',
      install: state !== 'static',
      ...(options.startMs === undefined ? {} : { startMs: options.startMs }),
      fails: options.fails ?? false,
    },
    enabled: state === 'enabled',
    enabledRuntime: state === 'enabled-runtime',
  };
}

/** unit_file_get_state: a link in /etc wins over one in /run (observed: both linked reads "enabled"). */
function fileState(file: UnitFile): UnitFileState {
  if (file.definition.masked) return 'masked';
  if (!file.definition.install) return 'static';
  if (file.enabled) return 'enabled';
  return file.enabledRuntime ? 'enabled-runtime' : 'disabled';
}

/** job_merging_table, with JOB_RELOAD_OR_START collapsed against the unit (job_type_merge_and_collapse). */
function mergedType(a: JobType, b: JobType, unit: Unit): JobType | undefined {
  if (a === b) return a;
  if (a === 'stop' || b === 'stop') return undefined;
  if (a === 'restart' || b === 'restart') return 'restart';
  return isActive(unit) ? 'reload' : 'start';
}

/** job_type_is_superset: merging b into a leaves a as it is. */
const isSuperset = (a: JobType, b: JobType): boolean =>
  a === b || (a === 'restart' && b !== 'stop');

export class MemorySystemd implements Systemd {
  private readonly queue = new EventQueue<SystemdEvent>();
  readonly events = this.queue.events;
  latencyMs: number;
  private readonly files = new Map<string, UnitFile>();
  private readonly units = new Map<string, Unit>();
  private readonly jobs = new Map<string, Job>();
  /** Units multi-user.target wants as of the last (re)load: they are referenced, so never collected. */
  private wanted = new Set<string>();
  /** Enablement changed since the last daemon-reload: systemd then reports NeedDaemonReload on every unit. */
  private unitFilesChanged = false;
  private readonly faults = new Map<string, string[]>();
  private readonly standingFaults = new Map<string, string>();
  /** SetUnitProperties' drop-ins (/run or /etc/systemd/system.control/NAME.d): they outlive the unit being collected. */
  private readonly dropIns = new Map<string, Map<string, VariantType>>();
  private nextJobId = 1;
  private nextPid = 1000;
  private defaultTarget = 'multi-user.target';
  private collecting: NodeJS.Immediate | undefined;

  /** A node just booted with these units: the active, failed and wanted ones are loaded, the rest only on disk. */
  constructor(units: readonly UnitOptions[], latencyMs = 0) {
    this.latencyMs = latencyMs;
    for (const options of units) this.files.set(options.name, unitFileOf(options));
    this.wanted = this.wantedUnits();
    for (const options of units) {
      const activeState = options.activeState ?? 'inactive';
      if (activeState === 'inactive' && !this.wanted.has(options.name)) continue;
      const unit = this.newUnit(options.name, this.files.get(options.name)!.definition, false);
      unit.activeState = activeState;
      unit.subState = options.subState ?? defaultSubState(activeState, unit);
      if (activeState === 'failed') unit.result = 'exit-code';
      if (isActive(unit)) unit.mainPid = this.nextPid++;
      this.units.set(unit.name, unit);
    }
  }

  /** The next job on `unit` ends with `result` (systemd's: failed, timeout, dependency, canceled, skipped…). */
  failNext(unit: string, result = 'failed'): void {
    this.faults.set(unit, [...(this.faults.get(unit) ?? []), result]);
  }

  /** Every job on `unit` ends with `result` until called with undefined. */
  failAlways(unit: string, result: string | undefined): void {
    if (result === undefined) this.standingFaults.delete(unit);
    else this.standingFaults.set(unit, result);
  }

  /** Changes a unit's state as if it happened on the node (a crash, an exit), with systemd's signals. */
  setUnitState(name: string, activeState: string, subState: string): void {
    if (!this.units.has(name) && !this.files.has(name)) throw new Error(`no unit ${name}`);
    const unit = this.load(name);
    this.stopPending(unit);
    if (activeState === 'failed') unit.result = 'exit-code';
    this.transition(unit, activeState, subState);
  }

  /** The unit's state as systemd would report it, without loading it (a unit not loaded is inactive). */
  unitState(name: string): { activeState: string; subState: string; unitFileState: string } | undefined {
    const unit = this.units.get(name);
    const file = this.files.get(name);
    if (!unit && !file) return undefined;
    return {
      activeState: unit?.activeState ?? 'inactive',
      subState: unit?.subState ?? 'dead',
      unitFileState: this.unitFileStateOf(name),
    };
  }

  /**
   * Writes a unit file (and its enablement links) as an administrator would on the node: GetUnitFileState sees it at
   * once and a unit not loaded loads it when next asked for; a loaded unit keeps what it loaded, and reports
   * NeedDaemonReload, until a daemon-reload (observed).
   */
  writeUnitFile(options: UnitOptions): void {
    this.files.set(options.name, unitFileOf(options));
  }

  async listUnits(): Promise<UnitInfo[]> {
    return [...this.units.values()].map((unit) => [
      unit.name,
      unit.description,
      loadState(unit),
      unit.activeState,
      unit.subState,
      '',
      unitPath(unit.name),
      unit.job?.id ?? 0,
      unit.job?.type ?? '',
      unit.job?.path ?? '/',
    ]);
  }

  async listUnitFiles(): Promise<UnitFileInfo[]> {
    const files: UnitFileInfo[] = [...this.files].map(([name, file]) => [`${UNIT_DIR}/${name}`, fileState(file)]);
    for (const unit of this.units.values()) if (unit.transient) files.push([`${TRANSIENT_DIR}/${unit.name}`, 'transient']);
    return files;
  }

  /** Reads the disk, not the loaded unit; takes a name only (observed: a path is InvalidArgs "Invalid argument"). */
  async getUnitFileState(file: string): Promise<string> {
    if (file.includes('/')) throw error('org.freedesktop.DBus.Error.InvalidArgs', 'Invalid argument');
    if (!this.files.has(file) && !this.units.get(file)?.transient) {
      throw error('org.freedesktop.DBus.Error.FileNotFound', 'No such file or directory');
    }
    return this.unitFileStateOf(file);
  }

  /** method_start_unit_generic: loads the unit (so a not-found or masked one comes and goes: UnitNew, UnitRemoved). */
  async queueJob(method: JobMethod, name: string, mode: string): Promise<string> {
    checkUnitName(name);
    checkMode(mode);
    const unit = this.load(name);
    const type = JOB_TYPES[method];
    // bus_unit_queue_job: stopping a unit that has no file and is not running.
    if (type === 'stop' && !unit.definition && unit.activeState === 'inactive') throw notLoaded(name);
    // transaction_add_job_and_dependencies → bus_unit_validate_load_state, for every job but a stop.
    if (type !== 'stop' && !unit.definition) throw notFound(name);
    if (type !== 'stop' && unit.definition?.masked) throw masked(name);
    if (type === 'reload' && !unit.definition?.canReload) {
      throw error(SystemdErrors.jobTypeNotApplicable, `Job type reload is not applicable for unit ${name}.`);
    }
    return this.install(unit, type, mode).path;
  }

  async startTransientUnit(name: string, mode: string, props: unknown[]): Promise<string> {
    checkUnitName(name);
    checkMode(mode);
    if (this.units.has(name) || this.files.has(name)) {
      throw error(SystemdErrors.unitExists, `Unit ${name} was already loaded or has a fragment file.`);
    }
    const description = (props as Array<[string, VariantType]>).find(([key]) => key === 'Description')?.[1].value;
    const definition: Definition = {
      description: typeof description === 'string' ? description : name,
      canReload: false,
      masked: false,
      install: false,
      fails: false,
    };
    const unit = this.newUnit(name, definition, true);
    this.units.set(name, unit);
    this.emit({ kind: 'UnitNew', unit: name, path: unitPath(name) });
    return this.install(unit, 'start', mode).path;
  }

  /** The job ends "canceled" at once; what its unit was doing goes on (observed: a canceled start still activates). */
  async cancelJob(jobPath: string): Promise<void> {
    const job = this.jobs.get(jobPath);
    if (!job) throw error('org.freedesktop.DBus.Error.UnknownObject', `Unknown object '${jobPath}'.`);
    this.cancel(job);
  }

  /** The agent calls Freeze and Thaw on the unit's object path (node-systemd.ts), which loads the unit. */
  async freezeUnit(name: string): Promise<void> {
    this.setFreezer(this.load(name), 'frozen');
  }

  async thawUnit(name: string): Promise<void> {
    this.setFreezer(this.load(name), 'running');
  }

  /** unit_kill_common: these units have a main process while active and never a control process. */
  async killUnit(name: string, who: string, signal: number): Promise<void> {
    const unit = this.loadedUnit(name);
    const whom = who.replace(/-fail$/, '');
    if (!['main', 'control', 'all'].includes(whom)) {
      throw error('org.freedesktop.DBus.Error.InvalidArgs', `Invalid who argument ${who}`);
    }
    if (whom === 'control') throw error(SystemdErrors.noSuchProcess, 'No control process to kill');
    if (unit.mainPid === 0) {
      if (whom === 'main') throw error(SystemdErrors.noSuchProcess, 'No main process to kill');
      return;
    }
    if (HARMLESS_SIGNALS.has(signal)) return;
    this.stopPending(unit);
    if (CLEAN_EXIT_SIGNALS.has(signal)) {
      unit.result = 'success';
      this.transition(unit, 'inactive', 'dead');
    } else {
      unit.result = 'signal';
      this.transition(unit, 'failed', 'failed');
    }
  }

  /** The unit's object path loads it (bus_unit_find), so a unit not loaded answers too, then is collected again. */
  async getUnitProperties(name: string, iface: string): Promise<Properties> {
    const unit = this.load(name);
    const unitProps = this.unitProperties(unit);
    const typeProps = this.typeProperties(unit);
    if (iface === UNIT_INTERFACE) return unitProps;
    if (iface === typeInterface(name)) return typeProps;
    if (iface === '') return { ...unitProps, ...typeProps };
    throw error('org.freedesktop.DBus.Error.UnknownInterface', `Unknown interface '${iface}'.`);
  }

  async getUnitProperty(name: string, iface: string, property: string): Promise<VariantType> {
    const props = await this.getUnitProperties(name, iface).catch(() => ({}) as Properties);
    const value = props[property];
    if (!value) throw error('org.freedesktop.DBus.Error.UnknownProperty', `Unknown interface ${iface} or property ${property}.`);
    return value;
  }

  async setUnitProperties(name: string, _runtime: boolean, props: Array<[string, VariantType]>): Promise<void> {
    const unit = this.load(name);
    if (!unit.definition) throw notFound(name);
    for (const [key] of props) {
      if (!SETTABLE.has(key)) {
        throw error('org.freedesktop.DBus.Error.PropertyReadOnly', `Cannot set property ${key}, or unknown property.`);
      }
    }
    const changed: Properties = {};
    const dropIn = this.dropIns.get(name) ?? new Map<string, VariantType>();
    this.dropIns.set(name, dropIn);
    for (const [key, value] of props) {
      if (key === 'Description' && typeof value.value === 'string') unit.description = value.value;
      else dropIn.set(key, value);
      changed[key] = value;
    }
    this.emit({ kind: 'UnitChanged', path: unitPath(name), interface: typeInterface(name), changed, invalidated: [] });
  }

  /**
   * unit_file_enable: every file is checked before anything changes; a static unit is left alone and counts as
   * carrying no install info; runtime links go to /run (observed, with these change lists).
   */
  async enableUnitFiles(files: string[], runtime: boolean): Promise<[boolean, UnitFileChange[]]> {
    const named = files.map((file) => [fileName(file), this.files.get(fileName(file))] as const);
    for (const [name, file] of named) {
      if (!file) throw noUnitFile(name);
      if (file.definition.masked) throw error(SystemdErrors.unitMasked, `Unit ${UNIT_DIR}/${name} is masked`);
    }
    const changes: UnitFileChange[] = [];
    for (const [name, file] of named) {
      if (!file!.definition.install) continue;
      if (runtime ? file!.enabledRuntime : file!.enabled) continue;
      if (runtime) file!.enabledRuntime = true;
      else file!.enabled = true;
      changes.push(['symlink', `${runtime ? RUNTIME_DIR : UNIT_DIR}/${WANTS}/${name}`, `${UNIT_DIR}/${name}`]);
    }
    if (changes.length > 0) this.unitFilesChanged = true;
    return [named.some(([, file]) => file!.definition.install), changes];
  }

  /**
   * unit_file_disable: removes the links of the one scope asked for, /etc or /run (observed: runtime=false leaves an
   * enabled-runtime unit enabled-runtime); a masked unit is reported as such; names only, no paths.
   */
  async disableUnitFiles(files: string[], runtime: boolean): Promise<UnitFileChange[]> {
    for (const file of files) {
      if (file.includes('/')) throw error(SystemdErrors.badUnitSetting, `Invalid unit name ${file}`);
      if (!this.files.has(file)) throw noUnitFile(file);
    }
    const changes: UnitFileChange[] = [];
    for (const name of files) {
      const file = this.files.get(name)!;
      if (file.definition.masked) {
        changes.push(['masked', `${UNIT_DIR}/${name}`, '']);
        continue;
      }
      if (!(runtime ? file.enabledRuntime : file.enabled)) continue;
      if (runtime) file.enabledRuntime = false;
      else file.enabled = false;
      changes.push(['unlink', `${runtime ? RUNTIME_DIR : UNIT_DIR}/${WANTS}/${name}`, '']);
    }
    if (changes.some(([type]) => type === 'unlink')) this.unitFilesChanged = true;
    return changes;
  }

  /**
   * manager_reload: every loaded unit is freed (UnitRemoved) and loaded again from its file (UnitNew), jobs and
   * states kept; what multi-user.target wants is read anew; then the unreferenced inactive ones are collected
   * (observed: a stopped unit that was enabled before the reload is listed after it, and a disabled one no longer).
   */
  async reload(): Promise<void> {
    this.unitFilesChanged = false;
    this.wanted = this.wantedUnits();
    const loaded = [...this.units.values()];
    for (const unit of loaded) this.emit({ kind: 'UnitRemoved', unit: unit.name, path: unitPath(unit.name) });
    for (const unit of loaded) {
      if (!unit.transient) {
        unit.definition = this.files.get(unit.name)?.definition;
        unit.description = descriptionOf(unit.name, unit.definition);
      }
      this.emit({ kind: 'UnitNew', unit: unit.name, path: unitPath(unit.name) });
    }
    for (const name of this.wanted) this.load(name);
    this.collectSoon();
  }

  async resetFailed(): Promise<void> {
    for (const unit of this.units.values()) if (unit.activeState === 'failed') this.transition(unit, 'inactive', 'dead');
  }

  async resetFailedUnit(name: string): Promise<void> {
    const unit = this.loadedUnit(name);
    if (unit.activeState === 'failed') this.transition(unit, 'inactive', 'dead');
  }

  async getDefaultTarget(): Promise<string> {
    return this.defaultTarget;
  }

  async setDefaultTarget(target: string): Promise<UnitFileChange[]> {
    if (!this.files.has(target)) throw noUnitFile(target);
    this.defaultTarget = target;
    return [['symlink', `${UNIT_DIR}/default.target`, `${UNIT_DIR}/${target}`]];
  }

  async close(): Promise<void> {
    for (const job of this.jobs.values()) {
      clearTimeout(job.phase?.timer);
      if (job.immediate) clearImmediate(job.immediate);
    }
    for (const unit of this.units.values()) clearTimeout(unit.pending);
    if (this.collecting) clearImmediate(this.collecting);
    this.jobs.clear();
    this.queue.close();
  }

  private wantedUnits(): Set<string> {
    return new Set([...this.files].filter(([, file]) => (file.enabled || file.enabledRuntime) && fileState(file) !== 'masked' && file.definition.install).map(([name]) => name));
  }

  private unitFileStateOf(name: string): string {
    const file = this.files.get(name);
    if (file) return fileState(file);
    return this.units.get(name)?.transient ? 'transient' : '';
  }

  private newUnit(name: string, definition: Definition | undefined, transient: boolean): Unit {
    return {
      name,
      definition,
      transient,
      description: descriptionOf(name, definition),
      activeState: 'inactive',
      subState: 'dead',
      freezerState: 'running',
      result: 'success',
      mainPid: 0,
      execMainStatus: 0,
      timestamps: new Map(),
    };
  }

  /** manager_load_unit: the loaded unit, or one loaded now from its file (or a not-found stub), announced with UnitNew. */
  private load(name: string): Unit {
    const loaded = this.units.get(name);
    if (loaded) return loaded;
    const unit = this.newUnit(name, this.files.get(name)?.definition, false);
    this.units.set(name, unit);
    this.emit({ kind: 'UnitNew', unit: name, path: unitPath(name) });
    this.collectSoon();
    return unit;
  }

  /** manager_get_unit: only a loaded unit (KillUnit, ResetFailedUnit…); otherwise systemd's "not loaded". */
  private loadedUnit(name: string): Unit {
    const unit = this.units.get(name);
    if (!unit) throw notLoaded(name);
    return unit;
  }

  /**
   * The GC queue runs once the current work is done (unit_may_gc with CollectMode=inactive): a unit without a job,
   * inactive (not failed), and not wanted by a loaded unit is unloaded, with UnitRemoved (observed after every stop).
   */
  private collectSoon(): void {
    this.collecting ??= setImmediate(() => {
      this.collecting = undefined;
      for (const unit of [...this.units.values()]) {
        if (unit.job || unit.pending || unit.activeState !== 'inactive' || this.wanted.has(unit.name)) continue;
        this.units.delete(unit.name);
        this.emit({ kind: 'UnitRemoved', unit: unit.name, path: unitPath(unit.name) });
      }
    });
  }

  private emit(event: SystemdEvent): void {
    this.queue.push(event);
  }

  /**
   * job_install: a conflicting job (a stop against anything else) is canceled, or refused in mode "fail"
   * (transaction_is_destructive); a mergeable one merges into the installed job, which keeps its id: into a waiting
   * job, or a running one that already covers it (a start into a running restart); otherwise the installed job
   * becomes the merged type and runs again (a restart into a running start, a reload into a running reload).
   */
  private install(unit: Unit, type: JobType, mode: string): Job {
    const installed = unit.job;
    if (installed) {
      const merged = mergedType(installed.type, type, unit);
      if (merged === undefined) {
        if (mode === 'fail') {
          throw error(
            SystemdErrors.transactionIsDestructive,
            `Transaction for ${unit.name}/${type} is destructive (${unit.name} has '${installed.type}' job queued, but '${type}' is included in transaction).`,
          );
        }
        this.cancel(installed);
      } else {
        if (installed.state === 'waiting' || (type !== 'reload' && isSuperset(installed.type, type))) {
          // A restart merged into a job still waiting on an inactive unit is just a start (observed: ListUnits says "start").
          installed.type = installed.state === 'waiting' && merged === 'restart' && isInactive(unit) ? 'start' : merged;
          return installed;
        }
        installed.type = merged;
        this.requeue(installed);
        return installed;
      }
    }
    const id = this.nextJobId++;
    const job: Job = { id, path: `${SYSTEMD_PATH}/job/${id}`, unit, type, state: 'waiting' };
    unit.job = job;
    this.jobs.set(job.path, job);
    // Like systemd's run queue: the job starts after the reply to the call that queued it.
    job.immediate = setImmediate(() => this.run(job));
    return job;
  }

  /** Back to waiting, and run again from the run queue. */
  private requeue(job: Job): void {
    if (job.phase) clearTimeout(job.phase.timer);
    job.phase = undefined;
    if (job.state === 'running') {
      job.state = 'waiting';
      this.emit({ kind: 'JobStateChanged', job: job.path, state: 'waiting' });
    }
    job.immediate ??= setImmediate(() => this.run(job));
  }

  /** job_run_and_invalidate → job_perform_on_unit: a restart runs as a stop first. */
  private run(job: Job): void {
    job.immediate = undefined;
    if (job.state !== 'waiting') return;
    job.state = 'running';
    this.emit({ kind: 'JobStateChanged', job: job.path, state: 'running' });
    const unit = job.unit;
    this.stopPending(unit);
    // A fault that ends the job without effect leaves the unit as it was before the job first ran.
    job.before ??= { activeState: unit.activeState, subState: unit.subState };
    switch (job.type) {
      case 'start':
        // unit_start on an active unit: -EALREADY, which ends the job "done".
        if (isActive(unit)) return this.finish(job, 'done');
        this.transition(unit, 'activating', 'start');
        return this.phase(job, unit.definition?.startMs ?? this.latencyMs, ['active', activeSubState(unit)]);
      case 'stop':
      case 'restart':
        // unit_stop on an inactive or failed unit: -EALREADY; a failed unit stays failed (observed).
        if (isInactive(unit)) return this.endPhase(job, 'done');
        // A oneshot stopped while it starts is killed, and fails (observed).
        const killed = unit.definition?.startMs !== undefined && unit.activeState === 'activating';
        this.transition(unit, 'deactivating', 'stop-sigterm');
        return this.phase(job, this.latencyMs, killed ? ['failed', 'failed'] : ['inactive', 'dead']);
      case 'reload':
        // unit_reload refuses a unit that is not active with -ENOEXEC, which ends the job "invalid".
        if (unit.activeState !== 'active') return this.finish(job, 'invalid');
        this.transition(unit, 'reloading', 'reload');
        return this.phase(job, this.latencyMs, ['active', activeSubState(unit)]);
    }
  }

  private phase(job: Job, ms: number, reaches: readonly [string, string]): void {
    job.phase = { timer: setTimeout(() => this.completePhase(job), ms), endsAt: performance.now() + ms, reaches };
  }

  /** The current phase ran its time: the unit reaches its state unless a fault says otherwise. */
  private completePhase(job: Job): void {
    const unit = job.unit;
    const reaches = job.phase!.reaches;
    job.phase = undefined;
    const final = job.type !== 'restart';
    const result = (final ? this.takeFault(unit.name) : undefined) ?? 'done';
    if (result === 'done') {
      if (reaches[0] === 'failed') unit.result = 'signal';
      else if (job.type !== 'reload') unit.result = 'success';
      this.transition(unit, ...reaches);
      if (job.type === 'start' && unit.definition?.fails) this.failMainProcess(unit);
    } else if (result === 'failed' || result === 'timeout') {
      unit.result = result === 'timeout' ? 'timeout' : 'exit-code';
      if (job.type === 'reload') this.transition(unit, 'active', activeSubState(unit));
      else this.transition(unit, 'failed', 'failed');
    } else {
      this.revert(job);
    }
    this.endPhase(job, result);
  }

  /** job_finish_and_invalidate: a restart whose stop is done is patched into a start and runs again. */
  private endPhase(job: Job, result: string): void {
    if (result === 'done' && job.type === 'restart') {
      job.type = 'start';
      this.requeue(job);
      return;
    }
    this.finish(job, result);
  }

  /** ExecStart=/bin/false: the process exits with status 1 just after the start job is done (observed). */
  private failMainProcess(unit: Unit): void {
    unit.pending = setTimeout(() => {
      unit.pending = undefined;
      unit.result = 'exit-code';
      unit.execMainStatus = 1;
      this.transition(unit, 'failed', 'failed');
    }, 0);
  }

  private takeFault(unit: string): string | undefined {
    const queued = this.faults.get(unit);
    const next = queued?.shift();
    if (queued && queued.length === 0) this.faults.delete(unit);
    return next ?? this.standingFaults.get(unit);
  }

  private revert(job: Job): void {
    if (job.before) this.transition(job.unit, job.before.activeState, job.before.subState);
  }

  /** Ends a job "canceled"; a phase under way still takes the unit where it was going, without a job. */
  private cancel(job: Job): void {
    const phase = job.phase;
    if (phase) {
      clearTimeout(phase.timer);
      const unit = job.unit;
      unit.pending = setTimeout(() => {
        unit.pending = undefined;
        this.transition(unit, ...phase.reaches);
      }, Math.max(0, phase.endsAt - performance.now()));
      job.phase = undefined;
    }
    this.finish(job, 'canceled');
  }

  private stopPending(unit: Unit): void {
    clearTimeout(unit.pending);
    unit.pending = undefined;
  }

  private finish(job: Job, result: string): void {
    if (job.phase) clearTimeout(job.phase.timer);
    if (job.immediate) clearImmediate(job.immediate);
    this.jobs.delete(job.path);
    if (job.unit.job === job) job.unit.job = undefined;
    this.emit({ kind: 'JobRemoved', id: job.id, job: job.path, unit: job.unit.name, result });
    this.collectTransient(job.unit);
    this.collectSoon();
  }

  /** A transient unit has no file to load again: once collected, its name is free. */
  private collectTransient(unit: Unit): void {
    if (!unit.transient || unit.job || unit.activeState !== 'inactive') return;
    this.units.delete(unit.name);
    this.emit({ kind: 'UnitRemoved', unit: unit.name, path: unitPath(unit.name) });
  }

  private setFreezer(unit: Unit, state: 'frozen' | 'running'): void {
    if (unit.job) throw error(SystemdErrors.unitBusy, 'Unit has a pending job');
    if (!isActive(unit)) throw error(SystemdErrors.unitInactive, 'Unit is not active');
    if (unit.freezerState === state) return;
    unit.freezerState = state;
    this.emit({
      kind: 'UnitChanged',
      path: unitPath(unit.name),
      interface: UNIT_INTERFACE,
      changed: { FreezerState: new Variant('s', state) },
      invalidated: [],
    });
  }

  /** Changes state and signals it as systemd does: the type's interface first, then org.freedesktop.systemd1.Unit. */
  private transition(unit: Unit, activeState: string, subState: string): void {
    if (unit.activeState === activeState && unit.subState === subState) return;
    const wasActive = isActive(unit);
    const wasInactive = isInactive(unit);
    unit.activeState = activeState;
    unit.subState = subState;
    const stamp = (name: string) => {
      unit.timestamps.set(name, realtimeMicros());
      unit.timestamps.set(`${name}Monotonic`, monotonicMicros());
    };
    stamp('StateChangeTimestamp');
    if (!wasActive && isActive(unit)) stamp('ActiveEnterTimestamp');
    if (wasActive && !isActive(unit)) stamp('ActiveExitTimestamp');
    if (wasInactive && !isInactive(unit)) stamp('InactiveExitTimestamp');
    if (!wasInactive && isInactive(unit)) stamp('InactiveEnterTimestamp');
    const running = (isActive(unit) && subState !== 'exited') || activeState === 'activating';
    unit.mainPid = running ? unit.mainPid || this.nextPid++ : 0;
    if (!isActive(unit)) unit.freezerState = 'running';

    const path = unitPath(unit.name);
    this.emit({ kind: 'UnitChanged', path, interface: typeInterface(unit.name), changed: this.typeProperties(unit), invalidated: [] });
    const changed: Properties = {
      ActiveState: new Variant('s', activeState),
      SubState: new Variant('s', subState),
    };
    for (const [name, value] of unit.timestamps) changed[name] = new Variant('t', value);
    this.emit({ kind: 'UnitChanged', path, interface: UNIT_INTERFACE, changed, invalidated: [] });
    this.collectSoon();
  }

  private unitProperties(unit: Unit): Properties {
    const timestamp = (name: string) => new Variant('t', unit.timestamps.get(name) ?? 0n);
    const state = loadState(unit);
    const props: Properties = {
      Id: new Variant('s', unit.name),
      Names: new Variant('as', [unit.name]),
      Following: new Variant('s', ''),
      Description: new Variant('s', unit.description),
      LoadState: new Variant('s', state),
      ActiveState: new Variant('s', unit.activeState),
      FreezerState: new Variant('s', unit.freezerState),
      SubState: new Variant('s', unit.subState),
      FragmentPath: new Variant('s', fragmentPath(unit)),
      UnitFileState: new Variant('s', this.unitFileStateOf(unit.name)),
      Transient: new Variant('b', unit.transient),
      CanStart: new Variant('b', state === 'loaded'),
      CanStop: new Variant('b', state !== 'not-found'),
      CanReload: new Variant('b', unit.definition?.canReload ?? false),
      CanFreeze: new Variant('b', true),
      NeedDaemonReload: new Variant('b', this.needsDaemonReload(unit)),
      Job: new Variant('(uo)', [unit.job?.id ?? 0, unit.job?.path ?? '/']),
      LoadError: new Variant('(ss)', loadError(unit)),
    };
    for (const name of ['StateChange', 'ActiveEnter', 'ActiveExit', 'InactiveEnter', 'InactiveExit']) {
      props[`${name}Timestamp`] = timestamp(`${name}Timestamp`);
      props[`${name}TimestampMonotonic`] = timestamp(`${name}TimestampMonotonic`);
    }
    return props;
  }

  /** unit_need_daemon_reload: its file changed since it was loaded, or enablement changed since the last reload (observed). */
  private needsDaemonReload(unit: Unit): boolean {
    if (unit.transient || !unit.definition) return false;
    return this.unitFilesChanged || !sameDefinition(unit.definition, this.files.get(unit.name)?.definition);
  }

  private typeProperties(unit: Unit): Properties {
    const props: Properties = { Result: new Variant('s', unit.result) };
    if (unit.name.endsWith('.service')) {
      const oneshot = unit.definition?.startMs !== undefined;
      props.Type = new Variant('s', oneshot ? 'oneshot' : 'simple');
      props.RemainAfterExit = new Variant('b', oneshot);
      props.MainPID = new Variant('u', unit.mainPid);
      props.ExecMainStatus = new Variant('i', unit.execMainStatus);
    }
    for (const [key, value] of this.dropIns.get(unit.name) ?? []) props[key] = value;
    return props;
  }
}

function loadState(unit: Unit): string {
  if (!unit.definition) return 'not-found';
  return unit.definition.masked ? 'masked' : 'loaded';
}

/** A masked unit has no description but its name (observed in ListUnits). */
function descriptionOf(name: string, definition: Definition | undefined): string {
  return definition && !definition.masked ? definition.description : name;
}

function loadError(unit: Unit): [string, string] {
  if (!unit.definition) return [SystemdErrors.noSuchUnit, `Unit ${unit.name} not found.`];
  return unit.definition.masked ? [SystemdErrors.unitMasked, `Unit ${unit.name} is masked.`] : ['', ''];
}

function fragmentPath(unit: Unit): string {
  if (unit.transient) return `${TRANSIENT_DIR}/${unit.name}`;
  return unit.definition ? `${UNIT_DIR}/${unit.name}` : '';
}

/** A oneshot with RemainAfterExit= stays active "exited"; a simple service, a target's "active". */
function activeSubState(unit: Unit): string {
  if (unit.name.endsWith('.target')) return 'active';
  return unit.definition?.startMs !== undefined ? 'exited' : 'running';
}

function defaultSubState(activeState: string, unit: Unit): string {
  switch (activeState) {
    case 'active':
      return activeSubState(unit);
    case 'failed':
      return 'failed';
    case 'activating':
      return 'start';
    case 'deactivating':
      return 'stop-sigterm';
    default:
      return 'dead';
  }
}

function checkUnitName(name: string): void {
  if (!UNIT_NAME.test(name)) throw error('org.freedesktop.DBus.Error.InvalidArgs', `Unit name ${name} is not valid.`);
}

function checkMode(mode: string): void {
  if (!JOB_MODES.has(mode)) throw error('org.freedesktop.DBus.Error.InvalidArgs', `Job mode ${mode} invalid`);
}
