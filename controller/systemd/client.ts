// A typed client of org.freedesktop.systemd1 on a host bus: unit lifecycle, properties, unit files.
import dbus from 'dbus-next';
import { filter, map, Observable } from 'rxjs';
import type { Bus } from '../bus/connection.ts';
import { asJobResult, awaitJob, type JobEnd } from '../bus/jobs.ts';
import { describeBusError } from '../bluechi/errors.ts';
import { escapePathLabel, labelOf } from '../bus/path-label.ts';
import {
  PROPERTIES_IFACE,
  SYSTEMD_UNIT_IFACE,
  unitFileChange,
  unitInfo,
  type Properties,
  type UnitFileChange,
  type UnitInfo,
  type UnitTuple,
} from '../bluechi/api.ts';
import type { JobMode, UnitOperation } from '../bluechi/client.ts';

export const SYSTEMD_BUS_NAME = 'org.freedesktop.systemd1';
export const SYSTEMD_PATH = '/org/freedesktop/systemd1';
export const MANAGER_IFACE = 'org.freedesktop.systemd1.Manager';
const UNIT_PATH_PREFIX = '/org/freedesktop/systemd1/unit';

export interface UnitStateChange {
  readonly unit: string;
  readonly activeState: string;
  readonly subState: string;
}

const methods: Record<UnitOperation, string> = {
  start: 'StartUnit',
  stop: 'StopUnit',
  restart: 'RestartUnit',
  reload: 'ReloadUnit',
};

export function unitPath(unit: string): string {
  return `${UNIT_PATH_PREFIX}/${escapePathLabel(unit)}`;
}

export type Systemd = ReturnType<typeof systemd>;

export function systemd(bus: Bus, options: { jobTimeoutMs?: number } = {}) {
  const jobTimeoutMs = options.jobTimeoutMs ?? 120_000;
  let subscribed: Promise<unknown> | undefined;

  async function invoke(path: string, iface: string, member: string, unit?: string, signature = '', body: unknown[] = []) {
    try {
      return await bus.call({ destination: SYSTEMD_BUS_NAME, path, interface: iface, member, signature, body });
    } catch (error) {
      throw describeBusError(error, { unit, address: bus.address });
    }
  }
  const manager = (member: string, unit?: string, signature?: string, body?: unknown[]) =>
    invoke(SYSTEMD_PATH, MANAGER_IFACE, member, unit, signature, body);

  /** systemd only emits job and unit signals once a client has called Subscribe. */
  const ensureSubscribed = () => (subscribed ??= manager('Subscribe'));

  const jobRemoved$: Observable<JobEnd> = bus
    .signals({ path: SYSTEMD_PATH, interface: MANAGER_IFACE, member: 'JobRemoved' })
    .pipe(
      map(({ body: [id, job, unit, result] }) => ({
        id: id as number,
        job: job as string,
        unit: unit as string,
        result: asJobResult(result as string),
      })),
    );

  async function getUnitPath(unit: string): Promise<string> {
    const [path] = await manager('LoadUnit', unit, 's', [unit]);
    return path as string;
  }

  return {
    bus,
    async runJob(operation: UnitOperation, unit: string, mode: JobMode = 'replace', timeoutMs = jobTimeoutMs) {
      await ensureSubscribed();
      return awaitJob(
        jobRemoved$,
        async () => {
          const [job] = await manager(methods[operation], unit, 'ss', [unit, mode]);
          return job as string;
        },
        { unit, operation, timeoutMs },
      );
    },
    async unitProperties(unit: string, iface = SYSTEMD_UNIT_IFACE): Promise<Properties> {
      const path = await getUnitPath(unit);
      const [all] = await invoke(path, PROPERTIES_IFACE, 'GetAll', unit, 's', [iface]);
      return all as Properties;
    },
    async unitProperty(unit: string, iface: string, property: string): Promise<unknown> {
      const path = await getUnitPath(unit);
      const [value] = await invoke(path, PROPERTIES_IFACE, 'Get', unit, 'ss', [iface, property]);
      return (value as InstanceType<typeof dbus.Variant>).value;
    },
    async listUnits(): Promise<UnitInfo[]> {
      const [units] = await manager('ListUnits');
      return (units as UnitTuple[]).map(unitInfo);
    },
    async enableUnitFiles(files: string[], runtime = false, force = false) {
      const [carriesInstallInfo, changes] = await manager('EnableUnitFiles', files.join(' '), 'asbb', [files, runtime, force]);
      return { carriesInstallInfo: carriesInstallInfo as boolean, changes: (changes as Array<[string, string, string]>).map(unitFileChange) };
    },
    async disableUnitFiles(files: string[], runtime = false): Promise<UnitFileChange[]> {
      const [changes] = await manager('DisableUnitFiles', files.join(' '), 'asb', [files, runtime]);
      return (changes as Array<[string, string, string]>).map(unitFileChange);
    },
    async getUnitFileState(file: string): Promise<string> {
      const [state] = await manager('GetUnitFileState', file, 's', [file]);
      return state as string;
    },
    reload: () => manager('Reload').then(() => undefined),
    resetFailedUnit: (unit: string) => manager('ResetFailedUnit', unit, 's', [unit]).then(() => undefined),
    /** The manager's SystemState: initializing, starting, running, degraded, maintenance, stopping. */
    async systemState(): Promise<string> {
      const [value] = await invoke(SYSTEMD_PATH, PROPERTIES_IFACE, 'Get', undefined, 'ss', [MANAGER_IFACE, 'SystemState']);
      return (value as InstanceType<typeof dbus.Variant>).value as string;
    },
    /** ActiveState/SubState changes of every unit (or one), from systemd's PropertiesChanged signals. */
    unitStates$(unit?: string): Observable<UnitStateChange> {
      const signals = bus.signals({
        ...(unit === undefined ? { pathNamespace: UNIT_PATH_PREFIX } : { path: unitPath(unit) }),
        interface: PROPERTIES_IFACE,
        member: 'PropertiesChanged',
        arg0: SYSTEMD_UNIT_IFACE,
      });
      return new Observable<UnitStateChange>((subscriber) => {
        const inner = signals
          .pipe(
            map(({ path, body }) => ({ path, changed: body[1] as Properties })),
            filter(({ changed }) => changed.ActiveState !== undefined),
            map(({ path, changed }) => ({
              unit: labelOf(path),
              activeState: changed.ActiveState!.value as string,
              subState: (changed.SubState?.value as string) ?? '',
            })),
          )
          .subscribe(subscriber);
        ensureSubscribed().catch((error: unknown) => subscriber.error(error));
        return () => inner.unsubscribe();
      });
    },
  };
}
