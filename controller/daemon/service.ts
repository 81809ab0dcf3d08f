// org.qm.Controller1 served on a Bus with dbus-next's service API, as api.ts declares it: read-only properties
// with PropertiesChanged, Apply returning a job object (/org/qm/Controller1/job/N, org.qm.Controller1.Job) that
// ends with JobRemoved carrying the apply's summary, Plan and Reload. Who may call what is the D-Bus policy's
// decision (units/org.qm.Controller1.conf). Owning the name is readiness (Type=dbus): it is requested last.
import dbus from 'dbus-next';
import type { Observable } from 'rxjs';
import { requestName, RequestNameReply, type Bus } from '../bus/connection.ts';
import { isQmError, QmError } from '../errors.ts';
import type { Plan } from '../orchestrator/plan.ts';
import {
  Controller1,
  Controller1Job,
  DAEMON_ERRORS,
  DAEMON_NAME,
  DAEMON_PATH,
  JOB_PATH_PREFIX,
  jobResultOf,
  type ApplyRequest,
  type ApplySummary,
  type DaemonStatus,
  type ReloadOutcome,
  type ServedInterface,
} from './api.ts';
import { encodePlan, encodeReload, encodeStatus, encodeSummary } from './wire.ts';

/** What the service serves: the daemon's parts as the API needs them. */
export interface ControllerBackend {
  status(): DaemonStatus;
  /** The status after each change. */
  readonly changes: Observable<DaemonStatus>;
  /** `onRun` is called when the apply serving this request starts. */
  apply(request: ApplyRequest, onRun: () => void): Promise<ApplySummary>;
  plan(): Promise<Plan>;
  reload(): Promise<ReloadOutcome>;
}

export interface ServedController {
  /** Ends every job still open with JobRemoved `canceled`, and stops serving. */
  close(): void;
}

const USEC_PER_MS = 1000n;
const APPLY_OPTIONS: Readonly<Record<string, { type: string; key: keyof ApplyRequest }>> = {
  WaitOfflineUSec: { type: 't', key: 'offlineWaitMs' },
  JobTimeoutUSec: { type: 't', key: 'jobTimeoutMs' },
};

/** Apply's options as an ApplyRequest; an unknown key or a value of another type is InvalidArgs. */
export function applyRequestOf(options: Record<string, dbus.Variant>): ApplyRequest {
  const request: Record<string, number> = {};
  for (const [name, variant] of Object.entries(options)) {
    const known = APPLY_OPTIONS[name];
    if (!known) throw new dbus.DBusError(DAEMON_ERRORS.invalidArgs, `unknown option ${name}; Apply takes ${Object.keys(APPLY_OPTIONS).join(', ')}`);
    if (variant.signature !== known.type) throw new dbus.DBusError(DAEMON_ERRORS.invalidArgs, `option ${name} must be of type ${known.type}, not ${variant.signature}`);
    request[known.key] = Number(BigInt(variant.value as bigint) / USEC_PER_MS);
  }
  return request;
}

/** A dbus-next Interface class for `spec`, with `bodies` as its methods and read-only properties read through `read`. */
function interfaceClass(spec: ServedInterface, read: (property: string) => unknown, bodies: Record<string, (...args: unknown[]) => unknown> = {}) {
  class Served extends dbus.interface.Interface {}
  type IntrospectedArgs = Array<{ $: { name: string }; arg: Array<{ $: Record<string, string> }> }>;
  const introspect = (Served.prototype as unknown as { $introspect(): { method?: IntrospectedArgs; signal?: IntrospectedArgs } }).$introspect;
  // dbus-next's introspection names no arguments: add the declared names, so the XML reads like BlueChi's.
  (Served.prototype as unknown as { $introspect(): unknown }).$introspect = function (this: Served) {
    const xml = introspect.call(this);
    for (const method of xml.method ?? []) {
      const declared = spec.methods[method.$.name]!;
      const names = [...declared.in, ...declared.out].map((argument) => argument.name);
      method.arg.forEach((argument, index) => (argument.$ = { name: names[index]!, ...argument.$ }));
    }
    for (const signal of xml.signal ?? []) {
      const declared = spec.signals[signal.$.name]!;
      signal.arg.forEach((argument, index) => (argument.$ = { name: declared[index]!.name, ...argument.$ }));
    }
    return xml;
  };
  const prototype = Served.prototype as unknown as Record<string, unknown>;
  for (const name of Object.keys(spec.properties)) Object.defineProperty(prototype, name, { get: () => read(name) });
  for (const [name, body] of Object.entries(bodies)) prototype[name] = body;
  for (const name of Object.keys(spec.signals)) prototype[name] ??= (...args: unknown[]) => args;
  Served.configureMembers({
    properties: Object.fromEntries(Object.entries(spec.properties).map(([name, signature]) => [name, { signature, access: dbus.interface.ACCESS_READ }])),
    methods: Object.fromEntries(
      Object.entries(spec.methods).map(([name, { in: inArgs, out }]) => [name, { inSignature: inArgs.map((a) => a.type).join(''), outSignature: out.map((a) => a.type).join('') }]),
    ),
    signals: Object.fromEntries(Object.entries(spec.signals).map(([name, args]) => [name, { signature: args.map((a) => a.type).join('') }])),
  });
  return Served;
}

/** A failure as the D-Bus error a client can tell apart: Unreachable, Refused, or Failed. */
function asDBusError(error: unknown): dbus.DBusError {
  if (error instanceof dbus.DBusError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (isQmError(error) && error.code === 'unreachable') return new dbus.DBusError(DAEMON_ERRORS.unreachable, message);
  if (isQmError(error) && error.code === 'node-unknown') return new dbus.DBusError(DAEMON_ERRORS.refused, message);
  return new dbus.DBusError(DAEMON_ERRORS.failed, message);
}

const failing =
  <A extends unknown[], R>(body: (...args: A) => Promise<R>) =>
  async (...args: A): Promise<R> => {
    try {
      return await body(...args);
    } catch (error) {
      throw asDBusError(error);
    }
  };

/** The bigint-safe identity of a property value, to tell whether it changed. */
const identity = (value: unknown): string => JSON.stringify(value, (_key, item: unknown) => (typeof item === 'bigint' ? `${item}n` : item));

export async function serveController(bus: Bus, backend: ControllerBackend): Promise<ServedController> {
  let properties = encodeStatus(backend.status());
  let seen = new Map(Object.entries(properties).map(([name, value]) => [name, identity(value)]));
  let jobCount = 0;
  /** Jobs not ended yet, by id. */
  const open = new Map<number, { end(result: string, summary: ApplySummary | undefined): void }>();

  const JobClass = (state: { id: number; value: string }) => interfaceClass(Controller1Job, (name) => (name === 'Id' ? state.id : name === 'JobType' ? 'apply' : state.value));

  const Controller = interfaceClass(Controller1, (name) => properties[name], {
    Apply: failing(async (options: unknown) => {
      const request = applyRequestOf(options as Record<string, dbus.Variant>);
      const id = ++jobCount;
      const path = `${JOB_PATH_PREFIX}${id}`;
      const state = { id, value: 'waiting' };
      const Job = JobClass(state);
      const job = new Job(Controller1Job.name);
      bus.export(path, job);
      const end = (result: string, summary: ApplySummary | undefined) => {
        if (!open.delete(id)) return;
        bus.unexport(path);
        // A connection already gone has no one to tell.
        emitting(() => signal('JobRemoved', id, path, result, encodeSummary(summary)));
      };
      open.set(id, { end });
      signal('JobNew', id, path);
      // The reply (the job's path) goes out before anything the apply says about it: its start, its end.
      setImmediate(() => {
        backend
          .apply(request, () => {
            state.value = 'running';
            emitting(() => dbus.interface.Interface.emitPropertiesChanged(job, { State: 'running' }, []));
          })
          .then(
            (summary) => end(jobResultOf(summary), summary),
            () => end('failed', undefined),
          );
      });
      return path;
    }),
    Plan: failing(async () => encodePlan(await backend.plan())),
    Reload: failing(async () => encodeReload(await backend.reload())),
  });
  const controller = new Controller(Controller1.name);
  const signal = (name: keyof typeof Controller1.signals, ...args: unknown[]) => (controller as unknown as Record<string, (...body: unknown[]) => void>)[name]!(...args);
  const emitting = (emit: () => void) => {
    try {
      emit();
    } catch {
      // the connection is gone
    }
  };
  bus.export(DAEMON_PATH, controller);

  const following = backend.changes.subscribe((status) => {
    const next = encodeStatus(status);
    const fresh = new Map(Object.entries(next).map(([name, value]) => [name, identity(value)]));
    const changed = Object.fromEntries(Object.entries(next).filter(([name]) => fresh.get(name) !== seen.get(name)));
    properties = next;
    seen = fresh;
    if (Object.keys(changed).length > 0) emitting(() => dbus.interface.Interface.emitPropertiesChanged(controller, changed, []));
  });
  const close = () => {
    following.unsubscribe();
    for (const job of [...open.values()]) job.end('canceled', undefined);
    bus.unexport(DAEMON_PATH);
  };

  try {
    const reply = await requestName(bus, DAEMON_NAME).catch((error: { dbusName?: string; message?: string }) => {
      const denied = error.dbusName === 'org.freedesktop.DBus.Error.AccessDenied';
      throw new QmError(
        denied ? 'access-denied' : 'bus-error',
        `cannot own ${DAEMON_NAME} on ${bus.address}: ${error.message ?? String(error)}${denied ? ' (the D-Bus policy org.qm.Controller1.conf lets only root own it)' : ''}`,
        { address: bus.address, dbusName: error.dbusName },
      );
    });
    if (reply !== RequestNameReply.primaryOwner && reply !== RequestNameReply.alreadyOwner) {
      throw new QmError('bus-error', `${DAEMON_NAME} is already owned on ${bus.address}: is another qm-controller running?`, { address: bus.address });
    }
  } catch (error) {
    close();
    throw error;
  }
  return { close };
}

