// `qmctl monitor` against `dbus-monitor` on the same private bus, both following the same unit state changes (the
// stand-in's monitor signals, which dbus-monitor sees as a bus monitor). At rising rates, each 2 s long, a follower
// keeps up when it printed every change within 1 s of the last one sent; the highest rate kept up with, qmctl's ÷
// dbus-monitor's (target ≥ 1.0), and the CPU time per change of each at a rate both keep up with (target ≤ 1.2).
// The source (stand-in) runs in its own process. Sweeps repeated; medians and spreads printed. Then the same CPU
// figure against a bare dbus-next follower (bench/dbus-next-follower.mjs): what qmctl adds to the library it reads
// the bus with (target ≤ 1.1), since against dbus-monitor the cost of Node and dbus-next is counted too.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface, type Interface } from 'node:readline';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { startPrivateBus, stopChild } from '../test/support/dbus-daemon.ts';
import { interleaved, loadNote, median, reportRatio, spread } from './measure.ts';
import { BENCH_QMCTL, cpuMs, startStandinProcess } from './processes.ts';

const SOURCE = fileURLToPath(new URL('./state-source.ts', import.meta.url));
const DBUS_NEXT_FOLLOWER = fileURLToPath(new URL('./dbus-next-follower.mjs', import.meta.url));
const RATES = [1_000, 2_000, 3_000, 4_000, 5_000, 6_000, 8_000, 10_000, 12_000, 16_000, 20_000, 24_000, 32_000, 48_000, 64_000];
const SECONDS = 2;
/** Rate for the CPU figure: low enough that both keep up on a loaded 2-core machine. */
const CPU_RATE = 1_000;

interface Follower {
  readonly name: string;
  readonly child: ChildProcess;
  /** Changes printed so far. */
  count: number;
}

function follow(name: string, command: string, args: readonly string[], isChange: (line: string) => boolean): Follower {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'ignore'] });
  const follower: Follower = { name, child, count: 0 };
  createInterface({ input: child.stdout! }).on('line', (line) => isChange(line) && follower.count++);
  return follower;
}

async function until(condition: () => boolean, ms: number): Promise<boolean> {
  const deadline = performance.now() + ms;
  while (!condition()) {
    if (performance.now() > deadline) return false;
    await delay(10);
  }
  return true;
}

/** Sends COUNT changes at RATE; per follower whether it printed them all within 1 s after, and its CPU ms meanwhile. */
async function burst(source: { child: ChildProcess; lines: Interface }, followers: readonly Follower[], rate: number, count: number) {
  const before = await Promise.all(followers.map(async (f) => ({ count: f.count, cpu: await cpuMs(f.child.pid!) })));
  const began = performance.now();
  source.child.stdin!.write(`${rate} ${count}\n`);
  await once(source.lines, 'line');
  /** Whether the source made the rate asked (within 10 %): above what it makes, no follower can be told apart. */
  const sourceKept = performance.now() - began <= ((count / rate) * 1000) * 1.1 + 20;
  const kept = await Promise.all(followers.map((f, i) => until(() => f.count - before[i]!.count >= count, 1_000)));
  // A follower still behind is waited for (up to 30 s) so the next rate starts with none in flight.
  await Promise.all(followers.map((f, i) => until(() => f.count - before[i]!.count >= count, 30_000)));
  const cpu = await Promise.all(followers.map(async (f, i) => (await cpuMs(f.child.pid!)) - before[i]!.cpu));
  return { sourceKept, results: followers.map((f, i) => ({ name: f.name, kept: kept[i]!, cpuPerChange: cpu[i]! / count })) };
}

export async function monitorRate({ sweeps = 5, floorRounds = 4 } = {}): Promise<void> {
  await againstDbusMonitor(sweeps);
  await againstDbusNext(floorRounds);
}

/** A line of qmctl monitor's about a change of noise.service on node a. */
const isMonitorLine = (line: string) => line.startsWith('a noise.service: ') && line.includes(' (');

/**
 * qmctl monitor's CPU per change against a bare dbus-next follower's (bench/dbus-next-follower.mjs), each in a run of
 * its own (a fresh bus and source: the source replays the signal it recorded for the first monitor subscribed), the
 * two alternating. Both are Node programs reading with dbus-next, so the ratio is what qmctl adds to what the
 * library and Node cost; against dbus-monitor that floor is itself counted.
 */
async function againstDbusNext(rounds: number): Promise<void> {
  const phase = async (name: string, args: readonly string[]) => {
    const bus = await startPrivateBus();
    const sourceChild = await startStandinProcess([bus.address], SOURCE);
    const source = { child: sourceChild, lines: createInterface({ input: sourceChild.stdout! }) };
    const follower = follow(name, process.execPath, [...args, bus.address], isMonitorLine);
    try {
      await delay(1_000);
      await burst(source, [follower], 200, 100);
      if (follower.count < 100) throw new Error(`${name} saw ${follower.count} of the 100 warm-up changes`);
      await burst(source, [follower], 5_000, 10_000);
      const { results } = await burst(source, [follower], CPU_RATE, CPU_RATE * 10);
      if (!results[0]!.kept) throw new Error(`${name} did not keep up with ${CPU_RATE} changes/s`);
      return results[0]!.cpuPerChange * 1000;
    } finally {
      await stopChild(follower.child);
      source.child.stdin!.end();
      await stopChild(sourceChild);
      await bus.stop();
    }
  };
  console.log(`monitor-rate: qmctl monitor against a bare dbus-next follower, ${rounds} rounds of a run each, ${CPU_RATE * 10} changes at ${CPU_RATE}/s after 10,000; ${loadNote()}`);
  const cpu = await interleaved(rounds, {
    qmctl: () => phase('qmctl', [BENCH_QMCTL, 'monitor', 'a', '--bus-address']),
    'dbus-next': () => phase('dbus-next', [DBUS_NEXT_FOLLOWER]),
  });
  reportRatio(`monitor-rate: CPU time per change at ${CPU_RATE}/s, qmctl monitor ÷ a bare dbus-next follower`, cpu.qmctl, cpu['dbus-next'], '≤ 1.1: what qmctl adds', 'µs');
}

async function againstDbusMonitor(sweeps: number): Promise<void> {
  const bus = await startPrivateBus();
  const sourceChild = await startStandinProcess([bus.address], SOURCE);
  const source = { child: sourceChild, lines: createInterface({ input: sourceChild.stdout! }) };
  const followers = [
    follow('qmctl', process.execPath, [BENCH_QMCTL, '--bus-address', bus.address, 'monitor', 'a'], isMonitorLine),
    follow('dbus-monitor', 'dbus-monitor', ['--address', bus.address, "type='signal',interface='org.eclipse.bluechi.Monitor'"], (line) => line.startsWith('signal ') && line.includes('member=UnitStateChanged')),
  ];
  try {
    console.log(`monitor-rate: ${BENCH_QMCTL}, ${sweeps} sweeps of ${RATES.join(', ')} changes/s, ${SECONDS} s each; ${loadNote()}`);
    // Both following before anything is timed: 100 changes, each seen by both. Then 10,000 more, so that what is
    // timed is qmctl's steady state (V8 optimises its per-change code after some thousand changes), as in a monitor
    // that runs for hours; dbus-monitor is compiled C and has none to reach.
    await delay(1_000);
    await burst(source, followers, 200, 100);
    if (!followers.every((f) => f.count >= 100)) throw new Error(`a follower saw none of the warm-up changes: ${followers.map((f) => `${f.name} ${f.count}`).join(', ')}`);
    await burst(source, followers, 5_000, 10_000);
    const keptUpTo: Record<string, number[]> = { qmctl: [], 'dbus-monitor': [] };
    const cpu: Record<string, number[]> = { qmctl: [], 'dbus-monitor': [] };
    for (let sweep = 0; sweep < sweeps; sweep++) {
      // 10 s of changes: CPU time is counted in 10 ms ticks.
      const { results: at } = await burst(source, followers, CPU_RATE, CPU_RATE * 10);
      for (const { name, cpuPerChange } of at) cpu[name]!.push(cpuPerChange);
      let sourceLimit: number | undefined;
      const highest: Record<string, number> = { qmctl: 0, 'dbus-monitor': 0 };
      const falling = new Set<string>();
      for (const rate of RATES) {
        const { sourceKept, results } = await burst(source, followers, rate, rate * SECONDS);
        if (!sourceKept) {
          sourceLimit = rate;
          break;
        }
        for (const { name, kept } of results) {
          if (kept && !falling.has(name)) highest[name] = rate;
          if (!kept) falling.add(name);
        }
        if (falling.size === followers.length) break;
      }
      for (const name of Object.keys(highest)) keptUpTo[name]!.push(highest[name]!);
      console.log(`monitor-rate: sweep ${sweep + 1}: kept up to qmctl ${highest.qmctl}/s, dbus-monitor ${highest['dbus-monitor']}/s${sourceLimit === undefined ? '' : ` (the source could not make ${sourceLimit}/s: a follower that kept up with all it made may keep up with more)`}; CPU per change at ${CPU_RATE}/s qmctl ${(cpu.qmctl!.at(-1)! * 1000).toFixed(0)} µs, dbus-monitor ${(cpu['dbus-monitor']!.at(-1)! * 1000).toFixed(0)} µs`);
    }
    console.log(`monitor-rate: highest rate kept up with, qmctl ${median(keptUpTo.qmctl!)}/s (${spread(keptUpTo.qmctl!, 0)}), dbus-monitor ${median(keptUpTo['dbus-monitor']!)}/s (${spread(keptUpTo['dbus-monitor']!, 0)})`);
    reportRatio('monitor-rate: highest rate qmctl monitor keeps up with ÷ dbus-monitor’s', keptUpTo.qmctl!, keptUpTo['dbus-monitor']!, '≥ 1.0', 'changes/s');
    reportRatio(`monitor-rate: CPU time per change at ${CPU_RATE}/s, qmctl monitor ÷ dbus-monitor`, cpu.qmctl!.map((ms) => ms * 1000), cpu['dbus-monitor']!.map((ms) => ms * 1000), '≤ 1.2', 'µs');
  } finally {
    for (const f of followers) await stopChild(f.child);
    source.child.stdin!.end();
    await stopChild(sourceChild);
    await bus.stop();
  }
}
