// The D-Bus edge: one connection, typed method calls, and signals as Observables.
import dbus from 'dbus-next';
import { Observable, share } from 'rxjs';
import { QmError } from '../errors.ts';

const { Message, MessageType } = dbus;

const DEFAULT_CALL_TIMEOUT_MS = 25_000; // libdbus' default reply timeout
/**
 * dbus-daemon refuses more than max_replies_per_connection (128 on a system bus) calls awaiting a
 * reply on one connection: more than that many concurrent jobs would fail with LimitsExceeded. Calls
 * beyond this many wait their turn instead.
 */
export const MAX_CALLS_IN_FLIGHT = 64;

export interface MethodCall {
  readonly destination: string;
  readonly path: string;
  readonly interface: string;
  readonly member: string;
  readonly signature?: string;
  readonly body?: unknown[];
  readonly timeoutMs?: number;
}

/** A signal as it arrived: who sent it, from which object, and its arguments. */
export interface Signal {
  readonly sender: string;
  readonly path: string;
  readonly interface: string;
  readonly member: string;
  readonly body: unknown[];
}

/** Fields of a D-Bus match rule; `arg0` etc. match string arguments. */
export interface MatchRule {
  readonly sender?: string;
  readonly path?: string;
  readonly pathNamespace?: string;
  readonly interface?: string;
  readonly member?: string;
  readonly arg0?: string;
}

/** An error reply from a peer, with its D-Bus error name. */
export class BusCallError extends Error {
  override readonly name = 'BusCallError';
  constructor(
    readonly dbusName: string,
    message: string,
    readonly call: MethodCall,
  ) {
    super(message);
  }
}

export interface Bus {
  readonly address: string;
  readonly uniqueName: string;
  call(call: MethodCall): Promise<unknown[]>;
  /** Signals matching the rule; the match is added on first subscription, removed after the last. */
  signals(rule: MatchRule): Observable<Signal>;
  /** Emits once when the connection is lost (not after `close`). */
  readonly closed: Observable<Error>;
  close(): void;
}

export async function connectBus(address: string, timeoutMs = 5_000): Promise<Bus> {
  let raw: dbus.MessageBus;
  try {
    raw = dbus.sessionBus({ busAddress: address });
  } catch (error) {
    throw unreachable(address, error);
  }
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(unreachable(address, new Error(`no answer in ${timeoutMs} ms`))), timeoutMs);
    raw.once('connect', () => {
      clearTimeout(timer);
      resolve();
    });
    raw.once('error', (error: unknown) => {
      clearTimeout(timer);
      reject(unreachable(address, error));
    });
  }).catch((error: unknown) => {
    raw.disconnect();
    throw error;
  });
  return wrap(raw, address);
}

function unreachable(address: string, cause: unknown): QmError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new QmError('unreachable', `cannot reach the D-Bus bus at ${address}: ${reason}`, { address }, { cause });
}

export function matchRuleString(rule: MatchRule): string {
  const parts = ["type='signal'"];
  const keys: Array<[keyof MatchRule, string]> = [
    ['sender', 'sender'],
    ['path', 'path'],
    ['pathNamespace', 'path_namespace'],
    ['interface', 'interface'],
    ['member', 'member'],
    ['arg0', 'arg0'],
  ];
  for (const [key, name] of keys) {
    const value = rule[key];
    if (value !== undefined) parts.push(`${name}='${value.replaceAll("'", "'\\''")}'`);
  }
  return parts.join(',');
}

function matches(rule: MatchRule, message: dbus.Message): boolean {
  if (rule.path !== undefined && message.path !== rule.path) return false;
  if (rule.pathNamespace !== undefined) {
    const ns = rule.pathNamespace;
    if (message.path !== ns && !message.path.startsWith(ns === '/' ? '/' : `${ns}/`)) return false;
  }
  if (rule.interface !== undefined && message.interface !== rule.interface) return false;
  if (rule.member !== undefined && message.member !== rule.member) return false;
  if (rule.arg0 !== undefined && message.body[0] !== rule.arg0) return false;
  return true;
}

function wrap(raw: dbus.MessageBus, address: string): Bus {
  let closing = false;
  const lost = new Observable<Error>((subscriber) => {
    const onError = (error: Error) => subscriber.next(error);
    const stream = (raw as unknown as { _connection: NodeJS.EventEmitter })._connection;
    const onEnd = () => {
      if (!closing) subscriber.next(new QmError('unreachable', `the D-Bus connection to ${address} was lost`, { address }));
    };
    raw.on('error', onError);
    stream.on('end', onEnd);
    return () => {
      raw.off('error', onError);
      stream.off('end', onEnd);
    };
  }).pipe(share());
  // An 'error' with no listener would throw; keep one for the connection's lifetime.
  raw.on('error', () => undefined);

  const inbound = new Observable<dbus.Message>((subscriber) => {
    const onMessage = (message: dbus.Message) => {
      if (message.type === MessageType.SIGNAL) subscriber.next(message);
    };
    raw.on('message', onMessage);
    return () => raw.off('message', onMessage);
  }).pipe(share());

  const rules = new Map<string, Observable<Signal>>();
  const pending = new Set<() => void>();
  const slots = semaphore(MAX_CALLS_IN_FLIGHT);

  /** One method call on the wire, bounded by its reply timeout. */
  async function send(call: MethodCall): Promise<unknown[]> {
    const message = new Message({
      destination: call.destination,
      path: call.path,
      interface: call.interface,
      member: call.member,
      signature: call.signature ?? '',
      body: call.body ?? [],
    });
    const timeoutMs = call.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
    let timer: NodeJS.Timeout | undefined;
    let abandon: () => void = () => undefined;
    const timeout = new Promise<never>((_, reject) => {
      abandon = () => reject(new QmError('unreachable', `the D-Bus connection to ${address} was closed`, { address }));
      pending.add(abandon);
      timer = setTimeout(
        () =>
          reject(
            new BusCallError(
              'org.freedesktop.DBus.Error.NoReply',
              `${call.interface}.${call.member} got no reply within ${timeoutMs} ms`,
              call,
            ),
          ),
        timeoutMs,
      );
    });
    try {
      const reply = await Promise.race([raw.call(message), timeout]);
      return reply?.body ?? [];
    } catch (error) {
      if (error instanceof BusCallError) throw error;
      const dbusError = error as { type?: string; text?: string; message?: string };
      if (typeof dbusError.type === 'string') {
        throw new BusCallError(dbusError.type, dbusError.text ?? dbusError.message ?? dbusError.type, call);
      }
      throw new QmError('unreachable', `the D-Bus bus at ${address} failed: ${String(error)}`, { address }, { cause: error });
    } finally {
      clearTimeout(timer);
      pending.delete(abandon);
    }
  }

  const bus: Bus = {
    address,
    get uniqueName() {
      return (raw as unknown as { name: string | null }).name ?? '';
    },
    async call(call) {
      await slots.acquire();
      try {
        return await send(call);
      } finally {
        slots.release();
      }
    },
    signals(rule) {
      const key = matchRuleString(rule);
      let stream = rules.get(key);
      if (!stream) {
        stream = new Observable<Signal>((subscriber) => {
          const inner = inbound.subscribe((message) => {
            if (matches(rule, message)) {
              subscriber.next({
                sender: message.sender,
                path: message.path,
                interface: message.interface,
                member: message.member,
                body: message.body,
              });
            }
          });
          dbusCall(bus, 'AddMatch', key).catch((error: unknown) => subscriber.error(error));
          return () => {
            inner.unsubscribe();
            rules.delete(key);
            if (!closing) dbusCall(bus, 'RemoveMatch', key).catch(() => undefined);
          };
        }).pipe(share());
        rules.set(key, stream);
      }
      return stream;
    },
    closed: lost,
    close() {
      closing = true;
      // Calls still waiting would hold the process open until their timeouts: end them now.
      for (const abandon of pending) abandon();
      raw.disconnect();
    },
  };
  return bus;
}

function dbusCall(bus: Bus, member: string, argument: string): Promise<unknown[]> {
  return bus.call({
    destination: 'org.freedesktop.DBus',
    path: '/org/freedesktop/DBus',
    interface: 'org.freedesktop.DBus',
    member,
    signature: 's',
    body: [argument],
  });
}

function semaphore(size: number) {
  let free = size;
  const waiting: Array<() => void> = [];
  return {
    async acquire(): Promise<void> {
      if (free > 0) {
        free--;
        return;
      }
      await new Promise<void>((resolve) => waiting.push(resolve));
    },
    release(): void {
      const next = waiting.shift();
      if (next) next();
      else free++;
    },
  };
}
