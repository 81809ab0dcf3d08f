// planLayout (the pure planner) at 1k, 4k and 16k units, sizes interleaved, each a median over rounds of the time of
// one plan from cold (every unit inactive). Linear in units: 16k ÷ 1k near 16 (it was ~100: an O(S²) topological order).
import { planLayout } from '../controller/orchestrator/plan.ts';
import type { Observed, ObservedNode, ObservedUnit } from '../controller/orchestrator/observed.ts';
import type { NodeName, UnitName } from '../controller/unit-names.ts';
import type { Layout } from '../controller/layout/index.ts';
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
  const plan = (input: (typeof inputs)[number]) => async () => {
    const plans = sizes.at(-1)! / input.size;
    const three: number[] = [];
    const kept: unknown[] = [];
    for (let run = 0; run < 3; run++) {
      kept.length = 0;
      gc?.();
      const elapsed = await timeAsync(async () => {
        for (let made = 0; made < plans; made++) {
          const planned = planLayout(input.layout, input.observed);
          kept.push(planned);
          if (!planned.ok || planned.plan.steps.length !== input.size) throw new Error(`planLayout of ${input.size} units did not plan ${input.size} starts`);
        }
      });
      three.push(elapsed / plans);
    }
    return median(three);
  };
  console.log(`plan-layout: ${rounds} rounds, ${loadNote()}`);
  const times = await interleaved(rounds, Object.fromEntries(inputs.map((input) => [String(input.size), plan(input)])));
  for (const size of sizes) {
    const each = times[String(size)]!;
    console.log(`plan-layout: ${size} units ${median(each).toFixed(1)} ms (${spread(each)}), ${((median(each) / size) * 1000).toFixed(2)} µs per unit`);
  }
  reportRatio('plan-layout: 16,000 units ÷ 1,000 units', times['16000']!, times['1000']!, '≤ 24, linear: 16');
}
