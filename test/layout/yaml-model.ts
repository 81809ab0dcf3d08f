// Generated YAML for the layout reader's tests: documents written in every style a person might use
// (block and flow collections, plain, quoted and block scalars, comments, anchors and aliases), and a
// reader-independent way to compare what two YAML readers made of them.
import fc from 'fast-check';
import type { Tree } from '../../controller/layout/tree.ts';

/** A value as generated; `style` says how it is written, not what it means. */
export type Value =
  | { readonly kind: 'map'; readonly flow: boolean; readonly entries: ReadonlyArray<readonly [Key, Value]>; readonly anchor: boolean }
  | { readonly kind: 'seq'; readonly flow: boolean; readonly items: readonly Value[]; readonly anchor: boolean }
  | { readonly kind: 'scalar'; readonly style: ScalarStyle; readonly text: string; readonly anchor: boolean }
  | { readonly kind: 'alias'; readonly pick: number };

export type ScalarStyle = 'plain' | 'single' | 'double' | 'literal' | 'folded';
export interface Key {
  readonly text: string;
  readonly quoted: '' | "'" | '"';
}

/** Choices of layout that do not change meaning: indentation steps, spacing, comments, line breaks. */
export interface Manner {
  readonly step: number;
  readonly comments: boolean;
  readonly blankLines: boolean;
  readonly compact: boolean;
  readonly crlf: boolean;
  readonly wrapFlow: boolean;
  readonly seqUnderKey: boolean;
  readonly explicitStart: boolean;
}

const name = fc.stringMatching(/^[a-z][a-z0-9.-]{0,6}$/);
const key: fc.Arbitrary<Key> = fc.record({ text: name, quoted: fc.constantFrom<Key['quoted']>('', '', '', "'", '"') });
// Plain scalars that mean something else than a string, and strings that look like them.
const special = fc.constantFrom('true', 'False', 'NULL', '~', '12', '-7', '+3', '0o17', '0x1F', '1.5', '-.5', '2e3', '.inf', '-.Inf', '.NaN', '007', '1_000', 'yes', 'on', '1.2.3', '0x', '0o9');
const word = fc.stringMatching(/^[a-zA-Z0-9][a-zA-Z0-9.\-_/@]{0,8}$/);
const plainText = fc.oneof(special, word, fc.tuple(word, word).map(([a, b]) => `${a} ${b}`), fc.tuple(word, word).map(([a, b]) => `${a}:${b}`));
const anyText = fc.oneof(
  plainText,
  fc.string({ unit: fc.constantFrom('a', 'b', ' ', "'", '"', '\\', '#', ':', '-', ',', '[', '}', 'é', '\t', '\n', '☃', '&', '*', '!'), maxLength: 12 }),
);
const blockText = fc.array(fc.oneof(word, fc.constant(''), fc.constant('  indented more'), plainText), { minLength: 1, maxLength: 5 }).map((lines) => lines.join('\n'));

const scalar: fc.Arbitrary<Value> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('scalar' as const), style: fc.constant<ScalarStyle>('plain'), text: plainText, anchor: fc.boolean() }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('scalar' as const), style: fc.constantFrom<ScalarStyle>('single', 'double'), text: anyText, anchor: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('scalar' as const), style: fc.constantFrom<ScalarStyle>('literal', 'folded'), text: blockText, anchor: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('alias' as const), pick: fc.nat() }) },
);

const { value } = fc.letrec<{ value: Value }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalar,
    fc.record({
      kind: fc.constant('map' as const),
      flow: fc.boolean(),
      entries: fc.uniqueArray(fc.tuple(key, tie('value')), { maxLength: 4, selector: ([k]) => k.text }),
      anchor: fc.boolean(),
    }),
    fc.record({ kind: fc.constant('seq' as const), flow: fc.boolean(), items: fc.array(tie('value'), { maxLength: 4 }), anchor: fc.boolean() }),
  ),
}));

export const manner: fc.Arbitrary<Manner> = fc.record({
  step: fc.integer({ min: 1, max: 4 }),
  comments: fc.boolean(),
  blankLines: fc.boolean(),
  compact: fc.boolean(),
  crlf: fc.boolean(),
  wrapFlow: fc.boolean(),
  seqUnderKey: fc.boolean(),
  explicitStart: fc.boolean(),
});

/** A document: a block map at the top (as a layout is), written in one manner. */
export const document: fc.Arbitrary<string> = fc
  .tuple(fc.uniqueArray(fc.tuple(key, value), { minLength: 1, maxLength: 5, selector: ([k]) => k.text }), manner)
  .map(([entries, how]) => writeYaml({ kind: 'map', flow: false, entries, anchor: false }, how));

/** `root` (a block map) as YAML text, written in the manner `how`. */
export function writeYaml(root: Value, how: Manner): string {
  return new Writer(how).document(root);
}

/** Writes a Value as YAML text. Anchors are named in writing order, so an alias can only name one written before it. */
class Writer {
  /** Anchors whose values are written in full: an alias inside its own anchor's value would be a loop. */
  private readonly anchors: string[] = [];
  private named = 0;
  private readonly lines: string[] = [];
  /** The next line goes in as it is, without a blank or comment line before it. */
  private plain = false;

  constructor(private readonly how: Manner) {}

  document(root: Value): string {
    if (this.how.explicitStart) this.lines.push('---');
    this.blockValueLines(root, 0);
    return this.lines.join(this.how.crlf ? '\r\n' : '\n') + (this.how.crlf ? '\r\n' : '\n');
  }

  private push(line: string): void {
    if (this.plain) {
      this.plain = false;
      this.lines.push(line);
      return;
    }
    if (this.how.blankLines && this.lines.length % 3 === 1) this.lines.push('');
    if (this.how.comments && this.lines.length % 4 === 2) this.lines.push(`${' '.repeat(this.lines.length % 5)}# comment`);
    this.lines.push(line);
  }

  /** The anchor `value` is written with (or ''); `done` makes it usable by aliases once the value is written. */
  private anchor(value: Value): { text: string; done: () => void } {
    if (value.kind === 'alias' || !value.anchor) return { text: '', done: () => undefined };
    const anchorName = `a${this.named++}`;
    return { text: `&${anchorName} `, done: () => void this.anchors.push(anchorName) };
  }

  private key(k: Key): string {
    if (k.quoted === "'") return `'${k.text}'`;
    if (k.quoted === '"') return `"${k.text}"`;
    return k.text;
  }

  private comment(): string {
    return this.how.comments ? ' # note' : '';
  }

  /** A block collection's lines at `indent` (the top-level map, or a value on the lines below its key). */
  private blockValueLines(value: Value, indent: number): void {
    const pad = ' '.repeat(indent);
    if (value.kind === 'map' && !value.flow && value.entries.length > 0) {
      for (const [k, v] of value.entries) this.entry(pad, k, v, indent);
    } else if (value.kind === 'seq' && !value.flow && value.items.length > 0) {
      for (const item of value.items) this.item(pad, item, indent);
    }
  }

  private isBlock(value: Value): boolean {
    return (value.kind === 'map' && !value.flow && value.entries.length > 0) || (value.kind === 'seq' && !value.flow && value.items.length > 0);
  }

  private entry(pad: string, k: Key, v: Value, indent: number): void {
    if (this.isBlock(v)) {
      const anchor = this.anchor(v);
      this.push(`${pad}${this.key(k)}:${anchor.text ? ` ${anchor.text.trimEnd()}` : ''}${this.comment()}`);
      const under = v.kind === 'seq' && this.how.seqUnderKey ? indent : indent + this.how.step;
      this.blockValueLines(v, under);
      anchor.done();
      return;
    }
    this.inlineAfter(`${pad}${this.key(k)}:`, v, indent);
  }

  private item(pad: string, v: Value, indent: number): void {
    if (this.isBlock(v)) {
      const anchor = this.anchor(v);
      if (this.how.compact && !anchor.text) {
        // "- key: value" with the rest of the map under the first key, or "- - item".
        const column = indent + 2;
        const lines = this.lines.length;
        this.plain = true;
        this.blockValueLines(v, column);
        this.lines[lines] = `${pad}- ${this.lines[lines]!.slice(column)}`;
        return;
      }
      this.push(`${pad}-${anchor.text ? ` ${anchor.text.trimEnd()}` : ''}`);
      this.blockValueLines(v, indent + this.how.step);
      anchor.done();
      return;
    }
    this.inlineAfter(`${pad}-`, v, indent);
  }

  /** A value on the line of its key or dash: a scalar, a flow collection, an alias or a block scalar. */
  private inlineAfter(head: string, v: Value, indent: number): void {
    if (v.kind === 'scalar' && (v.style === 'literal' || v.style === 'folded')) {
      const anchor = this.anchor(v);
      const lines = v.text.split('\n');
      const explicit = lines[0]!.startsWith(' ') ? String(this.how.step) : '';
      const chomp = ['', '-', '+'][v.text.length % 3]!;
      this.push(`${head} ${anchor.text}${v.style === 'literal' ? '|' : '>'}${explicit}${chomp}`);
      for (const line of lines) this.lines.push(line === '' ? '' : `${' '.repeat(indent + this.how.step)}${line}`);
      anchor.done();
      return;
    }
    const text = this.flow(v, indent);
    this.push(`${head}${text === '' ? '' : ` ${text}`}${text === '' || text.endsWith('\n') ? '' : this.comment()}`);
  }

  /** A value as flow text (scalars, [..], {..}, aliases); wrapped lines indented under `indent`. */
  private flow(v: Value, indent: number): string {
    if (v.kind === 'alias') return this.anchors.length === 0 ? 'null' : `*${this.anchors[v.pick % this.anchors.length]}`;
    const anchor = this.anchor(v);
    const wrap = this.how.wrapFlow ? `\n${' '.repeat(indent + this.how.step)}` : ' ';
    let text: string;
    if (v.kind === 'scalar') text = this.scalar(v.style, v.text, indent);
    else if (v.kind === 'seq') text = `[${v.items.map((item) => `${wrap}${this.flow(item, indent)}`).join(',')}${wrap === ' ' ? '' : wrap}]`;
    else text = `{${v.entries.map(([k, item]) => `${wrap}${this.key(k)}: ${this.flow(item, indent)}`).join(',')}${wrap === ' ' ? '' : wrap}}`;
    anchor.done();
    return anchor.text + text;
  }

  private scalar(style: ScalarStyle, text: string, indent: number): string {
    // A line break inside quotes is written as an empty line; continued lines are indented under the key.
    const continued = `\n\n${' '.repeat(indent + 1)}`;
    if (style === 'single' || ((style === 'literal' || style === 'folded') && text.includes('\n'))) return `'${text.replace(/'/g, "''").replace(/\n/g, continued)}'`;
    if (style === 'double' || style === 'literal' || style === 'folded') {
      const escaped = [...text].map((char) => ({ '"': '\\"', '\\': '\\\\', '\n': '\\n', '\t': '\\t', '☃': '\\u2603' })[char] ?? char).join('');
      return `"${escaped.replace(/ (\w)/, `\n${' '.repeat(indent + 1)}$1`)}"`;
    }
    return text;
  }
}

/** What a tree means, as plain values: maps as objects (own keys), lists as arrays. */
export function meaning(tree: Tree | undefined): unknown {
  if (tree === undefined) return null;
  if (tree.kind === 'scalar') return tree.value;
  if (tree.kind === 'seq') return tree.items.map(meaning);
  const object: Record<string, unknown> = {};
  for (const entry of tree.entries) Object.defineProperty(object, entry.key, { value: meaning(entry.value), enumerable: true, writable: true, configurable: true });
  return object;
}
