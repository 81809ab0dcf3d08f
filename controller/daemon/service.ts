// Serves org.qm.Controller1 on its own connection with dbus-next's service API; owning the name is readiness
// (Type=dbus), so the name is requested last, once the methods answer.
import dbus from 'dbus-next';
import { QmError } from '../errors.ts';
import { DAEMON_FAILED, DAEMON_IFACE, DAEMON_NAME, DAEMON_PATH, type DaemonMethod } from './api.ts';

export type ApiHandlers = Readonly<Record<DaemonMethod, () => Promise<unknown>>>;

export interface ServedApi {
  /** Resolves with a reason when the connection is lost (not after `close`). */
  readonly lost: Promise<string>;
  close(): void;
}

export async function serveApi(address: string, handlers: ApiHandlers): Promise<ServedApi> {
  const raw = dbus.sessionBus({ busAddress: address });
  let closing = false;
  const lost = new Promise<string>((resolve) => {
    const stream = (raw as unknown as { _connection: NodeJS.EventEmitter })._connection;
    stream.on('end', () => closing || resolve(`the connection serving ${DAEMON_NAME} ended`));
    raw.on('error', (error: Error) => closing || resolve(error.message));
  });
  try {
    await new Promise<void>((resolve, reject) => {
      raw.once('connect', () => resolve());
      raw.once('error', (error: Error) => reject(new QmError('unreachable', `cannot reach the D-Bus bus at ${address}: ${error.message}`, { address })));
    });

    class Controller1 extends dbus.interface.Interface {}
    const prototype = Controller1.prototype as unknown as Record<string, unknown>;
    const methods: Record<string, { inSignature: string; outSignature: string }> = {};
    for (const [name, handler] of Object.entries(handlers)) {
      prototype[name] = async () => {
        try {
          return JSON.stringify(await handler());
        } catch (error) {
          if (error instanceof dbus.DBusError) throw error;
          throw new dbus.DBusError(DAEMON_FAILED, error instanceof Error ? error.message : String(error));
        }
      };
      methods[name] = { inSignature: '', outSignature: 's' };
    }
    Controller1.configureMembers({ methods });
    raw.export(DAEMON_PATH, new Controller1(DAEMON_IFACE));

    const reply = await raw.requestName(DAEMON_NAME, dbus.NameFlag.DO_NOT_QUEUE).catch((error: { type?: string; text?: string }) => {
      const denied = error.type === 'org.freedesktop.DBus.Error.AccessDenied';
      throw new QmError(
        denied ? 'access-denied' : 'bus-error',
        `cannot own ${DAEMON_NAME} on ${address}: ${error.text ?? String(error)}${denied ? ' (the D-Bus policy org.qm.Controller1.conf lets only root own it)' : ''}`,
        { address, dbusName: error.type },
      );
    });
    if (reply !== dbus.RequestNameReply.PRIMARY_OWNER && reply !== dbus.RequestNameReply.ALREADY_OWNER) {
      throw new QmError('bus-error', `${DAEMON_NAME} is already owned on ${address}: is another qm-controller running?`, { address });
    }
  } catch (error) {
    closing = true;
    raw.disconnect();
    throw error;
  }
  return {
    lost,
    close() {
      closing = true;
      raw.disconnect();
    },
  };
}
