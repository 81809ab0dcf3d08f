// The layout as written: maps, lists and scalars that know where they were written, built by yaml.ts. Pure.
import { QmError } from '../errors.ts';
import { shorten } from '../quote.ts';
import type { Position } from './model.ts';

/** A file's line starts, so an offset becomes a line and column only when something is reported about it. */
export class Source {
  private readonly lineStarts: Uint32Array;

  constructor(
    readonly file: string,
    text: string,
  ) {
    let lines = 1;
    for (let at = text.indexOf('\n'); at !== -1; at = text.indexOf('\n', at + 1)) lines += 1;
    this.lineStarts = new Uint32Array(lines);
    let line = 1;
    for (let at = text.indexOf('\n'); at !== -1; at = text.indexOf('\n', at + 1)) this.lineStarts[line++] = at + 1;
    if (text.charCodeAt(0) === 0xfeff) this.lineStarts[0] = 1; // a byte order mark is not a column
  }

  /** The 1-based line and column (in UTF-16 units, as editors count) of `offset`. */
  position(offset: number): Position {
    let low = 0;
    let high = this.lineStarts.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if (this.lineStarts[middle]! <= offset) low = middle;
      else high = middle - 1;
    }
    return { file: this.file, line: low + 1, column: Math.max(1, offset - this.lineStarts[low]! + 1) };
  }
}

/**
 * Something written at an offset of a file. Its position is computed when asked, and `kind` is a getter on
 * the prototype: neither is held per value, of which a large layout has millions.
 */
abstract class Written {
  constructor(
    readonly source: Source,
    readonly at: number,
  ) {}

  get pos(): Position {
    return this.source.position(this.at);
  }
}

export class MapTree extends Written {
  get kind(): 'map' {
    return 'map';
  }

  constructor(
    source: Source,
    at: number,
    readonly entries: readonly Entry[],
  ) {
    super(source, at);
  }
}

export class SeqTree extends Written {
  get kind(): 'seq' {
    return 'seq';
  }

  constructor(
    source: Source,
    at: number,
    readonly items: readonly Tree[],
  ) {
    super(source, at);
  }
}

export class ScalarTree extends Written {
  get kind(): 'scalar' {
    return 'scalar';
  }

  constructor(
    source: Source,
    at: number,
    /** A string, number or boolean, or null for an empty value. */
    readonly value: string | number | boolean | null,
  ) {
    super(source, at);
  }
}

export type Tree = MapTree | SeqTree | ScalarTree;

/** A key and its value; the entry's own position is the key's. */
export class Entry extends Written {
  constructor(
    source: Source,
    at: number,
    readonly key: string,
    readonly value: Tree,
  ) {
    super(source, at);
  }

  get keyPos(): Position {
    return this.pos;
  }
}

export type Parsed = { readonly ok: true; readonly tree: Tree | undefined } | { readonly ok: false; readonly errors: readonly QmError[] };

/** A config error at `pos`, about `field` (a path such as `nodes.ecu-a.units[camera.service].state`; none at the top). */
export function configError(pos: Position, field: string, message: string): QmError {
  return new QmError('config', message, field === '' ? { ...pos } : { ...pos, field });
}

/** `nodes.ecu-a.units[camera.service]`: keys with dots go in brackets so the path reads unambiguously; long keys are shortened. */
export function fieldPath(segments: readonly (string | number)[]): string {
  return segments
    .map((segment, index) => {
      if (typeof segment === 'number') return `[${segment}]`;
      if (/^[A-Za-z0-9_-]+$/.test(segment)) return index === 0 ? shorten(segment) : `.${shorten(segment)}`;
      return `[${shorten(segment)}]`;
    })
    .join('');
}
