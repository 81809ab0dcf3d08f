// qm-controller converging 200 units (2 nodes of 4 layers of 25, each layer needing the one below, node1's first
// layer needing a unit on node0; 50 ms oneshot jobs; enablement managed) while an operator polls `controller-status`
// ten times a second, against the same apply without the polling. As users run it: dist/qm-controller.cjs and the
// BlueChi stand-in each in their own process, the stand-in's nodes backed by a real systemd 257 vehicle node (whose
// ListUnitFiles costs what a real node's does); status reads (GetAll of org.qm.Controller1's properties) over D-Bus from this process, one after the other, one
// every 100 ms. Runs with and without polling alternate, the order turned each round. Figures: the apply's wall time
// with polling ÷ without (target ≤ 1.1), and the daemon's CPU time during it, with ÷ without. Needs `npm run build`,
// and root for the vehicle node.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFile, rm } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { blueChi } from '../controller/bluechi/client.ts';
import { connectBus, type Bus } from '../controller/bus/connection.ts';
import { applyThroughController, controllerStatus, daemonRunning } from '../controller/daemon/client.ts';
import { layoutDir, until } from '../test/daemon/harness.ts';
import { unitFileEntries } from '../test/standin/unit-files.ts';
import { startPrivateBus, stopChild } from '../test/support/dbus-daemon.ts';
import { bootVehicleNode } from '../test/support/vehicle-node.ts';
import { median, report } from './measure.ts';

const DAEMON = fileURLToPath(new URL('../dist/qm-controller.cjs', import.meta.url));
const STANDIN = fileURLToPath(new URL('../test/standin/main.ts', import.meta.url));

/**
 * Per node, `layers` of `width` units, each needing the layer below; node0's first unit needed by every node's first
 * layer. Unit names carry their node's number: the nodes share one systemd.
 */
function layoutText(nodeCount: number, layers: number, width: number): { text: string; units: Array<[string, string]> } {
  const nodes: Record<string, { units: Record<string, object> }> = {};
  const units: Array<[string, string]> = [];
  const name = (n: number, layer: number, i: number) => `n${n}-l${layer}-${i}.service`;
  for (let n = 0; n < nodeCount; n++) {
    const own: Record<string, object> = {};
    for (let layer = 0; layer < layers; layer++) {
      for (let i = 0; i < width; i++) {
        const needs = layer === 0 ? (n === 0 ? [] : [`node0/${name(0, 0, 0)}`]) : Array.from({ length: width }, (_, j) => name(n, layer - 1, j));
        // A long backoff: the bench's own stops between runs are drift, never repaired before the next apply resets it.
        own[name(n, layer, i)] = { enabled: true, needs, restart: { attempts: 3, window: '5m', backoff: '1h' } };
        units.push([`node${n}`, name(n, layer, i)]);
      }
    }
    nodes[`node${n}`] = { units: own };
  }
  return { text: JSON.stringify({ nodes }), units };
}

/** utime + stime of `pid`, in ms (clock ticks of 10 ms). */
async function cpuMs(pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

async function startProcess(args: readonly string[], ready: (line: string) => boolean): Promise<ChildProcess> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  await Promise.race([
    new Promise<void>((resolve) => lines.on('line', (line) => ready(line) && resolve())),
    once(child, 'exit').then(() => Promise.reject(new Error(`${args.join(' ')} exited`))),
  ]);
  return child;
}

/** Status every `everyMs`, one after the other, until stopped: how many calls, and how long each took. */
function pollStatus(probe: Bus, everyMs: number) {
  let stopped = false;
  const latencies: number[] = [];
  const polling = (async () => {
    while (!stopped) {
      const began = performance.now();
      await controllerStatus(probe, 60_000);
      const took = performance.now() - began;
      latencies.push(took);
      if (took < everyMs) await delay(everyMs - took);
    }
  })();
  return {
    async stop() {
      stopped = true;
      await polling;
      return latencies;
    },
  };
}

const spread = (values: readonly number[]) => `${Math.min(...values).toFixed(0)}–${Math.max(...values).toFixed(0)}`;

export async function daemonStatusBench({ rounds = 5, nodeCount = 2, layers = 4, width = 25, latencyMs = 50, daemonBin = DAEMON } = {}): Promise<void> {
  const { text, units } = layoutText(nodeCount, layers, width);
  const cleanups: Array<() => Promise<unknown> | void> = [];
  try {
    // Oneshot services that take latencyMs to start, installed (not enabled: the first apply enables them).
    const files = units.flatMap(([, unit]) => unitFileEntries({ name: unit, startMs: latencyMs }));
    const vehicle = await bootVehicleNode({ name: 'bench-daemon-status', files });
    cleanups.push(() => vehicle.stop());
    await vehicle.waitForSystemState('running');
    const bus = await startPrivateBus();
    cleanups.push(() => bus.stop());
    const dir = await layoutDir(text);
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const nodes = Array.from({ length: nodeCount }, (_, n) => ['--node', `node${n}`, '--systemd', `node${n}=${vehicle.systemBusAddress}`]).flat();
    const standin = await startProcess(['--import', 'tsx', STANDIN, '--address', bus.address, ...nodes], (line) => line === 'ready');
    cleanups.push(() => stopChild(standin));
    const daemon = spawn(process.execPath, [daemonBin, '--layout', dir, '--bus-address', bus.address, '--log-level', 'error'], { stdio: ['ignore', 'ignore', 'inherit'] });
    cleanups.push(() => stopChild(daemon));
    const probe = await connectBus(bus.address);
    cleanups.push(() => probe.close());
    const client = blueChi(probe);

    await until('qm-controller owns its name', () => daemonRunning(probe), 60_000);
    await until('the start-up apply converged', async () => (await controllerStatus(probe, 60_000)).converged, 300_000);
    const runs = { without: [] as number[], with: [] as number[] };
    const cpu = { without: [] as number[], with: [] as number[] };
    const latencies: number[] = [];
    for (let round = 0; round < rounds; round++) {
      for (const polled of round % 2 === 0 ? [false, true] : [true, false]) {
        // Every unit stopped again, so each apply starts all 200.
        await Promise.all(units.map(([node, unit]) => client.node(node).runJob('stop', unit)));
        // The daemon has taken in the stops (its drift decisions) before the clock starts.
        await until('the daemon sees every unit stopped', async () => (await controllerStatus(probe, 60_000)).units.every((unit) => !unit.converged), 60_000);
        const poller = polled ? pollStatus(probe, 100) : undefined;
        const cpuBefore = await cpuMs(daemon.pid!);
        const began = performance.now();
        const summary = await applyThroughController(probe, {}, 600_000);
        const wall = performance.now() - began;
        const used = (await cpuMs(daemon.pid!)) - cpuBefore;
        if (poller) latencies.push(...(await poller.stop()));
        const started = summary.steps.filter((step) => step.id.startsWith('start ') && step.result === 'done').length;
        if (started !== units.length) throw new Error(`the apply started ${started} of ${units.length} units: ${JSON.stringify(summary).slice(0, 500)}`);
        (polled ? runs.with : runs.without).push(wall);
        (polled ? cpu.with : cpu.without).push(used);
      }
    }
    console.log(
      `daemon-status: apply of ${units.length} units, ${rounds} runs each: with Status at 10/s ${median(runs.with).toFixed(0)} ms (${spread(runs.with)}), ` +
        `without ${median(runs.without).toFixed(0)} ms (${spread(runs.without)}); ${latencies.length} Status calls, median ${median(latencies).toFixed(1)} ms (${spread(latencies)})`,
    );
    report(`daemon-status: apply of ${units.length} units with Status at 10/s ÷ without, wall time`, median(runs.with), median(runs.without), '≤ 1.1');
    report("daemon-status: qm-controller's CPU time during that apply, with ÷ without", median(cpu.with), median(cpu.without), 'informative');
  } finally {
    for (const cleanup of cleanups.reverse()) await Promise.resolve(cleanup()).catch(() => undefined);
  }
}
