// A BlueChi agent over a node's systemd, after upstream's src/agent/agent.c: it tracks systemd jobs
// for BlueChi job ids, keeps per-unit state, and turns systemd's signals into the agent's signals
// (JobDone, JobStateChanged, UnitNew, UnitStateChanged, UnitPropertiesChanged, UnitRemoved).
// Like the real agent process, it outlives connections: subscriptions and tracked jobs survive a
// disconnect or a controller restart, and what it signals while disconnected is lost.
import dbus from 'dbus-next';
import type { Subscription as RxSubscription } from 'rxjs';
import { Errors } from './api.ts';
import { type JobMethod, type Properties, type Systemd, type SystemdEvent, UNIT_INTERFACE, unitPath } from './systemd.ts';

const { DBusError } = dbus;

export const WILDCARD = '*';

/** The agent's signals on org.eclipse.bluechi.internal.Agent, as the controller receives them. */
export type AgentSignal =
  | { readonly kind: 'JobDone'; readonly id: number; readonly result: string }
  | { readonly kind: 'JobStateChanged'; readonly id: number; readonly state: string }
  | { readonly kind: 'UnitNew'; readonly unit: string; readonly reason: string }
  | {
      readonly kind: 'UnitStateChanged';
      readonly unit: string;
      readonly activeState: string;
      readonly subState: string;
      readonly reason: string;
    }
  | { readonly kind: 'UnitPropertiesChanged'; readonly unit: string; readonly iface: string; readonly props: Properties }
  | { readonly kind: 'UnitRemoved'; readonly unit: string }
  | {
      readonly kind: 'AgentJobMetrics';
      readonly unit: string;
      readonly method: string;
      readonly systemdJobTimeMicros: bigint;
    };

interface UnitInfo {
  readonly unit: string;
  subscribed: boolean;
  loaded: boolean;
  /** undefined is upstream's _UNIT_ACTIVE_STATE_INVALID. */
  activeState?: string;
  subState?: string;
}

interface TrackedJob {
  readonly jobPath: string;
  readonly bluechiId: number;
  readonly unit: string;
  readonly method: JobMethod;
  readonly startedMicros: bigint;
}

const failed = (text: string) => new DBusError(Errors.failed, text);
const monotonicMicros = (): bigint => process.hrtime.bigint() / 1000n;

export class Agent {
  readonly systemd: Systemd;
  metricsEnabled = false;
  private peer: ((signal: AgentSignal) => void) | undefined;
  private readonly infos = new Map<string, UnitInfo>();
  private wildcardSubscription = false;
  /** Newest first, as upstream's LIST_PREPEND; a systemd job merged into twice is tracked twice. */
  private tracked: TrackedJob[] = [];
  private readonly systemdEvents: RxSubscription;

  private constructor(systemd: Systemd) {
    this.systemd = systemd;
    this.systemdEvents = systemd.events.subscribe((event) => this.onSystemdEvent(event));
  }

  /** Starts an agent: like agent_start, it learns every loaded unit's state from ListUnits first. */
  static async start(systemd: Systemd): Promise<Agent> {
    const agent = new Agent(systemd);
    for (const [name, , , activeState, subState] of await systemd.listUnits()) {
      Object.assign(agent.ensureInfo(name), { loaded: true, activeState, subState });
    }
    return agent;
  }

  get connected(): boolean {
    return this.peer !== undefined;
  }

  connect(peer: (signal: AgentSignal) => void): void {
    this.peer = peer;
  }

  disconnect(): void {
    this.peer = undefined;
  }

  async close(): Promise<void> {
    this.disconnect();
    this.systemdEvents.unsubscribe();
    await this.systemd.close();
  }

  /** internal.Agent.StartUnit/StopUnit/RestartUnit/ReloadUnit(name, mode, bluechi job id). */
  async runJob(method: JobMethod, unit: string, mode: string, bluechiId: number): Promise<void> {
    const startedMicros = monotonicMicros();
    const jobPath = await this.systemd.queueJob(method, unit, mode);
    this.tracked.unshift({ jobPath, bluechiId, unit, method, startedMicros });
  }

  /** internal.Agent.JobCancel(id): cancels the systemd job behind a BlueChi job. */
  async cancelJob(bluechiId: number): Promise<void> {
    const tracked = this.tracked.find((job) => job.bluechiId === bluechiId);
    if (!tracked) throw failed(`No job with ID '${bluechiId}' found`);
    // Upstream replies before systemd answers; a failed cancel is only logged.
    this.systemd.cancelJob(tracked.jobPath).catch(() => undefined);
  }

  /** internal.Agent.Subscribe(unit); `*` subscribes to every unit. */
  subscribe(unit: string): void {
    if (unit === WILDCARD) {
      if (this.wildcardSubscription) throw failed('Already wildcard subscribed');
      this.wildcardSubscription = true;
      this.send({ kind: 'UnitNew', unit, reason: 'virtual' });
      return;
    }
    const info = this.ensureInfo(unit);
    if (info.subscribed) throw failed('Already subscribed');
    info.subscribed = true;
    if (info.loaded) {
      // Already loaded, so systemd will not tell: synthesize the events.
      this.send({ kind: 'UnitNew', unit, reason: 'virtual' });
      if (info.activeState !== undefined) this.sendState(info, 'virtual');
    }
  }

  /** internal.Agent.Unsubscribe(unit). */
  unsubscribe(unit: string): void {
    if (unit === WILDCARD) {
      if (!this.wildcardSubscription) throw failed('No wildcard subscription active');
      this.wildcardSubscription = false;
      return;
    }
    const info = this.infos.get(unitPath(unit));
    if (!info?.subscribed) throw failed('Not subscribed');
    info.subscribed = false;
    this.forgetIfUnused(info);
  }

  private onSystemdEvent(event: SystemdEvent): void {
    switch (event.kind) {
      case 'JobRemoved': {
        const index = this.tracked.findIndex((job) => job.jobPath === event.job);
        if (index < 0) return;
        const [job] = this.tracked.splice(index, 1);
        if (!job) return;
        // agent_job_done: with metrics enabled, the systemd job's time from submitting to its end (agent_send_job_metrics).
        if (this.metricsEnabled) {
          this.send({
            kind: 'AgentJobMetrics',
            unit: job.unit,
            method: job.method,
            systemdJobTimeMicros: monotonicMicros() - job.startedMicros,
          });
        }
        this.send({ kind: 'JobDone', id: job.bluechiId, result: event.result });
        return;
      }
      case 'JobStateChanged': {
        const job = this.tracked.find((candidate) => candidate.jobPath === event.job);
        if (job) this.send({ kind: 'JobStateChanged', id: job.bluechiId, state: event.state });
        return;
      }
      case 'UnitNew': {
        // Systemd units start in inactive(dead), so that is the first state the agent assumes.
        const info = Object.assign(this.ensureInfo(event.unit), { loaded: true, activeState: 'inactive', subState: 'dead' });
        if (this.interestedIn(info)) this.send({ kind: 'UnitNew', unit: info.unit, reason: 'real' });
        return;
      }
      case 'UnitRemoved': {
        const info = this.infos.get(event.path);
        if (!info) return;
        Object.assign(info, { loaded: false, activeState: undefined, subState: undefined });
        if (this.interestedIn(info)) this.send({ kind: 'UnitRemoved', unit: info.unit });
        this.forgetIfUnused(info);
        return;
      }
      case 'UnitChanged': {
        const info = this.infos.get(event.path);
        if (!info) return;
        if (event.interface === UNIT_INTERFACE && this.updateState(info, event.changed) && this.interestedIn(info)) {
          this.sendState(info, 'real');
        }
        if (!this.interestedIn(info)) return;
        this.send({ kind: 'UnitPropertiesChanged', unit: info.unit, iface: event.interface, props: event.changed });
        return;
      }
    }
  }

  /** unit_info_update_state: true when ActiveState or SubState changed. */
  private updateState(info: UnitInfo, changed: Properties): boolean {
    const active = changed.ActiveState?.value;
    const sub = changed.SubState?.value;
    let updated = false;
    if (typeof active === 'string' && active !== info.activeState) {
      info.activeState = active;
      updated = true;
    }
    if (typeof sub === 'string' && sub !== (info.subState ?? 'invalid')) {
      info.subState = sub;
      updated = true;
    }
    return updated;
  }

  private interestedIn(info: UnitInfo): boolean {
    return info.subscribed || this.wildcardSubscription;
  }

  private sendState(info: UnitInfo, reason: string): void {
    this.send({
      kind: 'UnitStateChanged',
      unit: info.unit,
      activeState: info.activeState ?? 'invalid',
      subState: info.subState ?? 'invalid',
      reason,
    });
  }

  private ensureInfo(unit: string): UnitInfo {
    const path = unitPath(unit);
    let info = this.infos.get(path);
    if (!info) {
      info = { unit, subscribed: false, loaded: false };
      this.infos.set(path, info);
    }
    return info;
  }

  private forgetIfUnused(info: UnitInfo): void {
    if (!info.subscribed && !info.loaded) this.infos.delete(unitPath(info.unit));
  }

  private send(signal: AgentSignal): void {
    this.peer?.(signal);
  }
}
