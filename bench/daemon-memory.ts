// qm-controller's memory under a stream of unit state signals: dist/qm-controller.cjs as a child process,
// the BlueChi stand-in flipping a unit it watches (all units: '*') but does not own, 10,000 times.
// Figure: VmRSS at the end ÷ VmRSS after warm-up (first 1,000). Target ≈ 1.0: no growth. Needs `npm run build`.
// RSS also moves with V8's heap sizing, so a second figure tells a leak from that: the daemon's loop
// run in this process, its live heap after a forced collection at 1,000 and at 10,000 signals.
import { spawn } from 'node:child_process';
import { cpuMs } from './processes.ts';
import { readFile, rm } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { connectBus } from '../controller/bus/connection.ts';
import { daemonRunning } from '../controller/daemon/client.ts';
import { startStandin } from '../test/standin/index.ts';
import { startPrivateBus, stopChild } from '../test/support/dbus-daemon.ts';
import { layoutDir, startTestDaemon, until } from '../test/daemon/harness.ts';

const BIN = fileURLToPath(new URL('../dist/qm-controller.cjs', import.meta.url));

async function rssKb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]);
}

export async function daemonMemory(total = 10_000, warmUp = 1_000): Promise<void> {
  const bus = await startPrivateBus();
  const standin = await startStandin({ address: bus.address, nodes: [{ name: 'a', units: [{ name: 'owned.service' }, { name: 'noise.service' }] }] });
  const dir = await layoutDir('nodes:\n  a:\n    units:\n      owned.service: {}\n');
  const child = spawn(process.execPath, [BIN, '--layout', dir, '--bus-address', bus.address, '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const probe = await connectBus(bus.address);
  try {
    await until('qm-controller owns its name', () => daemonRunning(probe));
    await until('the layout is applied', () => standin.unitState('a', 'owned.service')?.activeState === 'active');
    let warm = 0;
    let cpuAtWarm = 0;
    for (let flip = 1; flip <= total; flip++) {
      standin.setUnitState('a', 'noise.service', flip % 2 ? 'active' : 'inactive', flip % 2 ? 'running' : 'dead');
      if (flip % 50 === 0) await delay(5); // a busy vehicle, not a flood the bus would throttle
      if (flip === warmUp) {
        await delay(500);
        warm = await rssKb(child.pid!);
        cpuAtWarm = await cpuMs(child.pid!);
      }
    }
    await delay(500);
    const end = await rssKb(child.pid!);
    const perChange = ((await cpuMs(child.pid!)) - cpuAtWarm) / (total - warmUp);
    // Still listening after all that: drift of its own unit is repaired.
    standin.setUnitState('a', 'owned.service', 'failed', 'failed');
    await until('the daemon repairs owned.service after the flood', () => standin.unitState('a', 'owned.service')?.activeState === 'active');
    console.log(
      `daemon-memory: VmRSS after ${total} unit state signals ${(end / 1024).toFixed(1)} MiB / after ${warmUp} (warm-up) ${(warm / 1024).toFixed(1)} MiB = ${(end / warm).toFixed(2)} (target ≈1.0, no growth)`,
    );
    // A state change of a unit it does not own is one signal to decode and drop: its CPU is the daemon's floor per signal.
    console.log(`daemon-memory: qm-controller's CPU per unit state change after warm-up ${(perChange * 1000).toFixed(0)} µs (${total - warmUp} changes; clock ticks of 10 ms)`);
  } finally {
    probe.close();
    await stopChild(child);
    await standin.stop();
    await bus.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Live heap after a forced collection (needs node --expose-gc), of the daemon loop run in this process. */
export async function daemonHeap(total = 10_000, warmUp = 1_000): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('daemon heap figure needs node --expose-gc (npm run bench passes it)');
  const bus = await startPrivateBus();
  const standin = await startStandin({ address: bus.address, nodes: [{ name: 'a', units: [{ name: 'owned.service' }, { name: 'noise.service' }] }] });
  const dir = await layoutDir('nodes:\n  a:\n    units:\n      owned.service: {}\n');
  const quiet = () => undefined;
  const { daemon } = await startTestDaemon(bus.address, dir, { error: (message: string) => console.error(message), warn: quiet, info: quiet, debug: quiet });
  const liveHeap = async () => {
    await delay(300);
    gc();
    gc();
    return process.memoryUsage().heapUsed;
  };
  try {
    await daemon.ready;
    await until('the layout is applied', () => standin.unitState('a', 'owned.service')?.activeState === 'active');
    let warm = 0;
    for (let flip = 1; flip <= total; flip++) {
      standin.setUnitState('a', 'noise.service', flip % 2 ? 'active' : 'inactive', flip % 2 ? 'running' : 'dead');
      if (flip % 50 === 0) await delay(5);
      if (flip === warmUp) warm = await liveHeap();
    }
    const end = await liveHeap();
    const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(2);
    console.log(
      `daemon-memory: live heap after GC (daemon loop and stand-in) after ${total} signals ${mib(end)} MiB / after ${warmUp} ${mib(warm)} MiB = ${(end / warm).toFixed(2)} (target ≈1.0)`,
    );
  } finally {
    await daemon.stop();
    await standin.stop();
    await bus.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
