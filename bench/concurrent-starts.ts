// 100 unit starts across 10 nodes with 50 ms job latency: one qmctl call vs 100 sequential calls.
import { execFile } from 'node:child_process';
import { startPrivateBus } from '../test/support/dbus-daemon.ts';
import { startStandin } from '../test/standin/index.ts';
import { QMCTL_BIN } from '../test/support/qmctl.ts';
import { report, timeAsync } from './measure.ts';

export async function concurrentStarts(nodeCount = 10, unitsPerNode = 10, latencyMs = 50): Promise<void> {
  const bus = await startPrivateBus();
  const nodes = Array.from({ length: nodeCount }, (_, i) => `node${i + 1}`);
  const units = Array.from({ length: unitsPerNode }, (_, i) => `bench${i + 1}.service`);
  const standin = await startStandin({
    address: bus.address,
    nodes: nodes.map((name) => ({ name, jobLatencyMs: latencyMs, units: units.map((unit) => ({ name: unit })) })),
  });
  // Asynchronous on purpose: the stand-in answers from this very process.
  const qmctl = (...args: string[]) =>
    new Promise<void>((resolve, reject) => {
      execFile(process.execPath, [QMCTL_BIN, '--bus-address', bus.address, ...args], (error) => (error ? reject(error) : resolve()));
    });
  try {
    const one = await timeAsync(() => qmctl('start', nodes.join(','), ...units));
    await qmctl('stop', nodes.join(','), ...units);
    const sequential = await timeAsync(async () => {
      for (const node of nodes) for (const unit of units) await qmctl('start', node, unit);
    });
    const started = nodes.every((node) => units.every((unit) => standin.unitState(node, unit)?.activeState === 'active'));
    if (!started) throw new Error('not every unit was active after the sequential starts');
    report(`${nodeCount * unitsPerNode} starts: 100 sequential qmctl calls ÷ one concurrent call`, sequential, one, '≥ 5');
  } finally {
    await standin.stop();
    await bus.stop();
  }
}
