// YAML text to a Tree: the one place layout YAML is read. The yaml library reads it (YAML 1.2, core schema);
// this file bounds what a file can cost and turns the library's document into a Tree whose every value
// knows where it was written:
// - nesting is measured on the library's syntax tree, without recursion, before the document is built:
//   deeper than MAX_DEPTH is an error at the first value too deep (the library would recurse into it);
// - duplicate keys are found through a Map per mapping (the library's own check is quadratic in a
//   mapping's size, so it is turned off);
// - an alias shares the value its anchor names, and a file's aliases may not make it stand for more than
//   ten times the values it writes (a "billion laughs" is refused at the alias that crosses the limit);
// - every error is a QmError at file:line:column naming the field it is in, in our words where the
//   library's would leak its API, and never quoting more than a short prefix of what was written.
// Refused because a layout has no use for them and they would hide what a value is: tags (!!str), keys
// that are lists, maps, aliases or empty, %TAG and other directives, a second document.
import { Composer, isAlias, isMap, isScalar, isSeq, Parser, type CST, type Document, type Node, type ParsedNode } from 'yaml';
import type { QmError } from '../errors.ts';
import { quote, shorten } from '../quote.ts';
import { configError, Entry, fieldPath, MapTree, ScalarTree, SeqTree, Source, type Parsed, type Tree } from './tree.ts';

/** Levels of nesting a file may have; a layout needs six. Also bounds every walk over a tree. */
export const MAX_DEPTH = 64;
/** Aliases may make a file stand for at most this many times the values it writes, plus ALIAS_ALLOWANCE. */
const ALIAS_FACTOR = 10;
const ALIAS_ALLOWANCE = 10_000;
const TAGS_REFUSED = 'tags (such as !!str) are not used in a layout: quote a value to make it a string';
/** How much of the library's message an error keeps: some quote the text they stopped at. */
const MAX_MESSAGE = 200;

/** YAML 1.2 with the core schema; the library's duplicate-key check is replaced by a linear one (see Keys). */
const OPTIONS = { version: '1.2', schema: 'core', uniqueKeys: false, prettyErrors: false, strict: true } as const;

/** Parses one layout file. Never throws: every problem is an error with file, line and column. */
export function parseYaml(text: string, file: string): Parsed {
  const source = new Source(file, text);
  // YAML reads a lone carriage return as a line break; editors and our positions do not.
  const carriageReturn = /\r(?!\n)/.exec(text);
  if (carriageReturn) {
    return { ok: false, errors: [configError(source.position(carriageReturn.index), '', 'a carriage return without a line feed: save the file with LF (or CRLF) line ends')] };
  }
  const composed = compose(text, source);
  if (!composed.ok) return composed;
  const { doc } = composed;
  const problem = doc.errors[0] ?? doc.warnings[0];
  if (problem) {
    const at = problem.pos[0];
    return { ok: false, errors: [configError(source.position(at), fieldPath(pathTo(doc.contents, at, text.length)), libraryMessage(problem.code, problem.message))] };
  }
  const builder = new Builder(source);
  try {
    const tree = doc.contents === null ? undefined : builder.build(doc.contents as ParsedNode);
    return builder.errors.length > 0 ? { ok: false, errors: builder.errors } : { ok: true, tree };
  } catch (error) {
    if (error instanceof Stop) return { ok: false, errors: [...builder.errors, error.error] };
    throw error;
  }
}

type Composed = { readonly ok: true; readonly doc: Document.Parsed } | { readonly ok: false; readonly errors: readonly QmError[] };

/** The library's document for `text`, once its syntax tree has been seen to hold one document no deeper than MAX_DEPTH. */
function compose(text: string, source: Source): Composed {
  const composer = new Composer(OPTIONS);
  const docs: Document.Parsed[] = [];
  let seen = 0;
  for (const token of new Parser().parse(text)) {
    if (token.type === 'directive' && !/^%YAML[ \t]/.test(token.source)) {
      return refused(source, token.offset, 'only a %YAML 1.x directive may come before ---; other directives (%TAG) are not used in a layout');
    }
    if (token.type === 'document') {
      seen += 1;
      if (seen > 1) return refused(source, token.offset, 'a layout file holds one YAML document; a second one starts here (merge layouts as drop-ins in layout.d/ instead)');
      const tooDeep = deeperThanAllowed(token);
      if (tooDeep !== undefined) return refused(source, tooDeep, `nested deeper than ${MAX_DEPTH} levels; a layout needs six`);
    }
    for (const doc of composer.next(token)) docs.push(doc);
  }
  for (const doc of composer.end(true, text.length)) docs.push(doc);
  return { ok: true, doc: docs[0]! };
}

function refused(source: Source, at: number, message: string): Composed {
  return { ok: false, errors: [configError(source.position(at), '', message)] };
}

/**
 * The offset of the first collection nested deeper than MAX_DEPTH in a document's syntax tree, if any.
 * An explicit stack, not the library's CST.visit: that recurses, and the depth is what the input chooses.
 */
function deeperThanAllowed(document: CST.Document): number | undefined {
  const stack: Array<[CST.Token, number]> = [];
  if (document.value) stack.push([document.value, 1]);
  while (stack.length > 0) {
    const [token, depth] = stack.pop()!;
    if (token.type !== 'block-map' && token.type !== 'block-seq' && token.type !== 'flow-collection') continue;
    if (depth > MAX_DEPTH) return token.type === 'flow-collection' ? token.start.offset : token.offset;
    // Pushed last to first, so the first too-deep value in the text is the one found.
    for (let index = token.items.length - 1; index >= 0; index -= 1) {
      const item = token.items[index]!;
      if (item.value) stack.push([item.value, depth + 1]);
      if (item.key) stack.push([item.key, depth + 1]);
    }
  }
  return undefined;
}

/** The library's words where they would leak its API or say less than ours; otherwise its own, shortened. */
function libraryMessage(code: string, message: string): string {
  switch (code) {
    case 'TAB_AS_INDENT':
      return 'a tab in the indentation: YAML indents with spaces only';
    case 'KEY_OVER_1024_CHARS':
      return "a key may be at most 1024 characters long (YAML's limit)";
    case 'TAG_RESOLVE_FAILED':
      return TAGS_REFUSED;
    default: {
      const words = message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE)}…` : message;
      return words.charAt(0).toLowerCase() + words.slice(1);
    }
  }
}

/**
 * The keys and indexes leading to the innermost value whose text holds `offset`: the field an error is in.
 * An error at the end of the text is in every list or map still open there (an unclosed [).
 */
function pathTo(contents: Node | null, offset: number, textEnd: number): (string | number)[] {
  const within = (first: unknown, last: unknown = first): boolean => {
    const start = (first as Node | null)?.range?.[0];
    const end = ((last ?? first) as Node | null)?.range?.[2];
    const open = offset === textEnd && (isMap(last ?? first) || isSeq(last ?? first));
    return start !== undefined && end !== undefined && start <= offset && (offset < end || open);
  };
  const path: (string | number)[] = [];
  let node: unknown = contents;
  for (let depth = 0; depth < MAX_DEPTH && node; depth += 1) {
    if (isMap(node)) {
      const pair = node.items.find((item) => isScalar(item.key) && within(item.key, item.value));
      if (!pair || !isScalar(pair.key)) break;
      path.push(String(pair.key.value));
      node = pair.value;
    } else if (isSeq(node)) {
      const index = node.items.findIndex((item) => within(item));
      if (index === -1) break;
      path.push(index);
      node = node.items[index];
    } else break;
  }
  return path;
}

interface Anchor {
  readonly tree: Tree;
  /** How many values the anchored value stands for, its own aliases expanded. */
  readonly size: number;
  /** Levels of nesting inside it. */
  readonly height: number;
}

/**
 * The keys of one mapping, for finding a duplicate: the entries themselves while there are few (most
 * mappings hold a handful), a Map once there are more, so a mapping of any size costs linear time.
 */
class Keys {
  private static readonly SCAN = 8;
  private index: Map<string, Entry> | undefined;

  first(entries: readonly Entry[], key: string): Entry | undefined {
    if (this.index) return this.index.get(key);
    return entries.find((entry) => entry.key === key);
  }

  add(entries: readonly Entry[], entry: Entry): void {
    if (this.index) this.index.set(entry.key, entry);
    else if (entries.length > Keys.SCAN) this.index = new Map(entries.map((known) => [known.key, known]));
  }
}

/** Builds the Tree of a composed document, in document order, so an alias finds the anchor written last before it. */
class Builder {
  /** Values written in the text so far, and the values they stand for with aliases expanded. */
  private written = 0;
  private expanded = 0;
  private depth = 0;
  /** The keys and indexes leading to the value being built, for the field of an error. */
  private readonly path: (string | number)[] = [];
  /** Each anchor name's latest definition before the value being built, or `building` while inside it. */
  private readonly anchors = new Map<string, Anchor | 'building'>();
  /** Each anchor name's latest declaration, by count: a value whose anchor is declared again inside it (`&a` on a
   * value within the value anchored `&a`) does not take the name back when it ends, as the later one is what follows. */
  private readonly declared = new Map<string, number>();
  private declarations = 0;
  /** Short texts read so far, each kept once: a large layout repeats state, running, enabled… per unit. */
  private readonly texts = new Map<string, string>();
  readonly errors: QmError[] = [];

  constructor(private readonly source: Source) {}

  /** The tree of `node` and the height of its nesting; the depth was checked on the syntax tree, so recursion is bounded. */
  build(node: ParsedNode): Tree {
    return this.value(node).tree;
  }

  private value(node: ParsedNode): { tree: Tree; height: number } {
    if (isAlias(node)) return this.alias(node.source, node.range[0]);
    const at = node.range[0];
    if (node.tag !== undefined) this.note(TAGS_REFUSED, at);
    const anchor = node.anchor;
    const declaration = ++this.declarations;
    if (anchor !== undefined) {
      this.anchors.set(anchor, 'building');
      this.declared.set(anchor, declaration);
    }
    const expandedBefore = this.expanded;
    this.written += 1;
    this.expanded += 1;
    this.depth += 1;
    const built = isMap(node) ? this.map(node.items, at) : isSeq(node) ? this.seq(node.items as ParsedNode[], at) : this.scalar(node.value, at);
    this.depth -= 1;
    if (anchor !== undefined && this.declared.get(anchor) === declaration) {
      this.anchors.set(anchor, { tree: built.tree, size: this.expanded - expandedBefore, height: built.height });
    }
    return built;
  }

  private map(pairs: readonly { key: unknown; value: unknown }[], at: number): { tree: Tree; height: number } {
    const entries: Entry[] = [];
    const keys = new Keys();
    let height = 1;
    for (const pair of pairs) {
      const key = pair.key as ParsedNode | null;
      const keyAt = key?.range[0] ?? at;
      if (!isScalar(key) || key.value === null || key.value === '') {
        this.fail(isAlias(key) || isMap(key) || isSeq(key) ? 'a key must be a name, not a list, map or alias' : 'a key must be a name, not empty', keyAt);
      }
      if (key.tag !== undefined) this.note(TAGS_REFUSED, keyAt);
      const name = this.shared(typeof key.value === 'string' ? key.value : (key.source ?? String(key.value)));
      if (key.anchor !== undefined) {
        this.anchors.set(key.anchor, { tree: new ScalarTree(this.source, keyAt, name), size: 1, height: 0 });
        this.declared.set(key.anchor, ++this.declarations);
      }
      const first = keys.first(entries, name);
      if (first) {
        const { line } = first.pos;
        this.note(`${quote(name)} appears twice in this map (first on line ${line}); a key may appear once in a file`, keyAt, name);
      }
      this.path.push(name);
      const value = pair.value as ParsedNode | null;
      const built = value === null ? this.empty(keyAt) : this.value(value);
      this.path.pop();
      const entry = new Entry(this.source, keyAt, name, built.tree);
      if (!first) {
        entries.push(entry);
        keys.add(entries, entry);
      }
      height = Math.max(height, built.height + 1);
    }
    return { tree: new MapTree(this.source, at, entries), height };
  }

  private seq(nodes: readonly (ParsedNode | null)[], at: number): { tree: Tree; height: number } {
    const items: Tree[] = [];
    let height = 1;
    for (const [index, node] of nodes.entries()) {
      this.path.push(index);
      const built = node === null ? this.empty(at) : this.value(node);
      this.path.pop();
      items.push(built.tree);
      height = Math.max(height, built.height + 1);
    }
    return { tree: new SeqTree(this.source, at, items), height };
  }

  private scalar(value: unknown, at: number): { tree: Tree; height: number } {
    const plain = typeof value === 'string' ? this.shared(value) : typeof value === 'number' || typeof value === 'boolean' ? value : null;
    return { tree: new ScalarTree(this.source, at, plain), height: 0 };
  }

  private empty(at: number): { tree: Tree; height: number } {
    this.written += 1;
    this.expanded += 1;
    return { tree: new ScalarTree(this.source, at, null), height: 0 };
  }

  /** The value an alias names: the same tree (a scalar gets the alias's position, for errors about its use). */
  private alias(name: string, at: number): { tree: Tree; height: number } {
    const anchor = this.anchors.get(name);
    this.written += 1;
    const shown = shorten(name);
    if (anchor === undefined || anchor === 'building') {
      this.note(anchor ? `alias *${shown} is inside the value its anchor &${shown} names` : `alias *${shown} has no anchor &${shown} before it`, at);
      this.expanded += 1;
      return { tree: new ScalarTree(this.source, at, null), height: 0 };
    }
    this.expanded += anchor.size;
    const limit = ALIAS_FACTOR * this.written + ALIAS_ALLOWANCE;
    if (this.expanded > limit) {
      this.fail(`aliases would expand to more than ${limit.toLocaleString('en')} values, ${ALIAS_FACTOR} times what the file writes plus ${ALIAS_ALLOWANCE.toLocaleString('en')}; is this an alias bomb?`, at);
    }
    if (this.depth + 1 + anchor.height > MAX_DEPTH) this.fail(`nested deeper than ${MAX_DEPTH} levels through alias *${shown}`, at);
    const tree = anchor.tree;
    return { tree: tree.kind === 'scalar' ? new ScalarTree(this.source, at, tree.value) : tree, height: anchor.height };
  }

  private shared(text: string): string {
    if (text.length > 24) return text;
    const known = this.texts.get(text);
    if (known !== undefined) return known;
    this.texts.set(text, text);
    return text;
  }

  private note(message: string, at: number, last?: string): void {
    this.errors.push(configError(this.source.position(at), fieldPath(last === undefined ? this.path : [...this.path, last]), message));
  }

  /** An error that stops building: what follows would only repeat it. */
  private fail(message: string, at: number): never {
    throw new Stop(configError(this.source.position(at), fieldPath(this.path), message));
  }
}

/** A problem that ends the build; parseYaml turns it into the file's errors. */
class Stop {
  constructor(readonly error: QmError) {}
}
