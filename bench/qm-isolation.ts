// What QM's work costs an ASIL service on the same node: the wake-up latency of a periodic timer on the
// host side (bench/wakeup-latency.c: cyclictest's loop, but SCHED_OTHER in system.slice as an ordinary
// ASIL service runs — cyclictest 2.6 raises itself to SCHED_FIFO, which a service cannot have in a cgroup
// v1 node), idle against QM loading every core. The baseline is the idle run, measured in the same
// invocation; conditions run interleaved, round after round, and each figure is the median of the rounds
// with their spread. Boots its own vehicle node (test/partition/qm-node.ts) and removes it afterwards.
//
// Loads, each inside QM as a transient unit of QM's own systemd, stopped after every run:
// - CPU hog: one busy loop per core (qm.service has CPUWeight=idle);
// - fork storm: one loop per core creating and reaping processes as fast as it can. Not a fork bomb: a
//   real one is held only by qm.service's TasksMax (50% of the node's tasks), and on these machines that
//   bound is the CI machine's own, so it is not run here.
// A memory hog is not run either: QM has no memory limit of its own (MemoryMax=infinity; the OOM scores
// decide), so on a shared CI machine it would push the machine itself into OOM.
import { fileURLToPath } from 'node:url';
import { runChecked } from '../test/support/command.ts';
import { bootQmNode, installedProject, type QmNode } from '../test/partition/qm-node.ts';
import { median } from './measure.ts';

const SOURCE = fileURLToPath(new URL('./wakeup-latency.c', import.meta.url));
const BINARY = fileURLToPath(new URL('../dist/bench-wakeup-latency', import.meta.url));

const ROUNDS = 3;
/** Timer wake-ups per run: 1 ms apart, so a run lasts about this many ms. */
const LOOPS = 4000;

interface Latency {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

const loads = {
  idle: undefined,
  'CPU hog on every core': 'while :; do :; done',
  'fork storm on every core': 'while :; do /bin/true; done',
} as const;
type Condition = keyof typeof loads;

/** Percentiles of the probe's output, one wake-up's lateness in µs per line. */
export function percentiles(output: string): Latency {
  const late = output
    .split('\n')
    .filter((line) => /^\d+$/.test(line))
    .map(Number)
    .sort((a, b) => a - b);
  if (late.length === 0) throw new Error(`the wake-up probe printed nothing:\n${output.slice(0, 2000)}`);
  const at = (fraction: number) => late[Math.min(late.length - 1, Math.floor(fraction * late.length))]!;
  return { p50: at(0.5), p99: at(0.99), max: late[late.length - 1]! };
}

async function sh(node: QmNode, script: string, timeoutMs = 120_000): Promise<string> {
  const result = await node.sh(script, timeoutMs);
  if (result.code !== 0) throw new Error(`bench step failed (${result.code}): ${result.stderr}\n${script}`);
  return result.stdout;
}

async function run(node: QmNode, condition: Condition, cores: number): Promise<Latency> {
  const load = loads[condition];
  if (load !== undefined) {
    for (let core = 0; core < cores; core += 1) {
      await sh(node, `podman exec qm systemd-run --quiet --unit qm-bench-load-${core} sh -c '${load}'`);
    }
  }
  try {
    // The ASIL side: a transient service of the node's systemd, in system.slice like any host service.
    const out = await sh(node, `systemd-run --quiet --wait --pipe --collect -p Slice=system.slice ${installedProject}/dist/bench-wakeup-latency ${LOOPS} 1000`);
    return percentiles(out);
  } finally {
    if (load !== undefined) await sh(node, "podman exec qm systemctl stop 'qm-bench-load-*' ; true").catch(() => undefined);
  }
}

export async function qmIsolation(): Promise<void> {
  await runChecked(['gcc', '-static', '-O2', '-o', BINARY, SOURCE]);
  const node = await bootQmNode('qm-isolation');
  try {
    const setup = await node.qmctl(['setup']);
    if (setup.code !== 0) throw new Error(`qmctl setup failed: ${setup.stderr}`);
    const cores = Number((await sh(node, 'nproc')).trim());
    // What the kernel was told about QM's CPU share: cpu.shares on a cgroup v1 node, cpu.weight and cpu.idle on v2.
    const share = await sh(
      node,
      `cg=$(systemctl show -P ControlGroup qm.service)
echo "qm.service CPUWeight=$(systemctl show -P CPUWeight qm.service) in $cg"
for f in /sys/fs/cgroup/cpu,cpuacct$cg/cpu.shares /sys/fs/cgroup/cpu$cg/cpu.shares /sys/fs/cgroup$cg/cpu.weight /sys/fs/cgroup$cg/cpu.idle; do [ -r "$f" ] && echo "$f=$(cat "$f")"; done; true`,
    );
    const conditions = Object.keys(loads) as Condition[];
    const results = new Map<Condition, Latency[]>(conditions.map((condition) => [condition, []]));
    for (let round = 0; round < ROUNDS; round += 1) {
      // Interleaved, the order turned each round, so every condition sees the machine as the others do.
      for (let step = 0; step < conditions.length; step += 1) {
        const condition = conditions[(step + round) % conditions.length]!;
        results.get(condition)!.push(await run(node, condition, cores));
      }
    }
    const summary = (condition: Condition) => {
      const runs = results.get(condition)!;
      const of = (key: keyof Latency) => runs.map((latency) => latency[key]);
      return { p50: median(of('p50')), p99: median(of('p99')), max: Math.max(...of('max')), spread: `${Math.min(...of('p99'))}–${Math.max(...of('p99'))}` };
    };
    const idle = summary('idle');
    console.log(`qm isolation: ASIL timer wake-up latency (SCHED_OTHER in system.slice, 1 ms period, ${LOOPS} wake-ups × ${ROUNDS} rounds, ${cores} cores)`);
    console.log(`  QM's CPU share as the kernel has it: ${share.trim().split('\n').join(', ') || 'not readable'}`);
    for (const condition of conditions) {
      const { p50, p99, max, spread } = summary(condition);
      console.log(`  ${condition}: p50 ${p50} µs, p99 ${p99} µs (rounds ${spread}), max ${max} µs`);
    }
    for (const condition of conditions.filter((name) => name !== 'idle')) {
      const { p50, p99 } = summary(condition);
      console.log(`qm isolation p99 under ${condition} / idle: ${p99} µs / ${idle.p99} µs = ${(p99 / idle.p99).toFixed(2)} (target ≤ 1.2); p50 ${(p50 / idle.p50).toFixed(2)}`);
    }
  } finally {
    await node.stop();
  }
}
