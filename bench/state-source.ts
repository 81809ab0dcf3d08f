// A source of unit state changes for the monitor bench, in its own process: the stand-in serving node `a`, whose
// `noise.service` flips between active and inactive on command. Prints `ready`; then for each stdin line
// `RATE COUNT` makes COUNT changes at RATE per second (in 10 ms slices) and prints `sent`. Ends on stdin's end.
//
// The stand-in marshals each signal with dbus-next, which tops out near 2,000 changes/s on these machines, below
// what the followers keep up with. So the source records the bytes of the stand-in's own UnitStateChanged signal for
// each state once (as its connection writes them, on the first command: BlueChi signals only to a monitor that
// subscribed), and then sends copies with fresh serials on that same connection: the same messages from the same
// sender, at up to ~100,000/s.
import { Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { setTimeout as delay } from 'node:timers/promises';
import { startStandin } from '../test/standin/index.ts';

const [address] = process.argv.slice(2);
if (!address) throw new Error('usage: state-source.ts BUS_ADDRESS');
const standin = await startStandin({ address, nodes: [{ name: 'a', units: [{ name: 'noise.service' }] }] });

/** The stand-in's signal for each state, as written on its connection, and that connection. */
async function record(): Promise<{ socket: Socket; signals: [Buffer, Buffer] }> {
  const seen: Array<{ socket: Socket; bytes: Buffer }> = [];
  let written: (() => void) | undefined;
  const write = Socket.prototype.write;
  Socket.prototype.write = function (this: Socket, chunk: unknown, ...rest: unknown[]) {
    const bytes = Buffer.isBuffer(chunk) ? chunk : (chunk as { data?: Buffer }).data;
    if (bytes && bytes[1] === 4 && bytes.includes('UnitStateChanged') && bytes.includes('noise.service')) {
      seen.push({ socket: this, bytes: Buffer.from(bytes) });
      written?.();
    }
    return (write as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
  } as typeof Socket.prototype.write;
  const find = (state: string) => seen.find(({ bytes }) => bytes.includes(`\0${state}\0`));
  try {
    for (const [active, sub] of [['active', 'running'], ['inactive', 'dead']] as const) {
      const signalled = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`the stand-in wrote no UnitStateChanged signal for ${active}`)), 5_000);
        written = () => find(active) && (clearTimeout(timer), resolve());
      });
      standin.setUnitState('a', 'noise.service', active, sub);
      await signalled;
    }
  } finally {
    Socket.prototype.write = write;
  }
  return { socket: find('active')!.socket, signals: [find('active')!.bytes, find('inactive')!.bytes] };
}

let recorded: Awaited<ReturnType<typeof record>> | undefined;
// Serials of our own, far above the stand-in's: a signal's serial only has to be non-zero.
let serial = 0x4000_0000;
let flip = 0;

async function send(rate: number, count: number): Promise<void> {
  const began = performance.now();
  let sent = 0;
  if (!recorded) {
    recorded = await record();
    if (recorded.signals[0][0] !== 0x6c) throw new Error('the stand-in wrote a big-endian message; the serial patch below is little-endian');
    sent = 2;
  }
  const { socket, signals } = recorded;
  while (sent < count) {
    // As many as are due by now, in one write, then wait for the next slice: the rate holds when a slice runs late.
    const due = Math.min(count, Math.floor(((performance.now() - began) / 1000) * rate) + 1);
    const batch: Buffer[] = [];
    for (; sent < due; sent++, flip++) {
      const message = Buffer.from(signals[flip % 2]!);
      message.writeUInt32LE(serial++, 8);
      batch.push(message);
    }
    if (batch.length > 0 && !socket.write(Buffer.concat(batch))) await new Promise((resolve) => socket.once('drain', resolve));
    await delay(10);
  }
}

console.log('ready');
for await (const line of createInterface({ input: process.stdin })) {
  const [rate, count] = line.split(' ').map(Number);
  await send(rate!, count!);
  console.log('sent');
}
await standin.stop();
