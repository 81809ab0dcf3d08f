// 100 unit starts across 10 nodes with 50 ms job latency in one qmctl call, against one qmctl call starting one unit:
// both pay one process start-up and one job's latency, so the ratio is what the other 99 concurrent jobs add
// (comparing with 100 sequential calls measured mostly 100 start-ups). The stand-in runs in its own process.
import { startPrivateBus, stopChild } from '../test/support/dbus-daemon.ts';
import { interleaved, loadNote, reportRatio, timeAsync } from './measure.ts';
import { runQmctl, startStandinProcess } from './processes.ts';

export async function concurrentStarts({ nodeCount = 10, unitsPerNode = 10, latencyMs = 50, rounds = 7 } = {}): Promise<void> {
  const bus = await startPrivateBus();
  const nodes = Array.from({ length: nodeCount }, (_, i) => `node${i + 1}`);
  const units = Array.from({ length: unitsPerNode }, (_, i) => `bench${i + 1}.service`);
  const standin = await startStandinProcess(['--address', bus.address, '--latency', String(latencyMs), ...nodes.flatMap((node) => ['--node', node]), ...units.flatMap((unit) => ['--unit', unit])]);
  const start = (someNodes: string[], someUnits: string[]) => async () => {
    await runQmctl(bus.address, ['stop', someNodes.join(','), ...someUnits]);
    return timeAsync(() => runQmctl(bus.address, ['start', someNodes.join(','), ...someUnits]));
  };
  try {
    console.log(`concurrent-starts: ${loadNote()}`);
    const times = await interleaved(rounds, { all: start(nodes, units), one: start(nodes.slice(0, 1), units.slice(0, 1)) });
    reportRatio(`concurrent-starts: one qmctl start of ${nodeCount * unitsPerNode} units on ${nodeCount} nodes ÷ one qmctl start of 1 unit`, times.all, times.one, '≤ 1.3');
  } finally {
    await stopChild(standin);
    await bus.stop();
  }
}
