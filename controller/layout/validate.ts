// The merged layout tree checked whole — every problem reported at once — and turned into a trusted Layout.
import type { QmError } from '../errors.ts';
import { nodeNameProblem, unitNameProblem, type NodeName, type UnitName } from '../unit-names.ts';
import { findCycles } from './cycles.ts';
import {
  DEFAULT_RESTART_BUDGET,
  partitionNode,
  QM_PREFIX,
  unitKey,
  type DesiredState,
  type Layout,
  type NodeSpec,
  type Position,
  type RestartBudget,
  type UnitKey,
  type KeyedUnitRef,
  type UnitSpec,
} from './model.ts';
import { quote } from '../quote.ts';
import { MAX_TIMER_MS } from '../timers.ts';
import { mergeAll } from './merge.ts';
import { configError, fieldPath, type Entry, type MapTree, type Tree } from './tree.ts';

/** The keys each level accepts; the JSON Schema lists the same (a test keeps them in step). */
export const LAYOUT_KEYS = {
  layout: ['version', 'nodes'],
  node: ['qm', 'units', 'qm-units'],
  unit: ['state', 'enabled', 'needs', 'restart'],
  restart: ['attempts', 'window', 'backoff'],
} as const;

export const LAYOUT_VERSION = 1;
const STATES: readonly DesiredState[] = ['running', 'stopped'];

export type Validated = { readonly ok: true; readonly layout: Layout } | { readonly ok: false; readonly errors: readonly QmError[] };

type Path = readonly (string | number)[];

/** A dependency as written; where it is written is computed only for an error about it. */
interface Need {
  readonly ref: KeyedUnitRef;
  readonly text: string;
  readonly written: Tree;
  /** The path of `needs`, and the item's index when it is a list. */
  readonly path: Path;
  readonly index: number | undefined;
}

const needPos = (need: Need) => need.written.pos;
const needField = (need: Need) => fieldPath(need.index === undefined ? need.path : [...need.path, need.index]);

interface DraftUnit extends Omit<UnitSpec, 'needs'> {
  readonly needs: readonly Need[];
  /** The value of `state`, when it was written. */
  readonly stateWritten: Tree | undefined;
}

interface DraftNode extends NodeSpec {
  /** The value of `qm`, when it was written (an empty value resets it to false). */
  readonly qmWritten: Tree | undefined;
  /** The first unit under `qm-units`, which needs qm: true, and the path of `qm-units`. */
  readonly firstQmUnit: { readonly entry: Entry; readonly path: Path } | undefined;
}

/** What a tree declares, read without judging how it relates to the rest of the layout. */
interface Draft {
  readonly nodes: Map<NodeName, DraftNode>;
  readonly units: DraftUnit[];
}

/**
 * Checks each file on its own terms — every value where it is written, even one a later drop-in
 * overrides — then the merged layout whole: what only the merge decides (qm-units without qm, needs,
 * cycles, a node declared twice), each error naming every file involved.
 */
export function validateLayout(trees: readonly (Tree | undefined)[], files: readonly string[]): Validated {
  const errors: QmError[] = [];
  const fail: Fail = (pos, path, message) => errors.push(configError(pos, typeof path === 'string' ? path : fieldPath(path), message));

  const written = trees.filter((tree): tree is Tree => tree !== undefined);
  const drafts = written.map((tree) => readTree(tree, fail));
  const merged = mergeAll(written);
  // The merged values were each checked in their own file above: reading them again reports nothing. One file is its own merge.
  const draft = written.length === 1 ? drafts[0]! : merged ? readTree(merged, () => undefined) : { nodes: new Map<NodeName, DraftNode>(), units: [] };
  if (!merged) fail({ file: files[0] ?? '<layout>', line: 1, column: 1 }, [], 'the layout must be a map with "nodes", not an empty value');
  else if (merged.kind === 'map' && !entry(merged, 'nodes')) fail(merged.pos, ['nodes'], 'the layout declares no nodes (a "nodes" map is required)');

  checkPartitions(draft.nodes, fail);
  checkNodeNames(draft.nodes, fail);
  const byKey = new Map<UnitKey, DraftUnit>(draft.units.map((unit) => [unit.key, unit]));
  checkNeeds(draft.nodes, byKey, fail);
  checkCycles(byKey, fail);

  if (errors.length > 0) return { ok: false, errors: sortErrors(errors, files) };
  const nodes = new Map<NodeName, NodeSpec>([...draft.nodes].map(([name, node]) => [name, { name, qm: node.qm, origin: node.origin }]));
  const units = new Map<UnitKey, UnitSpec>(draft.units.map((unit) => [unit.key, unitSpec(unit)]));
  return { ok: true, layout: { files: [...files], nodes, units } };
}

/** The trusted unit, built field by field (a spread of the draft would copy its bookkeeping too). */
function unitSpec(draft: DraftUnit): UnitSpec {
  const { key, node, unit, host, partition, state, enabled, restart, origin } = draft;
  return { key, node, unit, host, partition, state, enabled, needs: draft.needs.map((need) => need.ref), restart, origin };
}

/** Records an error at `pos` about the field at `path` (segments, or a path already written out). */
type Fail = (pos: Position, path: Path | string, message: string) => void;

function readTree(tree: Tree, fail: Fail): Draft {
  const draft: Draft = { nodes: new Map(), units: [] };
  const top = asMap(tree, [], fail, 'the layout must be a map with "nodes"');
  if (!top) return draft;
  checkKeys(top, [], LAYOUT_KEYS.layout, fail);
  const version = entry(top, 'version');
  if (version && !(version.value.kind === 'scalar' && version.value.value === LAYOUT_VERSION)) {
    fail(version.value.pos, ['version'], `version must be ${LAYOUT_VERSION}, the only layout version this controller reads`);
  }
  const nodesEntry = entry(top, 'nodes');
  const nodeMap = nodesEntry ? asMap(nodesEntry.value, ['nodes'], fail, 'nodes must be a map from node name to its settings') : undefined;
  for (const nodeEntry of nodeMap?.entries ?? []) readNode(nodeEntry, draft, fail);
  return draft;
}

function readNode(nodeEntry: Entry, draft: Draft, fail: Fail): void {
  const path = ['nodes', nodeEntry.key];
  const problem = nodeNameProblem(nodeEntry.key);
  if (problem) {
    fail(nodeEntry.keyPos, path, `invalid node name ${quote(nodeEntry.key)}: ${problem}`);
    return;
  }
  const name = nodeEntry.key as NodeName;
  const body = optionalMap(nodeEntry.value, path, fail, `node ${name} must be a map (qm, units, qm-units) or empty`);
  if (body) checkKeys(body, path, LAYOUT_KEYS.node, fail);
  const qmEntry = body && entry(body, 'qm');
  const qm = qmEntry && !isEmpty(qmEntry.value) ? readBoolean(qmEntry.value, [...path, 'qm'], fail) ?? false : false;
  const qmWritten = qmEntry?.value;
  let firstQmUnit: DraftNode['firstQmUnit'];

  for (const [key, partition] of [
    ['units', false],
    ['qm-units', true],
  ] as const) {
    const unitsEntry = body && entry(body, key);
    if (!unitsEntry) continue;
    const unitsPath = [...path, key];
    const unitMap = optionalMap(unitsEntry.value, unitsPath, fail, `${key} must be a map from unit name to its desired state`);
    if (partition && unitMap && unitMap.entries.length > 0) firstQmUnit = { entry: unitMap.entries[0]!, path: unitsPath };
    const node = partition ? partitionNode(name) : name;
    for (const unitEntry of unitMap?.entries ?? []) {
      const unit = readUnit(unitEntry, node, name, partition, [...unitsPath, unitEntry.key], fail);
      if (unit) draft.units.push(unit);
    }
  }
  draft.nodes.set(name, { name, qm, origin: nodeEntry.keyPos, qmWritten, firstQmUnit });
}

function readUnit(unitEntry: Entry, node: NodeName, host: NodeName, partition: boolean, path: Path, fail: Fail): DraftUnit | undefined {
  const problem = unitNameProblem(unitEntry.key);
  if (problem) {
    fail(unitEntry.keyPos, path, `invalid unit name ${quote(unitEntry.key)}: ${problem}`);
    return undefined;
  }
  const unit = unitEntry.key as UnitName;
  const body = optionalMap(unitEntry.value, path, fail, `unit ${unit} must be a map (state, enabled, needs, restart) or empty`);
  if (body) checkKeys(body, path, LAYOUT_KEYS.unit, fail);
  const field = (name: string) => (body ? entry(body, name) : undefined);

  let state: DesiredState = 'running';
  const stateEntry = field('state');
  if (stateEntry && !isEmpty(stateEntry.value)) {
    const value = stateEntry.value.kind === 'scalar' ? stateEntry.value.value : undefined;
    if (typeof value === 'string' && (STATES as readonly string[]).includes(value)) state = value as DesiredState;
    else fail(stateEntry.value.pos, [...path, 'state'], `state must be one of ${STATES.join(', ')}, not ${describe(stateEntry.value)}`);
  }
  const enabledEntry = field('enabled');
  const enabled = enabledEntry && !isEmpty(enabledEntry.value) ? readBoolean(enabledEntry.value, [...path, 'enabled'], fail) : undefined;
  const needsEntry = field('needs');
  const needs = needsEntry ? readNeeds(needsEntry.value, node, [...path, 'needs'], fail) : [];
  const restartEntry = field('restart');
  const restart = restartEntry ? readRestart(restartEntry.value, [...path, 'restart'], fail) : DEFAULT_RESTART_BUDGET;
  return {
    key: unitKey(node, unit),
    node,
    unit,
    host,
    partition,
    state,
    enabled,
    needs,
    restart,
    origin: unitEntry.keyPos,
    stateWritten: stateEntry?.value,
  };
}

/** `UNIT` (on the same node or partition) or `NODE/UNIT`, as a list or a single string. */
function readNeeds(tree: Tree, node: NodeName, path: Path, fail: Fail): Need[] {
  if (isEmpty(tree)) return [];
  const items = tree.kind === 'seq' ? tree.items : [tree];
  const needs: Need[] = [];
  const listed = new Set<string>();
  items.forEach((item, at) => {
    const index = tree.kind === 'seq' ? at : undefined;
    const itemPath = () => (index === undefined ? path : [...path, index]);
    if (item.kind !== 'scalar' || typeof item.value !== 'string') {
      fail(item.pos, itemPath(), `a dependency is written UNIT or NODE/UNIT, not ${describe(item)}`);
      return;
    }
    const text = item.value;
    const slash = text.indexOf('/');
    const nodeText = slash < 0 ? node : text.slice(0, slash);
    const unitText = slash < 0 ? text : text.slice(slash + 1);
    const problem = nodeNameProblem(nodeText) ?? (slash >= 0 && nodeText.length === 0 ? 'it is empty' : undefined);
    if (problem) return fail(item.pos, itemPath(), `dependency ${quote(text)}: invalid node name: ${problem}`);
    const unitProblem = unitNameProblem(unitText);
    if (unitProblem) return fail(item.pos, itemPath(), `dependency ${quote(text)}: invalid unit name: ${unitProblem}`);
    const key = unitKey(nodeText as NodeName, unitText as UnitName);
    const ref = { node: nodeText as NodeName, unit: unitText as UnitName, key };
    if (listed.has(key)) return fail(item.pos, itemPath(), `dependency ${quote(text)} is listed twice`);
    listed.add(key);
    needs.push({ ref, text, written: item, path, index });
  });
  return needs;
}

function readRestart(tree: Tree, path: Path, fail: Fail): RestartBudget {
  const body = optionalMap(tree, path, fail, 'restart must be a map (attempts, window, backoff) or empty');
  if (!body) return DEFAULT_RESTART_BUDGET;
  checkKeys(body, path, LAYOUT_KEYS.restart, fail);
  const attemptsEntry = entry(body, 'attempts');
  let attempts = DEFAULT_RESTART_BUDGET.attempts;
  if (attemptsEntry && !isEmpty(attemptsEntry.value)) {
    const value = attemptsEntry.value.kind === 'scalar' ? attemptsEntry.value.value : undefined;
    if (typeof value === 'number' && Number.isInteger(value) && value >= 0) attempts = value;
    else fail(attemptsEntry.value.pos, [...path, 'attempts'], `attempts must be a whole number ≥ 0, not ${describe(attemptsEntry.value)}`);
  }
  const duration = (key: 'window' | 'backoff', fallback: number) => {
    const found = entry(body, key);
    if (!found || isEmpty(found.value)) return fallback;
    const ms = found.value.kind === 'scalar' ? parseDuration(found.value.value) : undefined;
    if (ms === undefined) {
      fail(found.value.pos, [...path, key], `${key} must be a duration such as 500ms, 10s, 5m or 1h30m (a bare number is seconds), not ${describe(found.value)}`);
      return fallback;
    }
    if (ms > MAX_TIMER_MS) {
      fail(found.value.pos, [...path, key], `${key} must be at most ${formatDuration(MAX_TIMER_MS)} (${MAX_TIMER_MS} ms, the longest a timer can wait), not ${describe(found.value)}`);
      return fallback;
    }
    return ms;
  };
  return { attempts, windowMs: duration('window', DEFAULT_RESTART_BUDGET.windowMs), backoffMs: duration('backoff', DEFAULT_RESTART_BUDGET.backoffMs) };
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `596h31m23.647s`: a duration written as the layout writes them. */
function formatDuration(ms: number): string {
  const hours = Math.floor(ms / 3_600_000);
  const minutes = Math.floor((ms % 3_600_000) / 60_000);
  const seconds = (ms % 60_000) / 1000;
  return `${hours ? `${hours}h` : ''}${minutes ? `${minutes}m` : ''}${seconds ? `${seconds}s` : ''}` || '0s';
}

/** `1h30m`, `500ms`, `10s`, or a number of seconds; undefined when it is not a duration. */
export function parseDuration(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? Math.round(value * 1000) : undefined;
  if (typeof value !== 'string' || !/^(\d+(\.\d+)?(ms|s|m|h))+$/.test(value.trim())) return undefined;
  let total = 0;
  for (const [, amount, , unit] of value.trim().matchAll(/(\d+(\.\d+)?)(ms|s|m|h)/g)) total += Number(amount) * UNIT_MS[unit!]!;
  return Math.round(total);
}

/** Units under qm-units need qm: true on their node, which a drop-in may have turned off. */
function checkPartitions(nodes: ReadonlyMap<NodeName, DraftNode>, fail: Fail): void {
  for (const node of nodes.values()) {
    if (node.qm || !node.firstQmUnit) continue;
    const pos = node.firstQmUnit.entry.keyPos;
    const qm = node.qmWritten;
    const value = qm?.kind === 'scalar' ? qm.value : undefined;
    const where = qm && qm.source.file !== pos.file ? `${at(qm.pos)} ${value === false ? 'sets "qm: false"' : 'leaves qm empty (false)'}; ` : '';
    fail(pos, node.firstQmUnit.path, `node ${node.name} has QM units but no QM partition: ${where}set "qm: true" on ${node.name} or move the units to "units"`);
  }
}

/** A host must not also be declared as another host's partition: `qm.x` belongs to x when x has QM. */
function checkNodeNames(nodes: ReadonlyMap<NodeName, DraftNode>, fail: Fail): void {
  for (const node of nodes.values()) {
    if (!node.name.startsWith(QM_PREFIX)) continue;
    const host = nodes.get(node.name.slice(QM_PREFIX.length) as NodeName);
    if (host?.qm) {
      fail(
        node.origin,
        ['nodes', node.name],
        `node ${node.name} is declared twice: it is the QM partition of ${host.name} (qm: true at ${at(host.qmWritten ? host.qmWritten.pos : host.origin)}); put its units under ${host.name}.qm-units`,
      );
    }
  }
}

function checkNeeds(nodes: ReadonlyMap<NodeName, NodeSpec>, units: ReadonlyMap<UnitKey, DraftUnit>, fail: Fail): void {
  const placed = new Set<string>([...nodes.values()].flatMap((node) => (node.qm ? [node.name, partitionNode(node.name)] : [node.name])));
  for (const unit of units.values()) {
    for (const need of unit.needs) {
      const key = need.ref.key;
      if (!placed.has(need.ref.node)) {
        const host = nodes.get(need.ref.node.slice(QM_PREFIX.length) as NodeName);
        const hint = need.ref.node.startsWith(QM_PREFIX) && host ? ` (${host.name} has no QM partition)` : '';
        fail(needPos(need), needField(need), `${unit.key} needs ${key}, but node ${need.ref.node} is not in the layout${hint}`);
        continue;
      }
      const target = units.get(key);
      if (!target) {
        fail(needPos(need), needField(need), `${unit.key} needs ${key}, which the layout does not declare`);
        continue;
      }
      if (unit.state === 'running' && target.state === 'stopped') {
        const stopped = target.stateWritten;
        const where = stopped && stopped.source !== need.written.source ? ` (${at(stopped.pos)})` : '';
        fail(needPos(need), needField(need), `${unit.key} should run but needs ${key}, which the layout wants stopped${where}`);
      }
    }
  }
}

function checkCycles(units: ReadonlyMap<UnitKey, DraftUnit>, fail: Fail): void {
  const edges = new Map<UnitKey, UnitKey[]>(
    [...units.values()].map((unit) => [
      unit.key,
      unit.needs.map((need) => need.ref.key).filter((key) => units.has(key)),
    ]),
  );
  for (const cycle of findCycles([...units.keys()], (key) => edges.get(key) ?? [])) {
    const links = cycle.slice(1).map((target, index) => units.get(cycle[index]!)!.needs.find((need) => need.ref.key === target)!);
    const first = links[0]!;
    // A cycle closed by a drop-in is the merge's doing: name where each link is written.
    const inFiles = new Set(links.map((link) => link.written.source));
    const where = inFiles.size > 1 ? ` (links written in ${links.map((link) => at(needPos(link))).join(', ')})` : '';
    fail(needPos(first), needField(first), `dependency cycle: ${[...cycle].join(' → ')}${where}`);
  }
}

/** `file:line:column`. */
function at(pos: Position): string {
  return `${pos.file}:${pos.line}:${pos.column}`;
}

/** In reading order: by file (in merge order), then line and column. */
export function sortErrors(errors: readonly QmError[], files: readonly string[]): QmError[] {
  const order = new Map(files.map((file, index) => [file, index]));
  const rank = (error: QmError) => [order.get(error.origin.file ?? '') ?? -1, error.origin.line ?? 0, error.origin.column ?? 0];
  return [...errors].sort((a, b) => {
    const [ra, rb] = [rank(a), rank(b)];
    return ra[0]! - rb[0]! || ra[1]! - rb[1]! || ra[2]! - rb[2]!;
  });
}

function entry(map: MapTree, key: string): Entry | undefined {
  return map.entries.find((candidate) => candidate.key === key);
}

function checkKeys(map: MapTree, path: Path, known: readonly string[], fail: Fail): void {
  for (const item of map.entries) {
    const key = item.key;
    if (known.includes(key)) continue;
    // Two edits cannot bridge a longer difference in length; skipping those keeps long keys cheap.
    const close = known.find((candidate) => Math.abs(candidate.length - key.length) <= 2 && editDistance(candidate, key) <= 2);
    fail(item.keyPos, [...path, key], `unknown key ${quote(key)}${close ? ` (did you mean ${JSON.stringify(close)}?)` : ''}; known keys: ${known.join(', ')}`);
  }
}

function isEmpty(tree: Tree): boolean {
  return tree.kind === 'scalar' && tree.value === null;
}

function asMap(tree: Tree, path: Path, fail: Fail, message: string): MapTree | undefined {
  if (tree.kind === 'map') return tree;
  fail(tree.pos, path, `${message}, not ${describe(tree)}`);
  return undefined;
}

/** A map, or nothing for an empty value (which means "all defaults"). */
function optionalMap(tree: Tree, path: Path, fail: Fail, message: string): MapTree | undefined {
  return isEmpty(tree) ? undefined : asMap(tree, path, fail, message);
}

function readBoolean(tree: Tree, path: Path, fail: Fail): boolean | undefined {
  if (tree.kind === 'scalar' && typeof tree.value === 'boolean') return tree.value;
  fail(tree.pos, path, `${String(path[path.length - 1])} must be true or false, not ${describe(tree)}`);
  return undefined;
}

function describe(tree: Tree): string {
  if (tree.kind === 'map') return 'a map';
  if (tree.kind === 'seq') return 'a list';
  if (tree.value === null) return 'an empty value';
  return typeof tree.value === 'string' ? quote(tree.value) : String(tree.value);
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i += 1) {
    let previous = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j += 1) {
      const current = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length]!;
}
