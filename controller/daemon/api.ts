// qm-controller's D-Bus API as both sides see it: org.qm.Controller1 on the system bus, JSON over `s`.
// Kept free of dbus-next (type imports only), so qmctl commands using it start fast.
import type { Bus } from '../bus/connection.ts';
import { QmError } from '../errors.ts';
import type { ErrorOrigin } from '../errors.ts';

export const DAEMON_NAME = 'org.qm.Controller1';
export const DAEMON_PATH = '/org/qm/Controller1';
export const DAEMON_IFACE = 'org.qm.Controller1';
/** Error names the daemon replies with. */
export const DAEMON_FAILED = 'org.qm.Controller1.Error.Failed';

export type DaemonMethod = 'Status' | 'Apply' | 'Reload';

/** A QmError as JSON: code, message and where (file/line/column/field or node/unit). */
export type ErrorJson = { readonly code: string; readonly message: string } & ErrorOrigin;

export interface StepSummary {
  readonly id: string;
  readonly result: string;
  readonly error?: ErrorJson;
  readonly blockedBy?: string;
}

/** A unit the nodes report not as the layout wants once an apply's steps ended: `running`/`failed`, `enabled`/`disabled`. */
export interface UnconvergedJson {
  readonly node: string;
  readonly unit: string;
  readonly desired: string;
  readonly observed: string;
}

/** One reconcile pass. `outcome`: applied (ran its plan; see steps), refused (layout nodes unknown), unreachable (BlueChi not on the bus), failed (the pass itself failed). */
export interface ApplySummary {
  readonly trigger: string;
  readonly startedAt: string;
  readonly endedAt: string;
  readonly outcome: 'applied' | 'refused' | 'unreachable' | 'failed';
  readonly steps: readonly StepSummary[];
  readonly waiting: ReadonlyArray<{ readonly key: string; readonly node: string; readonly reason: string }>;
  readonly offline: readonly string[];
  /** Once its steps ended, the units not as the layout wants (those waiting left out). */
  readonly unconverged: readonly UnconvergedJson[];
  readonly errors: readonly ErrorJson[];
}

export interface ReloadOutcome {
  readonly reloaded: boolean;
  readonly at: string;
  /** The layout's files: the new one's when reloaded, else the ones still in force. */
  readonly files: readonly string[];
  readonly errors: readonly ErrorJson[];
}

export interface UnitStatus {
  readonly node: string;
  readonly unit: string;
  readonly desired: string;
  /** systemd's ActiveState, or `unknown` while its node is offline or BlueChi is away. */
  readonly observed: string;
  readonly converged: boolean;
  readonly repairs: { readonly done: number; readonly left: number; readonly budget: number; readonly exhausted: boolean; readonly lastDelayMs?: number };
}

export interface DaemonStatus {
  readonly layout: { readonly files: readonly string[]; readonly units: number };
  /** up: BlueChi's controller is on the bus; down: it is not; disconnected: the bus itself is gone. */
  readonly bluechi: 'up' | 'down' | 'disconnected';
  readonly converged: boolean;
  readonly nodes: ReadonlyArray<{ readonly name: string; readonly online: boolean }>;
  readonly units: readonly UnitStatus[];
  readonly applies: number;
  readonly lastApply?: ApplySummary;
  readonly lastReload?: ReloadOutcome;
}

/** Whether a qm-controller owns its name on `bus`. */
export async function daemonRunning(bus: Bus): Promise<boolean> {
  const [has] = await bus.call({
    destination: 'org.freedesktop.DBus',
    path: '/org/freedesktop/DBus',
    interface: 'org.freedesktop.DBus',
    member: 'NameHasOwner',
    signature: 's',
    body: [DAEMON_NAME],
  });
  return has === true;
}

export async function callDaemon<T>(bus: Bus, method: DaemonMethod, timeoutMs?: number): Promise<T> {
  let reply: unknown[];
  try {
    reply = await bus.call({ destination: DAEMON_NAME, path: DAEMON_PATH, interface: DAEMON_IFACE, member: method, timeoutMs });
  } catch (error) {
    const dbusName = (error as { dbusName?: string }).dbusName;
    const reason = (error as Error).message;
    if (dbusName === 'org.freedesktop.DBus.Error.AccessDenied') {
      throw new QmError('access-denied', `qm-controller refused ${method}: access denied (root and the qm-operators group may call it): ${reason}`, { dbusName });
    }
    if (dbusName === 'org.freedesktop.DBus.Error.ServiceUnknown' || dbusName === 'org.freedesktop.DBus.Error.NameHasNoOwner') {
      throw new QmError('unreachable', `qm-controller is not running on ${bus.address} (no owner of ${DAEMON_NAME})`, { dbusName, address: bus.address });
    }
    if (dbusName !== undefined) throw new QmError('bus-error', `qm-controller ${method} failed: ${reason}`, { dbusName });
    throw error;
  }
  return JSON.parse(reply[0] as string) as T;
}
