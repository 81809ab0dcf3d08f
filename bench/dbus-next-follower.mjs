// The least a follower of BlueChi's unit changes built on dbus-next does, as the monitor bench's second baseline:
// a match rule, a monitor subscribed to node `a`, and per UnitStateChanged one line (qmctl monitor's words), the
// lines of one event-loop turn in one write. No check of the sender, no streams: what any Node program using
// dbus-next pays per change, so `qmctl monitor ÷ this` is what qmctl itself adds. Plain JavaScript, run by node alone,
// on dbus-next as published: qmctl's bundle carries the build's patches to dbus-next (scripts/build.mjs), whose
// saving the ratio therefore counts too (below 1: qmctl reads the bus for less than the published library does).
// Usage: node bench/dbus-next-follower.mjs BUS_ADDRESS
import dbus from 'dbus-next';

const [address] = process.argv.slice(2);
const bus = dbus.sessionBus({ busAddress: address });
let pending = '';
let scheduled = false;
const flush = () => {
  scheduled = false;
  const text = pending;
  pending = '';
  process.stdout.write(text);
};
bus.on('message', (message) => {
  if (message.type !== dbus.MessageType.SIGNAL || message.member !== 'UnitStateChanged') return;
  const [node, unit, activeState, subState] = message.body;
  pending += `${node} ${unit}: ${activeState} (${subState})\n`;
  if (!scheduled) {
    scheduled = true;
    setImmediate(flush);
  }
});
const call = async (fields) => (await bus.call(new dbus.Message(fields))).body;
await call({ destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus', member: 'AddMatch', signature: 's', body: ["type='signal',interface='org.eclipse.bluechi.Monitor'"] });
const [monitor] = await call({ destination: 'org.eclipse.bluechi', path: '/org/eclipse/bluechi', interface: 'org.eclipse.bluechi.Controller', member: 'CreateMonitor' });
await call({ destination: 'org.eclipse.bluechi', path: monitor, interface: 'org.eclipse.bluechi.Monitor', member: 'Subscribe', signature: 'ss', body: ['a', '*'] });
process.on('SIGINT', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
