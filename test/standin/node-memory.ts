// An in-memory systemd for one node: units with state, jobs that take `latencyMs`, and systemd's
// signals and error names. Enough of systemd's semantics for a BlueChi agent to sit on top of it.
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

export interface UnitOptions {
  readonly name: string;
  readonly activeState?: string;
  readonly subState?: string;
  /** enabled, disabled, static, masked, …; default disabled. */
  readonly unitFileState?: string;
  readonly description?: string;
  /** Whether the unit has ExecReload=; without it systemd refuses ReloadUnit. Default false. */
  readonly canReload?: boolean;
}

type JobType = 'start' | 'stop' | 'restart' | 'reload';

interface Unit {
  readonly name: string;
  description: string;
  activeState: string;
  subState: string;
  unitFileState: string;
  freezerState: string;
  readonly transient: boolean;
  readonly canReload: boolean;
  result: string;
  mainPid: number;
  readonly timestamps: Map<string, bigint>;
  readonly settings: Map<string, VariantType>;
  job?: Job;
}

interface Job {
  readonly id: number;
  readonly path: string;
  readonly unit: Unit;
  readonly type: JobType;
  state: 'waiting' | 'running';
  /** The unit's state when the job began running, restored when it ends without effect. */
  before?: { activeState: string; subState: string };
  timer?: NodeJS.Timeout;
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

const error = (name: string, text: string) => new DBusError(name, text);
// Texts as systemd 257 answers them (checked against one in a vehicle node).
const notFound = (name: string) => error(SystemdErrors.noSuchUnit, `Unit ${name} not found.`);
const notLoaded = (name: string) => error(SystemdErrors.noSuchUnit, `Unit ${name} not loaded.`);
const noUnitFile = (name: string) => error(SystemdErrors.noSuchUnit, `Unit ${name} does not exist`);

const realtimeMicros = (): bigint => BigInt(Date.now()) * 1000n;
const monotonicMicros = (): bigint => process.hrtime.bigint() / 1000n;
const fileName = (file: string): string => file.slice(file.lastIndexOf('/') + 1);
const isActive = (unit: Unit): boolean => unit.activeState === 'active' || unit.activeState === 'reloading';

/** The interface of a unit's type, e.g. org.freedesktop.systemd1.Service for web.service. */
export function typeInterface(name: string): string {
  const type = name.slice(name.lastIndexOf('.') + 1);
  return `org.freedesktop.systemd1.${type.charAt(0).toUpperCase()}${type.slice(1)}`;
}

export class MemorySystemd implements Systemd {
  private readonly queue = new EventQueue<SystemdEvent>();
  readonly events = this.queue.events;
  latencyMs: number;
  private readonly units = new Map<string, Unit>();
  private readonly jobs = new Map<string, Job>();
  private readonly faults = new Map<string, string[]>();
  private readonly standingFaults = new Map<string, string>();
  private nextJobId = 1;
  private nextPid = 1000;
  private defaultTarget = 'multi-user.target';

  constructor(units: readonly UnitOptions[], latencyMs = 0) {
    this.latencyMs = latencyMs;
    for (const unit of units) this.units.set(unit.name, this.newUnit(unit, false));
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
    const unit = this.units.get(name);
    if (!unit) throw new Error(`no unit ${name}`);
    this.transition(unit, activeState, subState);
  }

  unitState(name: string): { activeState: string; subState: string; unitFileState: string } | undefined {
    const unit = this.units.get(name);
    return unit && { activeState: unit.activeState, subState: unit.subState, unitFileState: unit.unitFileState };
  }

  async listUnits(): Promise<UnitInfo[]> {
    return [...this.units.values()].map((unit) => [
      unit.name,
      unit.description,
      'loaded',
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
    return [...this.units.values()].map((unit) => [this.fragmentPath(unit), unit.unitFileState]);
  }

  async getUnitFileState(file: string): Promise<string> {
    const unit = this.units.get(fileName(file));
    if (!unit) throw error('org.freedesktop.DBus.Error.FileNotFound', 'No such file or directory');
    return unit.unitFileState;
  }

  async queueJob(method: JobMethod, name: string, mode: string): Promise<string> {
    checkUnitName(name);
    checkMode(mode);
    const unit = this.units.get(name);
    if (!unit) throw method === 'StopUnit' ? notLoaded(name) : notFound(name);
    if (method === 'ReloadUnit' && !unit.canReload) {
      throw error(SystemdErrors.jobTypeNotApplicable, `Job type reload is not applicable for unit ${name}.`);
    }
    return this.enqueue(unit, JOB_TYPES[method], mode).path;
  }

  async startTransientUnit(name: string, mode: string, props: unknown[]): Promise<string> {
    checkUnitName(name);
    checkMode(mode);
    if (this.units.has(name)) {
      throw error(SystemdErrors.unitExists, `Unit ${name} was already loaded or has a fragment file.`);
    }
    const description = (props as Array<[string, VariantType]>).find(([key]) => key === 'Description')?.[1].value;
    const unit = this.newUnit({ name, description: typeof description === 'string' ? description : name }, true);
    this.units.set(name, unit);
    this.emit({ kind: 'UnitNew', unit: name, path: unitPath(name) });
    return this.enqueue(unit, 'start', mode).path;
  }

  async cancelJob(jobPath: string): Promise<void> {
    const job = this.jobs.get(jobPath);
    if (!job) throw error('org.freedesktop.DBus.Error.UnknownObject', `Unknown object '${jobPath}'.`);
    this.revert(job);
    this.finish(job, 'canceled');
  }

  async freezeUnit(name: string): Promise<void> {
    this.setFreezer(this.loadedUnit(name), 'frozen');
  }

  async thawUnit(name: string): Promise<void> {
    this.setFreezer(this.loadedUnit(name), 'running');
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
    if (CLEAN_EXIT_SIGNALS.has(signal)) {
      unit.result = 'success';
      this.transition(unit, 'inactive', 'dead');
    } else {
      unit.result = 'signal';
      this.transition(unit, 'failed', 'failed');
    }
  }

  async getUnitProperties(name: string, iface: string): Promise<Properties> {
    const unit = this.units.get(name);
    const unitProps = unit ? this.unitProperties(unit) : notFoundProperties(name);
    const typeProps = unit ? this.typeProperties(unit) : {};
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
    const unit = this.units.get(name);
    if (!unit) throw notFound(name);
    for (const [key] of props) {
      if (!SETTABLE.has(key)) {
        throw error('org.freedesktop.DBus.Error.PropertyReadOnly', `Cannot set property ${key}, or unknown property.`);
      }
    }
    const changed: Properties = {};
    for (const [key, value] of props) {
      if (key === 'Description' && typeof value.value === 'string') unit.description = value.value;
      else unit.settings.set(key, value);
      changed[key] = value;
    }
    this.emit({ kind: 'UnitChanged', path: unitPath(name), interface: typeInterface(name), changed, invalidated: [] });
  }

  async enableUnitFiles(files: string[], runtime: boolean): Promise<[boolean, UnitFileChange[]]> {
    const units = files.map((file) => this.units.get(fileName(file)) ?? raise(noUnitFile(fileName(file))));
    const changes: UnitFileChange[] = [];
    const directory = runtime ? '/run/systemd/system' : '/etc/systemd/system';
    for (const unit of units) {
      if (['static', 'enabled', 'enabled-runtime', 'transient'].includes(unit.unitFileState)) continue;
      unit.unitFileState = runtime ? 'enabled-runtime' : 'enabled';
      changes.push(['symlink', `${directory}/multi-user.target.wants/${unit.name}`, this.fragmentPath(unit)]);
    }
    return [units.some((unit) => unit.unitFileState !== 'static'), changes];
  }

  async disableUnitFiles(files: string[], runtime: boolean): Promise<UnitFileChange[]> {
    const units = files.map((file) => this.units.get(fileName(file)) ?? raise(noUnitFile(fileName(file))));
    const changes: UnitFileChange[] = [];
    const directory = runtime ? '/run/systemd/system' : '/etc/systemd/system';
    for (const unit of units) {
      if (!unit.unitFileState.startsWith('enabled')) continue;
      unit.unitFileState = 'disabled';
      changes.push(['unlink', `${directory}/multi-user.target.wants/${unit.name}`, '']);
    }
    return changes;
  }

  async reload(): Promise<void> {}

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
    const unit = this.units.get(target) ?? raise(noUnitFile(target));
    this.defaultTarget = target;
    return [['symlink', '/etc/systemd/system/default.target', this.fragmentPath(unit)]];
  }

  async close(): Promise<void> {
    for (const job of this.jobs.values()) {
      clearTimeout(job.timer);
      if (job.immediate) clearImmediate(job.immediate);
    }
    this.jobs.clear();
    this.queue.close();
  }

  private newUnit(options: UnitOptions, transient: boolean): Unit {
    const activeState = options.activeState ?? 'inactive';
    const unit: Unit = {
      name: options.name,
      description: options.description ?? options.name,
      activeState,
      subState: options.subState ?? defaultSubState(activeState),
      unitFileState: transient ? 'transient' : (options.unitFileState ?? 'disabled'),
      freezerState: 'running',
      transient,
      canReload: options.canReload ?? false,
      result: activeState === 'failed' ? 'exit-code' : 'success',
      mainPid: 0,
      timestamps: new Map(),
      settings: new Map(),
    };
    if (isActive(unit)) unit.mainPid = this.nextPid++;
    return unit;
  }

  private fragmentPath(unit: Unit): string {
    return unit.transient ? `/run/systemd/transient/${unit.name}` : `/usr/lib/systemd/system/${unit.name}`;
  }

  private loadedUnit(name: string): Unit {
    return this.units.get(name) ?? raise(notLoaded(name));
  }

  private emit(event: SystemdEvent): void {
    this.queue.push(event);
  }

  /** Installs a job the way systemd's transaction logic does for one unit: merge the same type, else replace or fail. */
  private enqueue(unit: Unit, type: JobType, mode: string): Job {
    const pending = unit.job;
    if (pending) {
      // systemd merges into a waiting job, or a running one unless it is a reload (job_type_allows_late_merge).
      if (pending.type === type && (pending.state === 'waiting' || type !== 'reload')) return pending;
      if (mode === 'fail') {
        throw error(
          SystemdErrors.transactionIsDestructive,
          `Transaction for ${unit.name}/${type} is destructive (${unit.name} has '${pending.type}' job queued, but '${type}' is included in transaction).`,
        );
      }
      // The replaced job is canceled where it stands; the new one carries on from the unit's state.
      this.finish(pending, 'canceled');
    }
    const id = this.nextJobId++;
    const job: Job = { id, path: `${SYSTEMD_PATH}/job/${id}`, unit, type, state: 'waiting' };
    unit.job = job;
    this.jobs.set(job.path, job);
    // Like systemd's run queue: the job starts after the reply to the call that queued it.
    job.immediate = setImmediate(() => this.run(job));
    return job;
  }

  private run(job: Job): void {
    job.immediate = undefined;
    job.state = 'running';
    this.emit({ kind: 'JobStateChanged', job: job.path, state: 'running' });
    const unit = job.unit;
    job.before = { activeState: unit.activeState, subState: unit.subState };
    if (job.type === 'reload' && !isActive(unit)) {
      // unit_reload() refuses an inactive unit with -ENOEXEC, which systemd reports as the job result "invalid".
      this.finish(job, 'invalid');
      return;
    }
    const beginning = beginningState(job.type, unit);
    if (beginning) this.transition(unit, ...beginning);
    job.timer = setTimeout(() => this.complete(job), this.latencyMs);
  }

  private complete(job: Job): void {
    const unit = job.unit;
    const result = this.takeFault(unit.name) ?? 'done';
    if (result === 'done') {
      unit.result = 'success';
      if (job.type === 'stop') this.transition(unit, 'inactive', 'dead');
      else this.transition(unit, 'active', unit.name.endsWith('.target') ? 'active' : 'running');
    } else if (result === 'failed' || result === 'timeout') {
      unit.result = result === 'timeout' ? 'timeout' : 'exit-code';
      if (job.type === 'reload') this.transition(unit, 'active', 'running');
      else this.transition(unit, 'failed', 'failed');
    } else {
      this.revert(job);
    }
    this.finish(job, result);
    if (unit.transient && unit.activeState === 'inactive' && !unit.job) {
      this.units.delete(unit.name);
      this.emit({ kind: 'UnitRemoved', unit: unit.name, path: unitPath(unit.name) });
    }
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

  private finish(job: Job, result: string): void {
    clearTimeout(job.timer);
    if (job.immediate) clearImmediate(job.immediate);
    this.jobs.delete(job.path);
    if (job.unit.job === job) job.unit.job = undefined;
    this.emit({ kind: 'JobRemoved', id: job.id, job: job.path, unit: job.unit.name, result });
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
    const wasInactive = unit.activeState === 'inactive' || unit.activeState === 'failed';
    unit.activeState = activeState;
    unit.subState = subState;
    const stamp = (name: string) => {
      unit.timestamps.set(name, realtimeMicros());
      unit.timestamps.set(`${name}Monotonic`, monotonicMicros());
    };
    stamp('StateChangeTimestamp');
    if (!wasActive && isActive(unit)) stamp('ActiveEnterTimestamp');
    if (wasActive && !isActive(unit)) stamp('ActiveExitTimestamp');
    if (wasInactive && activeState !== 'inactive' && activeState !== 'failed') stamp('InactiveExitTimestamp');
    if (!wasInactive && (activeState === 'inactive' || activeState === 'failed')) stamp('InactiveEnterTimestamp');
    unit.mainPid = isActive(unit) || activeState === 'activating' ? unit.mainPid || this.nextPid++ : 0;
    if (!isActive(unit)) unit.freezerState = 'running';

    const path = unitPath(unit.name);
    this.emit({ kind: 'UnitChanged', path, interface: typeInterface(unit.name), changed: this.typeProperties(unit), invalidated: [] });
    const changed: Properties = {
      ActiveState: new Variant('s', activeState),
      SubState: new Variant('s', subState),
    };
    for (const [name, value] of unit.timestamps) changed[name] = new Variant('t', value);
    this.emit({ kind: 'UnitChanged', path, interface: UNIT_INTERFACE, changed, invalidated: [] });
  }

  private unitProperties(unit: Unit): Properties {
    const timestamp = (name: string) => new Variant('t', unit.timestamps.get(name) ?? 0n);
    const props: Properties = {
      Id: new Variant('s', unit.name),
      Names: new Variant('as', [unit.name]),
      Following: new Variant('s', ''),
      Description: new Variant('s', unit.description),
      LoadState: new Variant('s', 'loaded'),
      ActiveState: new Variant('s', unit.activeState),
      FreezerState: new Variant('s', unit.freezerState),
      SubState: new Variant('s', unit.subState),
      FragmentPath: new Variant('s', this.fragmentPath(unit)),
      UnitFileState: new Variant('s', unit.unitFileState),
      Transient: new Variant('b', unit.transient),
      CanStart: new Variant('b', true),
      CanStop: new Variant('b', true),
      CanReload: new Variant('b', unit.canReload),
      CanFreeze: new Variant('b', true),
      Job: new Variant('(uo)', [unit.job?.id ?? 0, unit.job?.path ?? '/']),
      LoadError: new Variant('(ss)', ['', '']),
    };
    for (const name of ['StateChange', 'ActiveEnter', 'ActiveExit', 'InactiveEnter', 'InactiveExit']) {
      props[`${name}Timestamp`] = timestamp(`${name}Timestamp`);
      props[`${name}TimestampMonotonic`] = timestamp(`${name}TimestampMonotonic`);
    }
    return props;
  }

  private typeProperties(unit: Unit): Properties {
    const props: Properties = { Result: new Variant('s', unit.result) };
    if (unit.name.endsWith('.service')) {
      props.Type = new Variant('s', 'simple');
      props.MainPID = new Variant('u', unit.mainPid);
      props.ExecMainStatus = new Variant('i', 0);
    }
    for (const [key, value] of unit.settings) props[key] = value;
    return props;
  }
}

/** What systemd returns for a unit name it has no file for: a stub in load state not-found. */
function notFoundProperties(name: string): Properties {
  return {
    Id: new Variant('s', name),
    Names: new Variant('as', [name]),
    Description: new Variant('s', name),
    LoadState: new Variant('s', 'not-found'),
    ActiveState: new Variant('s', 'inactive'),
    SubState: new Variant('s', 'dead'),
    FreezerState: new Variant('s', 'running'),
    FragmentPath: new Variant('s', ''),
    UnitFileState: new Variant('s', ''),
    LoadError: new Variant('(ss)', [SystemdErrors.noSuchUnit, `Unit ${name} not found.`]),
  };
}

function beginningState(type: JobType, unit: Unit): [string, string] | undefined {
  switch (type) {
    case 'start':
      return isActive(unit) ? undefined : ['activating', 'start'];
    case 'stop':
      return isActive(unit) || unit.activeState === 'activating' ? ['deactivating', 'stop-sigterm'] : undefined;
    case 'restart':
      return isActive(unit) ? ['deactivating', 'stop-sigterm'] : ['activating', 'start'];
    case 'reload':
      return ['reloading', 'reload'];
  }
}

function defaultSubState(activeState: string): string {
  switch (activeState) {
    case 'active':
      return 'running';
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

function raise(e: Error): never {
  throw e;
}
