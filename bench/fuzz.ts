// The layout loader and the agent-config parser under 100,000 generated and mutated files each (the
// checks of test/layout/fuzz.test.ts and test/agent-config/fuzz.test.ts, which run a few thousand).
// Every case must pass; the figure is how far the slowest case is from the median one, in CPU time.
import { agentCase, checkAgentCase } from '../test/agent-config/fuzz-cases.ts';
import { checkAgreement, checkLayoutCase, layoutCase, mutatedYaml } from '../test/layout/fuzz-cases.ts';
import { CASE_CPU_MS, CASE_HEAP_BYTES, fuzz, type CaseCost } from '../test/support/fuzz.ts';
import { median, report } from './measure.ts';

export function fuzzBench(cases = 100_000): void {
  summarize('layout loader', fuzz(layoutCase, checkLayoutCase, cases));
  summarize('agent-config parser', fuzz(agentCase, checkAgentCase, cases));
  fuzz(mutatedYaml, checkAgreement, cases);
  console.log(`fuzz YAML reader vs the yaml library: ${cases} mutated documents, read the same wherever both read them`);
}

function summarize(name: string, costs: readonly CaseCost[]): void {
  const cpu = costs.map((cost) => cost.cpuMs).sort((a, b) => a - b);
  const heap = Math.max(...costs.map((cost) => cost.heapBytes));
  const slowest = cpu[cpu.length - 1]!;
  console.log(
    `fuzz ${name}: ${costs.length} cases, none failed; CPU per case: median ${median(cpu).toFixed(3)} ms, 99th percentile ${cpu[Math.floor(cpu.length * 0.99)]!.toFixed(2)} ms, slowest ${slowest.toFixed(1)} ms; heap a case leaves: at most ${(heap / 1024 / 1024).toFixed(1)} MiB (bound ${CASE_HEAP_BYTES / 1024 / 1024} MiB)`,
  );
  report(`fuzz ${name}: slowest case ÷ the bound per case`, slowest, CASE_CPU_MS, '≤ 1');
}
