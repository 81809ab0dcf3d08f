// applyLayout (the library, in this process) of 200 units over 10 nodes and of 1,000 units over 50 nodes, 50 ms jobs,
// dependencies within and across nodes, against the stand-in in its own process. The floor is measured in the same
// rounds: the plan's steps by dependency level, each level run as plain concurrent runJob calls, the next level after
// the last of them ended. Targets: ≤ 1.3× the floor at 200 units, ≤ 2× at 1,000.
import { blueChi, type BlueChi } from '../controller/bluechi/client.ts';
import { connectBus } from '../controller/bus/connection.ts';
import { readLayout, type Layout } from '../controller/layout/index.ts';
import { applyLayout } from '../controller/orchestrator/apply.ts';
import type { Plan, Step } from '../controller/orchestrator/plan.ts';
import { startPrivateBus, stopChild } from '../test/support/dbus-daemon.ts';
import { interleaved, loadNote, reportRatio, timeAsync } from './measure.ts';
import { startStandinProcess } from './processes.ts';

/** Per node `layers` of `width` units, each layer needing the one below; node0's first unit is needed by every node's bottom layer. */
export function benchLayout(nodeCount: number, layers: number, width: number): Layout {
  const nodes: Record<string, { units: Record<string, { needs: string[] }> }> = {};
  for (let n = 0; n < nodeCount; n++) {
    const units: Record<string, { needs: string[] }> = {};
    for (let layer = 0; layer < layers; layer++) {
      for (let i = 0; i < width; i++) {
        const below = layer === 0 ? (n === 0 ? [] : ['node0/l0-0.service']) : Array.from({ length: width }, (_, j) => `l${layer - 1}-${j}.service`);
        units[`l${layer}-${i}.service`] = { needs: below };
      }
    }
    nodes[`node${n}`] = { units };
  }
  const result = readLayout([{ file: 'bench.yaml', text: JSON.stringify({ nodes }) }]);
  if (!result.ok) throw new Error(result.errors.map((error) => error.message).join('\n'));
  return result.layout;
}

/** The plan's steps by dependency level: a step's level is one more than its deepest `after`'s. */
function levels(plan: Plan): Step[][] {
  const depth = new Map<string, number>();
  const byLevel: Step[][] = [];
  for (const step of plan.steps) {
    const level = Math.max(-1, ...[...step.after, ...step.afterEnded].map((id) => depth.get(id)!)) + 1;
    depth.set(step.id, level);
    (byLevel[level] ??= []).push(step);
  }
  return byLevel;
}

/** The floor: each level's jobs as plain concurrent calls, one level after the other. */
async function levelled(client: BlueChi, plan: Plan): Promise<void> {
  for (const level of levels(plan)) {
    await Promise.all(
      level.map(async (step) => {
        if (step.action !== 'start') throw new Error(`the bench layout plans only starts from cold, not ${step.id}`);
        const end = await client.node(step.node).runJob('start', step.unit);
        if (end.result !== 'done') throw new Error(`${step.id} ended ${end.result}`);
      }),
    );
  }
}

async function applyAgainstFloor(nodeCount: number, { layers = 4, width = 5, latencyMs = 50, rounds = 5 } = {}): Promise<void> {
  const layout = benchLayout(nodeCount, layers, width);
  const bus = await startPrivateBus();
  const unitNames = [...new Set([...layout.units.values()].map((unit) => unit.unit))];
  const standin = await startStandinProcess([
    '--address',
    bus.address,
    '--latency',
    String(latencyMs),
    ...Array.from({ length: nodeCount }, (_, n) => ['--node', `node${n}`]).flat(),
    ...unitNames.flatMap((name) => ['--unit', name]),
  ]);
  const connection = await connectBus(bus.address);
  const client = blueChi(connection);
  const stopAll = () => Promise.all([...layout.units.values()].map((unit) => client.node(unit.node).runJob('stop', unit.unit)));
  try {
    let plan: Plan | undefined;
    const apply = async () => {
      await stopAll();
      return timeAsync(async () => {
        const result = await applyLayout(client, layout);
        if (result.kind !== 'applied' || !result.reports.every((step) => step.result === 'done')) throw new Error('apply did not succeed');
        plan = result.plan;
      });
    };
    await apply(); // the plan the floor runs, and a warm-up
    const floor = async () => {
      await stopAll();
      return timeAsync(() => levelled(client, plan!));
    };
    const times = await interleaved(rounds, { apply, floor });
    const depth = levels(plan!).length;
    reportRatio(
      `apply-layout: apply of ${layout.units.size} units over ${nodeCount} nodes, ${latencyMs} ms jobs ÷ the same ${plan!.steps.length} jobs by level as plain concurrent calls (${depth} levels)`,
      times.apply,
      times.floor,
      nodeCount * layers * width <= 200 ? '≤ 1.3' : '≤ 2',
    );
  } finally {
    connection.close();
    await stopChild(standin);
    await bus.stop();
  }
}

export async function applyBench(): Promise<void> {
  console.log(`apply-layout: ${loadNote()}`);
  await applyAgainstFloor(10);
  await applyAgainstFloor(50);
}
