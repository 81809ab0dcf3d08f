// A typed client of BlueChi's public API: the controller, its nodes, jobs and monitors.
import type { Variant } from 'dbus-next';
import { filter, map, merge, Observable, share, skip, type Subscription } from 'rxjs';
import { QmError } from '../errors.ts';
import { deferred, live, type Bus, type LiveStream, type MatchRule, type Signal } from '../bus/connection.ts';
import { callMember, PropertiesInterface, type Body, type InterfaceSpec } from '../bus/signature.ts';
import { ControllerInterface, JobInterface, MonitorInterface, NodeInterface } from './contract.ts';
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

const methods = {
  start: 'StartUnit',
  stop: 'StopUnit',
  restart: 'RestartUnit',
  reload: 'ReloadUnit',
} as const satisfies Record<UnitOperation, keyof typeof NodeInterface.methods>;

export interface BlueChiOptions {
  readonly jobTimeoutMs?: number;
}

export type BlueChi = ReturnType<typeof blueChi>;
export type BlueChiNode = ReturnType<BlueChi['node']>;
export type BlueChiMonitor = Awaited<ReturnType<BlueChi['createMonitor']>>;

export function blueChi(bus: Bus, options: BlueChiOptions = {}) {
  const jobTimeoutMs = options.jobTimeoutMs ?? DEFAULT_JOB_TIMEOUT_MS;

  /** A call to BlueChi as its contract declares it; bus errors become QmErrors naming the node and unit. */
  async function invoke<Spec extends InterfaceSpec, Member extends keyof Spec['methods'] & string>(
    path: string,
    spec: Spec,
    member: Member,
    site: CallSite,
    body: Body<Spec['methods'][Member]['in']>,
  ): Promise<Body<Spec['methods'][Member]['out']>> {
    try {
      return (await callMember<InterfaceSpec, string>(bus, BUS_NAME, path, spec, member, body as never)) as never;
    } catch (error) {
      throw describeBusError(error, { ...site, address: bus.address });
    }
  }

  /** Signals from whoever owns org.eclipse.bluechi now, and from no one else. */
  const fromController = (rule: Omit<MatchRule, 'sender'>) => bus.signals({ sender: BUS_NAME, ...rule });

  const controllerSignals = (member: keyof typeof ControllerInterface.signals) =>
    fromController({ path: CONTROLLER_PATH, interface: CONTROLLER_IFACE, member, signatures: ControllerInterface.signals });

  const jobNewSignals = controllerSignals('JobNew');
  const jobNew$: LiveStream<JobNew> = live(
    jobNewSignals,
    jobNewSignals.pipe(map(({ body }) => body as Body<typeof ControllerInterface.signals.JobNew>)).pipe(map(([id, job]) => ({ id, job }))),
  );

  const jobRemovedSignals = controllerSignals('JobRemoved');
  const jobRemoved$: LiveStream<JobEnd & { node: string }> = live(
    jobRemovedSignals,
    jobRemovedSignals.pipe(
      map(({ body }) => body as Body<typeof ControllerInterface.signals.JobRemoved>),
      map(([id, job, node, unit, result]) => ({ id, job, node, unit, result: asJobResult(result) })),
    ),
  );

  const propertyChanges = (path: string | undefined, iface: string): LiveStream<{ path: string; changed: Properties }> => {
    const signals = fromController({
      ...(path === undefined ? { pathNamespace: NODE_PATH_PREFIX } : { path }),
      interface: PROPERTIES_IFACE,
      member: 'PropertiesChanged',
      arg0: iface,
      signatures: PropertiesInterface.signals,
    });
    return live(
      signals,
      signals.pipe(
        map(({ path: from, body }) => ({ path: from, changed: (body as Body<typeof PropertiesInterface.signals.PropertiesChanged>)[1] })),
      ),
    );
  };

  /** Status of every node (or one), as the controller announces connects and disconnects. */
  function nodeStatus$(name?: string): LiveStream<NodeStatusChange> {
    const changes = propertyChanges(name === undefined ? undefined : nodePath(name), NODE_IFACE);
    return live(
      changes,
      changes.pipe(
        filter(({ changed }) => changed.Status !== undefined),
        map(({ path, changed }) => ({ node: name ?? labelOf(path), status: String(changed.Status!.value) })),
      ),
    );
  }

  const controllerChanges = propertyChanges(CONTROLLER_PATH, CONTROLLER_IFACE);
  const controllerStatus$: LiveStream<ControllerStatus> = live(
    controllerChanges,
    controllerChanges.pipe(
      filter(({ changed }) => changed.Status !== undefined),
      map(({ changed }) => String(changed.Status!.value) as ControllerStatus),
    ),
  );

  /** The controller arriving (its unique name) or leaving (''): changes only, followed by the bus daemon. */
  const owner = bus.owner(BUS_NAME);
  const controllerOwner$: LiveStream<string> = live(owner, owner.pipe(skip(1), share()));

  async function getControllerProperty(name: keyof typeof ControllerInterface.properties): Promise<string> {
    const [value] = await invoke(CONTROLLER_PATH, PropertiesInterface, 'Get', {}, [CONTROLLER_IFACE, name]);
    return String(value.value);
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
        filter((current) => current === ''),
        map(() => new QmError('unreachable', `the BlueChi controller left the bus during the ${operation} of ${unit} on node ${name}`, site)),
      ),
    );
  }

  function node(name: string) {
    const path = nodePath(name);
    const call = <Member extends keyof typeof NodeInterface.methods & string>(
      member: Member,
      unit: string | undefined,
      body: Body<(typeof NodeInterface.methods)[Member]['in']>,
    ) => invoke(path, NodeInterface, member, { node: name, unit }, body);

    async function submit(operation: UnitOperation, unit: string, mode: JobMode = 'replace'): Promise<string> {
      const [job] = await call(methods[operation], unit, [unit, mode]);
      return job;
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
      async startTransientUnit(unit: string, mode: JobMode, properties: Array<[string, Variant]>, aux: Array<[string, Array<[string, Variant]>]> = []) {
        const [job] = await call('StartTransientUnit', unit, [unit, mode, properties, aux]);
        return job;
      },
      freezeUnit: (unit: string) => call('FreezeUnit', unit, [unit]).then(() => undefined),
      thawUnit: (unit: string) => call('ThawUnit', unit, [unit]).then(() => undefined),
      killUnit: (unit: string, whom: string, signal: number) => call('KillUnit', unit, [unit, whom, signal]).then(() => undefined),
      async getUnitProperties(unit: string, iface = 'org.freedesktop.systemd1.Unit'): Promise<Properties> {
        const [properties] = await call('GetUnitProperties', unit, [unit, iface]);
        return properties;
      },
      async getUnitProperty(unit: string, iface: string, property: string): Promise<unknown> {
        const [value] = await call('GetUnitProperty', unit, [unit, iface, property]);
        return value.value;
      },
      setUnitProperties: (unit: string, runtime: boolean, values: Array<[string, Variant]>) =>
        call('SetUnitProperties', unit, [unit, runtime, values]).then(() => undefined),
      async enableUnitFiles(files: string[], runtime = false, force = false) {
        const [carriesInstallInfo, changes] = await call('EnableUnitFiles', files.join(' '), [files, runtime, force]);
        return { carriesInstallInfo, changes: changes.map(unitFileChange) };
      },
      async disableUnitFiles(files: string[], runtime = false): Promise<UnitFileChange[]> {
        const [changes] = await call('DisableUnitFiles', files.join(' '), [files, runtime]);
        return changes.map(unitFileChange);
      },
      async listUnits(): Promise<UnitInfo[]> {
        const [units] = await call('ListUnits', undefined, []);
        return units.map(unitInfo);
      },
      async listUnitFiles(): Promise<UnitFileInfo[]> {
        const [files] = await call('ListUnitFiles', undefined, []);
        return files.map(([filePath, state]) => ({ path: filePath, state }));
      },
      async getUnitFileState(file: string): Promise<string> {
        const [state] = await call('GetUnitFileState', file, [file]);
        return state;
      },
      reload: () => call('Reload', undefined, []).then(() => undefined),
      resetFailed: () => call('ResetFailed', undefined, []).then(() => undefined),
      resetFailedUnit: (unit: string) => call('ResetFailedUnit', unit, [unit]).then(() => undefined),
      setLogLevel: (level: string) => call('SetLogLevel', undefined, [level]).then(() => undefined),
      async getDefaultTarget(): Promise<string> {
        const [target] = await call('GetDefaultTarget', undefined, []);
        return target;
      },
      async setDefaultTarget(target: string, force = false): Promise<UnitFileChange[]> {
        const [changes] = await call('SetDefaultTarget', target, [target, force]);
        return changes.map(unitFileChange);
      },
      async properties(): Promise<NodeProperties> {
        // BlueChi marks PeerIp and the timestamps explicit: GetAll leaves them out, only Get answers them.
        const get = (property: keyof typeof NodeInterface.properties) =>
          invoke(path, PropertiesInterface, 'Get', { node: name }, [NODE_IFACE, property]).then(([value]) => value.value as unknown);
        const [[values], peerIp, lastSeen, lastSeenMonotonic] = await Promise.all([
          invoke(path, PropertiesInterface, 'GetAll', { node: name }, [NODE_IFACE]),
          get('PeerIp'),
          get('LastSeenTimestamp'),
          get('LastSeenTimestampMonotonic'),
        ]);
        return {
          name: values.Name === undefined ? name : String(values.Name.value),
          status: values.Status === undefined ? 'offline' : String(values.Status.value),
          peerIp: String(peerIp),
          lastSeenTimestamp: BigInt(lastSeen as bigint),
          lastSeenTimestampMonotonic: BigInt(lastSeenMonotonic as bigint),
        };
      },
      status$: () => nodeStatus$(name),
    };
  }

  function job(path: string) {
    return {
      path,
      cancel: () => invoke(path, JobInterface, 'Cancel', {}, []).then(() => undefined),
      async properties(): Promise<JobProperties> {
        const [values] = await invoke(path, PropertiesInterface, 'GetAll', {}, [JOB_IFACE]);
        return {
          id: Number(values.Id?.value),
          node: String(values.Node?.value ?? ''),
          unit: String(values.Unit?.value ?? ''),
          jobType: String(values.JobType?.value ?? ''),
          state: String(values.State?.value ?? ''),
        };
      },
    };
  }

  async function createMonitor() {
    const [monitorPath] = await invoke(CONTROLLER_PATH, ControllerInterface, 'CreateMonitor', {}, []);
    const call = <Member extends keyof typeof MonitorInterface.methods & string>(member: Member, body: Body<(typeof MonitorInterface.methods)[Member]['in']>) =>
      invoke(monitorPath, MonitorInterface, member, {}, body);
    const signals = fromController({ path: monitorPath, interface: MONITOR_IFACE, signatures: MonitorInterface.signals });
    const events$: LiveStream<MonitorEvent> = live(signals, signals.pipe(map(monitorEvent)));
    return {
      path: monitorPath,
      events$,
      subscribe: (nodeName: string, unit: string) => call('Subscribe', [nodeName, unit]).then(([id]) => id),
      subscribeList: (nodeName: string, units: string[]) => call('SubscribeList', [nodeName, units]).then(([id]) => id),
      unsubscribe: (id: number) => call('Unsubscribe', [id]).then(() => undefined),
      addPeer: (peer: string) => call('AddPeer', [peer]).then(([id]) => id),
      removePeer: (id: number, reason: string) => call('RemovePeer', [id, reason]).then(() => undefined),
      close: () => call('Close', []).then(() => undefined),
    };
  }

  /**
   * Unit events for `node` (or `*`) and `units` (empty: all). The monitor is created on first subscription
   * and closed when the last subscriber leaves — also when that happens before the controller created it.
   * `ready()` resolves once the monitor is subscribed: every change after that is delivered.
   */
  function watchUnits(nodeName: string, units: readonly string[] = []): LiveStream<MonitorEvent> {
    let readiness = deferred();
    const stream = new Observable<MonitorEvent>((subscriber) => {
      const current = readiness;
      let closed = false;
      let monitor: BlueChiMonitor | undefined;
      let inner: Subscription | undefined;
      const fail = (error: unknown) => {
        current.reject(error);
        subscriber.error(error);
      };
      createMonitor()
        .then(async (created) => {
          monitor = created;
          if (closed) return void created.close().catch(() => undefined);
          inner = created.events$.subscribe(subscriber);
          // Subscribe on the bus only after the signal match is in place, so no event is lost.
          await created.events$.ready();
          if (units.length === 0) await created.subscribe(nodeName, '*');
          else if (units.length === 1) await created.subscribe(nodeName, units[0]!);
          else await created.subscribeList(nodeName, [...units]);
          current.resolve();
        })
        .catch(fail);
      return () => {
        closed = true;
        inner?.unsubscribe();
        monitor?.close().catch(() => undefined);
        if (readiness === current) readiness = deferred();
      };
    }).pipe(share());
    return Object.assign(stream, { ready: () => readiness.promise });
  }

  return {
    bus,
    async listNodes(): Promise<NodeInfo[]> {
      const [nodes] = await invoke(CONTROLLER_PATH, ControllerInterface, 'ListNodes', {}, []);
      return nodes.map(([name, path, status, peerIp]) => ({ name, path, status, peerIp }));
    },
    async listUnits(): Promise<Map<string, UnitInfo[]>> {
      const [perNode] = await invoke(CONTROLLER_PATH, ControllerInterface, 'ListUnits', {}, []);
      return new Map(Object.entries(perNode).map(([name, units]) => [name, units.map(unitInfo)]));
    },
    async listUnitFiles(): Promise<Map<string, UnitFileInfo[]>> {
      const [perNode] = await invoke(CONTROLLER_PATH, ControllerInterface, 'ListUnitFiles', {}, []);
      return new Map(Object.entries(perNode).map(([name, files]) => [name, files.map(([path, state]) => ({ path, state }))]));
    },
    async getNode(name: string): Promise<string> {
      const [path] = await invoke(CONTROLLER_PATH, ControllerInterface, 'GetNode', { node: name }, [name]);
      return path;
    },
    node,
    job,
    createMonitor,
    watchUnits,
    enableMetrics: () => invoke(CONTROLLER_PATH, ControllerInterface, 'EnableMetrics', {}, []).then(() => undefined),
    disableMetrics: () => invoke(CONTROLLER_PATH, ControllerInterface, 'DisableMetrics', {}, []).then(() => undefined),
    setLogLevel: (level: string) => invoke(CONTROLLER_PATH, ControllerInterface, 'SetLogLevel', {}, [level]).then(() => undefined),
    status: () => getControllerProperty('Status') as Promise<ControllerStatus>,
    logLevel: () => getControllerProperty('LogLevel'),
    logTarget: () => getControllerProperty('LogTarget'),
    jobNew$,
    jobRemoved$,
    nodeStatus$,
    controllerStatus$,
    controllerOwner$,
  };
}

function monitorEvent(signal: Signal): MonitorEvent {
  const body = signal.body as string[];
  switch (signal.member as keyof typeof MonitorInterface.signals) {
    case 'UnitPropertiesChanged':
      return { kind: 'UnitPropertiesChanged', node: body[0]!, unit: body[1]!, interface: body[2]!, properties: signal.body[3] as Properties };
    case 'UnitStateChanged':
      return { kind: 'UnitStateChanged', node: body[0]!, unit: body[1]!, activeState: body[2]!, subState: body[3]!, reason: body[4]! };
    case 'UnitNew':
      return { kind: 'UnitNew', node: body[0]!, unit: body[1]!, reason: body[2]! };
    case 'UnitRemoved':
      return { kind: 'UnitRemoved', node: body[0]!, unit: body[1]!, reason: body[2]! };
    case 'PeerRemoved':
      return { kind: 'PeerRemoved', reason: body[0]! };
  }
}
