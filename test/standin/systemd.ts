// What a BlueChi agent needs of its node's systemd (the org.freedesktop.systemd1 Manager/Unit/Job API),
// served either in memory (node-memory.ts) or by a real systemd over D-Bus (node-systemd.ts).
import type { Variant } from 'dbus-next';
import { type Observable, Subject } from 'rxjs';
import { escapePathLabel } from './escape.ts';

export const SYSTEMD_BUS_NAME = 'org.freedesktop.systemd1';
export const SYSTEMD_PATH = '/org/freedesktop/systemd1';
export const MANAGER_INTERFACE = 'org.freedesktop.systemd1.Manager';
export const UNIT_INTERFACE = 'org.freedesktop.systemd1.Unit';
export const JOB_INTERFACE = 'org.freedesktop.systemd1.Job';

/** systemd's own error names (src/libsystemd/sd-bus/bus-common-errors.h). */
export const SystemdErrors = {
  noSuchUnit: 'org.freedesktop.systemd1.NoSuchUnit',
  unitExists: 'org.freedesktop.systemd1.UnitExists',
  unitInactive: 'org.freedesktop.systemd1.UnitInactive',
  unitBusy: 'org.freedesktop.systemd1.UnitBusy',
  jobTypeNotApplicable: 'org.freedesktop.systemd1.JobTypeNotApplicable',
  transactionIsDestructive: 'org.freedesktop.systemd1.TransactionIsDestructive',
  noSuchProcess: 'org.freedesktop.systemd1.NoSuchProcess',
  unitMasked: 'org.freedesktop.systemd1.UnitMasked',
  badUnitSetting: 'org.freedesktop.systemd1.BadUnitSetting',
} as const;

/** One ListUnits tuple `(ssssssouso)`: id, description, load, active, sub, following, unit path, job id, job type, job path. */
export type UnitInfo = [string, string, string, string, string, string, string, number, string, string];
/** One ListUnitFiles tuple `(ss)`: unit file path, enablement state. */
export type UnitFileInfo = [string, string];
/** One install change `(sss)`: type (symlink, unlink), file name, destination. */
export type UnitFileChange = [string, string, string];
export type Properties = Record<string, Variant>;

export type JobMethod = 'StartUnit' | 'StopUnit' | 'RestartUnit' | 'ReloadUnit';

/** systemd's signals, as the agent subscribes to them (Manager.Subscribe plus its match rules). */
export type SystemdEvent =
  | { readonly kind: 'JobRemoved'; readonly id: number; readonly job: string; readonly unit: string; readonly result: string }
  | { readonly kind: 'JobStateChanged'; readonly job: string; readonly state: string }
  | { readonly kind: 'UnitNew'; readonly unit: string; readonly path: string }
  | { readonly kind: 'UnitRemoved'; readonly unit: string; readonly path: string }
  | {
      readonly kind: 'UnitChanged';
      readonly path: string;
      readonly interface: string;
      readonly changed: Properties;
      readonly invalidated: readonly string[];
    };

/** A node's systemd. Methods reject with systemd's DBusError names, which BlueChi passes through. */
export interface Systemd {
  readonly events: Observable<SystemdEvent>;
  listUnits(): Promise<UnitInfo[]>;
  listUnitFiles(): Promise<UnitFileInfo[]>;
  getUnitFileState(file: string): Promise<string>;
  /** Queues a job; resolves to systemd's job object path. */
  queueJob(method: JobMethod, name: string, mode: string): Promise<string>;
  startTransientUnit(name: string, mode: string, props: unknown[], aux: unknown[]): Promise<string>;
  cancelJob(jobPath: string): Promise<void>;
  freezeUnit(name: string): Promise<void>;
  thawUnit(name: string): Promise<void>;
  killUnit(name: string, who: string, signal: number): Promise<void>;
  getUnitProperties(name: string, iface: string): Promise<Properties>;
  getUnitProperty(name: string, iface: string, property: string): Promise<Variant>;
  setUnitProperties(name: string, runtime: boolean, props: Array<[string, Variant]>): Promise<void>;
  enableUnitFiles(files: string[], runtime: boolean, force: boolean): Promise<[boolean, UnitFileChange[]]>;
  disableUnitFiles(files: string[], runtime: boolean): Promise<UnitFileChange[]>;
  reload(): Promise<void>;
  resetFailed(): Promise<void>;
  resetFailedUnit(name: string): Promise<void>;
  getDefaultTarget(): Promise<string>;
  setDefaultTarget(target: string, force: boolean): Promise<UnitFileChange[]>;
  close(): Promise<void>;
}

/** systemd's object path for a unit, e.g. /org/freedesktop/systemd1/unit/web_2eservice. */
export const unitPath = (name: string): string => `${SYSTEMD_PATH}/unit/${escapePathLabel(name)}`;

/**
 * Delivers events after the continuations of the current call, in order, as a bus hop does: a
 * client sees systemd's reply to StartUnit or Cancel before the signals that follow from it.
 */
export class EventQueue<T> {
  private readonly subject = new Subject<T>();
  readonly events: Observable<T> = this.subject.asObservable();
  private queued: T[] = [];
  private flush: NodeJS.Immediate | undefined;

  push(event: T): void {
    this.queued.push(event);
    this.flush ??= setImmediate(() => {
      this.flush = undefined;
      const events = this.queued;
      this.queued = [];
      for (const queued of events) this.subject.next(queued);
    });
  }

  close(): void {
    if (this.flush) clearImmediate(this.flush);
    this.queued = [];
    this.subject.complete();
  }
}
