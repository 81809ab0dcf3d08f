// Cold start of what users run — `version` and every bus verb against a private dbus-daemon serving the BlueChi
// stand-in — each ÷ `node -e 0` measured in the same rounds: every round runs each command once, in an order that
// rotates, so all of them see the same machine load. Prints the median ratio and the spread of the per-round ratios.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startPrivateBus } from '../test/support/dbus-daemon.ts';
import { QMCTL_BIN } from '../test/support/qmctl.ts';
import { median, timeProcess } from './measure.ts';

const NODE = 'node1';
const UNIT = 'bench.service';

interface Case {
  readonly name: string;
  readonly args: readonly string[];
  readonly target: number;
}

export async function coldStart(rounds = 41): Promise<void> {
  const bus = await startPrivateBus();
  // The code caches as installed (root's, made by the unmeasured first round when this runs as root), kept apart from
  // /var/cache/qm so a bench never touches the machine's.
  const cacheDir = await mkdtemp(join(tmpdir(), 'qm-code-cache-'));
  const env = { ...process.env, QM_CODE_CACHE_DIR: cacheDir };
  // The stand-in runs in a process of its own: the timed runs below block this one.
  const standin = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('../test/standin/main.ts', import.meta.url)), '--address', bus.address, '--node', NODE, '--unit', `${UNIT}:active`], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    await ready(standin);
    const onBus = ['--bus-address', bus.address];
    const cases: Case[] = [
      { name: 'version', args: ['version'], target: 1.2 },
      { name: 'list-nodes', args: [...onBus, 'list-nodes'], target: 1.5 },
      { name: `list-units ${NODE}`, args: [...onBus, 'list-units', NODE], target: 1.5 },
      { name: `status ${NODE} ${UNIT}`, args: [...onBus, 'status', NODE, UNIT], target: 1.5 },
      { name: `start ${NODE} ${UNIT}`, args: [...onBus, 'start', NODE, UNIT], target: 1.5 },
    ];
    const runs: Array<() => number> = [
      () => timeProcess(process.execPath, ['-e', '0']),
      ...cases.map((command) => () => timeProcess(process.execPath, [QMCTL_BIN, ...command.args], env)),
    ];
    // One unmeasured round: the page cache and the stand-in's first answers are not what a figure should show.
    for (const run of runs) run();
    const times = runs.map((): number[] => []);
    const load = loadavg()[0]!;
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < runs.length; i++) {
        const index = (i + round) % runs.length;
        times[index]!.push(runs[index]!());
      }
    }
    const [bare, ...measured] = times as [number[], ...number[][]];
    console.log(`cold start ÷ node -e 0 (${process.geteuid?.() === 0 ? 'with' : 'without'} code caches, node -e 0 ${median(bare).toFixed(1)} ms), ${rounds} interleaved rounds, load ${load.toFixed(2)} → ${loadavg()[0]!.toFixed(2)} on ${availableParallelism()} cores:`);
    cases.forEach((command, index) => {
      const ms = measured[index]!;
      const ratios = ms.map((time, round) => time / bare[round]!);
      const ratio = median(ms) / median(bare);
      console.log(
        `  qmctl ${command.name.padEnd(28)} ${median(ms).toFixed(1).padStart(6)} ms  ${ratio.toFixed(2)}× (per-round ${quantile(ratios, 0.25).toFixed(2)}–${quantile(ratios, 0.75).toFixed(2)})  target ≤ ${command.target}  ${ratio <= command.target ? 'met' : 'NOT MET'}`,
      );
    });
  } finally {
    standin.kill('SIGTERM');
    await new Promise((resolve) => standin.once('exit', resolve));
    await bus.stop();
    await rm(cacheDir, { recursive: true, force: true });
  }
}

function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (sorted.length - 1) * q;
  const low = Math.floor(at);
  return sorted[low]! + (sorted[Math.ceil(at)]! - sorted[low]!) * (at - low);
}

function ready(child: ReturnType<typeof spawn>): Promise<void> {
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the stand-in ended (${code}) before it was ready`)));
    createInterface({ input: child.stdout! }).on('line', (line) => line === 'ready' && resolve());
  });
}
