// qmctl's side of org.qm.Controller1: read the daemon's properties (once, or following PropertiesChanged), ask it to
// apply and wait for its job's JobRemoved, ask it for its plan, ask it to reload. Failures are QmErrors with the
// exit codes the README documents.
import dbus from 'dbus-next';
import { filter, map, Observable } from 'rxjs';
import { BUS_DAEMON, BusCallError, type Bus, type MethodCall } from '../bus/connection.ts';
import { asJobResult, awaitJob } from '../bus/jobs.ts';
import { QmError } from '../errors.ts';
import type { Plan } from '../orchestrator/plan.ts';
import { MAX_TIMER_MS } from '../timers.ts';
import { Controller1, DAEMON_IFACE, DAEMON_NAME, DAEMON_PATH, type ApplyRequest, type ApplySummary, type DaemonStatus, type ReloadOutcome } from './api.ts';
import { decodePlan, decodeReload, decodeStatus, decodeSummary } from './wire.ts';

const PROPERTIES = 'org.freedesktop.DBus.Properties';
const signature = (args: ReadonlyArray<{ readonly type: string }>) => args.map((arg) => arg.type).join('');

/** Whether a qm-controller owns its name on `bus`. */
export async function daemonRunning(bus: Bus): Promise<boolean> {
  const [has] = await bus.call({ destination: BUS_DAEMON, path: '/org/freedesktop/DBus', interface: BUS_DAEMON, member: 'NameHasOwner', signature: 's', body: [DAEMON_NAME] });
  return has === true;
}

const notRunning = (bus: Bus) => new QmError('unreachable', `qm-controller is not running on ${bus.address} (no owner of ${DAEMON_NAME})`, { address: bus.address });

async function callDaemon(bus: Bus, call: Omit<MethodCall, 'destination'>): Promise<unknown[]> {
  try {
    return await bus.call({ destination: DAEMON_NAME, ...call });
  } catch (error) {
    if (!(error instanceof BusCallError)) throw error;
    const { dbusName, message } = error;
    const what = call.member === 'GetAll' ? 'reading its status' : call.member;
    if (dbusName === 'org.freedesktop.DBus.Error.AccessDenied') {
      const who = call.interface === PROPERTIES || call.member === 'Plan' ? 'root and the groups qm-observers and qm-operators' : 'root and the qm-operators group';
      throw new QmError('access-denied', `qm-controller refused ${what}: access denied (${who} may): ${message}`, { dbusName });
    }
    if (dbusName === 'org.freedesktop.DBus.Error.ServiceUnknown' || dbusName === 'org.freedesktop.DBus.Error.NameHasNoOwner') throw notRunning(bus);
    if (dbusName === 'org.qm.Controller1.Error.Unreachable') throw new QmError('unreachable', `qm-controller: ${message}`, { dbusName });
    if (dbusName === 'org.qm.Controller1.Error.Refused') throw new QmError('node-unknown', message, { dbusName });
    throw new QmError('bus-error', `qm-controller ${what} failed: ${message}`, { dbusName });
  }
}

/** org.qm.Controller1's properties, as a status. */
export async function controllerStatus(bus: Bus, timeoutMs?: number): Promise<DaemonStatus> {
  const [properties] = await callDaemon(bus, { path: DAEMON_PATH, interface: PROPERTIES, member: 'GetAll', signature: 's', body: [DAEMON_IFACE], replySignature: 'a{sv}', timeoutMs });
  return decodeStatus(Object.fromEntries(Object.entries(properties as Record<string, { value: unknown }>).map(([name, variant]) => [name, variant.value])));
}

/** The owner of the daemon's name leaving: waiting for the daemon is pointless from then on. */
const daemonLeft = (bus: Bus, what: string): Observable<Error> =>
  bus.owner(DAEMON_NAME).pipe(
    filter((owner) => owner === ''),
    map(() => new QmError('unreachable', `qm-controller left ${bus.address} ${what}`, { address: bus.address })),
  );

/**
 * The status now, then again after each PropertiesChanged (read afresh: a change signalled while a read is under way
 * is followed by another read, so the last status seen is never older than the last change). Fails when the daemon leaves.
 */
export function followControllerStatus(bus: Bus): Observable<DaemonStatus> & { ready(): Promise<void> } {
  const changes = bus.signals({ sender: DAEMON_NAME, path: DAEMON_PATH, interface: PROPERTIES, member: 'PropertiesChanged', arg0: DAEMON_IFACE, signatures: { PropertiesChanged: 'sa{sv}as' } });
  const statuses = new Observable<DaemonStatus>((subscriber) => {
    let reading = false;
    let again = false;
    const read = async () => {
      if (reading) return void (again = true);
      reading = true;
      try {
        do {
          again = false;
          subscriber.next(await controllerStatus(bus));
        } while (again);
      } catch (error) {
        subscriber.error(error);
      } finally {
        reading = false;
      }
    };
    const following = changes.subscribe({ next: () => void read(), error: (error: unknown) => subscriber.error(error) });
    following.add(daemonLeft(bus, 'while following its status').subscribe((error) => subscriber.error(error)));
    changes.ready().then(read, (error: unknown) => subscriber.error(error));
    return following;
  });
  return Object.assign(statuses, { ready: () => changes.ready() });
}

/** What a job that ended without a summary (qm-controller stopped first) is summed up as. */
const stoppedFirst = (): ApplySummary => {
  const at = new Date().toISOString();
  return { trigger: 'operator', startedAt: at, endedAt: at, outcome: 'failed', steps: [], waiting: [], offline: [], unconverged: [], errors: [{ code: 'unreachable', message: 'qm-controller stopped before its apply ended' }] };
};

/** Asks the daemon to apply (Apply, then its job's JobRemoved, subscribed to first); resolves with the apply's summary. */
export async function applyThroughController(bus: Bus, request: ApplyRequest, timeoutMs: number): Promise<ApplySummary> {
  const removed = bus.signals({ sender: DAEMON_NAME, path: DAEMON_PATH, interface: DAEMON_IFACE, member: 'JobRemoved', signatures: { JobRemoved: signature(Controller1.signals.JobRemoved) } });
  const summaries = new Map<string, ApplySummary>();
  const ends = removed.pipe(
    map(({ body: [id, job, result, summary] }) => {
      summaries.set(job as string, decodeSummary(summary as unknown[]) ?? stoppedFirst());
      return { id: id as number, job: job as string, unit: 'the layout', result: asJobResult(result as string) };
    }),
  );
  const options: Record<string, unknown> = {};
  if (request.offlineWaitMs !== undefined) options.WaitOfflineUSec = new dbus.Variant('t', BigInt(request.offlineWaitMs) * 1000n);
  if (request.jobTimeoutMs !== undefined) options.JobTimeoutUSec = new dbus.Variant('t', BigInt(request.jobTimeoutMs) * 1000n);
  const submit = async () => {
    await removed.ready();
    const [job] = await callDaemon(bus, { path: DAEMON_PATH, interface: DAEMON_IFACE, member: 'Apply', signature: 'a{sv}', body: [options], replySignature: 'o' });
    return job as string;
  };
  const end = await awaitJob(ends, submit, { unit: 'the layout', operation: "qm-controller's apply", timeoutMs: Math.min(timeoutMs, MAX_TIMER_MS) }, daemonLeft(bus, 'before its apply ended'));
  return summaries.get(end.job)!;
}

/** What the daemon would apply now. */
export async function controllerPlan(bus: Bus): Promise<Plan> {
  const reply = await callDaemon(bus, { path: DAEMON_PATH, interface: DAEMON_IFACE, member: 'Plan', replySignature: signature(Controller1.methods.Plan.out) });
  return decodePlan(reply);
}

/** Asks the daemon to read its layout again (it applies nothing). */
export async function reloadController(bus: Bus): Promise<ReloadOutcome> {
  const reply = await callDaemon(bus, { path: DAEMON_PATH, interface: DAEMON_IFACE, member: 'Reload', replySignature: signature(Controller1.methods.Reload.out) });
  return decodeReload(reply)!;
}
