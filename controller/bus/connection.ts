// The D-Bus edge: one connection, typed method calls, and signals as Observables.
import dbus from 'dbus-next';
import type { Writable } from 'node:stream';
import { Observable, share, Subject, type Subscriber } from 'rxjs';
import { QmError } from '../errors.ts';
import { MAX_TIMER_MS } from '../timers.ts';

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
  /** The reply's signature as the service declares it; a reply of another shape is a `contract` error naming the member. */
  readonly replySignature?: string;
}

/** A signal as it arrived: who sent it, from which object, and its arguments. */
export interface Signal {
  readonly sender: string;
  readonly path: string;
  readonly interface: string;
  readonly member: string;
  readonly body: unknown[];
}

/** The bus daemon itself: the only sender of NameOwnerChanged that can be trusted. */
export const BUS_DAEMON = 'org.freedesktop.DBus';

/**
 * Fields of a D-Bus match rule; `arg0` matches the first string argument. `sender` is required: anyone on
 * a system bus may emit any signal, so a stream only ever carries what the named peer sent. A well-known
 * name is followed to its current unique owner (NameOwnerChanged), so a restarted service is trusted
 * again and its predecessor no longer is.
 */
export interface MatchRule {
  readonly sender: string;
  readonly path?: string;
  readonly pathNamespace?: string;
  readonly interface?: string;
  readonly member?: string;
  readonly arg0?: string;
  /** Members whose body has another signature end the stream with a `contract` error naming the member. */
  readonly signatures?: Readonly<Record<string, string>>;
}

/**
 * An Observable of bus events that says when it is live: `ready()` resolves once the current (or next)
 * subscription's match rule is in place at the bus and its sender's owner is known, so nothing sent after
 * that is missed; it rejects when setting up failed.
 */
export interface LiveStream<T> extends Observable<T> {
  ready(): Promise<void>;
}

/** `derived` (e.g. `source.pipe(map(…))`) with `source`'s ready point. */
export function live<T>(source: { ready(): Promise<void> }, derived: Observable<T>): LiveStream<T> {
  return Object.assign(derived, { ready: () => source.ready() });
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
  /** Signals matching the rule from its sender; the match is added on first subscription, removed after the last. */
  signals(rule: MatchRule): LiveStream<Signal>;
  /**
   * The unique name owning `name`: the current owner first (once known), then every change; '' while
   * nobody owns it. Followed in the order the bus delivered messages, so it is never behind a signal.
   */
  owner(name: string): LiveStream<string>;
  /** Emits once when the connection is lost (not after `close`). */
  readonly closed: Observable<Error>;
  close(): void;
  /** Serves a dbus-next service interface at `path` on this connection: one connection both calls and serves. */
  export(path: string, iface: dbus.interface.Interface): void;
  /** Stops serving every interface at `path`. */
  unexport(path: string): void;
}

/** RequestName's replies (the D-Bus specification's numbers). */
export const RequestNameReply = { primaryOwner: 1, inQueue: 2, exists: 3, alreadyOwner: 4 } as const;

/** Requests a well-known name with DO_NOT_QUEUE: resolves with RequestName's reply; rejects as the bus refused (AccessDenied …). */
export async function requestName(bus: Bus, name: string): Promise<number> {
  const [reply] = await bus.call({ destination: BUS_DAEMON, path: '/org/freedesktop/DBus', interface: BUS_DAEMON, member: 'RequestName', signature: 'su', body: [name, 4] });
  return reply as number;
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
    if (typeof value === 'string') parts.push(`${name}='${value.replaceAll("'", "'\\''")}'`);
  }
  return parts.join(',');
}

/** The rule's fields other than the sender, which `wrap` checks against the owner it follows. */
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

const isUniqueName = (name: string) => name.startsWith(':');

/** A well-known name's owner, as known from the bus's answers and NameOwnerChanged, in delivery order. */
interface OwnerWatch {
  /** Unique name of the owner; '' when none; undefined until GetNameOwner answered. */
  current: string | undefined;
  readonly changes: Subject<string>;
  readonly known: Promise<void>;
  markKnown(): void;
  failKnown(error: unknown): void;
  users: number;
  release(): void;
}

function wrap(raw: dbus.MessageBus, address: string): Bus {
  let closing = false;
  // The messages sent in one event-loop turn leave in one write: `qmctl start` of 100 units makes one system call for
  // its 100 StartUnit calls, not 100 (dbus-next writes each message as it is sent).
  const socket = (raw as unknown as { _connection: { stream?: Writable } })._connection.stream;
  const write = (message: dbus.Message) => {
    if (socket && socket.writableCorked === 0) {
      socket.cork();
      process.nextTick(() => socket.uncork());
    }
    raw.send(message);
  };
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

  const owners = new Map<string, OwnerWatch>();
  /** GetNameOwner calls awaiting their reply, by serial: answered in delivery order, not a promise later. */
  const ownerQueries = new Map<number, OwnerWatch>();
  const inbound = new Subject<dbus.Message>();

  /** Our calls awaiting a reply, by serial, with whom the reply must come from. */
  const expectedReplies = new Map<number, { readonly destination: string; readonly watch?: OwnerWatch; settle(reply: dbus.Message): void }>();
  /** Owners of the well-known names we call, followed for the connection's lifetime. */
  const destinations = new Map<string, OwnerWatch>();

  // Every message, in the order the bus delivered it (before dbus-next's own handling): owner answers and
  // changes, replies to our calls, then signals.
  raw.on('message', (message: dbus.Message) => {
    if (message.type === MessageType.METHOD_RETURN || message.type === MessageType.ERROR) {
      const serial = Number(message.replySerial); // typed string by dbus-next, a number on the wire
      const watch = ownerQueries.get(serial);
      if (watch) {
        ownerQueries.delete(serial);
        if (message.type === MessageType.METHOD_RETURN) watch.current = message.body[0] as string;
        else if (message.errorName === 'org.freedesktop.DBus.Error.NameHasNoOwner') watch.current = '';
        else return watch.failKnown(new QmError('bus-error', `GetNameOwner failed: ${message.errorName}`, { address, dbusName: message.errorName }));
        watch.markKnown();
        watch.changes.next(watch.current);
        return;
      }
      const expected = expectedReplies.get(serial);
      // A reply from anyone but the peer we called (or the bus daemon, which answers for absent peers) is forged: ignored.
      if (expected && (message.sender === BUS_DAEMON || trusted(expected.destination, expected.watch, message.sender))) {
        expectedReplies.delete(serial);
        expected.settle(message);
      }
      return;
    }
    if (message.type !== MessageType.SIGNAL) return;
    if (message.sender === BUS_DAEMON && message.interface === BUS_DAEMON && message.member === 'NameOwnerChanged') {
      const watch = owners.get(message.body[0] as string);
      // Before GetNameOwner answers, its answer is newer than any change seen: keep waiting for it.
      if (watch && watch.current !== undefined) {
        watch.current = message.body[2] as string;
        watch.changes.next(watch.current);
      }
    }
    inbound.next(message);
  });

  const rules = new Map<string, LiveStream<Signal>>();
  const pending = new Set<() => void>();
  const slots = semaphore(MAX_CALLS_IN_FLIGHT);

  /** One method call on the wire, bounded by its reply timeout; only its destination's reply settles it. */
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
    const watch = followed(call.destination);
    let timer: NodeJS.Timeout | undefined;
    let abandon: () => void = () => undefined;
    let serial: number | undefined;
    let reply: dbus.Message;
    try {
      reply = await new Promise<dbus.Message>((resolve, reject) => {
        abandon = () => reject(new QmError('unreachable', `the D-Bus connection to ${address} was closed`, { address }));
        pending.add(abandon);
        timer = setTimeout(
          () => reject(new BusCallError('org.freedesktop.DBus.Error.NoReply', `${call.interface}.${call.member} got no reply within ${timeoutMs} ms`, call)),
          Math.min(timeoutMs, MAX_TIMER_MS),
        );
        try {
          write(message);
        } catch (error) {
          reject(new QmError('unreachable', `the D-Bus bus at ${address} failed: ${String(error)}`, { address }, { cause: error }));
          return;
        }
        serial = message.serial!;
        expectedReplies.set(serial, { destination: call.destination, ...(watch ? { watch } : {}), settle: resolve });
      });
    } finally {
      clearTimeout(timer);
      pending.delete(abandon);
      if (serial !== undefined) expectedReplies.delete(serial);
    }
    if (reply.type === MessageType.ERROR) {
      const text = typeof reply.body[0] === 'string' ? reply.body[0] : reply.errorName;
      throw new BusCallError(reply.errorName, text, call);
    }
    if (call.replySignature !== undefined && reply.signature !== call.replySignature) {
      throw contractError(`${call.interface}.${call.member}`, 'replied', reply.signature, call.replySignature, call.destination);
    }
    return reply.body;
  }

  /** The owner watch of a well-known destination, kept while the connection lives; none for unique names and the bus. */
  function followed(destination: string): OwnerWatch | undefined {
    if (isUniqueName(destination) || destination === BUS_DAEMON) return undefined;
    let watch = destinations.get(destination);
    if (!watch) {
      // Its GetNameOwner goes on the wire before the call, so its answer is in before the call's reply.
      watch = watchOwner(destination);
      destinations.set(destination, watch);
    }
    return watch;
  }

  /** The shared watch of `name`'s owner: AddMatch for its NameOwnerChanged, then GetNameOwner, both on the wire in that order. */
  function watchOwner(name: string): OwnerWatch {
    const existing = owners.get(name);
    if (existing) {
      existing.users += 1;
      return existing;
    }
    const { promise: known, resolve: markKnown, reject: failKnown } = deferred();
    const rule = matchRuleString({ sender: BUS_DAEMON, path: '/org/freedesktop/DBus', interface: BUS_DAEMON, member: 'NameOwnerChanged', arg0: name });
    const watch: OwnerWatch = {
      current: undefined,
      changes: new Subject<string>(),
      known,
      markKnown,
      failKnown,
      users: 1,
      release() {
        watch.users -= 1;
        if (watch.users > 0) return;
        owners.delete(name);
        watch.changes.complete();
        if (!closing) dbusCall(bus, 'RemoveMatch', rule).catch(() => undefined);
      },
    };
    owners.set(name, watch);
    // The match is in place before the bus answers GetNameOwner: it handles our messages in order.
    const added = dbusCall(bus, 'AddMatch', rule);
    const query = new Message({ destination: BUS_DAEMON, path: '/org/freedesktop/DBus', interface: BUS_DAEMON, member: 'GetNameOwner', signature: 's', body: [name] });
    write(query);
    ownerQueries.set(query.serial!, watch);
    added.catch((error: unknown) => watch.failKnown(error));
    void Promise.all([added, known]).catch(() => undefined);
    return watch;
  }

  /** Whether `sender` is who the rule trusts right now. */
  const trusted = (expected: string, watch: OwnerWatch | undefined, sender: string): boolean =>
    watch ? watch.current !== undefined && watch.current !== '' && sender === watch.current : sender === expected;

  /** A shared stream whose ready() follows its current set-up, restarting with each first subscriber. */
  function liveShared<T>(setUp: (subscriber: Subscriber<T>) => { ready: Promise<void>; teardown: () => void }): LiveStream<T> {
    let readiness = deferred();
    const stream = new Observable<T>((subscriber) => {
      const current = readiness;
      const { ready, teardown } = setUp(subscriber);
      ready.then(current.resolve, (error: unknown) => {
        current.reject(error);
        subscriber.error(error);
      });
      return () => {
        teardown();
        if (readiness === current) readiness = deferred();
      };
    }).pipe(share());
    return Object.assign(stream, { ready: () => readiness.promise });
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
      if (stream) return stream;
      stream = liveShared<Signal>((subscriber) => {
        const watch = isUniqueName(rule.sender) || rule.sender === BUS_DAEMON ? undefined : watchOwner(rule.sender);
        const inner = inbound.subscribe((message) => {
          if (!matches(rule, message) || !trusted(rule.sender, watch, message.sender)) return;
          const expected = rule.signatures?.[message.member];
          if (expected !== undefined && message.signature !== expected) {
            subscriber.error(contractError(`${message.interface}.${message.member}`, 'was emitted', message.signature, expected, rule.sender));
            return;
          }
          subscriber.next({ sender: message.sender, path: message.path, interface: message.interface, member: message.member, body: message.body });
        });
        const added = dbusCall(bus, 'AddMatch', key);
        return {
          ready: Promise.all([added, watch?.known]).then(() => undefined),
          teardown() {
            inner.unsubscribe();
            watch?.release();
            if (!closing) dbusCall(bus, 'RemoveMatch', key).catch(() => undefined);
          },
        };
      });
      rules.set(key, stream);
      return stream;
    },
    owner(name) {
      return liveShared<string>((subscriber) => {
        const watch = watchOwner(name);
        if (watch.current !== undefined) subscriber.next(watch.current);
        const inner = watch.changes.subscribe(subscriber);
        return {
          ready: watch.known,
          teardown() {
            inner.unsubscribe();
            watch.release();
          },
        };
      });
    },
    closed: lost,
    close() {
      closing = true;
      // Calls still waiting would hold the process open until their timeouts: end them now.
      for (const abandon of pending) abandon();
      for (const watch of owners.values()) watch.failKnown(new QmError('unreachable', `the D-Bus connection to ${address} was closed`, { address }));
      raw.disconnect();
    },
    export: (path, iface) => raw.export(path, iface),
    // dbus-next's typings want an interface; without one it unexports every interface at the path.
    unexport: (path) => (raw.unexport as (path: string) => void).call(raw, path),
  };
  return bus;
}

function contractError(member: string, verb: string, actual: string, expected: string, peer: string): QmError {
  return new QmError(
    'contract',
    `${member} ${verb} with signature '${actual}' where the API declares '${expected}': ${peer} does not speak the API this qm was built for`,
    { dbusName: member },
  );
}

/** A promise with its resolve and reject (Node 20 has no Promise.withResolvers); a rejection nobody awaits is not an error. */
export function deferred(): { promise: Promise<void>; resolve: () => void; reject: (error: unknown) => void } {
  let resolve: () => void = () => undefined;
  let reject: (error: unknown) => void = () => undefined;
  const promise = new Promise<void>((ok, fail) => {
    resolve = ok;
    reject = fail;
  });
  promise.catch(() => undefined);
  return { promise, resolve, reject };
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
