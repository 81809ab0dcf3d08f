// The controller (/org/eclipse/bluechi, org.eclipse.bluechi.Controller) of one stand-in process
// lifetime, after upstream's src/controller/controller.c: its nodes, jobs, monitors and metrics on
// one bus connection. A restart is a new Controller over the same, longer-lived agents.
import dbus from 'dbus-next';
import type { Message as MessageType, MessageBus } from 'dbus-next';
import {
  BUS_NAME,
  CONTROLLER_INTERFACE,
  CONTROLLER_PATH,
  Errors,
  type InterfaceSpec,
  JOB_INTERFACE,
  METRICS_INTERFACE,
  METRICS_PATH,
  MONITOR_INTERFACE,
  NODE_INTERFACE,
  controllerInterface,
  inSignature,
  jobInterface,
  metricsInterface,
  monitorInterface,
  nodeInterface,
} from './api.ts';
import { addMatch, closeBus, onBusClosed, openBus, uniqueName } from './bus.ts';
import { Job, type JobType } from './job.ts';
import { Monitor, type Subscription, type SubscriptionRegistry } from './monitor.ts';
import { ControllerNode, type NodeConfig, type NodeHost } from './node.ts';
import { type ServedObject, serveObject } from './serve.ts';

const { DBusError, Message, MessageType: Type, NameFlag, RequestNameReply } = dbus;

const SPECS: ReadonlyMap<string, InterfaceSpec> = new Map(
  [controllerInterface, nodeInterface, jobInterface, monitorInterface, metricsInterface].map((spec) => [spec.name, spec]),
);
const PROPERTIES_INTERFACE = 'org.freedesktop.DBus.Properties';
const LOG_LEVELS = new Set(['DEBUG', 'INFO', 'WARN', 'ERROR']);
const NAME_OWNER_CHANGED =
  "type='signal',sender='org.freedesktop.DBus',path='/org/freedesktop/DBus',interface='org.freedesktop.DBus',member='NameOwnerChanged'";

export class Controller implements NodeHost, SubscriptionRegistry {
  metricsEnabled = false;
  readonly nodes: readonly ControllerNode[];
  private readonly nodesByName = new Map<string, ControllerNode>();
  private readonly nodesByPath = new Map<string, ControllerNode>();
  private readonly jobs = new Map<number, Job>();
  private readonly jobsByPath = new Map<string, Job>();
  private readonly monitors = new Map<string, Monitor>();
  private readonly subscriptions: Subscription[] = [];
  private onlineCount = 0;
  private logLevel = 'INFO';
  // Upstream's counters are statics, so they restart with the process: jobs and monitors from 1,
  // subscriptions from 2 (`static next_id = 1; id = ++next_id`), peers from 1.
  private lastJobId = 0;
  private lastMonitorId = 0;
  private lastSubscriptionId = 1;
  private lastPeerId = 0;
  private served: ServedObject | undefined;
  private metrics: ServedObject | undefined;
  /** The call being dispatched: dbus-next hands methods only the body, CreateMonitor needs the sender. */
  private dispatching: MessageType | undefined;
  private stopped = false;

  private constructor(
    readonly bus: MessageBus,
    configs: readonly NodeConfig[],
  ) {
    this.nodes = configs.map((config) => new ControllerNode(config, this));
    for (const node of this.nodes) {
      this.nodesByName.set(node.name, node);
      this.nodesByPath.set(node.path, node);
    }
  }

  /** Connects, serves every object, then takes the bus name; every node starts offline. */
  static async start(address: string, configs: readonly NodeConfig[]): Promise<Controller> {
    const controller = new Controller(await openBus(address), configs);
    // bluechi-controller exits when its bus goes away: its agents are cut off, and nothing more is sent.
    onBusClosed(controller.bus, () => {
      if (controller.stopped) return;
      controller.stopped = true;
      for (const node of controller.nodes) node.shutdown({ quietly: true });
    });
    try {
      await controller.serve();
    } catch (error) {
      await closeBus(controller.bus);
      throw error;
    }
    return controller;
  }

  get uniqueName(): string {
    return uniqueName(this.bus);
  }

  node(name: string): ControllerNode {
    const node = this.nodesByName.get(name);
    if (!node) throw new Error(`no node ${name} (nodes: ${[...this.nodesByName.keys()].join(', ')})`);
    return node;
  }

  /**
   * controller_stop, then the process exits. Graceful: every job ends with JobRemoved result
   * "cancelled due to shutdown", waiting calls fail "Request cancelled", online nodes go offline
   * (PropertiesChanged), Status goes to down. Not graceful: the connection just drops, as in a crash.
   */
  async shutdown(graceful: boolean): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (graceful) {
      for (const job of [...this.jobs.values()]) this.removeJob(job, 'cancelled due to shutdown');
      const anyOnline = this.onlineCount > 0;
      for (const node of this.nodes) node.shutdown();
      this.onlineCount = 0;
      if (anyOnline) this.served?.propertiesChanged(['Status']);
    } else {
      for (const node of this.nodes) node.shutdown({ quietly: true });
    }
    // The replies to the calls just failed go out before the connection closes (a real node's calls take time).
    await new Promise((resolve) => setImmediate(resolve));
    await closeBus(this.bus);
  }

  // NodeHost

  newJob(node: string, unit: string, type: JobType): Job {
    return new Job(++this.lastJobId, node, unit, type, (job) => this.node(job.node).cancelJob(job));
  }

  /** controller_add_job: exported, then JobNew, before the call that made it is answered. */
  addJob(job: Job): void {
    job.export(this.bus);
    this.jobs.set(job.id, job);
    this.jobsByPath.set(job.path, job);
    this.served?.emit('JobNew', [job.id, job.path]);
  }

  finishJob(id: number, result: string): void {
    const job = this.jobs.get(id);
    if (job) this.removeJob(job, result);
  }

  jobStateChanged(id: number, state: string): void {
    this.jobs.get(id)?.setState(state);
  }

  dropJobs(node: string): void {
    for (const job of [...this.jobs.values()]) if (job.node === node) this.forgetJob(job);
  }

  /** controller_check_system_status: PropertiesChanged only when crossing none-online or all-online. */
  onlineCountChanged(delta: 1 | -1): void {
    const previous = this.onlineCount;
    this.onlineCount += delta;
    const total = this.nodes.length;
    if (previous === 0 || previous === total || this.onlineCount === total || this.onlineCount === 0) {
      this.served?.propertiesChanged(['Status']);
    }
  }

  /** node_metrics_match_agent_job (src/controller/metrics.c): an agent's AgentJobMetrics, re-emitted with the node's name. */
  agentJobMetrics(node: string, unit: string, method: string, micros: bigint): void {
    if (this.metricsEnabled) this.metrics?.emit('AgentJobMetrics', [node, unit, method, micros]);
  }

  // SubscriptionRegistry

  add(subscription: Subscription): void {
    this.subscriptions.push(subscription);
    if (subscription.node === '*') {
      for (const node of this.nodes) node.subscribe(subscription);
    } else {
      // Upstream only logs a subscription to a node it does not know.
      this.nodesByName.get(subscription.node)?.subscribe(subscription);
    }
  }

  remove(subscription: Subscription): void {
    if (subscription.node === '*') {
      for (const node of this.nodes) node.unsubscribe(subscription);
    } else {
      this.nodesByName.get(subscription.node)?.unsubscribe(subscription);
    }
    const index = this.subscriptions.indexOf(subscription);
    if (index >= 0) this.subscriptions.splice(index, 1);
  }

  nextSubscriptionId(): number {
    return ++this.lastSubscriptionId;
  }

  nextPeerId(): number {
    return ++this.lastPeerId;
  }

  closed(monitor: Monitor): void {
    this.monitors.delete(monitor.path);
  }

  // The Controller interface

  private status(): string {
    if (this.onlineCount === 0) return 'down';
    return this.onlineCount === this.nodes.length ? 'up' : 'degraded';
  }

  private async serve(): Promise<void> {
    for (const node of this.nodes) node.export();
    this.served = serveObject(this.bus, CONTROLLER_PATH, controllerInterface, {
      methods: {
        ListUnits: () => this.fromOnlineNodes((node) => node.agent.systemd.listUnits()),
        ListUnitFiles: () => this.fromOnlineNodes((node) => node.agent.systemd.listUnitFiles()),
        ListNodes: () =>
          this.nodes.map((node) => [node.name, node.path, node.online ? 'online' : 'offline', node.online ? node.peerIp : '']),
        GetNode: (name: string) => {
          const node = this.nodesByName.get(name);
          if (!node) throw new DBusError(Errors.serviceUnknown, 'Node not found');
          return node.path;
        },
        CreateMonitor: () => this.createMonitor(),
        EnableMetrics: () => this.setMetrics(true),
        DisableMetrics: () => this.setMetrics(false),
        SetLogLevel: (level: string) => {
          if (!LOG_LEVELS.has(level)) throw new DBusError(Errors.invalidArgs, 'Invalid input for log level');
          this.logLevel = level;
        },
      },
      properties: {
        Status: () => this.status(),
        LogLevel: () => this.logLevel,
        LogTarget: () => 'journald',
      },
    });
    this.bus.addMethodHandler((message: MessageType) => this.filter(message));
    this.bus.on('message', (message: MessageType) => this.onBusMessage(message));
    await addMatch(this.bus, NAME_OWNER_CHANGED);
    const reply = await this.bus.requestName(BUS_NAME, NameFlag.REPLACE_EXISTING);
    if (reply !== RequestNameReply.PRIMARY_OWNER && reply !== RequestNameReply.ALREADY_OWNER) {
      throw new Error(`could not own ${BUS_NAME} (RequestName answered ${reply})`);
    }
  }

  /** agent_fleet_request: asks every online node; any failure fails the whole call. */
  private async fromOnlineNodes<T>(ask: (node: ControllerNode) => Promise<T>): Promise<Record<string, T>> {
    const online = this.nodes.filter((node) => node.online);
    const answers = await Promise.allSettled(online.map((node) => node.request(() => ask(node))));
    const result: Record<string, T> = {};
    answers.forEach((answer, index) => {
      if (answer.status === 'rejected') {
        throw new DBusError(Errors.failed, `Request to at least one node failed: ${String(answer.reason?.message ?? answer.reason)}`);
      }
      result[online[index]!.name] = answer.value;
    });
    return result;
  }

  private createMonitor(): string {
    const owner = this.dispatching?.sender;
    if (!owner) throw new DBusError(Errors.failed, 'Failed to create new monitor');
    const monitor = new Monitor(++this.lastMonitorId, owner, this);
    monitor.export(this.bus);
    this.monitors.set(monitor.path, monitor);
    return monitor.path;
  }

  /**
   * controller_method_metrics_enable / _disable (src/controller/controller.c): a second enable (disable) is
   * InconsistentMessage; enabling exports the Metrics object (metrics_export) and enables every agent
   * (node_enable_metrics), disabling drops the object's slot and disables them.
   */
  private setMetrics(enable: boolean): void {
    if (enable === this.metricsEnabled) {
      throw new DBusError(Errors.inconsistentMessage, enable ? 'Metrics already enabled' : 'Metrics already disabled');
    }
    this.metricsEnabled = enable;
    for (const node of this.nodes) node.agent.metricsEnabled = enable;
    if (enable) {
      this.metrics = serveObject(this.bus, METRICS_PATH, metricsInterface, { methods: {}, properties: {} });
    } else {
      this.metrics?.unexport();
      this.metrics = undefined;
    }
  }

  /**
   * controller_remove_job: JobRemoved, then the object goes; a finished start job reports metrics
   * (metrics_produce_job_report: the job's path as job_id, the measured time, and the unit's net start time, which
   * upstream reads from ActiveEnter/InactiveExitTimestampMonotonic; the stand-in's units keep no timestamps: 0).
   */
  private removeJob(job: Job, result: string): void {
    this.served?.emit('JobRemoved', [job.id, job.path, job.node, job.unit, result]);
    this.forgetJob(job);
    if (this.metricsEnabled && job.type === 'start') {
      const measured = process.hrtime.bigint() / 1000n - job.createdMicros;
      this.metrics?.emit('StartUnitJobMetrics', [job.node, job.path, job.unit, measured, 0n]);
    }
  }

  private forgetJob(job: Job): void {
    job.unexport();
    this.jobs.delete(job.id);
    this.jobsByPath.delete(job.path);
  }

  /**
   * Runs before dbus-next's own dispatch, as upstream's sd-bus filter and vtable checks do: Node
   * calls on an offline node fail with org.eclipse.bluechi.Offline, and unknown objects, methods
   * and signatures get sd-bus' error names rather than dbus-next's.
   */
  private filter(message: MessageType): boolean {
    this.dispatching = message;
    const { path, member } = message;
    const iface = message.interface;
    const node = this.nodesByPath.get(path);
    if (iface === NODE_INTERFACE && node) {
      node.record(member, message.body ?? []);
      if (!node.online) return this.replyError(message, Errors.offline, 'Node is offline');
    }
    if (iface === PROPERTIES_INTERFACE && path.startsWith(CONTROLLER_PATH) && !this.servesAny(path)) {
      return this.replyError(message, Errors.unknownObject, `Unknown object '${path}'.`);
    }
    const spec = SPECS.get(iface);
    if (!spec) return false;
    if (!this.serves(path, iface)) return this.replyError(message, Errors.unknownObject, `Unknown object '${path}'.`);
    const method = spec.methods.find((candidate) => candidate.name === member);
    if (!method) return this.replyError(message, Errors.unknownMethod, `Unknown method ${member} or interface ${iface}.`);
    const signature = message.signature ?? '';
    if (inSignature(method) !== signature) {
      return this.replyError(
        message,
        Errors.invalidArgs,
        `Invalid arguments '${signature}' to call ${iface}.${member}(), expecting '${inSignature(method)}'.`,
      );
    }
    return false;
  }

  private servesAny(path: string): boolean {
    return [...SPECS.keys()].some((iface) => this.serves(path, iface));
  }

  private serves(path: string, iface: string): boolean {
    switch (iface) {
      case CONTROLLER_INTERFACE:
        return path === CONTROLLER_PATH;
      case NODE_INTERFACE:
        return this.nodesByPath.has(path);
      case JOB_INTERFACE:
        return this.jobsByPath.has(path);
      case MONITOR_INTERFACE:
        return this.monitors.has(path);
      case METRICS_INTERFACE:
        return path === METRICS_PATH && this.metricsEnabled;
      default:
        return false;
    }
  }

  private replyError(message: MessageType, name: string, text: string): true {
    if (message.type === Type.METHOD_CALL) {
      this.bus.send(Message.newError(message as unknown as string, name, text));
    }
    return true;
  }

  /** A monitor's creator leaving the bus closes it (controller_name_owner_changed). */
  private onBusMessage(message: MessageType): void {
    if (message.type !== Type.SIGNAL || message.member !== 'NameOwnerChanged' || message.sender !== 'org.freedesktop.DBus') {
      return;
    }
    const [name, , newOwner] = message.body as [string, string, string];
    if (!name.startsWith(':') || newOwner !== '') return;
    for (const monitor of [...this.monitors.values()]) {
      if (monitor.owner !== name) continue;
      monitor.close();
      this.monitors.delete(monitor.path);
    }
  }
}
