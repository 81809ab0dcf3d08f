// Layouts from YAML text and observed vehicles from a compact description, for planner and executor tests.
import { readLayout, type Layout } from '../../controller/layout/index.ts';
import type { Observed, ObservedNode, ObservedUnit } from '../../controller/orchestrator/observed.ts';
import type { Plan } from '../../controller/orchestrator/plan.ts';
import type { NodeName, UnitName } from '../../controller/unit-names.ts';

export function layoutOf(...texts: string[]): Layout {
  const result = readLayout(texts.map((text, index) => ({ file: `layout${index}.yaml`, text })));
  if (!result.ok) throw new Error(result.errors.map((error) => `${error.position}${error.message}`).join('\n'));
  return result.layout;
}

/** Per node: online (default true) and units as `activeState` or `[activeState, unitFileState]`. */
export type VehicleSketch = Record<string, { online?: boolean; units?: Record<string, string | readonly [string, string]> }>;

export function observedOf(sketch: VehicleSketch): Observed {
  return {
    nodes: new Map(
      Object.entries(sketch).map(([name, { online = true, units = {} }]) => {
        const entries = Object.entries(units).map(([unit, value]) => {
          const [activeState, unitFileState] = typeof value === 'string' ? [value, undefined] : value;
          return [unit as UnitName, { activeState, unitFileState }] as const;
        });
        const node: ObservedNode = {
          name: name as NodeName,
          online,
          units: new Map<UnitName, ObservedUnit>(entries.map(([unit, { activeState }]) => [unit, { activeState }])),
          unitFiles: new Map(entries.filter(([, value]) => value.unitFileState !== undefined).map(([unit, value]) => [unit, value.unitFileState!])),
        };
        return [name as NodeName, node];
      }),
    ),
  };
}

/** The vehicle after every step of `plan` ended done: what a perfect executor would leave behind. */
export function afterPlan(observed: Observed, plan: Plan): Observed {
  const nodes = new Map([...observed.nodes].map(([name, node]) => [name, { ...node, units: new Map(node.units), unitFiles: new Map(node.unitFiles) }]));
  for (const step of plan.steps) {
    const node = nodes.get(step.node)!;
    if (step.action === 'start') node.units.set(step.unit, { activeState: 'active' });
    if (step.action === 'stop') node.units.set(step.unit, { activeState: 'inactive' });
    if (step.action === 'enable') node.unitFiles.set(step.unit, 'enabled');
    if (step.action === 'disable') node.unitFiles.set(step.unit, 'disabled');
  }
  return { nodes };
}
