// The D-Bus edge against a real dbus-daemon: match rules live exactly as long as their subscribers.
import test from 'ava';
import dbus from 'dbus-next';
import { filter, firstValueFrom, take, toArray, timeout } from 'rxjs';
import { connectBus, type Bus, BusCallError } from '../../controller/bus/connection.ts';
import { QmError } from '../../controller/errors.ts';
import { startPrivateBus, type PrivateBus } from '../support/dbus-daemon.ts';

let daemon: PrivateBus;
const opened: Bus[] = [];

test.before(async () => {
  daemon = await startPrivateBus();
});
test.after.always(async () => {
  opened.forEach((bus) => bus.close());
  await daemon?.stop();
});

async function open(): Promise<Bus> {
  const bus = await connectBus(daemon.address);
  opened.push(bus);
  return bus;
}

async function matchRules(observer: Bus, name: string): Promise<number> {
  const [stats] = await observer.call({
    destination: 'org.freedesktop.DBus',
    path: '/org/freedesktop/DBus',
    interface: 'org.freedesktop.DBus.Debug.Stats',
    member: 'GetConnectionStats',
    signature: 's',
    body: [name],
  });
  return (stats as Record<string, { value: number }>).MatchRules!.value;
}

/** A raw peer on the bus that may own `name` and emits /qm/test org.qm.Test signals. */
async function peer(name?: string) {
  const raw = dbus.sessionBus({ busAddress: daemon.address });
  await new Promise<void>((resolve) => ((raw as unknown as { name: string | null }).name ? resolve() : raw.once('connect', () => resolve())));
  if (name) await raw.requestName(name, dbus.NameFlag.DO_NOT_QUEUE);
  return {
    uniqueName: (raw as unknown as { name: string }).name,
    /** Broadcast, or unicast to `destination` (as BlueChi sends monitor signals). */
    emit(member: string, value: string, destination?: string, signature = 's') {
      const message = dbus.Message.newSignal('/qm/test', 'org.qm.Test', member, signature, signature === 's' ? [value] : [value, value]);
      if (destination) message.destination = destination;
      raw.send(message);
    },
    release: (owned: string) => raw.releaseName(owned),
    close: () => raw.disconnect(),
  };
}

/** Calls the bus daemon: once it answers, every signal sent to us before the call has been delivered. */
const roundTrip = (bus: Bus) => bus.call({ destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus.Peer', member: 'Ping' });

test('a signal stream adds its match rule once, shares it, and removes it after the last subscriber', async (t) => {
  const bus = await open();
  const observer = await open();
  const before = await matchRules(observer, bus.uniqueName);
  const stream = bus.signals({ sender: ':1.999', path: '/qm/test', interface: 'org.qm.Test', member: 'Ping' });
  const first = stream.subscribe();
  const second = stream.subscribe();
  await stream.ready();
  t.is(await matchRules(observer, bus.uniqueName), before + 1);
  first.unsubscribe();
  t.is(await matchRules(observer, bus.uniqueName), before + 1, 'one subscriber left keeps the rule');
  second.unsubscribe();
  await roundTrip(bus);
  t.is(await matchRules(observer, bus.uniqueName), before);
});

test('a well-known sender costs one more match rule (its NameOwnerChanged), shared and removed with the last stream', async (t) => {
  const bus = await open();
  const observer = await open();
  const before = await matchRules(observer, bus.uniqueName);
  const pings = bus.signals({ sender: 'org.qm.Shared', path: '/qm/test', interface: 'org.qm.Test', member: 'Ping' });
  const pongs = bus.signals({ sender: 'org.qm.Shared', path: '/qm/test', interface: 'org.qm.Test', member: 'Pong' });
  const subscriptions = [pings.subscribe(), pongs.subscribe()];
  await Promise.all([pings.ready(), pongs.ready()]);
  t.is(await matchRules(observer, bus.uniqueName), before + 3);
  subscriptions.forEach((subscription) => subscription.unsubscribe());
  await roundTrip(bus);
  t.is(await matchRules(observer, bus.uniqueName), before);
});

test('signals are filtered by member and argument', async (t) => {
  const bus = await open();
  const source = await peer('org.qm.Source');
  t.teardown(source.close);
  const stream = bus.signals({ sender: 'org.qm.Source', path: '/qm/test', interface: 'org.qm.Test', member: 'Ping', arg0: 'b' });
  const received = firstValueFrom(stream.pipe(take(2), toArray(), timeout(5000)));
  await stream.ready();
  for (const [member, value] of [['Ping', 'a'], ['Pong', 'b'], ['Ping', 'b'], ['Ping', 'c'], ['Ping', 'b']] as const) source.emit(member, value);
  const signals = await received;
  t.deepEqual(
    signals.map((signal) => [signal.member, signal.body[0]]),
    [
      ['Ping', 'b'],
      ['Ping', 'b'],
    ],
  );
});

test('signals from anyone but the current owner of the sender name are dropped, broadcast or sent to us directly', async (t) => {
  const bus = await open();
  const owner = await peer('org.qm.Genuine');
  const intruder = await peer();
  t.teardown(() => [owner, intruder].forEach((p) => p.close()));
  // A wider stream of the same connection: the intruder's signals do reach the connection through it.
  const everyone = bus.signals({ sender: intruder.uniqueName, path: '/qm/test', interface: 'org.qm.Test' });
  const stream = bus.signals({ sender: 'org.qm.Genuine', path: '/qm/test', interface: 'org.qm.Test', member: 'Ping' });
  const seen: string[] = [];
  const subscriptions = [stream.subscribe((signal) => seen.push(String(signal.body[0]))), everyone.subscribe()];
  t.teardown(() => subscriptions.forEach((subscription) => subscription.unsubscribe()));
  await Promise.all([stream.ready(), everyone.ready()]);
  intruder.emit('Ping', 'spoofed broadcast');
  intruder.emit('Ping', 'spoofed unicast', bus.uniqueName);
  owner.emit('Ping', 'genuine');
  const marker = firstValueFrom(stream.pipe(take(1), timeout(5000)));
  t.is((await marker).body[0], 'genuine');
  await roundTrip(bus);
  t.deepEqual(seen, ['genuine']);
});

test('a restarted owner is followed: the new one is trusted, the old one no longer', async (t) => {
  const bus = await open();
  const first = await peer('org.qm.Restarting');
  t.teardown(first.close);
  const stream = bus.signals({ sender: 'org.qm.Restarting', path: '/qm/test', interface: 'org.qm.Test', member: 'Ping' });
  const owners = bus.owner('org.qm.Restarting');
  const seenOwners: string[] = [];
  const seen: string[] = [];
  const subscriptions = [stream.subscribe((signal) => seen.push(String(signal.body[0]))), owners.subscribe((owner) => seenOwners.push(owner))];
  t.teardown(() => subscriptions.forEach((subscription) => subscription.unsubscribe()));
  await Promise.all([stream.ready(), owners.ready()]);
  first.emit('Ping', 'first, while owner');
  await first.release('org.qm.Restarting');
  const second = await peer('org.qm.Restarting');
  t.teardown(second.close);
  first.emit('Ping', 'first, after losing the name', bus.uniqueName); // unicast: no match rule filters it at the bus
  second.emit('Ping', 'second, the new owner');
  await firstValueFrom(stream.pipe(filter((signal) => signal.body[0] === 'second, the new owner'), take(1), timeout(5000)));
  t.deepEqual(seen, ['first, while owner', 'second, the new owner']);
  t.deepEqual(seenOwners, [first.uniqueName, '', second.uniqueName]);
});

test('owner() says "" for a name nobody owns, then the owner once it arrives', async (t) => {
  const bus = await open();
  const owners = bus.owner('org.qm.Later');
  const seen: string[] = [];
  const subscription = owners.subscribe((owner) => seen.push(owner));
  t.teardown(() => subscription.unsubscribe());
  await owners.ready();
  t.deepEqual(seen, ['']);
  const later = await peer('org.qm.Later');
  t.teardown(later.close);
  await firstValueFrom(owners.pipe(filter((owner) => owner !== ''), timeout(5000)));
  t.deepEqual(seen, ['', later.uniqueName]);
});

test('a signal of another signature than declared ends the stream with a contract error naming the member', async (t) => {
  const bus = await open();
  const source = await peer('org.qm.Drifted');
  t.teardown(source.close);
  const stream = bus.signals({ sender: 'org.qm.Drifted', path: '/qm/test', interface: 'org.qm.Test', signatures: { Ping: 's' } });
  const outcome = firstValueFrom(stream.pipe(toArray()));
  await stream.ready();
  source.emit('Ping', 'fine');
  source.emit('Ping', 'two strings', undefined, 'ss');
  const error = await t.throwsAsync(outcome, { instanceOf: QmError });
  t.is(error.code, 'contract');
  t.regex(error.message, /org\.qm\.Test\.Ping .*'ss'.*'s'/);
});

test('a reply of another signature than declared is a contract error naming the member', async (t) => {
  const bus = await open();
  const error = await t.throwsAsync(
    bus.call({ destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus', member: 'ListNames', replySignature: 'a(ss)' }),
    { instanceOf: QmError },
  );
  t.is(error.code, 'contract');
  t.regex(error.message, /org\.freedesktop\.DBus\.ListNames replied with signature 'as' where the API declares 'a\(ss\)'/);
});

test('an error reply keeps its D-Bus name', async (t) => {
  const bus = await open();
  const error = await t.throwsAsync(
    bus.call({ destination: 'org.qm.Nobody', path: '/', interface: 'org.qm.Nobody', member: 'Hello' }),
    { instanceOf: BusCallError },
  );
  t.is(error.dbusName, 'org.freedesktop.DBus.Error.ServiceUnknown');
});

test('a call with no reply fails after its timeout', async (t) => {
  const bus = await open();
  const silent = dbus.sessionBus({ busAddress: daemon.address });
  t.teardown(() => silent.disconnect());
  await silent.requestName('org.qm.Silent', 0);
  silent.addMethodHandler(() => true); // takes every call and never answers
  const error = await t.throwsAsync(
    bus.call({ destination: 'org.qm.Silent', path: '/', interface: 'org.qm.Silent', member: 'Wait', timeoutMs: 300 }),
    { instanceOf: BusCallError },
  );
  t.is(error.dbusName, 'org.freedesktop.DBus.Error.NoReply');
});

test('connecting to a missing bus is an unreachable error naming the address', async (t) => {
  const error = await t.throwsAsync(connectBus('unix:path=/nonexistent/qm-bus'), { instanceOf: QmError });
  t.is(error.code, 'unreachable');
  t.is(error.exitCode, 3);
  t.regex(error.message, /unix:path=\/nonexistent\/qm-bus/);
});

test('losing the bus is reported on `closed`', async (t) => {
  const own = await startPrivateBus();
  const bus = await connectBus(own.address);
  const lost = firstValueFrom(bus.closed.pipe(timeout(5000)));
  await own.stop();
  const error = await lost;
  t.true(error instanceof Error);
  bus.close();
});

test('closing the connection ends calls still waiting, so nothing holds the process open', async (t) => {
  const bus = await connectBus(daemon.address);
  const silent = dbus.sessionBus({ busAddress: daemon.address });
  t.teardown(() => silent.disconnect());
  await silent.requestName('org.qm.Silent2', 0);
  const arrived = new Promise<void>((resolve) => silent.addMethodHandler(() => (resolve(), true)));
  const waiting = bus.call({ destination: 'org.qm.Silent2', path: '/', interface: 'org.qm.Silent', member: 'Wait', timeoutMs: 60_000 });
  await arrived;
  bus.close();
  const error = await t.throwsAsync(waiting, { instanceOf: QmError });
  t.is(error.code, 'unreachable');
});

test('a reply forged by another connection is ignored: only the called peer\'s reply settles the call', async (t) => {
  const bus = await open();
  const service = dbus.sessionBus({ busAddress: daemon.address });
  t.teardown(() => service.disconnect());
  await service.requestName('org.qm.Answering', 0);
  let answer: () => void = () => undefined;
  const arrived = new Promise<void>((resolve) =>
    service.addMethodHandler((message: dbus.Message) => {
      answer = () => service.send(dbus.Message.newMethodReturn(message, 's', ['genuine']));
      resolve();
      return true;
    }),
  );
  const call = bus.call({ destination: 'org.qm.Answering', path: '/', interface: 'org.qm.Answering', member: 'Ask', replySignature: 's', timeoutMs: 10_000 });
  await arrived;
  // Serials are small counters: a forger can simply try them all, as a method return or an error.
  const raw = dbus.sessionBus({ busAddress: daemon.address });
  t.teardown(() => raw.disconnect());
  await new Promise<void>((resolve) => raw.once('connect', () => resolve()));
  for (let serial = 1; serial < 64; serial++) {
    raw.send(new dbus.Message({ type: dbus.MessageType.METHOD_RETURN, replySerial: serial as never, destination: bus.uniqueName, signature: 's', body: ['forged'] }));
    raw.send(new dbus.Message({ type: dbus.MessageType.ERROR, replySerial: serial as never, destination: bus.uniqueName, errorName: 'org.qm.Forged', signature: 's', body: ['forged'] }));
  }
  // Once the forger's own call is answered the bus has queued its forgeries to us; once ours is, we have read them.
  await raw.call(new dbus.Message({ destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus.Peer', member: 'Ping' }));
  await roundTrip(bus);
  answer();
  t.deepEqual(await call, ['genuine']);
});
