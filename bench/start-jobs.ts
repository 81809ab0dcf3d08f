// `qmctl start` with 1,000 and with 2,000 jobs (10 nodes × 100 or 200 units, 50 ms jobs) against the stand-in in its
// own process on a private dbus-daemon, the sizes interleaved. Linear in jobs: 2,000 ÷ 1,000 ≤ 2.2 (it was 3.2: every
// waiting job subscribed to, decoded and kept every JobRemoved). Each run starts units that are stopped (a stop of
// the same units, untimed, before it).
import { startPrivateBus, stopChild } from '../test/support/dbus-daemon.ts';
import { interleaved, loadNote, median, reportRatio, spread, timeAsync } from './measure.ts';
import { BENCH_QMCTL, runQmctl, startStandinProcess } from './processes.ts';

export async function startJobs({ rounds = 5, nodeCount = 10, small = 100, large = 200, latencyMs = 50 } = {}): Promise<void> {
  const bus = await startPrivateBus();
  const nodes = Array.from({ length: nodeCount }, (_, n) => `node${n}`);
  const units = Array.from({ length: large }, (_, i) => `bench${i}.service`);
  const standin = await startStandinProcess(['--address', bus.address, '--latency', String(latencyMs), ...nodes.flatMap((node) => ['--node', node]), ...units.flatMap((unit) => ['--unit', unit])]);
  const startOf = (count: number) => async () => {
    const some = units.slice(0, count);
    await runQmctl(bus.address, ['stop', nodes.join(','), ...some]);
    return timeAsync(() => runQmctl(bus.address, ['start', nodes.join(','), ...some]));
  };
  try {
    console.log(`start-jobs: ${BENCH_QMCTL}, ${rounds} rounds, ${loadNote()}`);
    const times = await interleaved(rounds, { small: startOf(small), large: startOf(large) });
    const [jobsSmall, jobsLarge] = [small * nodeCount, large * nodeCount];
    console.log(`start-jobs: ${jobsSmall} jobs ${median(times.small).toFixed(0)} ms (${spread(times.small, 0)}), ${jobsLarge} jobs ${median(times.large).toFixed(0)} ms (${spread(times.large, 0)})`);
    reportRatio(`start-jobs: qmctl start of ${jobsLarge} jobs ÷ of ${jobsSmall} jobs`, times.large, times.small, '≤ 2.2, linear: 2.0');
  } finally {
    await stopChild(standin);
    await bus.stop();
  }
}
