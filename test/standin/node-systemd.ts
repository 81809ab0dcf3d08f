// A node backed by a real systemd: the agent's calls go to org.freedesktop.systemd1 on that node's
// system bus, and systemd's signals come back through the same match rules upstream's agent adds.
import dbus from 'dbus-next';
import type { Message as MessageType, MessageBus, Variant } from 'dbus-next';
import { addMatch, closeBus, openBus } from './bus.ts';
import {
  EventQueue,
  JOB_INTERFACE,
  type JobMethod,
  MANAGER_INTERFACE,
  type Properties,
  SYSTEMD_BUS_NAME,
  SYSTEMD_PATH,
  type Systemd,
  type SystemdEvent,
  UNIT_INTERFACE,
  type UnitFileChange,
  type UnitFileInfo,
  type UnitInfo,
  unitPath,
} from './systemd.ts';

const { Message, MessageType: Type } = dbus;

const PROPERTIES_INTERFACE = 'org.freedesktop.DBus.Properties';
const JOB_PATH_PREFIX = `${SYSTEMD_PATH}/job/`;
const UNIT_PATH_PREFIX = `${SYSTEMD_PATH}/unit/`;

/** agent_start's match rules, verbatim. */
const MATCH_RULES = [
  `type='signal',sender='${SYSTEMD_BUS_NAME}',interface='${PROPERTIES_INTERFACE}',member='PropertiesChanged',path_namespace='${SYSTEMD_PATH}/job'`,
  `type='signal',sender='${SYSTEMD_BUS_NAME}',interface='${PROPERTIES_INTERFACE}',member='PropertiesChanged',path_namespace='${SYSTEMD_PATH}/unit'`,
  ...['UnitNew', 'UnitRemoved', 'JobRemoved'].map(
    (member) =>
      `type='signal',sender='${SYSTEMD_BUS_NAME}',path='${SYSTEMD_PATH}',interface='${MANAGER_INTERFACE}',member='${member}'`,
  ),
];

export class BusSystemd implements Systemd {
  // dbus-next runs signal handlers before the continuations of replies that arrived just ahead of
  // them; sd-bus does not. Queueing keeps a StartUnit reply ahead of that job's JobRemoved.
  private readonly queue = new EventQueue<SystemdEvent>();
  readonly events = this.queue.events;

  private constructor(private readonly bus: MessageBus) {}

  /** Connects to a system bus where systemd runs, e.g. unix:path=/proc/PID/root/run/dbus/system_bus_socket. */
  static async connect(address: string): Promise<BusSystemd> {
    const systemd = new BusSystemd(await openBus(address));
    systemd.bus.on('message', (message: MessageType) => systemd.onMessage(message));
    for (const rule of MATCH_RULES) await addMatch(systemd.bus, rule);
    await systemd.manager('Subscribe');
    return systemd;
  }

  async listUnits(): Promise<UnitInfo[]> {
    return (await this.manager('ListUnits'))[0] as UnitInfo[];
  }

  async listUnitFiles(): Promise<UnitFileInfo[]> {
    return (await this.manager('ListUnitFiles'))[0] as UnitFileInfo[];
  }

  async getUnitFileState(file: string): Promise<string> {
    return (await this.manager('GetUnitFileState', 's', [file]))[0] as string;
  }

  async queueJob(method: JobMethod, name: string, mode: string): Promise<string> {
    return (await this.manager(method, 'ss', [name, mode]))[0] as string;
  }

  async startTransientUnit(name: string, mode: string, props: unknown[], aux: unknown[]): Promise<string> {
    return (await this.manager('StartTransientUnit', 'ssa(sv)a(sa(sv))', [name, mode, props, aux]))[0] as string;
  }

  async cancelJob(jobPath: string): Promise<void> {
    await this.call(jobPath, JOB_INTERFACE, 'Cancel');
  }

  async freezeUnit(name: string): Promise<void> {
    await this.call(unitPath(name), UNIT_INTERFACE, 'Freeze');
  }

  async thawUnit(name: string): Promise<void> {
    await this.call(unitPath(name), UNIT_INTERFACE, 'Thaw');
  }

  async killUnit(name: string, who: string, signal: number): Promise<void> {
    await this.manager('KillUnit', 'ssi', [name, who, signal]);
  }

  /** Upstream's agent reads properties straight from the unit's escaped path, which makes systemd load it. */
  async getUnitProperties(name: string, iface: string): Promise<Properties> {
    return (await this.call(unitPath(name), PROPERTIES_INTERFACE, 'GetAll', 's', [iface]))[0] as Properties;
  }

  async getUnitProperty(name: string, iface: string, property: string): Promise<Variant> {
    return (await this.call(unitPath(name), PROPERTIES_INTERFACE, 'Get', 'ss', [iface, property]))[0] as Variant;
  }

  async setUnitProperties(name: string, runtime: boolean, props: Array<[string, Variant]>): Promise<void> {
    await this.manager('SetUnitProperties', 'sba(sv)', [name, runtime, props]);
  }

  async enableUnitFiles(files: string[], runtime: boolean, force: boolean): Promise<[boolean, UnitFileChange[]]> {
    const [carriesInstallInfo, changes] = await this.manager('EnableUnitFiles', 'asbb', [files, runtime, force]);
    return [carriesInstallInfo as boolean, changes as UnitFileChange[]];
  }

  async disableUnitFiles(files: string[], runtime: boolean): Promise<UnitFileChange[]> {
    return (await this.manager('DisableUnitFiles', 'asb', [files, runtime]))[0] as UnitFileChange[];
  }

  async reload(): Promise<void> {
    await this.manager('Reload');
  }

  async resetFailed(): Promise<void> {
    await this.manager('ResetFailed');
  }

  async resetFailedUnit(name: string): Promise<void> {
    await this.manager('ResetFailedUnit', 's', [name]);
  }

  async getDefaultTarget(): Promise<string> {
    return (await this.manager('GetDefaultTarget'))[0] as string;
  }

  async setDefaultTarget(target: string, force: boolean): Promise<UnitFileChange[]> {
    return (await this.manager('SetDefaultTarget', 'sb', [target, force]))[0] as UnitFileChange[];
  }

  async close(): Promise<void> {
    this.queue.close();
    await closeBus(this.bus);
  }

  private manager(member: string, signature = '', body: unknown[] = []): Promise<unknown[]> {
    return this.call(SYSTEMD_PATH, MANAGER_INTERFACE, member, signature, body);
  }

  /** Errors reject as dbus-next DBusErrors carrying systemd's names, which pass through unchanged. */
  private async call(path: string, iface: string, member: string, signature = '', body: unknown[] = []): Promise<unknown[]> {
    const reply = await this.bus.call(
      new Message({ destination: SYSTEMD_BUS_NAME, path, interface: iface, member, signature, body }),
    );
    return reply?.body ?? [];
  }

  private onMessage(message: MessageType): void {
    if (message.type !== Type.SIGNAL) return;
    const event = translate(message);
    if (event) this.queue.push(event);
  }
}

function translate(message: MessageType): SystemdEvent | undefined {
  const { path, member } = message;
  const body = message.body ?? [];
  if (message.interface === MANAGER_INTERFACE && path === SYSTEMD_PATH) {
    if (member === 'JobRemoved') {
      const [id, job, unit, result] = body as [number, string, string, string];
      return { kind: 'JobRemoved', id, job, unit, result };
    }
    if (member === 'UnitNew' || member === 'UnitRemoved') {
      const [unit, unitObject] = body as [string, string];
      return { kind: member, unit, path: unitObject };
    }
    return undefined;
  }
  if (message.interface !== PROPERTIES_INTERFACE || member !== 'PropertiesChanged') return undefined;
  const [iface, changed, invalidated] = body as [string, Properties, string[]];
  if (path.startsWith(JOB_PATH_PREFIX)) {
    const state = changed.State?.value;
    return iface === JOB_INTERFACE && typeof state === 'string' ? { kind: 'JobStateChanged', job: path, state } : undefined;
  }
  if (path.startsWith(UNIT_PATH_PREFIX)) return { kind: 'UnitChanged', path, interface: iface, changed, invalidated };
  return undefined;
}
