// The controller's side of one node (/org/eclipse/bluechi/node/<escaped name>), after upstream's
// src/controller/node.c: the Node interface over the node's agent, connection state, and the
// per-unit subscription bookkeeping that routes the agent's unit signals to monitors.
import dbus from 'dbus-next';
import type { MessageBus, Variant } from 'dbus-next';
import { Errors, NODE_PATH_PREFIX, nodeInterface } from './api.ts';
import { type Agent, type AgentSignal, WILDCARD } from './agent.ts';
import { escapePathLabel } from './escape.ts';
import { Job, type JobType } from './job.ts';
import type { Subscription } from './monitor.ts';
import { type ServedObject, serveObject } from './serve.ts';
import type { JobMethod } from './systemd.ts';

const { DBusError } = dbus;

/** One call a client made on a node's org.eclipse.bluechi.Node interface. */
export interface NodeCall {
  readonly method: string;
  /** The unit the call is about, for the methods that take one unit name first. */
  readonly unit?: string;
  readonly args: readonly unknown[];
  /** Whether the node was online, i.e. the call was not answered with org.eclipse.bluechi.Offline. */
  readonly online: boolean;
}

/** What a node needs of its controller. */
export interface NodeHost {
  readonly bus: MessageBus;
  readonly metricsEnabled: boolean;
  newJob(node: string, unit: string, type: JobType): Job;
  addJob(job: Job): void;
  finishJob(id: number, result: string): void;
  jobStateChanged(id: number, state: string): void;
  /** On disconnect upstream drops the node's jobs without a JobRemoved signal. */
  dropJobs(node: string): void;
  onlineCountChanged(delta: 1 | -1): void;
  agentJobMetrics(node: string, unit: string, method: string, micros: bigint): void;
}

interface UnitSubscriptions {
  readonly entries: Subscription[];
  loaded: boolean;
  activeState?: string;
  subState?: string;
}

interface AgentLink {
  /** Rejecters of calls still waiting on the agent; a dropped connection fails them. */
  readonly pending: Set<(error: Error) => void>;
  readonly connectedMs: number;
  readonly connectedMonotonicMicros: bigint;
}

const HEARTBEAT_MS = 2000;
const UNIT_METHODS = new Set([
  'StartUnit',
  'StopUnit',
  'RestartUnit',
  'ReloadUnit',
  'StartTransientUnit',
  'FreezeUnit',
  'ThawUnit',
  'KillUnit',
  'GetUnitProperties',
  'GetUnitProperty',
  'SetUnitProperties',
  'ResetFailedUnit',
  'GetUnitFileState',
]);
const LOG_LEVELS = new Set(['DEBUG', 'INFO', 'WARN', 'ERROR']);

export const nodePath = (name: string): string => `${NODE_PATH_PREFIX}/${escapePathLabel(name)}`;

/** A node as configured; the agent and the call log outlive controller restarts. */
export interface NodeConfig {
  readonly name: string;
  readonly agent: Agent;
  /** What PeerIp and ListNodes report while the node is online. */
  readonly peerIp: string;
  readonly calls: NodeCall[];
}

export class ControllerNode {
  readonly name: string;
  readonly agent: Agent;
  readonly peerIp: string;
  readonly path: string;
  private readonly calls: NodeCall[];
  private link: AgentLink | undefined;
  private lastSeen: [bigint, bigint] = [0n, 0n];
  private readonly unitSubscriptions = new Map<string, UnitSubscriptions>();
  private served: ServedObject | undefined;

  constructor(
    config: NodeConfig,
    private readonly host: NodeHost,
  ) {
    ({ name: this.name, agent: this.agent, peerIp: this.peerIp, calls: this.calls } = config);
    this.path = nodePath(this.name);
  }

  get online(): boolean {
    return this.link !== undefined;
  }

  export(): void {
    const systemd = this.agent.systemd;
    const job = (type: JobType, method: JobMethod) => (unit: string, mode: string) =>
      this.runJob(type, method, unit, mode);
    const ask =
      <A extends unknown[], R>(call: (...args: A) => Promise<R>) =>
      (...args: A) =>
        this.request(() => call(...args));
    this.served = serveObject(this.host.bus, this.path, nodeInterface, {
      methods: {
        StartUnit: job('start', 'StartUnit'),
        StopUnit: job('stop', 'StopUnit'),
        RestartUnit: job('restart', 'RestartUnit'),
        ReloadUnit: job('reload', 'ReloadUnit'),
        // Upstream passes this through to systemd: the reply is systemd's job path, and no BlueChi job exists.
        StartTransientUnit: ask((name: string, mode: string, props: unknown[], aux: unknown[]) =>
          systemd.startTransientUnit(name, mode, props, aux),
        ),
        FreezeUnit: ask((name: string) => systemd.freezeUnit(name)),
        ThawUnit: ask((name: string) => systemd.thawUnit(name)),
        KillUnit: ask((name: string, who: string, signal: number) => systemd.killUnit(name, who, signal)),
        GetUnitProperties: ask((name: string, iface: string) => systemd.getUnitProperties(name, iface)),
        GetUnitProperty: ask((name: string, iface: string, property: string) =>
          systemd.getUnitProperty(name, iface, property),
        ),
        SetUnitProperties: ask((name: string, runtime: boolean, values: Array<[string, Variant]>) =>
          systemd.setUnitProperties(name, runtime, values),
        ),
        EnableUnitFiles: ask((files: string[], runtime: boolean, force: boolean) =>
          systemd.enableUnitFiles(files, runtime, force),
        ),
        DisableUnitFiles: ask((files: string[], runtime: boolean) => systemd.disableUnitFiles(files, runtime)),
        ListUnits: ask(() => systemd.listUnits()),
        ListUnitFiles: ask(() => systemd.listUnitFiles()),
        GetUnitFileState: ask((file: string) => systemd.getUnitFileState(file)),
        Reload: ask(() => systemd.reload()),
        // Upstream answers an unknown level with success too (and only logs it).
        SetLogLevel: (level: string) => void LOG_LEVELS.has(level),
        ResetFailed: ask(() => systemd.resetFailed()),
        ResetFailedUnit: ask((name: string) => systemd.resetFailedUnit(name)),
        GetDefaultTarget: ask(() => systemd.getDefaultTarget()),
        SetDefaultTarget: ask((target: string, force: boolean) => systemd.setDefaultTarget(target, force)),
      },
      properties: {
        Name: () => this.name,
        Status: () => (this.online ? 'online' : 'offline'),
        PeerIp: () => (this.online ? this.peerIp : ''),
        LastSeenTimestamp: () => this.lastSeenNow()[0],
        LastSeenTimestampMonotonic: () => this.lastSeenNow()[1],
      },
    });
  }

  record(method: string, args: readonly unknown[]): void {
    const unit = UNIT_METHODS.has(method) && typeof args[0] === 'string' ? args[0] : undefined;
    this.calls.push({ method, ...(unit === undefined ? {} : { unit }), args, online: this.online });
  }

  /** The agent registers (node_method_register): Status changes, then the controller's, then subscriptions resume. */
  connect(): void {
    if (this.link) return;
    this.link = {
      pending: new Set(),
      connectedMs: Date.now(),
      connectedMonotonicMicros: process.hrtime.bigint() / 1000n,
    };
    this.agent.metricsEnabled = this.host.metricsEnabled;
    this.agent.connect((signal) => this.onAgentSignal(signal));
    this.served?.propertiesChanged(['Status']);
    this.host.onlineCountChanged(1);
    for (const unit of this.unitSubscriptions.keys()) this.tellAgent((agent) => agent.subscribe(unit));
  }

  /** The agent's connection drops (node_disconnect). */
  disconnect(): void {
    const link = this.link;
    if (!link) return;
    this.lastSeen = this.lastSeenNow();
    // sd-bus fails calls still waiting for a reply before it reports the disconnect.
    for (const reject of link.pending) reject(new DBusError(Errors.noReply, 'Connection terminated'));
    this.agent.disconnect();
    for (const [unit, state] of this.unitSubscriptions) {
      if (!state.loaded) continue;
      if (state.activeState !== undefined && state.activeState !== 'inactive') {
        Object.assign(state, { activeState: 'inactive', subState: 'agent-offline' });
        for (const entry of this.matching(unit)) {
          entry.monitor.onUnitStateChanged(this.name, unit, 'inactive', 'agent-offline', 'virtual');
        }
      }
      state.loaded = false;
      for (const entry of this.matching(unit)) entry.monitor.onUnitRemoved(this.name, unit, 'virtual');
    }
    this.host.dropJobs(this.name);
    this.link = undefined;
    this.served?.propertiesChanged(['Status']);
    this.host.onlineCountChanged(-1);
  }

  /**
   * The controller stops (controller_stop → node_shutdown): waiting calls fail "Request cancelled" and
   * Status goes offline. `quietly` is a crash: no replies, no signals, the connection just goes.
   */
  shutdown(options: { quietly?: boolean } = {}): void {
    const link = this.link;
    if (!link) return;
    this.lastSeen = this.lastSeenNow();
    this.link = undefined;
    this.agent.disconnect();
    if (options.quietly) return;
    for (const reject of link.pending) reject(new DBusError(Errors.failed, 'Request cancelled'));
    this.served?.propertiesChanged(['Status']);
  }

  /** node_subscribe: the first subscription to a unit is passed to the agent; a known-loaded unit gets virtual events. */
  subscribe(subscription: Subscription): void {
    for (const unit of subscription.units) {
      let state = this.unitSubscriptions.get(unit);
      if (!state) {
        state = { entries: [], loaded: false };
        this.unitSubscriptions.set(unit, state);
        this.tellAgent((agent) => agent.subscribe(unit));
      }
      state.entries.push(subscription);
      if (state.loaded) {
        subscription.monitor.onUnitNew(this.name, unit, 'virtual');
        if (state.activeState !== undefined) {
          subscription.monitor.onUnitStateChanged(this.name, unit, state.activeState, state.subState ?? 'invalid', 'virtual');
        }
      }
    }
  }

  unsubscribe(subscription: Subscription): void {
    for (const unit of subscription.units) {
      const state = this.unitSubscriptions.get(unit);
      const index = state?.entries.indexOf(subscription) ?? -1;
      if (!state || index < 0) continue;
      state.entries.splice(index, 1);
      if (state.entries.length === 0) {
        this.tellAgent((agent) => agent.unsubscribe(unit));
        this.unitSubscriptions.delete(unit);
      }
    }
  }

  cancelJob(job: Job): Promise<void> {
    if (!this.link) {
      return Promise.reject(new DBusError(Errors.failed, 'Failed to create an agent request to cancel job: Invalid argument'));
    }
    // Upstream replies as soon as the request is sent; the agent's answer is only logged.
    this.agent.cancelJob(job.id).catch(() => undefined);
    return Promise.resolve();
  }

  /** The controller asks this node's agent, as agent_fleet_request does for ListUnits/ListUnitFiles. */
  request<T>(call: () => Promise<T>): Promise<T> {
    const link = this.link;
    if (!link) return Promise.reject(new DBusError(Errors.offline, 'Node is offline'));
    return new Promise<T>((resolve, reject) => {
      link.pending.add(reject);
      // An answer that comes after the connection is gone goes nowhere.
      const answered = (settle: () => void) => {
        link.pending.delete(reject);
        if (this.link === link) settle();
      };
      call().then(
        (value) => answered(() => resolve(value)),
        (error: unknown) => answered(() => reject(error)),
      );
    });
  }

  /** node_run_unit_lifecycle_method: the job id is taken now; JobNew goes out before the reply. */
  private async runJob(type: JobType, method: JobMethod, unit: string, mode: string): Promise<string> {
    const job = this.host.newJob(this.name, unit, type);
    await this.request(() => this.agent.runJob(method, unit, mode, job.id));
    this.host.addJob(job);
    return job.path;
  }

  private onAgentSignal(signal: AgentSignal): void {
    switch (signal.kind) {
      case 'JobDone':
        this.host.finishJob(signal.id, signal.result);
        return;
      case 'JobStateChanged':
        this.host.jobStateChanged(signal.id, signal.state);
        return;
      case 'AgentJobMetrics':
        this.host.agentJobMetrics(this.name, signal.unit, signal.method, signal.systemdJobTimeMicros);
        return;
      case 'UnitNew': {
        const state = this.unitSubscriptions.get(signal.unit);
        if (state) {
          state.loaded = true;
          if (signal.unit === WILDCARD) Object.assign(state, { activeState: 'active', subState: 'running' });
        }
        for (const entry of this.matching(signal.unit)) entry.monitor.onUnitNew(this.name, signal.unit, signal.reason);
        return;
      }
      case 'UnitStateChanged': {
        const state = this.unitSubscriptions.get(signal.unit);
        if (state) Object.assign(state, { loaded: true, activeState: signal.activeState, subState: signal.subState });
        for (const entry of this.matching(signal.unit)) {
          entry.monitor.onUnitStateChanged(this.name, signal.unit, signal.activeState, signal.subState, signal.reason);
        }
        return;
      }
      case 'UnitRemoved': {
        const state = this.unitSubscriptions.get(signal.unit);
        if (state) state.loaded = false;
        for (const entry of this.matching(signal.unit)) entry.monitor.onUnitRemoved(this.name, signal.unit, 'real');
        return;
      }
      case 'UnitPropertiesChanged':
        for (const entry of this.matching(signal.unit)) {
          entry.monitor.onUnitPropertiesChanged(this.name, signal.unit, signal.iface, signal.props);
        }
        return;
    }
  }

  /** node_compute_unique_monitor_subscriptions: the unit's subscriptions and, for a named unit, the wildcard's. */
  private matching(unit: string): Set<Subscription> {
    const entries = new Set(this.unitSubscriptions.get(unit)?.entries ?? []);
    if (unit !== WILDCARD) for (const entry of this.unitSubscriptions.get(WILDCARD)?.entries ?? []) entries.add(entry);
    return entries;
  }

  /** A message to the agent that expects no answer; like a bus hop, it arrives after the current call's reply. */
  private tellAgent(message: (agent: Agent) => void): void {
    if (!this.link) return;
    const link = this.link;
    setImmediate(() => {
      if (this.link !== link) return;
      try {
        message(this.agent);
      } catch {
        // Upstream sends these without waiting for a reply; the agent's errors are not seen.
      }
    });
  }

  /** The agent heartbeats every 2 s, and each beat refreshes LastSeenTimestamp. */
  private lastSeenNow(): [bigint, bigint] {
    const link = this.link;
    if (!link) return this.lastSeen;
    const beatsMs = Math.floor((Date.now() - link.connectedMs) / HEARTBEAT_MS) * HEARTBEAT_MS;
    return [
      BigInt(link.connectedMs + beatsMs) * 1000n,
      link.connectedMonotonicMicros + BigInt(beatsMs) * 1000n,
    ];
  }
}
