// A typed client of BlueChi's public API: the controller, its nodes, monitors and metrics, and the local agent's
// status. `BlueChi` is what callers compile against; `blueChi(bus)` is its one implementation over a bus.
import type { Variant } from 'dbus-next';
import { defer, distinctUntilChanged, filter, from, map, merge, Observable, of, share, skip, switchMap, type Subscription } from 'rxjs';
import { QmError } from '../errors.ts';
import { deferred, live, type Bus, type LiveStream, type MatchRule, type Signal } from '../bus/connection.ts';
import { callMember, PropertiesInterface, type Body, type InterfaceSpec } from '../bus/signature.ts';
import { ControllerInterface, MetricsInterface, MonitorInterface, NodeInterface } from './contract.ts';
import { asJobResult, awaitJob, type JobEnd } from '../bus/jobs.ts';
import {
  AGENT_BUS_NAME,
  AGENT_IFACE,
  AGENT_PATH,
  BUS_NAME,
  CONTROLLER_IFACE,
  CONTROLLER_PATH,
  METRICS_IFACE,
  METRICS_PATH,
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

/** The signals of org.eclipse.bluechi.Metrics, times in microseconds. */
export type JobMetrics =
  | {
      readonly kind: 'StartUnitJobMetrics';
      readonly node: string;
      /** The BlueChi job's object path (upstream names the argument job_id). */
      readonly job: string;
      readonly unit: string;
      /** From StartUnit to JobRemoved, as the controller measured it. */
      readonly jobMeasuredMicros: bigint;
      /** ActiveEnterTimestampMonotonic − InactiveExitTimestampMonotonic of the unit. */
      readonly unitStartMicros: bigint;
    }
  | {
      readonly kind: 'AgentJobMetrics';
      readonly node: string;
      readonly unit: string;
      /** The agent's method: StartUnit, StopUnit, RestartUnit, ReloadUnit. */
      readonly method: string;
      readonly systemdJobMicros: bigint;
    };

/** Whose connection status: the whole system (the controller), one node, or the agent on this machine's bus. */
export type StatusSubject = { readonly of: 'system' } | { readonly of: 'node'; readonly node: string } | { readonly of: 'agent' };

/** One BlueChi node, as the controller's org.eclipse.bluechi.Node object serves it. */
export interface BlueChiNode {
  /** Runs a unit job and resolves with how it ended (done, failed, canceled, timeout, dependency, skipped). */
  runJob(operation: UnitOperation, unit: string, mode?: JobMode, timeoutMs?: number): Promise<JobOutcome>;
  /** Submits a unit job without waiting: resolves with the job's object path. */
  submit(operation: UnitOperation, unit: string, mode?: JobMode): Promise<string>;
  freezeUnit(unit: string): Promise<void>;
  thawUnit(unit: string): Promise<void>;
  killUnit(unit: string, whom: string, signal: number): Promise<void>;
  getUnitProperties(unit: string, iface?: string): Promise<Properties>;
  getUnitProperty(unit: string, iface: string, property: string): Promise<unknown>;
  enableUnitFiles(files: string[], runtime?: boolean, force?: boolean): Promise<{ carriesInstallInfo: boolean; changes: UnitFileChange[] }>;
  disableUnitFiles(files: string[], runtime?: boolean): Promise<UnitFileChange[]>;
  listUnits(): Promise<UnitInfo[]>;
  listUnitFiles(): Promise<UnitFileInfo[]>;
  getUnitFileState(file: string): Promise<string>;
  /** systemd's daemon-reload on the node. */
  reload(): Promise<void>;
  resetFailed(): Promise<void>;
  resetFailedUnit(unit: string): Promise<void>;
  setLogLevel(level: string): Promise<void>;
  getDefaultTarget(): Promise<string>;
  setDefaultTarget(target: string, force?: boolean): Promise<UnitFileChange[]>;
  properties(): Promise<NodeProperties>;
}

/** A monitor object of the controller, open until closed or until this connection leaves the bus. */
export interface BlueChiMonitor {
  readonly events$: LiveStream<MonitorEvent>;
  subscribe(node: string, unit: string): Promise<number>;
  subscribeList(node: string, units: string[]): Promise<number>;
  close(): Promise<void>;
}

/** The BlueChi controller on one bus (org.eclipse.bluechi), and the agent's status where that bus has one. */
export interface BlueChi {
  /** The connection calls go over; qm-controller's own API is on the same bus. */
  readonly bus: Bus;
  listNodes(): Promise<NodeInfo[]>;
  /** Per online node. */
  listUnits(): Promise<Map<string, UnitInfo[]>>;
  listUnitFiles(): Promise<Map<string, UnitFileInfo[]>>;
  node(name: string): BlueChiNode;
  createMonitor(): Promise<BlueChiMonitor>;
  /**
   * Unit events for `node` (or `*`) and `units` (empty: all). The monitor is created on first subscription
   * and closed when the last subscriber leaves. `ready()` resolves once the monitor is subscribed.
   */
  watchUnits(node: string, units?: readonly string[]): LiveStream<MonitorEvent>;
  setLogLevel(level: string): Promise<void>;
  enableMetrics(): Promise<void>;
  disableMetrics(): Promise<void>;
  /** Job metrics while they are enabled (by anyone): the controller serves them on /org/eclipse/bluechi/metrics. */
  readonly metrics$: LiveStream<JobMetrics>;
  /** The controller's Status property now. */
  status(): Promise<ControllerStatus>;
  /**
   * The Status property of `subject` now and at every change ('up', 'degraded', 'down' for the system; 'online',
   * 'offline' for a node or the agent), '' while its service is not on the bus. Fails for a node BlueChi does not know.
   */
  status$(subject: StatusSubject): LiveStream<string>;
  readonly jobNew$: LiveStream<JobNew>;
  readonly jobRemoved$: LiveStream<JobEnd & { node: string }>;
  /** Status of every node (or one), as the controller announces connects and disconnects. */
  nodeStatus$(name?: string): LiveStream<NodeStatusChange>;
  readonly controllerStatus$: LiveStream<ControllerStatus>;
  /** The controller arriving (its unique name) or leaving (''): changes only. */
  readonly controllerOwner$: LiveStream<string>;
}

export interface BlueChiOptions {
  readonly jobTimeoutMs?: number;
}

const methods = {
  start: 'StartUnit',
  stop: 'StopUnit',
  restart: 'RestartUnit',
  reload: 'ReloadUnit',
} as const satisfies Record<UnitOperation, keyof typeof NodeInterface.methods>;

/** What every part of the client shares: typed calls that name node and unit in errors, and trusted signals. */
interface Wire {
  readonly bus: Bus;
  invoke<Spec extends InterfaceSpec, Member extends keyof Spec['methods'] & string>(
    path: string,
    spec: Spec,
    member: Member,
    site: CallSite,
    body: Body<Spec['methods'][Member]['in']>,
    destination?: string,
  ): Promise<Body<Spec['methods'][Member]['out']>>;
  /** Signals from whoever owns org.eclipse.bluechi now, and from no one else. */
  fromController(rule: Omit<MatchRule, 'sender'>): LiveStream<Signal>;
  /** PropertiesChanged of `iface` on `path` (or every node's) from `sender`: the object path and what changed. */
  propertyChanges(path: string | undefined, iface: string, sender?: string): LiveStream<{ path: string; changed: Properties }>;
}

function wire(bus: Bus): Wire {
  const fromController = (rule: Omit<MatchRule, 'sender'>) => bus.signals({ sender: BUS_NAME, ...rule });
  return {
    bus,
    async invoke(path, spec, member, site, body, destination = BUS_NAME) {
      try {
        return (await callMember<InterfaceSpec, string>(bus, destination, path, spec, member, body as never)) as never;
      } catch (error) {
        throw describeBusError(error, { ...site, address: bus.address });
      }
    },
    fromController,
    propertyChanges(path, iface, sender = BUS_NAME) {
      const signals = bus.signals({
        sender,
        ...(path === undefined ? { pathNamespace: NODE_PATH_PREFIX } : { path }),
        interface: PROPERTIES_IFACE,
        member: 'PropertiesChanged',
        arg0: iface,
        signatures: PropertiesInterface.signals,
      });
      return live(
        signals,
        signals.pipe(map(({ path: from, body }) => ({ path: from, changed: (body as Body<typeof PropertiesInterface.signals.PropertiesChanged>)[1] }))),
      );
    },
  };
}

export function blueChi(bus: Bus, options: BlueChiOptions = {}): BlueChi {
  const jobTimeoutMs = options.jobTimeoutMs ?? DEFAULT_JOB_TIMEOUT_MS;
  const w = wire(bus);
  const { invoke } = w;

  const controllerSignals = (member: keyof typeof ControllerInterface.signals) =>
    w.fromController({ path: CONTROLLER_PATH, interface: CONTROLLER_IFACE, member, signatures: ControllerInterface.signals });

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

  function nodeStatus$(name?: string): LiveStream<NodeStatusChange> {
    const changes = w.propertyChanges(name === undefined ? undefined : nodePath(name), NODE_IFACE);
    return live(
      changes,
      changes.pipe(
        filter(({ changed }) => changed.Status !== undefined),
        map(({ path, changed }) => ({ node: name ?? labelOf(path), status: String(changed.Status!.value) })),
      ),
    );
  }

  const controllerChanges = w.propertyChanges(CONTROLLER_PATH, CONTROLLER_IFACE);
  const controllerStatus$: LiveStream<ControllerStatus> = live(
    controllerChanges,
    controllerChanges.pipe(
      filter(({ changed }) => changed.Status !== undefined),
      map(({ changed }) => String(changed.Status!.value) as ControllerStatus),
    ),
  );

  const owner = bus.owner(BUS_NAME);
  const controllerOwner$: LiveStream<string> = live(owner, owner.pipe(skip(1), share()));

  const metricsSignals = w.fromController({ path: METRICS_PATH, interface: METRICS_IFACE, signatures: MetricsInterface.signals });
  const metrics$: LiveStream<JobMetrics> = live(metricsSignals, metricsSignals.pipe(map(jobMetrics)));

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

  const node = (name: string): BlueChiNode =>
    nodeClient(w, name, (operation, unit, mode, submit, timeoutMs) =>
      awaitJob(jobRemoved$, submit, { node: name, unit, operation, timeoutMs: timeoutMs ?? jobTimeoutMs }, lost(name, unit, operation)),
    );

  const createMonitor = () => openMonitor(w);

  return {
    bus,
    async listNodes() {
      const [nodes] = await invoke(CONTROLLER_PATH, ControllerInterface, 'ListNodes', {}, []);
      return nodes.map(([name, path, status, peerIp]) => ({ name, path, status, peerIp }));
    },
    async listUnits() {
      const [perNode] = await invoke(CONTROLLER_PATH, ControllerInterface, 'ListUnits', {}, []);
      return new Map(Object.entries(perNode).map(([name, units]) => [name, units.map(unitInfo)]));
    },
    async listUnitFiles() {
      const [perNode] = await invoke(CONTROLLER_PATH, ControllerInterface, 'ListUnitFiles', {}, []);
      return new Map(Object.entries(perNode).map(([name, files]) => [name, files.map(([path, state]) => ({ path, state }))]));
    },
    node,
    createMonitor,
    watchUnits: (nodeName, units = []) => watchUnits(createMonitor, nodeName, units),
    setLogLevel: (level) => invoke(CONTROLLER_PATH, ControllerInterface, 'SetLogLevel', {}, [level]).then(() => undefined),
    enableMetrics: () => invoke(CONTROLLER_PATH, ControllerInterface, 'EnableMetrics', {}, []).then(() => undefined),
    disableMetrics: () => invoke(CONTROLLER_PATH, ControllerInterface, 'DisableMetrics', {}, []).then(() => undefined),
    metrics$,
    async status() {
      const [value] = await invoke(CONTROLLER_PATH, PropertiesInterface, 'Get', {}, [CONTROLLER_IFACE, 'Status']);
      return String(value.value) as ControllerStatus;
    },
    status$: (subject) => statusOf(w, subject),
    jobNew$,
    jobRemoved$,
    nodeStatus$,
    controllerStatus$,
    controllerOwner$,
  };
}

type RunJob = (operation: UnitOperation, unit: string, mode: JobMode, submit: () => Promise<string>, timeoutMs: number | undefined) => Promise<JobEnd>;

function nodeClient({ invoke }: Wire, name: string, runJob: RunJob): BlueChiNode {
  const path = nodePath(name);
  const call = <Member extends keyof typeof NodeInterface.methods & string>(
    member: Member,
    unit: string | undefined,
    body: Body<(typeof NodeInterface.methods)[Member]['in']>,
  ) => invoke(path, NodeInterface, member, { node: name, unit }, body);
  const done = () => undefined;

  async function submit(operation: UnitOperation, unit: string, mode: JobMode = 'replace'): Promise<string> {
    const [job] = await call(methods[operation], unit, [unit, mode]);
    return job;
  }

  return {
    async runJob(operation, unit, mode = 'replace', timeoutMs) {
      const end = await runJob(operation, unit, mode, () => submit(operation, unit, mode), timeoutMs);
      return { ...end, node: name, operation };
    },
    submit,
    freezeUnit: (unit) => call('FreezeUnit', unit, [unit]).then(done),
    thawUnit: (unit) => call('ThawUnit', unit, [unit]).then(done),
    killUnit: (unit, whom, signal) => call('KillUnit', unit, [unit, whom, signal]).then(done),
    async getUnitProperties(unit, iface = 'org.freedesktop.systemd1.Unit') {
      const [properties] = await call('GetUnitProperties', unit, [unit, iface]);
      return properties;
    },
    async getUnitProperty(unit, iface, property) {
      const [value] = await call('GetUnitProperty', unit, [unit, iface, property]);
      return (value as Variant).value as unknown;
    },
    async enableUnitFiles(files, runtime = false, force = false) {
      const [carriesInstallInfo, changes] = await call('EnableUnitFiles', files.join(' '), [files, runtime, force]);
      return { carriesInstallInfo, changes: changes.map(unitFileChange) };
    },
    async disableUnitFiles(files, runtime = false) {
      const [changes] = await call('DisableUnitFiles', files.join(' '), [files, runtime]);
      return changes.map(unitFileChange);
    },
    async listUnits() {
      const [units] = await call('ListUnits', undefined, []);
      return units.map(unitInfo);
    },
    async listUnitFiles() {
      const [files] = await call('ListUnitFiles', undefined, []);
      return files.map(([filePath, state]) => ({ path: filePath, state }));
    },
    async getUnitFileState(file) {
      const [state] = await call('GetUnitFileState', file, [file]);
      return state;
    },
    reload: () => call('Reload', undefined, []).then(done),
    resetFailed: () => call('ResetFailed', undefined, []).then(done),
    resetFailedUnit: (unit) => call('ResetFailedUnit', unit, [unit]).then(done),
    setLogLevel: (level) => call('SetLogLevel', undefined, [level]).then(done),
    async getDefaultTarget() {
      const [target] = await call('GetDefaultTarget', undefined, []);
      return target;
    },
    async setDefaultTarget(target, force = false) {
      const [changes] = await call('SetDefaultTarget', target, [target, force]);
      return changes.map(unitFileChange);
    },
    async properties() {
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
  };
}

async function openMonitor(w: Wire): Promise<BlueChiMonitor> {
  const [monitorPath] = await w.invoke(CONTROLLER_PATH, ControllerInterface, 'CreateMonitor', {}, []);
  const call = <Member extends keyof typeof MonitorInterface.methods & string>(member: Member, body: Body<(typeof MonitorInterface.methods)[Member]['in']>) =>
    w.invoke(monitorPath, MonitorInterface, member, {}, body);
  const signals = w.fromController({ path: monitorPath, interface: MONITOR_IFACE, signatures: MonitorInterface.signals });
  return {
    events$: live(signals, signals.pipe(map(monitorEvent))),
    subscribe: (nodeName, unit) => call('Subscribe', [nodeName, unit]).then(([id]) => id),
    subscribeList: (nodeName, units) => call('SubscribeList', [nodeName, units]).then(([id]) => id),
    close: () => call('Close', []).then(() => undefined),
  };
}

/** A monitor per subscription, closed when the last subscriber leaves — also when that happens before it was created. */
function watchUnits(createMonitor: () => Promise<BlueChiMonitor>, nodeName: string, units: readonly string[]): LiveStream<MonitorEvent> {
  let readiness = deferred();
  const stream = new Observable<MonitorEvent>((subscriber) => {
    const current = readiness;
    let closed = false;
    let monitor: BlueChiMonitor | undefined;
    let inner: Subscription | undefined;
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
      .catch((error: unknown) => {
        current.reject(error);
        subscriber.error(error);
      });
    return () => {
      closed = true;
      inner?.unsubscribe();
      monitor?.close().catch(() => undefined);
      if (readiness === current) readiness = deferred();
    };
  }).pipe(share());
  return Object.assign(stream, { ready: () => readiness.promise });
}

/**
 * bluechi-is-online's view of a subject (src/is-online/is-online.c): whether its service owns its name, and its
 * Status property, read when the service is (re)found and followed through PropertiesChanged.
 */
function statusOf(w: Wire, subject: StatusSubject): LiveStream<string> {
  const [service, path, iface, site] =
    subject.of === 'agent'
      ? [AGENT_BUS_NAME, AGENT_PATH, AGENT_IFACE, {}]
      : subject.of === 'node'
        ? [BUS_NAME, nodePath(subject.node), NODE_IFACE, { node: subject.node }]
        : [BUS_NAME, CONTROLLER_PATH, CONTROLLER_IFACE, {}];
  const changes = w.propertyChanges(path, iface, service);
  const owner = w.bus.owner(service);
  const stream = new Observable<string>((subscriber) => {
    // A change seen after a Get was sent is newer than the Get's answer, which then is dropped.
    let changesSeen = 0;
    const changed = changes.pipe(
      filter(({ changed }) => changed.Status !== undefined),
      map(({ changed }) => {
        changesSeen += 1;
        return String(changed.Status!.value);
      }),
    );
    const read = defer(() => {
      const before = changesSeen;
      return from(
        changes
          .ready()
          .then(() => w.invoke(path, PropertiesInterface, 'Get', site, [iface, 'Status'], service))
          .then(([value]) => (changesSeen === before ? [String(value.value)] : []))
          // The service left between its arrival and our Get: the owner stream says '' next.
          .catch((error: unknown) => {
            if (error instanceof QmError && error.code === 'unreachable') return [];
            throw error;
          }),
      ).pipe(switchMap((values) => of(...values)));
    });
    return merge(changed, owner.pipe(switchMap((current) => (current === '' ? of('') : read))))
      .pipe(distinctUntilChanged())
      .subscribe(subscriber);
  }).pipe(share());
  return live({ ready: () => Promise.all([changes.ready(), owner.ready()]).then(() => undefined) }, stream);
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

function jobMetrics(signal: Signal): JobMetrics {
  if (signal.member === 'StartUnitJobMetrics') {
    const [node, job, unit, jobMeasuredMicros, unitStartMicros] = signal.body as Body<typeof MetricsInterface.signals.StartUnitJobMetrics>;
    return { kind: 'StartUnitJobMetrics', node, job, unit, jobMeasuredMicros: BigInt(jobMeasuredMicros), unitStartMicros: BigInt(unitStartMicros) };
  }
  const [node, unit, method, systemdJobMicros] = signal.body as Body<typeof MetricsInterface.signals.AgentJobMetrics>;
  return { kind: 'AgentJobMetrics', node, unit, method, systemdJobMicros: BigInt(systemdJobMicros) };
}
