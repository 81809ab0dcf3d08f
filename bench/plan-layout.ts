// planLayout (the pure planner) at 1k, 4k and 16k units, sizes interleaved, each a median over rounds of the time of
// one plan from cold (every unit inactive). Linear in units: 16k ÷ 1k near 16 (it was ~100: an O(S²) topological order).
// But even a linear pass costs more per unit at 16k than at 1k on these machines (its data no longer stays in cache,
// the collector has more to copy), so the target is against a measured floor, in the same rounds: the least any
// planner does per unit (read its observed state, key a record for it, resolve its needs to records, make its step
// with the ids it follows), whose own 16k ÷ 1k is the growth that touching this data costs. planLayout's 16k ÷ 1k
// divided by the floor's, round by round: near 1 when the planner grows no faster than its data does.
import { planLayout } from '../controller/orchestrator/plan.ts';
import type { Observed, ObservedNode, ObservedUnit } from '../controller/orchestrator/observed.ts';
import type { NodeName, UnitName } from '../controller/unit-names.ts';
import type { Layout } from '../controller/layout/index.ts';
import type { UnitSpec } from '../controller/layout/model.ts';
import { benchLayout } from './apply-layout.ts';
import { interleaved, loadNote, median, reportRatio, spread, timeAsync } from './measure.ts';

/** Every node of the layout online, every unit loaded and inactive. */
function coldVehicle(layout: Layout): Observed {
  const units = new Map<NodeName, Map<UnitName, ObservedUnit>>();
  for (const unit of layout.units.values()) {
    if (!units.has(unit.node)) units.set(unit.node, new Map());
    units.get(unit.node)!.set(unit.unit, { activeState: 'inactive' });
  }
  const node = ([name, loaded]: [NodeName, Map<UnitName, ObservedUnit>]): [NodeName, ObservedNode] => [name, { name, online: true, units: loaded, unitFiles: new Map() }];
  return { nodes: new Map([...units].map(node)) };
}

/** The floor: per unit its observed state, a record keyed by unit, its needs resolved to records, and its step. */
function floorPlan(layout: Layout, observed: Observed): unknown[] {
  const records = new Map<string, { readonly unit: UnitSpec; readonly active: string; readonly id: string }>();
  for (const unit of layout.units.values()) {
    const active = observed.nodes.get(unit.node)?.units.get(unit.unit)?.activeState ?? 'inactive';
    records.set(unit.key, { unit, active, id: `start ${unit.key}` });
  }
  const steps: unknown[] = [];
  for (const record of records.values()) {
    const after = record.unit.needs.map((need) => records.get(need.key)!.id);
    steps.push({ id: record.id, node: record.unit.node, unit: record.unit.unit, after, change: `${record.active} → running` });
  }
  return steps;
}

export async function planLayoutBench({ rounds = 15, layers = 4, width = 5 } = {}): Promise<void> {
  const perNode = layers * width;
  const sizes = [1_000, 4_000, 16_000];
  const inputs = sizes.map((size) => {
    const layout = benchLayout(size / perNode, layers, width);
    return { size, layout, observed: coldVehicle(layout) };
  });
  const gc = (globalThis as { gc?: () => void }).gc;
  // A round's figure for a size: the median of three samples, each after a full collection (no other size's garbage
  // in it), each as many plans back to back as make 16,000 units (16 of 1,000, one of 16,000), divided by that
  // number: a single plan of 1,000 units (2-10 ms) is as long as one collection pause or one preemption on a 2-core
  // machine, and its figure swung 3× from round to round. The plans made are kept until the sample ends, so the
  // small sizes' collector copies as much live data as one large plan's does, as a daemon holding its plan would.
  type Input = (typeof inputs)[number];
  const planned = (input: Input) => {
    const result = planLayout(input.layout, input.observed);
    if (!result.ok || result.plan.steps.length !== input.size) throw new Error(`planLayout of ${input.size} units did not plan ${input.size} starts`);
    return result;
  };
  const floor = (input: Input) => floorPlan(input.layout, input.observed);
  const timed = (input: Input, plan: (input: Input) => unknown) => async () => {
    const plans = sizes.at(-1)! / input.size;
    const three: number[] = [];
    const kept: unknown[] = [];
    for (let run = 0; run < 3; run++) {
      kept.length = 0;
      gc?.();
      const elapsed = await timeAsync(async () => {
        for (let made = 0; made < plans; made++) kept.push(plan(input));
      });
      three.push(elapsed / plans);
    }
    return median(three);
  };
  console.log(`plan-layout: ${rounds} rounds, ${loadNote()}`);
  const cases = inputs.flatMap((input) => [
    [String(input.size), timed(input, planned)],
    [`floor ${input.size}`, timed(input, floor)],
  ]);
  const times = await interleaved(rounds, Object.fromEntries(cases) as Record<string, () => Promise<number>>);
  for (const size of sizes) {
    const each = times[String(size)]!;
    const least = times[`floor ${size}`]!;
    console.log(
      `plan-layout: ${size} units ${median(each).toFixed(1)} ms (${spread(each)}), ${((median(each) / size) * 1000).toFixed(2)} µs per unit; ` +
        `the floor ${median(least).toFixed(2)} ms, ${((median(least) / size) * 1000).toFixed(2)} µs per unit`,
    );
  }
  /** 16k ÷ 1k, round by round. */
  const growth = (large: readonly number[], small: readonly number[]) => large.map((time, round) => time / small[round]!);
  reportRatio('plan-layout: 16,000 units ÷ 1,000 units', times['16000']!, times['1000']!, 'none: linear is 16, and see the next line');
  reportRatio('plan-layout: the floor, 16,000 units ÷ 1,000 units', times['floor 16000']!, times['floor 1000']!, 'none: what touching the data grows by');
  reportRatio(
    "plan-layout: planLayout's 16k ÷ 1k, divided by the floor's (round by round)",
    growth(times['16000']!, times['1000']!),
    growth(times['floor 16000']!, times['floor 1000']!),
    '≤ 1.3: grows no faster than its data',
    '×',
  );
}
