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

/** A node whose units' files are enabled, one needing another, beside units that do not care; ui.service on b needs them. */
export const unitFilesLayout = layoutOf(`nodes:
  a:
    units:
      radio.service: { enabled: true }
      nav.service: { enabled: true, needs: [radio.service] }
      map.service: { needs: [nav.service] }
      clock.service: { enabled: true }
      other.service: {}
  b:
    units:
      ui.service: { needs: [a/map.service] }
`);

/** unitFilesLayout's vehicle from cold, radio.service's unit file in state `radio` (masked, disabled …). */
export const unitFilesObserved = (radio: string): Observed =>
  observedOf({ a: { units: { 'radio.service': ['inactive', radio], 'nav.service': ['inactive', 'disabled'], 'clock.service': ['inactive', 'disabled'] } }, b: {} });

/**
 * The vehicle after a perfect apply of `plan`, as systemd would leave it: every step the vehicle accepts ended
 * done; a step the plan marks refused (enabling a masked unit) changed nothing, and what waits on it did not run.
 * Unit-file state is modelled pessimistically: an `enabled` unit may also have runtime links under /run
 * (systemd reports `enabled` then), which only a disable in the runtime scope removes.
 */
export function afterPlan(observed: Observed, plan: Plan): Observed {
  const nodes = new Map([...observed.nodes].map(([name, node]) => [name, { ...node, units: new Map(node.units), unitFiles: new Map(node.unitFiles) }]));
  const notRun = new Set<string>();
  for (const step of plan.steps) {
    if (step.error !== undefined || step.after.some((id) => notRun.has(id))) {
      notRun.add(step.id);
      continue;
    }
    const node = nodes.get(step.node)!;
    if (step.action === 'start') node.units.set(step.unit, { activeState: 'active' });
    if (step.action === 'stop') node.units.set(step.unit, { activeState: 'inactive' });
    if (step.action === 'enable') node.unitFiles.set(step.unit, 'enabled');
    if (step.action === 'disable') node.unitFiles.set(step.unit, disabled(node.unitFiles.get(step.unit), step.scopes ?? []));
  }
  return { nodes };
}

function disabled(state: string | undefined, scopes: readonly string[]): string {
  const persistent = state === 'enabled' && !scopes.includes('persistent');
  const runtime = (state === 'enabled' || state === 'enabled-runtime') && !scopes.includes('runtime');
  if (persistent) return 'enabled';
  if (runtime) return 'enabled-runtime';
  return state === 'enabled' || state === 'enabled-runtime' || state === undefined ? 'disabled' : state;
}
