// Shared timing for the benchmarks: interleaved runs, medians, ratios printed as one line each.
import { spawnSync } from 'node:child_process';
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
