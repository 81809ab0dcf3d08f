// YAML text to a tree of plain values that remember their file, line and column — the only place YAML is read.
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node as YamlNode } from 'yaml';
import { QmError } from '../errors.ts';
import type { Position } from './model.ts';

export type Tree = MapTree | SeqTree | ScalarTree;

export interface MapTree {
  readonly kind: 'map';
  readonly pos: Position;
  readonly entries: readonly Entry[];
}

export interface Entry {
  readonly key: string;
  readonly keyPos: Position;
  readonly value: Tree;
}

export interface SeqTree {
  readonly kind: 'seq';
  readonly pos: Position;
  readonly items: readonly Tree[];
}

export interface ScalarTree {
  readonly kind: 'scalar';
  readonly pos: Position;
  /** string, number, boolean or null (an empty value). */
  readonly value: unknown;
}

export type Parsed = { readonly ok: true; readonly tree: Tree } | { readonly ok: false; readonly errors: readonly QmError[] };

/** A config error at `pos`, about `field` (a path such as `nodes.ecu-a.units[camera.service].state`). */
export function configError(pos: Position, field: string, message: string): QmError {
  return new QmError('config', message, { ...pos, field });
}

/** `nodes.ecu-a.units[camera.service]`: keys with dots go in brackets so the path reads unambiguously. */
export function fieldPath(segments: readonly (string | number)[]): string {
  return segments
    .map((segment, index) => {
      if (typeof segment === 'number') return `[${segment}]`;
      if (/^[A-Za-z0-9_-]+$/.test(segment)) return index === 0 ? segment : `.${segment}`;
      return `[${segment}]`;
    })
    .join('');
}

export function parseYaml(text: string, file: string): Parsed {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  const at = (offset: number | undefined): Position => {
    const { line, col } = lineCounter.linePos(offset ?? 0);
    return { file, line, column: col };
  };
  if (doc.errors.length > 0) {
    return { ok: false, errors: doc.errors.map((error) => configError(at(error.pos[0]), '', yamlMessage(error.code, error.message))) };
  }
  const errors: QmError[] = [];
  const tree = convert(doc, doc.contents, at, errors, 0) ?? { kind: 'scalar', pos: at(0), value: null };
  return errors.length > 0 ? { ok: false, errors } : { ok: true, tree };
}

function yamlMessage(code: string, message: string): string {
  // The yaml library appends " at line L, column C:" and a source excerpt; we print the position ourselves.
  const first = message.split(/ at line \d+, column \d+/)[0]!.trim();
  return code === 'DUPLICATE_KEY' ? `${first} (a key appears twice in the same file)` : first;
}

function convert(
  doc: Document,
  node: YamlNode | null | unknown,
  at: (offset: number | undefined) => Position,
  errors: QmError[],
  depth: number,
): Tree | undefined {
  if (depth > 64) return undefined; // alias loops; YAML allows them, a layout never needs them
  if (node === null || node === undefined) return undefined;
  if (isAlias(node)) return convert(doc, node.resolve(doc), at, errors, depth + 1);
  const pos = at((node as YamlNode).range?.[0]);
  if (isMap(node)) {
    const entries: Entry[] = [];
    for (const pair of node.items) {
      const keyNode = pair.key as YamlNode | null;
      const keyPos = at(keyNode?.range?.[0] ?? (node as YamlNode).range?.[0]);
      if (!isScalar(keyNode) || keyNode.value === null || typeof keyNode.value === 'object') {
        errors.push(configError(keyPos, '', 'keys must be plain names, not empty, lists or maps'));
        continue;
      }
      const value = convert(doc, pair.value, at, errors, depth + 1) ?? { kind: 'scalar', pos: valuePos(pair.value, keyPos, at), value: null };
      entries.push({ key: String(keyNode.value), keyPos, value });
    }
    return { kind: 'map', pos, entries };
  }
  if (isSeq(node)) {
    const items = node.items.map((item) => convert(doc, item, at, errors, depth + 1) ?? { kind: 'scalar' as const, pos, value: null });
    return { kind: 'seq', pos, items };
  }
  if (isScalar(node)) return { kind: 'scalar', pos, value: node.value };
  return undefined;
}

function valuePos(value: unknown, fallback: Position, at: (offset: number | undefined) => Position): Position {
  const range = (value as YamlNode | null)?.range;
  return range ? at(range[0]) : fallback;
}
