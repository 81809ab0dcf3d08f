// 100 unit starts across 10 nodes with 50 ms job latency in one qmctl call, against one qmctl call starting one unit:
// both pay one process start-up and one job's latency, so the ratio is what the other 99 concurrent jobs add
// (comparing with 100 sequential calls measured mostly 100 start-ups). The stand-in runs in its own process.
import { startPrivateBus, stopChild } from '../test/support/dbus-daemon.ts';
import { interleaved, loadNote, median, reportRatio, spread, timeAsync } from './measure.ts';
import { cpuMs, runQmctl, startStandinProcess } from './processes.ts';

export async function concurrentStarts({ nodeCount = 10, unitsPerNode = 10, latencyMs = 50, rounds = 7 } = {}): Promise<void> {
  const bus = await startPrivateBus();
  const nodes = Array.from({ length: nodeCount }, (_, i) => `node${i + 1}`);
  const units = Array.from({ length: unitsPerNode }, (_, i) => `bench${i + 1}.service`);
  const standin = await startStandinProcess(['--address', bus.address, '--latency', String(latencyMs), ...nodes.flatMap((node) => ['--node', node]), ...units.flatMap((unit) => ['--unit', unit])]);
  // The stand-in's CPU time during each timed start: BlueChi's work, which the ratio includes (bluechi-controller,
  // written in C, does it for a fraction of the stand-in's cost).
  const standinCpu: Record<'all' | 'one', number[]> = { all: [], one: [] };
  const start = (which: 'all' | 'one', someNodes: string[], someUnits: string[]) => async () => {
    await runQmctl(bus.address, ['stop', someNodes.join(','), ...someUnits]);
    const before = await cpuMs(standin.pid!);
    const time = await timeAsync(() => runQmctl(bus.address, ['start', someNodes.join(','), ...someUnits]));
    standinCpu[which].push((await cpuMs(standin.pid!)) - before);
    return time;
  };
  try {
    console.log(`concurrent-starts: ${loadNote()}`);
    const times = await interleaved(rounds, { all: start('all', nodes, units), one: start('one', nodes.slice(0, 1), units.slice(0, 1)) });
    reportRatio(`concurrent-starts: one qmctl start of ${nodeCount * unitsPerNode} units on ${nodeCount} nodes ÷ one qmctl start of 1 unit`, times.all, times.one, '≤ 1.3');
    console.log(`concurrent-starts: the stand-in's CPU time during the start of ${nodeCount * unitsPerNode} units ${median(standinCpu.all)} ms (${spread(standinCpu.all, 0)}), of 1 unit ${median(standinCpu.one)} ms, on 2 cores shared with qmctl`);
  } finally {
    await stopChild(standin);
    await bus.stop();
  }
}
