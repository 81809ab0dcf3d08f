// Processes the benches run beside themselves: the BlueChi stand-in and qmctl, each as users run them.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { QMCTL_BIN } from '../test/support/qmctl.ts';

/** The bundle to time: dist/qmctl.cjs, or $QM_BENCH_QMCTL (another build, for before/after figures). */
export const BENCH_QMCTL = process.env.QM_BENCH_QMCTL ?? QMCTL_BIN;

/** The stand-in in its own process, as bluechi-controller is: in ours it would compete with what is timed. */
export async function startStandinProcess(args: readonly string[], main = fileURLToPath(new URL('../test/standin/main.ts', import.meta.url))): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', main, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  const [line] = (await Promise.race([once(lines, 'line'), once(child, 'exit').then(() => ['exited'])])) as string[];
  if (line !== 'ready') throw new Error(`the stand-in did not start: ${line}`);
  return child;
}

/** Runs qmctl to its end, asynchronously (a stand-in may answer from this very process); rejects when it fails. */
export function runQmctl(address: string, args: readonly string[]): Promise<void> {
  return runNode(BENCH_QMCTL, ['--bus-address', address, ...args], `qmctl ${args.slice(0, 3).join(' ')} …`);
}

/** Runs a Node program to its end, asynchronously; rejects naming it as `what` when it fails. */
export function runNode(program: string, args: readonly string[], what: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    execFile(process.execPath, [program, ...args], { maxBuffer: 64 * 1024 * 1024 }, (error, _stdout, stderr) =>
      error ? reject(new Error(`${what} failed: ${stderr.slice(0, 500)}`)) : resolve(),
    );
  });
}

/** utime + stime of `pid`, in ms (clock ticks of 10 ms). */
export async function cpuMs(pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}
