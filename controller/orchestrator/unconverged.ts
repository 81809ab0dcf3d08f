// After the steps: which units are not as the layout wants them, as their nodes report it. Pure.
import type { Layout, UnitKey } from '../layout/model.ts';
import type { NodeName, UnitName } from '../unit-names.ts';
import { activeStateOf, isAsDesired, needsDisable, needsEnable, type Observed } from './observed.ts';

export interface Unconverged {
  readonly node: NodeName;
  readonly unit: UnitName;
  /** What the layout wants: `running` or `stopped`, `enabled` or `disabled`. */
  readonly desired: string;
  /** What the node reports: systemd's ActiveState, or its UnitFileState (`unknown` when it has none to report). */
  readonly observed: string;
}

/**
 * Every unit of the layout on an online node whose state, or whose unit file, is not what the layout wants; one
 * entry for each that differs. Units in `known` (already reported as waiting) and on offline nodes are left out.
 */
export function unconvergedUnits(layout: Layout, observed: Observed, known: ReadonlySet<UnitKey> = new Set()): Unconverged[] {
  const found: Unconverged[] = [];
  for (const unit of layout.units.values()) {
    const node = observed.nodes.get(unit.node);
    if (known.has(unit.key) || !node?.online) continue;
    const where = { node: unit.node, unit: unit.unit };
    const active = activeStateOf(node, unit.unit);
    if (!isAsDesired(unit.state, active)) found.push({ ...where, desired: unit.state, observed: active });
    const file = node.unitFiles.get(unit.unit);
    if (unit.enabled === true && needsEnable(file)) found.push({ ...where, desired: 'enabled', observed: file ?? 'unknown' });
    if (unit.enabled === false && needsDisable(file)) found.push({ ...where, desired: 'disabled', observed: file ?? 'unknown' });
  }
  return found;
}
