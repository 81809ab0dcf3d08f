// applyLayout: 200 units over 10 nodes, 50 ms per job, dependencies within and across nodes.
// Wall time against the plan's critical path (the floor), and against a sequential loop of the same jobs.
import { blueChi } from '../controller/bluechi/client.ts';
import { connectBus } from '../controller/bus/connection.ts';
import { readLayout, type Layout } from '../controller/layout/index.ts';
import { applyLayout } from '../controller/orchestrator/apply.ts';
import type { Plan, Step } from '../controller/orchestrator/plan.ts';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startPrivateBus, stopChild } from '../test/support/dbus-daemon.ts';
import { median, report, timeAsync } from './measure.ts';

/** Per node 4 layers of 5 units, each layer needing the one below; node0's first unit is needed by every node's bottom layer. */
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

/** Steps on the longest chain of `after`, counting only unit jobs (the ones with latency). */
function criticalSteps(plan: Plan): number {
  const depth = new Map<string, number>();
  for (const step of plan.steps) {
    const own = step.action === 'start' || step.action === 'stop' ? 1 : 0;
    depth.set(step.id, own + Math.max(0, ...step.after.map((id) => depth.get(id) ?? 0)));
  }
  return Math.max(0, ...depth.values());
}

export async function applyBench(nodeCount = 10, layers = 4, width = 5, latencyMs = 50, runs = 3): Promise<void> {
  const layout = benchLayout(nodeCount, layers, width);
  const bus = await startPrivateBus();
  const unitNames = [...new Set([...layout.units.values()].map((unit) => unit.unit))];
  // Its own process, as bluechi-controller is: in ours it would compete with the orchestrator for the event loop.
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
    const walls: number[] = [];
    for (let run = 0; run < runs; run++) {
      await stopAll();
      walls.push(
        await timeAsync(async () => {
          const result = await applyLayout(client, layout);
          if (result.kind !== 'applied' || !result.reports.every((step) => step.result === 'done')) throw new Error('apply did not succeed');
          plan = result.plan;
        }),
      );
    }
    const wall = median(walls);
    const steps = plan!.steps;
    const critical = criticalSteps(plan!) * latencyMs;
    report(`apply ${layout.units.size} units / ${nodeCount} nodes, ${latencyMs} ms jobs: wall ÷ critical path (${criticalSteps(plan!)} jobs)`, wall, critical, '≤ 1.3');

    await stopAll();
    const sequential = await timeAsync(async () => {
      for (const step of steps as Step[]) if (step.unit !== undefined) await client.node(step.node).runJob('start', step.unit);
    });
    report(`apply ${layout.units.size} units: wall ÷ a sequential loop of the same ${steps.length} jobs`, wall, sequential, '≤ 0.1');
  } finally {
    connection.close();
    await stopChild(standin);
    await bus.stop();
  }
}

async function startStandinProcess(args: readonly string[]): Promise<ChildProcess> {
  const main = fileURLToPath(new URL('../test/standin/main.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', main, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  const [line] = (await Promise.race([once(lines, 'line'), once(child, 'exit').then(() => ['exited'])])) as string[];
  if (line !== 'ready') throw new Error(`the stand-in did not start: ${line}`);
  return child;
}
