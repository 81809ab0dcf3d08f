// The D-Bus edge against a real dbus-daemon: match rules live exactly as long as their subscribers.
import test from 'ava';
import dbus from 'dbus-next';
import { firstValueFrom, take, toArray, timeout } from 'rxjs';
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

function emitter() {
  const raw = dbus.sessionBus({ busAddress: daemon.address });
  return {
    async emit(member: string, value: string) {
      await new Promise<void>((resolve) => ((raw as unknown as { name: string | null }).name ? resolve() : raw.once('connect', () => resolve())));
      raw.send(dbus.Message.newSignal('/qm/test', 'org.qm.Test', member, 's', [value]));
    },
    close: () => raw.disconnect(),
  };
}

test('a signal stream adds its match rule once, shares it, and removes it after the last subscriber', async (t) => {
  const bus = await open();
  const observer = await open();
  const before = await matchRules(observer, bus.uniqueName);
  const stream = bus.signals({ path: '/qm/test', interface: 'org.qm.Test', member: 'Ping' });
  const first = stream.subscribe();
  const second = stream.subscribe();
  await bus.call({ destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus.Peer', member: 'Ping' });
  t.is(await matchRules(observer, bus.uniqueName), before + 1);
  first.unsubscribe();
  t.is(await matchRules(observer, bus.uniqueName), before + 1, 'one subscriber left keeps the rule');
  second.unsubscribe();
  await bus.call({ destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus.Peer', member: 'Ping' });
  t.is(await matchRules(observer, bus.uniqueName), before);
});

test('signals are filtered by member and argument', async (t) => {
  const bus = await open();
  const source = emitter();
  t.teardown(source.close);
  const received = firstValueFrom(bus.signals({ path: '/qm/test', interface: 'org.qm.Test', member: 'Ping', arg0: 'b' }).pipe(take(2), toArray(), timeout(5000)));
  await new Promise((resolve) => setTimeout(resolve, 100));
  for (const [member, value] of [['Ping', 'a'], ['Pong', 'b'], ['Ping', 'b'], ['Ping', 'c'], ['Ping', 'b']] as const) await source.emit(member, value);
  const signals = await received;
  t.deepEqual(
    signals.map((signal) => [signal.member, signal.body[0]]),
    [
      ['Ping', 'b'],
      ['Ping', 'b'],
    ],
  );
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
  silent.addMethodHandler(() => true);
  const waiting = bus.call({ destination: 'org.qm.Silent2', path: '/', interface: 'org.qm.Silent', member: 'Wait', timeoutMs: 60_000 });
  await new Promise((resolve) => setTimeout(resolve, 100));
  bus.close();
  const error = await t.throwsAsync(waiting, { instanceOf: QmError });
  t.is(error.code, 'unreachable');
});
