// Opening a dbus-next connection to an address, and the few bus-daemon calls the stand-in makes.
import dbus from 'dbus-next';
import type { Message as MessageType, MessageBus } from 'dbus-next';

const { Message } = dbus;

/** A connected bus; resolves once Hello has answered, so `uniqueName` is known. */
export function openBus(address: string): Promise<MessageBus> {
  const bus = dbus.sessionBus({ busAddress: address });
  return new Promise((resolve, reject) => {
    const fail = (error: unknown) => reject(new Error(`cannot connect to ${address}: ${String(error)}`));
    bus.once('error', fail);
    bus.once('connect', () => {
      bus.off('error', fail);
      // A dropped connection is reported by the caller's own checks; keep the process alive.
      bus.on('error', () => undefined);
      // A call still read after the connection was closed gets no answer: dbus-next would throw writing it.
      bus.addMethodHandler(() => !busOpen(bus));
      resolve(bus);
    });
  });
}

export const uniqueName = (bus: MessageBus): string => (bus as unknown as { name: string }).name;

export function callBus(bus: MessageBus, member: string, signature: string, body: unknown[]): Promise<MessageType | null> {
  return bus.call(
    new Message({
      destination: 'org.freedesktop.DBus',
      path: '/org/freedesktop/DBus',
      interface: 'org.freedesktop.DBus',
      member,
      signature,
      body,
    }),
  );
}

export async function addMatch(bus: MessageBus, rule: string): Promise<void> {
  await callBus(bus, 'AddMatch', 's', [rule]);
}

const streamOf = (bus: MessageBus) =>
  (bus as unknown as { _connection: { stream: NodeJS.EventEmitter & { destroyed?: boolean; writable?: boolean } } })._connection.stream;

/** Whether a message can still be written: false once the socket ended or failed (dbus-next would throw). */
export const busOpen = (bus: MessageBus): boolean => streamOf(bus).writable !== false;

/** Calls `lost` once, as soon as the connection's socket ends, whoever ended it (we, or the bus daemon going away). */
export function onBusClosed(bus: MessageBus, lost: () => void): void {
  let called = false;
  const once = () => {
    if (called) return;
    called = true;
    lost();
  };
  streamOf(bus).once('end', once).once('error', once).once('close', once);
}

/** Closes the connection and waits until the socket is gone, so the bus daemon has seen it leave. */
export function closeBus(bus: MessageBus): Promise<void> {
  const stream = streamOf(bus);
  return new Promise((resolve) => {
    if (stream.destroyed) {
      resolve();
      return;
    }
    stream.once('close', () => resolve());
    bus.disconnect();
  });
}
