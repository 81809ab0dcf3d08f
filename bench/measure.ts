// Shared timing for the benchmarks: interleaved runs, medians, ratios printed as one line each.
import { spawnSync } from 'node:child_process';
import { availableParallelism, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Wall time of one process run, in ms; throws when it fails so a broken bench never reports a figure. */
export function timeProcess(command: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): number {
  const start = performance.now();
  const result = spawnSync(command, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  const elapsed = performance.now() - start;
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (${result.status}): ${result.stderr}`);
  return elapsed;
}

export async function timeAsync(run: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await run();
  return performance.now() - start;
}

export function report(name: string, measured: number, baseline: number, target: string): void {
  const ratio = measured / baseline;
  console.log(`${name}: ${measured.toFixed(1)} ms / ${baseline.toFixed(1)} ms = ${ratio.toFixed(2)} (target ${target})`);
}

/** `min–max` of a set of figures, to print beside its median. */
export function spread(values: readonly number[], digits = 1): string {
  return `${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)}`;
}

/**
 * Runs every case once per round, `rounds` times, the order turned each round so neither side always goes first
 * (warmer caches, a quieter machine); returns each case's figures in round order.
 */
export async function interleaved<Name extends string>(rounds: number, cases: Record<Name, () => Promise<number> | number>): Promise<Record<Name, number[]>> {
  const names = Object.keys(cases) as Name[];
  const figures = Object.fromEntries(names.map((name) => [name, [] as number[]])) as Record<Name, number[]>;
  for (let round = 0; round < rounds; round++) {
    const order = names.map((_, index) => names[(index + round) % names.length]!);
    for (const name of round % 2 ? order.reverse() : order) figures[name].push(await cases[name]());
  }
  return figures;
}

/**
 * One figure: medians of `measured` and `baseline` (paired by round) with their spreads, the ratio of the medians,
 * the spread of the per-round ratios, and the target beside it.
 */
export function reportRatio(name: string, measured: readonly number[], baseline: readonly number[], target: string, unit = 'ms'): void {
  const ratios = measured.map((value, index) => value / baseline[index]!);
  console.log(
    `${name}: ${median(measured).toFixed(1)} ${unit} (${spread(measured)}) / ${median(baseline).toFixed(1)} ${unit} (${spread(baseline)}) = ` +
      `${(median(measured) / median(baseline)).toFixed(2)} (per round ${spread(ratios, 2)}, n=${measured.length}) (target ${target})`,
  );
}

/** The load average over the last minute, to print with each bench: these machines are shared. */
export function loadNote(): string {
  return `load ${loadavg()[0]!.toFixed(1)} on ${availableParallelism()} cores`;
}
