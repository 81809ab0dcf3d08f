// A typed client of org.freedesktop.systemd1 on a host bus: unit lifecycle, properties, unit files.
import { filter, map, Observable } from 'rxjs';
import { live, type Bus, type LiveStream } from '../bus/connection.ts';
import { asJobResult, awaitJob, type JobEnd } from '../bus/jobs.ts';
import { describeBusError } from '../bluechi/errors.ts';
import { isQmError } from '../errors.ts';
import { escapePathLabel, labelOf } from '../bus/path-label.ts';
import { SYSTEMD_UNIT_IFACE, unitFileChange, unitInfo, type Properties, type UnitFileChange, type UnitInfo } from '../bluechi/api.ts';
import { callMember, PropertiesInterface, type Body, type InterfaceSpec } from '../bus/signature.ts';
import { ManagerInterface } from './contract.ts';
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

const methods = {
  start: 'StartUnit',
  stop: 'StopUnit',
  restart: 'RestartUnit',
  reload: 'ReloadUnit',
} as const satisfies Record<UnitOperation, keyof typeof ManagerInterface.methods>;

export function unitPath(unit: string): string {
  return `${UNIT_PATH_PREFIX}/${escapePathLabel(unit)}`;
}

export type Systemd = ReturnType<typeof systemd>;

export function systemd(bus: Bus, options: { jobTimeoutMs?: number } = {}) {
  const jobTimeoutMs = options.jobTimeoutMs ?? 120_000;
  let subscribed: Promise<unknown> | undefined;

  async function invoke<Spec extends InterfaceSpec, Member extends keyof Spec['methods'] & string>(
    path: string,
    spec: Spec,
    member: Member,
    unit: string | undefined,
    body: Body<Spec['methods'][Member]['in']>,
  ): Promise<Body<Spec['methods'][Member]['out']>> {
    try {
      return (await callMember<InterfaceSpec, string>(bus, SYSTEMD_BUS_NAME, path, spec, member, body as never)) as never;
    } catch (error) {
      throw describeBusError(error, { unit, address: bus.address });
    }
  }
  const manager = <Member extends keyof typeof ManagerInterface.methods & string>(
    member: Member,
    unit: string | undefined,
    body: Body<(typeof ManagerInterface.methods)[Member]['in']>,
  ) => invoke(SYSTEMD_PATH, ManagerInterface, member, unit, body);

  /** systemd only emits job and unit signals once a client has called Subscribe. */
  // A connection subscribes once: systemd answers AlreadySubscribed when another client on it already did.
  const ensureSubscribed = () =>
    (subscribed ??= manager('Subscribe', undefined, []).catch((error: unknown) => {
      if (isQmError(error) && error.origin.dbusName === 'org.freedesktop.systemd1.AlreadySubscribed') return [];
      subscribed = undefined;
      throw error;
    }));

  const jobRemoved$: Observable<JobEnd> = bus
    .signals({ sender: SYSTEMD_BUS_NAME, path: SYSTEMD_PATH, interface: MANAGER_IFACE, member: 'JobRemoved', signatures: ManagerInterface.signals })
    .pipe(
      map(({ body }) => body as Body<typeof ManagerInterface.signals.JobRemoved>),
      map(([id, job, unit, result]) => ({ id, job, unit, result: asJobResult(result) })),
    );

  async function getUnitPath(unit: string): Promise<string> {
    const [path] = await manager('LoadUnit', unit, [unit]);
    return path;
  }

  return {
    bus,
    async runJob(operation: UnitOperation, unit: string, mode: JobMode = 'replace', timeoutMs = jobTimeoutMs) {
      await ensureSubscribed();
      return awaitJob(
        jobRemoved$,
        async () => {
          const [job] = await manager(methods[operation], unit, [unit, mode]);
          return job;
        },
        { unit, operation, timeoutMs },
      );
    },
    async unitProperties(unit: string, iface = SYSTEMD_UNIT_IFACE): Promise<Properties> {
      const path = await getUnitPath(unit);
      const [all] = await invoke(path, PropertiesInterface, 'GetAll', unit, [iface]);
      return all;
    },
    async unitProperty(unit: string, iface: string, property: string): Promise<unknown> {
      const path = await getUnitPath(unit);
      const [value] = await invoke(path, PropertiesInterface, 'Get', unit, [iface, property]);
      return value.value;
    },
    async listUnits(): Promise<UnitInfo[]> {
      const [units] = await manager('ListUnits', undefined, []);
      return units.map(unitInfo);
    },
    async enableUnitFiles(files: string[], runtime = false, force = false) {
      const [carriesInstallInfo, changes] = await manager('EnableUnitFiles', files.join(' '), [files, runtime, force]);
      return { carriesInstallInfo, changes: changes.map(unitFileChange) };
    },
    async disableUnitFiles(files: string[], runtime = false): Promise<UnitFileChange[]> {
      const [changes] = await manager('DisableUnitFiles', files.join(' '), [files, runtime]);
      return changes.map(unitFileChange);
    },
    async getUnitFileState(file: string): Promise<string> {
      const [state] = await manager('GetUnitFileState', file, [file]);
      return state;
    },
    reload: () => manager('Reload', undefined, []).then(() => undefined),
    resetFailedUnit: (unit: string) => manager('ResetFailedUnit', unit, [unit]).then(() => undefined),
    /** The manager's SystemState: initializing, starting, running, degraded, maintenance, stopping. */
    async systemState(): Promise<string> {
      const [value] = await invoke(SYSTEMD_PATH, PropertiesInterface, 'Get', undefined, [MANAGER_IFACE, 'SystemState']);
      return String(value.value);
    },
    /** ActiveState/SubState changes of every unit (or one), from systemd's PropertiesChanged signals; ready once systemd emits them to us. */
    unitStates$(unit?: string): LiveStream<UnitStateChange> {
      const signals = bus.signals({
        sender: SYSTEMD_BUS_NAME,
        signatures: PropertiesInterface.signals,
        ...(unit === undefined ? { pathNamespace: UNIT_PATH_PREFIX } : { path: unitPath(unit) }),
        interface: PropertiesInterface.name,
        member: 'PropertiesChanged',
        arg0: SYSTEMD_UNIT_IFACE,
      });
      const states = new Observable<UnitStateChange>((subscriber) => {
        const inner = signals
          .pipe(
            map(({ path, body }) => ({ path, changed: (body as Body<typeof PropertiesInterface.signals.PropertiesChanged>)[1] })),
            filter(({ changed }) => changed.ActiveState !== undefined),
            map(({ path, changed }) => ({
              unit: labelOf(path),
              activeState: String(changed.ActiveState!.value),
              subState: changed.SubState === undefined ? '' : String(changed.SubState.value),
            })),
          )
          .subscribe(subscriber);
        ensureSubscribed().catch((error: unknown) => subscriber.error(error));
        return () => inner.unsubscribe();
      });
      return live({ ready: () => Promise.all([signals.ready(), ensureSubscribed()]).then(() => undefined) }, states);
    },
  };
}
