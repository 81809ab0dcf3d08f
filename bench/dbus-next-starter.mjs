// The least a program built on dbus-next does to start units through BlueChi and wait for their jobs, as the
// concurrent-starts bench's baseline: a match for the controller's JobRemoved, every StartUnit at once, and each
// job's end picked by its path (also an end that comes before the call's reply). No check of the sender, no timeouts,
// no output: what any Node program pays to do what `qmctl start` does, loading dbus-next as such a program would.
// Usage: node bench/dbus-next-starter.mjs BUS_ADDRESS NODE[,NODE...] UNIT...
import dbus from 'dbus-next';

const [address, nodes, ...units] = process.argv.slice(2);
const bus = dbus.sessionBus({ busAddress: address });
const call = async (fields) => (await bus.call(new dbus.Message(fields))).body;
/** Waits by job path, and ends that came before their call's reply. */
const waiting = new Map();
const ended = new Map();
bus.on('message', (message) => {
  if (message.type !== dbus.MessageType.SIGNAL || message.member !== 'JobRemoved') return;
  const [, job, , , result] = message.body;
  const wait = waiting.get(job);
  if (wait) wait(result);
  else ended.set(job, result);
});
await call({
  destination: 'org.freedesktop.DBus',
  path: '/org/freedesktop/DBus',
  interface: 'org.freedesktop.DBus',
  member: 'AddMatch',
  signature: 's',
  body: ["type='signal',sender='org.eclipse.bluechi',path='/org/eclipse/bluechi',interface='org.eclipse.bluechi.Controller',member='JobRemoved'"],
});
const start = async (node, unit) => {
  const [job] = await call({ destination: 'org.eclipse.bluechi', path: `/org/eclipse/bluechi/node/${node}`, interface: 'org.eclipse.bluechi.Node', member: 'StartUnit', signature: 'ss', body: [unit, 'replace'] });
  return ended.get(job) ?? new Promise((resolve) => waiting.set(job, resolve));
};
const results = await Promise.all(nodes.split(',').flatMap((node) => units.map((unit) => start(node, unit))));
const failed = results.filter((result) => result !== 'done').length;
if (failed > 0) process.stderr.write(`${failed} of ${results.length} jobs did not end done\n`);
process.exit(failed > 0 ? 1 : 0);
