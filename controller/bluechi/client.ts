// A typed client of BlueChi's public API: the controller, its nodes, jobs and monitors.
import type { Variant } from 'dbus-next';
import { filter, map, merge, Observable, share } from 'rxjs';
import { QmError } from '../errors.ts';
import type { Bus, Signal } from '../bus/connection.ts';
import { asJobResult, awaitJob, type JobEnd } from '../bus/jobs.ts';
import {
  BUS_NAME,
  CONTROLLER_IFACE,
  CONTROLLER_PATH,
  JOB_IFACE,
  MONITOR_IFACE,
  NODE_IFACE,
  nodePath,
  NODE_PATH_PREFIX,
  PROPERTIES_IFACE,
  unitFileChange,
  unitInfo,
  type ControllerStatus,
  type NodeInfo,
  type Properties,
  type UnitFileChange,
  type UnitFileInfo,
  type UnitInfo,
  type UnitTuple,
} from './api.ts';
import { describeBusError, type CallSite } from './errors.ts';
import { labelOf } from '../bus/path-label.ts';

export const DEFAULT_JOB_TIMEOUT_MS = 120_000;

export type JobMode = 'replace' | 'fail' | 'isolate' | 'ignore-dependencies' | 'ignore-requirements';
export type UnitOperation = 'start' | 'stop' | 'restart' | 'reload';

/** A finished job as the controller reported it in JobRemoved. */
export interface JobOutcome extends JobEnd {
  readonly node: string;
  readonly operation: UnitOperation;
}

export interface JobNew {
  readonly id: number;
  readonly job: string;
}

export interface NodeStatusChange {
  readonly node: string;
  readonly status: string;
}

export interface JobProperties {
  readonly id: number;
  readonly node: string;
  readonly unit: string;
  readonly jobType: string;
  readonly state: string;
}

export interface NodeProperties {
  readonly name: string;
  readonly status: string;
  readonly peerIp: string;
  readonly lastSeenTimestamp: bigint;
  readonly lastSeenTimestampMonotonic: bigint;
}

export type MonitorEvent =
  | { readonly kind: 'UnitPropertiesChanged'; readonly node: string; readonly unit: string; readonly interface: string; readonly properties: Properties }
  | {
      readonly kind: 'UnitStateChanged';
      readonly node: string;
      readonly unit: string;
      readonly activeState: string;
      readonly subState: string;
      readonly reason: string;
    }
  | { readonly kind: 'UnitNew'; readonly node: string; readonly unit: string; readonly reason: string }
  | { readonly kind: 'UnitRemoved'; readonly node: string; readonly unit: string; readonly reason: string }
  | { readonly kind: 'PeerRemoved'; readonly reason: string };

const methods: Record<UnitOperation, string> = {
  start: 'StartUnit',
  stop: 'StopUnit',
  restart: 'RestartUnit',
  reload: 'ReloadUnit',
};

export interface BlueChiOptions {
  readonly jobTimeoutMs?: number;
}

export type BlueChi = ReturnType<typeof blueChi>;
export type BlueChiNode = ReturnType<BlueChi['node']>;
export type BlueChiMonitor = Awaited<ReturnType<BlueChi['createMonitor']>>;

export function blueChi(bus: Bus, options: BlueChiOptions = {}) {
  const jobTimeoutMs = options.jobTimeoutMs ?? DEFAULT_JOB_TIMEOUT_MS;

  async function invoke(path: string, iface: string, member: string, site: CallSite, signature = '', body: unknown[] = []) {
    try {
      return await bus.call({ destination: BUS_NAME, path, interface: iface, member, signature, body });
    } catch (error) {
      throw describeBusError(error, { ...site, address: bus.address });
    }
  }

  const controllerCall = (member: string, signature?: string, body?: unknown[]) =>
    invoke(CONTROLLER_PATH, CONTROLLER_IFACE, member, {}, signature, body);

  const jobNew$: Observable<JobNew> = bus
    .signals({ path: CONTROLLER_PATH, interface: CONTROLLER_IFACE, member: 'JobNew' })
    .pipe(map(({ body: [id, job] }) => ({ id: id as number, job: job as string })));

  const jobRemoved$: Observable<JobEnd & { node: string }> = bus
    .signals({ path: CONTROLLER_PATH, interface: CONTROLLER_IFACE, member: 'JobRemoved' })
    .pipe(
      map(({ body: [id, job, node, unit, result] }) => ({
        id: id as number,
        job: job as string,
        node: node as string,
        unit: unit as string,
        result: asJobResult(result as string),
      })),
    );

  const propertyChanges = (path: string | undefined, iface: string): Observable<{ path: string; changed: Properties }> =>
    bus
      .signals({
        ...(path === undefined ? { pathNamespace: NODE_PATH_PREFIX } : { path }),
        interface: PROPERTIES_IFACE,
        member: 'PropertiesChanged',
        arg0: iface,
      })
      .pipe(map((signal: Signal) => ({ path: signal.path, changed: signal.body[1] as Properties })));

  /** Status of every node (or one), as the controller announces connects and disconnects. */
  function nodeStatus$(name?: string): Observable<NodeStatusChange> {
    return propertyChanges(name === undefined ? undefined : nodePath(name), NODE_IFACE).pipe(
      filter(({ changed }) => changed.Status !== undefined),
      map(({ path, changed }) => ({ node: name ?? labelOf(path), status: changed.Status!.value as string })),
    );
  }

  const controllerStatus$: Observable<ControllerStatus> = propertyChanges(CONTROLLER_PATH, CONTROLLER_IFACE).pipe(
    filter(({ changed }) => changed.Status !== undefined),
    map(({ changed }) => changed.Status!.value as ControllerStatus),
  );

  /** NameOwnerChanged for org.eclipse.bluechi: the controller arriving (owner) or leaving (''). */
  const controllerOwner$: Observable<string> = bus
    .signals({
      sender: 'org.freedesktop.DBus',
      path: '/org/freedesktop/DBus',
      interface: 'org.freedesktop.DBus',
      member: 'NameOwnerChanged',
      arg0: BUS_NAME,
    })
    .pipe(
      map(({ body }) => body[2] as string),
      share(),
    );

  async function getControllerProperty(name: string): Promise<unknown> {
    const [value] = await invoke(CONTROLLER_PATH, PROPERTIES_IFACE, 'Get', {}, 'ss', [CONTROLLER_IFACE, name]);
    return (value as Variant).value;
  }

  /** BlueChi drops a node's jobs without JobRemoved when it disconnects: end the wait instead of timing out. */
  function lost(name: string, unit: string, operation: string): Observable<QmError> {
    const site = { node: name, unit };
    return merge(
      // One match rule for every node's status, shared by all waiting jobs, rather than one per node.
      nodeStatus$().pipe(
        filter(({ node, status }) => node === name && status === 'offline'),
        map(() => new QmError('node-offline', `node ${name} went offline during the ${operation} of ${unit}`, site)),
      ),
      controllerOwner$.pipe(
        filter((owner) => owner === ''),
        map(() => new QmError('unreachable', `the BlueChi controller left the bus during the ${operation} of ${unit} on node ${name}`, site)),
      ),
    );
  }

  function node(name: string) {
    const path = nodePath(name);
    const call = (member: string, unit: string | undefined, signature?: string, body?: unknown[]) =>
      invoke(path, NODE_IFACE, member, { node: name, unit }, signature, body);

    async function submit(operation: UnitOperation, unit: string, mode: JobMode = 'replace'): Promise<string> {
      const [job] = await call(methods[operation], unit, 'ss', [unit, mode]);
      return job as string;
    }

    return {
      name,
      path,
      /** Runs a unit job and resolves with how it ended (done, failed, canceled, timeout, dependency, skipped). */
      async runJob(operation: UnitOperation, unit: string, mode: JobMode = 'replace', timeoutMs = jobTimeoutMs): Promise<JobOutcome> {
        const end = await awaitJob(jobRemoved$, () => submit(operation, unit, mode), { node: name, unit, operation, timeoutMs }, lost(name, unit, operation));
        return { ...end, node: name, operation };
      },
      /** Submits a unit job without waiting: resolves with the job's object path. */
      submit,
      async startTransientUnit(unit: string, mode: JobMode, properties: Array<[string, unknown]>, aux: unknown[] = []) {
        const [job] = await call('StartTransientUnit', unit, 'ssa(sv)a(sa(sv))', [unit, mode, properties, aux]);
        return job as string;
      },
      freezeUnit: (unit: string) => call('FreezeUnit', unit, 's', [unit]).then(() => undefined),
      thawUnit: (unit: string) => call('ThawUnit', unit, 's', [unit]).then(() => undefined),
      killUnit: (unit: string, whom: string, signal: number) => call('KillUnit', unit, 'ssi', [unit, whom, signal]).then(() => undefined),
      async getUnitProperties(unit: string, iface = 'org.freedesktop.systemd1.Unit'): Promise<Properties> {
        const [properties] = await call('GetUnitProperties', unit, 'ss', [unit, iface]);
        return properties as Properties;
      },
      async getUnitProperty(unit: string, iface: string, property: string): Promise<unknown> {
        const [value] = await call('GetUnitProperty', unit, 'sss', [unit, iface, property]);
        return (value as Variant).value;
      },
      setUnitProperties: (unit: string, runtime: boolean, values: Array<[string, unknown]>) =>
        call('SetUnitProperties', unit, 'sba(sv)', [unit, runtime, values]).then(() => undefined),
      async enableUnitFiles(files: string[], runtime = false, force = false) {
        const [carriesInstallInfo, changes] = await call('EnableUnitFiles', files.join(' '), 'asbb', [files, runtime, force]);
        return {
          carriesInstallInfo: carriesInstallInfo as boolean,
          changes: (changes as Array<[string, string, string]>).map(unitFileChange),
        };
      },
      async disableUnitFiles(files: string[], runtime = false): Promise<UnitFileChange[]> {
        const [changes] = await call('DisableUnitFiles', files.join(' '), 'asb', [files, runtime]);
        return (changes as Array<[string, string, string]>).map(unitFileChange);
      },
      async listUnits(): Promise<UnitInfo[]> {
        const [units] = await call('ListUnits', undefined);
        return (units as UnitTuple[]).map(unitInfo);
      },
      async listUnitFiles(): Promise<UnitFileInfo[]> {
        const [files] = await call('ListUnitFiles', undefined);
        return (files as Array<[string, string]>).map(([filePath, state]) => ({ path: filePath, state }));
      },
      async getUnitFileState(file: string): Promise<string> {
        const [state] = await call('GetUnitFileState', file, 's', [file]);
        return state as string;
      },
      reload: () => call('Reload', undefined).then(() => undefined),
      resetFailed: () => call('ResetFailed', undefined).then(() => undefined),
      resetFailedUnit: (unit: string) => call('ResetFailedUnit', unit, 's', [unit]).then(() => undefined),
      setLogLevel: (level: string) => call('SetLogLevel', undefined, 's', [level]).then(() => undefined),
      async getDefaultTarget(): Promise<string> {
        const [target] = await call('GetDefaultTarget', undefined);
        return target as string;
      },
      async setDefaultTarget(target: string, force = false): Promise<UnitFileChange[]> {
        const [changes] = await call('SetDefaultTarget', target, 'sb', [target, force]);
        return (changes as Array<[string, string, string]>).map(unitFileChange);
      },
      async properties(): Promise<NodeProperties> {
        const [all] = await invoke(path, PROPERTIES_IFACE, 'GetAll', { node: name }, 's', [NODE_IFACE]);
        const values = all as Properties;
        return {
          name: (values.Name?.value as string) ?? name,
          status: (values.Status?.value as string) ?? 'offline',
          peerIp: (values.PeerIp?.value as string) ?? '',
          lastSeenTimestamp: BigInt((values.LastSeenTimestamp?.value as bigint | number | undefined) ?? 0),
          lastSeenTimestampMonotonic: BigInt((values.LastSeenTimestampMonotonic?.value as bigint | number | undefined) ?? 0),
        };
      },
      status$: () => nodeStatus$(name),
    };
  }

  function job(path: string) {
    return {
      path,
      cancel: () => invoke(path, JOB_IFACE, 'Cancel', {}).then(() => undefined),
      async properties(): Promise<JobProperties> {
        const [all] = await invoke(path, PROPERTIES_IFACE, 'GetAll', {}, 's', [JOB_IFACE]);
        const values = all as Properties;
        return {
          id: values.Id?.value as number,
          node: values.Node?.value as string,
          unit: values.Unit?.value as string,
          jobType: values.JobType?.value as string,
          state: values.State?.value as string,
        };
      },
    };
  }

  async function createMonitor() {
    const [path] = await controllerCall('CreateMonitor');
    const monitorPath = path as string;
    const call = (member: string, signature?: string, body?: unknown[]) => invoke(monitorPath, MONITOR_IFACE, member, {}, signature, body);
    const events$: Observable<MonitorEvent> = bus.signals({ path: monitorPath, interface: MONITOR_IFACE }).pipe(map(monitorEvent));
    return {
      path: monitorPath,
      events$,
      subscribe: (nodeName: string, unit: string) => call('Subscribe', 'ss', [nodeName, unit]).then(([id]) => id as number),
      subscribeList: (nodeName: string, units: string[]) => call('SubscribeList', 'sas', [nodeName, units]).then(([id]) => id as number),
      unsubscribe: (id: number) => call('Unsubscribe', 'u', [id]).then(() => undefined),
      addPeer: (peer: string) => call('AddPeer', 's', [peer]).then(([id]) => id as number),
      removePeer: (id: number, reason: string) => call('RemovePeer', 'us', [id, reason]).then(() => undefined),
      close: () => call('Close').then(() => undefined),
    };
  }

  /**
   * Unit events for `node` (or `*`) and `units` (empty: all). The monitor is created on first subscription
   * and closed when the last subscriber leaves.
   */
  function watchUnits(nodeName: string, units: readonly string[] = []): Observable<MonitorEvent> {
    return new Observable<MonitorEvent>((subscriber) => {
      let monitor: BlueChiMonitor | undefined;
      let closed = false;
      const subscription = { unsubscribe: () => undefined } as { unsubscribe(): void };
      createMonitor()
        .then(async (created) => {
          monitor = created;
          if (closed) return;
          const inner = created.events$.subscribe(subscriber);
          subscription.unsubscribe = () => inner.unsubscribe();
          // Subscribe on the bus only after the signal match is in place, so no event is lost.
          if (units.length === 0) await created.subscribe(nodeName, '*');
          else if (units.length === 1) await created.subscribe(nodeName, units[0]!);
          else await created.subscribeList(nodeName, [...units]);
        })
        .catch((error: unknown) => subscriber.error(error));
      return () => {
        closed = true;
        subscription.unsubscribe();
        monitor?.close().catch(() => undefined);
      };
    }).pipe(share());
  }

  return {
    bus,
    async listNodes(): Promise<NodeInfo[]> {
      const [nodes] = await controllerCall('ListNodes');
      return (nodes as Array<[string, string, string, string]>).map(([name, path, status, peerIp]) => ({ name, path, status, peerIp }));
    },
    async listUnits(): Promise<Map<string, UnitInfo[]>> {
      const [perNode] = await controllerCall('ListUnits');
      return new Map(Object.entries(perNode as Record<string, UnitTuple[]>).map(([name, units]) => [name, units.map(unitInfo)]));
    },
    async listUnitFiles(): Promise<Map<string, UnitFileInfo[]>> {
      const [perNode] = await controllerCall('ListUnitFiles');
      return new Map(
        Object.entries(perNode as Record<string, Array<[string, string]>>).map(([name, files]) => [
          name,
          files.map(([path, state]) => ({ path, state })),
        ]),
      );
    },
    async getNode(name: string): Promise<string> {
      const [path] = await invoke(CONTROLLER_PATH, CONTROLLER_IFACE, 'GetNode', { node: name }, 's', [name]);
      return path as string;
    },
    node,
    job,
    createMonitor,
    watchUnits,
    enableMetrics: () => controllerCall('EnableMetrics').then(() => undefined),
    disableMetrics: () => controllerCall('DisableMetrics').then(() => undefined),
    setLogLevel: (level: string) => controllerCall('SetLogLevel', 's', [level]).then(() => undefined),
    status: () => getControllerProperty('Status') as Promise<ControllerStatus>,
    logLevel: () => getControllerProperty('LogLevel') as Promise<string>,
    logTarget: () => getControllerProperty('LogTarget') as Promise<string>,
    jobNew$,
    jobRemoved$,
    nodeStatus$,
    controllerStatus$,
    controllerOwner$,
  };
}

function monitorEvent(signal: Signal): MonitorEvent {
  const body = signal.body as string[];
  switch (signal.member) {
    case 'UnitPropertiesChanged':
      return { kind: 'UnitPropertiesChanged', node: body[0]!, unit: body[1]!, interface: body[2]!, properties: signal.body[3] as Properties };
    case 'UnitStateChanged':
      return { kind: 'UnitStateChanged', node: body[0]!, unit: body[1]!, activeState: body[2]!, subState: body[3]!, reason: body[4]! };
    case 'UnitNew':
      return { kind: 'UnitNew', node: body[0]!, unit: body[1]!, reason: body[2]! };
    case 'UnitRemoved':
      return { kind: 'UnitRemoved', node: body[0]!, unit: body[1]!, reason: body[2]! };
    default:
      return { kind: 'PeerRemoved', reason: body[0] ?? '' };
  }
}
