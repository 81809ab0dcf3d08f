// 100 unit starts across 10 nodes with 50 ms job latency in one qmctl call, against one qmctl call starting one unit:
// both pay one process start-up and one job's latency, so the ratio is what the other 99 concurrent jobs add
// (comparing with 100 sequential calls measured mostly 100 start-ups). The same two runs of a bare dbus-next program
// doing what qmctl start does (bench/dbus-next-starter.mjs) give the floor: what those 99 jobs cost any Node program
// reading the bus with dbus-next, and the stand-in serving them. The stand-in runs in its own process.
import { fileURLToPath } from 'node:url';
import { startPrivateBus, stopChild } from '../test/support/dbus-daemon.ts';
import { interleaved, loadNote, median, reportRatio, spread, timeAsync } from './measure.ts';
import { cpuMs, runNode, runQmctl, startStandinProcess } from './processes.ts';

const STARTER = fileURLToPath(new URL('./dbus-next-starter.mjs', import.meta.url));

export async function concurrentStarts({ nodeCount = 10, unitsPerNode = 10, latencyMs = 50, rounds = 7 } = {}): Promise<void> {
  const bus = await startPrivateBus();
  const nodes = Array.from({ length: nodeCount }, (_, i) => `node${i + 1}`);
  const units = Array.from({ length: unitsPerNode }, (_, i) => `bench${i + 1}.service`);
  const standin = await startStandinProcess(['--address', bus.address, '--latency', String(latencyMs), ...nodes.flatMap((node) => ['--node', node]), ...units.flatMap((unit) => ['--unit', unit])]);
  // The stand-in's CPU time during each timed start: BlueChi's work, which the ratio includes (bluechi-controller,
  // written in C, does it for a fraction of the stand-in's cost).
  const standinCpu: Record<'all' | 'one', number[]> = { all: [], one: [] };
  const start = (how: 'qmctl' | 'dbus-next', which: 'all' | 'one', someNodes: string[], someUnits: string[]) => async () => {
    await runQmctl(bus.address, ['stop', someNodes.join(','), ...someUnits]);
    const before = await cpuMs(standin.pid!);
    const time = await timeAsync(() => (how === 'qmctl' ? runQmctl(bus.address, ['start', someNodes.join(','), ...someUnits]) : runNode(STARTER, [bus.address, someNodes.join(','), ...someUnits], 'dbus-next-starter')));
    if (how === 'qmctl') standinCpu[which].push((await cpuMs(standin.pid!)) - before);
    return time;
  };
  try {
    console.log(`concurrent-starts: ${loadNote()}`);
    const one: [string[], string[]] = [nodes.slice(0, 1), units.slice(0, 1)];
    const times = await interleaved(rounds, {
      all: start('qmctl', 'all', nodes, units),
      one: start('qmctl', 'one', ...one),
      floorAll: start('dbus-next', 'all', nodes, units),
      floorOne: start('dbus-next', 'one', ...one),
    });
    const count = nodeCount * unitsPerNode;
    reportRatio(`concurrent-starts: one qmctl start of ${count} units on ${nodeCount} nodes ÷ one qmctl start of 1 unit`, times.all, times.one, '≤ 1.3');
    reportRatio(`concurrent-starts: the same for a bare dbus-next program (bench/dbus-next-starter.mjs), the floor`, times.floorAll, times.floorOne, 'none: the floor');
    const more = (all: number[], single: number[]) => all.map((time, round) => time - single[round]!);
    reportRatio(
      `concurrent-starts: what the other ${count - 1} jobs add to a run, qmctl ÷ the bare dbus-next program`,
      more(times.all, times.one),
      more(times.floorAll, times.floorOne),
      '≤ 1.2: qmctl checks senders, timeouts and offline nodes; the bare program none',
    );
    console.log(`concurrent-starts: the stand-in's CPU time during qmctl's start of ${count} units ${median(standinCpu.all)} ms (${spread(standinCpu.all, 0)}), of 1 unit ${median(standinCpu.one)} ms, on 2 cores shared with qmctl`);
  } finally {
    await stopChild(standin);
    await bus.stop();
  }
}
