// A source of unit state changes for the monitor bench, in its own process: the stand-in serving node `a`, whose
// `noise.service` flips between active and inactive on command. Prints `ready`; then for each stdin line
// `RATE COUNT` makes COUNT changes at RATE per second (in 10 ms slices) and prints `sent`. Ends on stdin's end.
import { createInterface } from 'node:readline';
import { setTimeout as delay } from 'node:timers/promises';
import { startStandin } from '../test/standin/index.ts';

const [address] = process.argv.slice(2);
if (!address) throw new Error('usage: state-source.ts BUS_ADDRESS');
const standin = await startStandin({ address, nodes: [{ name: 'a', units: [{ name: 'noise.service' }] }] });
let flip = 0;

async function send(rate: number, count: number): Promise<void> {
  const began = performance.now();
  for (let sent = 0; sent < count; ) {
    // As many as are due by now, then wait for the next slice: the rate holds even when a slice runs late.
    const due = Math.min(count, Math.floor(((performance.now() - began) / 1000) * rate) + 1);
    for (; sent < due; sent++, flip++) standin.setUnitState('a', 'noise.service', flip % 2 ? 'inactive' : 'active', flip % 2 ? 'dead' : 'running');
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
