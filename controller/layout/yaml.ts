// YAML text to a Tree: the one place layout YAML is read. Hand-written, so that what a file costs is bounded
// by the file: one pass over the text; duplicate keys found through a Map per mapping; nesting capped at
// MAX_DEPTH (no input drives recursion deeper); an alias shares the value its anchor names, and a file's
// aliases may not make it stand for more than ten times the values it writes; every error is a QmError at
// file:line:column naming the field it is in.
//
// What it reads is YAML 1.2 as a layout is written: one document (an optional %YAML directive, `---`,
// `...`); block mappings and sequences; flow [..] and {..}, also across lines; plain, 'single' and "double"
// quoted scalars, folded across lines, with YAML's escapes; literal | and folded > block scalars with their
// indentation and chomping indicators; comments; &anchors and *aliases. Plain scalars resolve by YAML's core
// schema: null and ~, true/false, integers (0o octal, 0x hex), floats, .inf, .nan; anything else is a string.
// Refused with an error that says so: tags (!!str), explicit keys (?), keys that are lists, maps or aliases
// or longer than YAML's 1024 characters, anchors on keys, `key: value` inside [..], %TAG and other
// directives, a second document.
import type { QmError } from '../errors.ts';
import { quote, shorten } from '../quote.ts';
import { configError, Entry, fieldPath, MapTree, ScalarTree, SeqTree, Source, type Parsed, type Tree } from './tree.ts';

/** Levels of nesting a file may have; a layout needs six. Also bounds every walk over a tree. */
export const MAX_DEPTH = 64;
/** YAML's own limit on an implicit key, which also bounds every field path. */
const MAX_KEY_LENGTH = 1024;
/** Aliases may make a file stand for at most this many times the values it writes, plus ALIAS_ALLOWANCE. */
const ALIAS_FACTOR = 10;
const ALIAS_ALLOWANCE = 10_000;

const TAB = 9;
const LF = 10;
const CR = 13;
const SPACE = 32;
const BANG = 33;
const DQUOTE = 34;
const HASH = 35;
const PERCENT = 37;
const AMPERSAND = 38;
const SQUOTE = 39;
const STAR = 42;
const PLUS = 43;
const COMMA = 44;
const DASH = 45;
const DOT = 46;
const COLON = 58;
const GT = 62;
const QUESTION = 63;
const AT = 64;
const OPEN_BRACKET = 91;
const BACKSLASH = 92;
const CLOSE_BRACKET = 93;
const BACKTICK = 96;
const OPEN_BRACE = 123;
const BAR = 124;
const CLOSE_BRACE = 125;

const isBlank = (code: number) => code === SPACE || code === TAB;
const isFlowIndicator = (code: number) => code === COMMA || code === OPEN_BRACKET || code === CLOSE_BRACKET || code === OPEN_BRACE || code === CLOSE_BRACE;

/** Parses one layout file. Never throws: every problem is an error with file, line and column. */
export function parseYaml(text: string, file: string): Parsed {
  const source = new Source(file, text);
  const reader = new Reader(text, source);
  // YAML reads a lone carriage return as a line break; editors and our positions do not.
  const carriageReturn = /\r(?!\n)/.exec(text);
  if (carriageReturn) {
    return { ok: false, errors: [configError(source.position(carriageReturn.index), '', 'a carriage return without a line feed: save the file with LF (or CRLF) line ends')] };
  }
  try {
    const tree = reader.document();
    return reader.errors.length > 0 ? { ok: false, errors: reader.errors } : { ok: true, tree };
  } catch (error) {
    if (error instanceof Stop) return { ok: false, errors: [...reader.errors, error.error] };
    throw error;
  }
}

/** A syntax error: reading stops there. */
class Stop {
  constructor(readonly error: QmError) {}
}

interface Anchor {
  readonly tree: Tree;
  /** Where its & is written. */
  readonly at: number;
  /** How many values the anchored value stands for, its own aliases expanded. */
  readonly size: number;
  /** Levels of nesting inside it. */
  readonly height: number;
}

interface Key {
  readonly key: string;
  readonly at: number;
  /** False for a key in {..} written without ":" (`{a, b}`), whose value is empty. */
  readonly colon: boolean;
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

type Context = 'top' | 'value' | 'item';

class Reader {
  private i = 0;
  private lineStart = 0;
  private depth = 0;
  private deepest = 0;
  /** How many [..] or {..} reading is inside. */
  private flowLevel = 0;
  /** Values written in the text so far, and the values they stand for with aliases expanded. */
  private written = 0;
  private expanded = 0;
  /** The keys and indexes leading to where reading is, for the field of an error. */
  private readonly path: (string | number)[] = [];
  /**
   * Each anchor name's latest definition in the text (an alias names the one written last before it), or
   * the offset of one still being read (an alias inside it would be a loop).
   */
  private readonly anchors = new Map<string, Anchor | number>();
  /** Short texts read so far, each kept once (see shared). */
  private readonly texts = new Map<string, string>();
  /** Problems that do not stop reading (a duplicate key, an unknown alias). */
  readonly errors: QmError[] = [];

  constructor(
    private readonly text: string,
    private readonly source: Source,
  ) {
    if (text.charCodeAt(0) === 0xfeff) this.i = this.lineStart = 1;
  }

  // ——— the document ———

  document(): Tree | undefined {
    let directive = false;
    for (;;) {
      this.toNextContent();
      if (this.column() !== 0 || this.code() !== PERCENT) break;
      if (!/^%YAML[ \t]+1\.\d+[ \t]*(#.*)?$/.test(this.restOfLine())) this.fail('only a %YAML 1.x directive may come before ---; other directives (%TAG) are not used in a layout');
      directive = true;
      this.skipToLineEnd();
    }
    let tree: Tree | undefined;
    if (this.atMarker('---')) {
      this.i += 3;
      tree = this.blockNode(-1, 'top', this.i - 3, true);
    } else if (directive) {
      this.fail('a %YAML directive must be followed by a --- line');
    } else if (!this.eof() && !this.atMarker('...')) {
      tree = this.blockNode(-1, 'top', this.i);
    }
    this.toNextContent();
    if (this.atMarker('...')) {
      this.i += 3;
      this.endOfLine('"..."');
      this.toNextContent();
    }
    if (this.atMarker('---') || this.atMarker('...') || (this.column() === 0 && this.code() === PERCENT)) {
      this.fail('a layout file holds one YAML document; a second one starts here (merge layouts as drop-ins in layout.d/ instead)');
    }
    if (!this.eof()) this.fail(`${this.describeHere()} is not part of the document: check its indentation`);
    return tree && this.isEmptyDocument(tree) ? undefined : tree;
  }

  /** A document that is only an empty value (a file of comments) writes nothing. */
  private isEmptyDocument(tree: Tree): boolean {
    return tree.kind === 'scalar' && tree.value === null && this.written === 1 && this.anchors.size === 0;
  }

  // ——— block structure ———

  /**
   * The value after a key's ":", after "- ", or at the top. `indent` is the column of the collection it
   * belongs to (-1 at the top); `emptyAt` is where an empty value is said to be. Block collections may
   * start on the same line only after "- " or at the top (not after "---").
   */
  private blockNode(indent: number, context: Context, emptyAt: number, afterMarker = false): Tree {
    let anchor: { name: string; at: number } | undefined;
    let belowKey = false;
    for (;;) {
      this.skipBlanks();
      // The anchor may be on the key's line or on the line below it.
      if (!anchor && this.code() === AMPERSAND) {
        anchor = this.anchorHere();
        continue;
      }
      if (!this.atLineEnd()) break;
      this.endOfLine('the anchor');
      this.toNextContent();
      belowKey = true;
      const column = this.column();
      const listAtKeyColumn = context === 'value' && column === indent && this.atListItem();
      if (this.eof() || this.atDocumentBoundary() || (column <= indent && !listAtKeyColumn)) return this.anchored(anchor, () => this.empty(emptyAt));
    }
    const blockAllowed = belowKey || context === 'item' || (context === 'top' && !afterMarker);
    const anchorOnThisLine = anchor !== undefined && anchor.at >= this.lineStart;
    if (belowKey && this.code(this.lineStart) === TAB) this.fail('a tab in the indentation: YAML indents with spaces only', this.lineStart);
    if (anchor && this.code() === STAR) this.fail('an alias cannot have an anchor');
    return this.anchored(anchor, () => this.blockContent(indent, this.column(), blockAllowed, anchorOnThisLine));
  }

  private blockContent(indent: number, column: number, blockAllowed: boolean, anchoredOnThisLine: boolean): Tree {
    const code = this.code();
    if (code === DASH && this.blankOrEnd(this.i + 1)) {
      if (!blockAllowed) this.fail('a list cannot start on the line of its key: put each "- item" on a line of its own, indented under the key');
      if (anchoredOnThisLine) this.fail('an anchor before a list on the same line: put the anchor on the line before the list');
      this.checkIndentation();
      return this.blockSequence(column);
    }
    if (code === QUESTION && this.blankOrEnd(this.i + 1)) this.fail('explicit keys ("? key") are not used in a layout: write "key: value"');
    if (code === BAR || code === GT) return this.blockScalar(indent);
    if (code === OPEN_BRACKET || code === OPEN_BRACE) return this.closingValue(this.flowCollection(indent), 'a [list] or {map}');
    if (code === STAR) return this.closingValue(this.alias(), 'an alias');
    this.refuseProperties();
    const scalar = this.scalarOrKey(indent, false);
    if (scalar instanceof ScalarTree) {
      this.endOfLine('the value');
      return scalar;
    }
    if (!blockAllowed) this.fail('a mapping cannot start on the line of its key: put its "key: value" pairs on lines of their own, indented under the key', scalar.at);
    if (anchoredOnThisLine) this.fail('an anchor before a key would name the key: put the anchor on the line before the mapping', scalar.at);
    this.checkIndentation(scalar.at);
    return this.blockMapping(column, scalar);
  }

  /** A value that ended a line: nothing but a comment may follow, and it cannot be a key. */
  private closingValue(tree: Tree, what: string): Tree {
    this.skipBlanks();
    if (this.code() === COLON) this.fail(`${what} cannot be a key: keys are names`);
    this.endOfLine(what);
    return tree;
  }

  private blockMapping(indent: number, first: Key): MapTree {
    const at = first.at;
    this.enter(at);
    const entries: Entry[] = [];
    const seen = new Keys();
    for (let key: Key | undefined = first; key; key = this.nextKey(indent)) {
      this.path.push(key.key);
      const value = this.blockNode(indent, 'value', key.at);
      this.path.pop();
      this.addEntry(entries, seen, key, value);
    }
    this.leave();
    return this.node(new MapTree(this.source, at, entries));
  }

  /** The next key of the mapping at `indent`, or undefined where the mapping ends. */
  private nextKey(indent: number): Key | undefined {
    this.toNextContent();
    if (this.eof() || this.atDocumentBoundary()) return undefined;
    const column = this.column();
    if (column < indent) return undefined;
    if (column > indent) this.fail(`this line is indented more than the keys of its mapping (column ${indent + 1}): check its indentation`);
    this.checkIndentation();
    const code = this.code();
    if (code === DASH && this.blankOrEnd(this.i + 1)) this.fail('a list item where a key of the mapping was expected: indent the list under its key');
    if (code === QUESTION && this.blankOrEnd(this.i + 1)) this.fail('explicit keys ("? key") are not used in a layout: write "key: value"');
    if (code === OPEN_BRACKET || code === OPEN_BRACE || code === STAR || code === BAR || code === GT) this.fail('a key must be a name, not a list, map, alias or block scalar');
    if (code === AMPERSAND || code === BANG) this.fail('anchors and tags on keys are not used in a layout');
    const key = this.scalarOrKey(indent, false);
    if (key instanceof ScalarTree) this.fail('expected "key: value" here (a value on a line of its own must be indented under its key)', key.at);
    return key;
  }

  /** Adds the entry unless its key is already in the mapping: then the second is an error naming the first. */
  private addEntry(entries: Entry[], keys: Keys, key: Key, value: Tree): void {
    const first = keys.first(entries, key.key);
    if (first !== undefined) {
      const line = this.source.position(first.at).line;
      this.note(`${quote(key.key)} appears twice in this map (first on line ${line}); a key may appear once in a file`, key.at, key.key);
      return;
    }
    const entry = new Entry(this.source, key.at, key.key, value);
    entries.push(entry);
    keys.add(entries, entry);
  }

  private blockSequence(indent: number): SeqTree {
    const at = this.i;
    this.enter(at);
    const items: Tree[] = [];
    for (;;) {
      const dash = this.i;
      this.i += 1;
      this.path.push(items.length);
      items.push(this.blockNode(indent, 'item', dash));
      this.path.pop();
      this.toNextContent();
      if (this.eof() || this.atDocumentBoundary() || this.column() !== indent) {
        if (!this.eof() && this.column() > indent && !this.atDocumentBoundary()) this.fail(`this line is indented more than the items of its list (column ${indent + 1}): check its indentation`);
        break;
      }
      this.checkIndentation();
      if (!this.atListItem()) break;
    }
    this.leave();
    return this.node(new SeqTree(this.source, at, items));
  }

  /**
   * A scalar, or a key when ": " follows it on its line (with the ":" consumed). A value may go on over
   * the following lines indented more than `indent`; a key may not.
   */
  private scalarOrKey(indent: number, flow: boolean): ScalarTree | Key {
    const at = this.i;
    const code = this.code();
    if (code === DQUOTE || code === SQUOTE) {
      const line = this.lineStart;
      const value = this.quoted(indent);
      const end = this.i;
      this.skipBlanks();
      if (this.code() === COLON && (flow || this.blankOrEnd(this.i + 1))) {
        if (this.lineStart !== line) this.fail('a key must be on one line', at);
        return this.key(value, at, end);
      }
      this.i = end;
      return this.node(new ScalarTree(this.source, at, value));
    }
    const next = this.code(this.i + 1);
    const indicator = this.blankOrEnd(this.i + 1) || (flow && isFlowIndicator(next));
    if (code === COLON && indicator) this.fail('a key is missing before this ":"');
    if (code === QUESTION && indicator) this.fail('explicit keys ("? key") are not used in a layout: write "key: value"');
    if (code === DASH && indicator) this.fail('a list item ("- ") cannot be inside [..] or {..}: separate items with ","');
    if (code === COMMA || code === CLOSE_BRACKET || code === CLOSE_BRACE || code === HASH || code === PERCENT || code === AT || code === BACKTICK || code === BAR || code === GT) {
      this.fail(`a plain value cannot start with "${String.fromCharCode(code)}": quote it`);
    }
    const line = this.plainLine(at, flow);
    if (line.colon) {
      this.i = line.end;
      this.skipBlanks();
      return this.key(this.shared(this.text.slice(at, line.end)), at, line.end);
    }
    return this.plainScalar(at, line.end, indent, flow);
  }

  /** A key whose ":" is at `i`. Keys count as written values, as they are written. */
  private key(key: string, at: number, end: number): Key {
    if (end - at > MAX_KEY_LENGTH) this.fail(`a key may be at most ${MAX_KEY_LENGTH} characters long (YAML's limit); this one is ${end - at}`, at);
    if (key === '' || key === '~' || /^(null|Null|NULL)$/.test(key)) this.fail('a key must be a name, not empty', at);
    this.i += 1; // the ":"
    this.written += 1;
    this.expanded += 1;
    return { key, at, colon: true };
  }

  // ——— scalars ———

  /** Where a plain scalar's text on this line ends (before trailing blanks), and whether ": " ends it. */
  private plainLine(from: number, flow: boolean): { end: number; colon: boolean } {
    let index = from;
    for (;;) {
      const code = this.text.charCodeAt(index);
      if (Number.isNaN(code) || code === LF || (code === CR && this.text.charCodeAt(index + 1) === LF)) break;
      if (code === COLON) {
        const next = this.text.charCodeAt(index + 1);
        if (this.blankOrEnd(index + 1) || (flow && isFlowIndicator(next))) return { end: this.trimEnd(from, index), colon: true };
      } else if (code === HASH && index > from && isBlank(this.text.charCodeAt(index - 1))) {
        break;
      } else if (flow && isFlowIndicator(code)) {
        break;
      }
      index += 1;
    }
    return { end: this.trimEnd(from, index), colon: false };
  }

  private trimEnd(from: number, end: number): number {
    while (end > from && isBlank(this.text.charCodeAt(end - 1))) end -= 1;
    return end;
  }

  /** A plain scalar whose first line ends at `end`, folded with the lines that go on with it. */
  private plainScalar(at: number, end: number, indent: number, flow: boolean): ScalarTree {
    let value = this.text.slice(at, end);
    this.i = end;
    for (;;) {
      const [resume, resumeLine] = [this.i, this.lineStart];
      this.skipBlanks();
      if (!this.atBreak()) {
        this.i = resume;
        break;
      }
      let breaks = 0;
      while (this.atBreak()) {
        this.newline();
        breaks += 1;
        this.skipBlanks();
      }
      const column = this.indentation();
      const code = this.code();
      const ends = this.eof() || this.atDocumentBoundary() || code === HASH || column <= indent || (flow && isFlowIndicator(code));
      const line = ends ? undefined : this.plainLine(this.i, flow);
      if (line === undefined || line.end === this.i) {
        [this.i, this.lineStart] = [resume, resumeLine];
        break;
      }
      if (line.colon) this.fail('a value going on over several lines cannot hold ": "; is this a key indented too far, or a value to quote?');
      value += breaks === 1 ? ' ' : '\n'.repeat(breaks - 1);
      value += this.text.slice(this.i, line.end);
      this.i = line.end;
    }
    const resolved = plainValue(value);
    return this.node(new ScalarTree(this.source, at, typeof resolved === 'string' ? this.shared(resolved) : resolved));
  }

  /** A 'single' or "double" quoted scalar's value; lines after the first must be indented more than `indent`. */
  private quoted(indent: number): string {
    const at = this.i;
    const quoteCode = this.code();
    this.i += 1;
    let value = '';
    let from = this.i;
    for (;;) {
      const code = this.code();
      if (Number.isNaN(code)) this.fail(`this ${quoteCode === DQUOTE ? 'double' : 'single'}-quoted value is never closed`, at);
      if (code === quoteCode) {
        if (code === SQUOTE && this.text.charCodeAt(this.i + 1) === SQUOTE) {
          value += this.text.slice(from, this.i + 1);
          this.i += 2;
          from = this.i;
          continue;
        }
        value += this.text.slice(from, this.i);
        this.i += 1;
        return value;
      }
      if (code === BACKSLASH && quoteCode === DQUOTE) {
        value += this.text.slice(from, this.i) + this.escape(indent);
        from = this.i;
        continue;
      }
      if (isBlank(code) || this.atBreak()) {
        const blanks = this.i;
        this.skipBlanks();
        if (!this.atBreak()) continue;
        value += this.text.slice(from, blanks);
        value += this.foldBreaks(indent);
        from = this.i;
        continue;
      }
      this.i += 1;
    }
  }

  /** Line breaks inside a quoted scalar: one is a space, more are one newline fewer. Leaves `i` on the next text. */
  private foldBreaks(indent: number): string {
    let breaks = 0;
    while (this.atBreak()) {
      this.newline();
      breaks += 1;
      this.skipBlanks();
    }
    if (this.atDocumentBoundary()) this.fail('a document marker inside a quoted value: is a closing quote missing?');
    if (!this.eof() && this.indentation() <= indent) this.fail('a quoted value going on over several lines must be indented more than its key');
    return breaks === 1 ? ' ' : '\n'.repeat(breaks - 1);
  }

  private escape(indent: number): string {
    const at = this.i;
    const next = this.text[this.i + 1];
    if (next === '\n' || (next === '\r' && this.text[this.i + 2] === '\n')) {
      // An escaped line break joins the lines with nothing between them.
      this.i += 1;
      this.newline();
      this.skipBlanks();
      if (!this.eof() && !this.atBreak() && this.indentation() <= indent) this.fail('a quoted value going on over several lines must be indented more than its key');
      return '';
    }
    const simple = next === undefined ? undefined : ESCAPES[next];
    if (simple !== undefined) {
      this.i += 2;
      return simple;
    }
    const digits = next === 'x' ? 2 : next === 'u' ? 4 : next === 'U' ? 8 : 0;
    const hex = this.text.slice(this.i + 2, this.i + 2 + digits);
    const codePoint = digits > 0 && hex.length === digits && /^[0-9a-fA-F]+$/.test(hex) ? parseInt(hex, 16) : NaN;
    if (codePoint <= 0x10ffff) {
      this.i += 2 + digits;
      return String.fromCodePoint(codePoint);
    }
    return this.fail(`${quote(this.text.slice(at, at + 2 + digits))} is not an escape YAML knows`, at);
  }

  /** A literal (|) or folded (>) block scalar whose lines are indented more than `indent`. */
  private blockScalar(indent: number): ScalarTree {
    const at = this.i;
    const folded = this.code() === GT;
    this.i += 1;
    let explicit = 0;
    let chomp: 'clip' | 'strip' | 'keep' = 'clip';
    for (let index = 0; index < 2; index += 1) {
      const code = this.code();
      if (code >= 49 && code <= 57 && explicit === 0) explicit = code - 48;
      else if ((code === DASH || code === PLUS) && chomp === 'clip') chomp = code === DASH ? 'strip' : 'keep';
      else break;
      this.i += 1;
    }
    this.endOfLine('the block scalar header');
    const lines = this.blockScalarLines(indent, explicit, at);
    return this.node(new ScalarTree(this.source, at, foldBlockScalar(lines.lines, lines.contentIndent, folded, chomp)));
  }

  /** The lines of a block scalar, each as [spaces before it, text after them], and the indentation they share. */
  private blockScalarLines(indent: number, explicit: number, at: number): { lines: Array<[number, string]>; contentIndent: number } {
    const lines: Array<[number, string]> = [];
    let contentIndent = explicit > 0 ? Math.max(indent, 0) + explicit : -1;
    let leadingSpaces = 0;
    let endedWithBreak = false;
    if (this.atBreak()) this.newline();
    else return { lines, contentIndent: Math.max(contentIndent, 0) };
    while (!this.eof()) {
      const start = this.i;
      let spaces = 0;
      while (this.text.charCodeAt(start + spaces) === SPACE) spaces += 1;
      let end = start + spaces;
      while (!Number.isNaN(this.text.charCodeAt(end)) && !this.isBreakAt(end)) end += 1;
      const text = this.text.slice(start + spaces, end);
      if (text !== '') {
        if (contentIndent < 0) {
          if (spaces <= indent) break;
          if (leadingSpaces > spaces) this.fail('a block scalar whose first lines are blank but indented more than its text needs an indentation indicator (|2)', at);
          contentIndent = spaces;
        }
        if (spaces < contentIndent) break;
        if (spaces === 0 && this.atDocumentBoundary()) break;
      } else {
        leadingSpaces = contentIndent < 0 ? Math.max(leadingSpaces, spaces) : leadingSpaces;
      }
      this.i = end;
      endedWithBreak = this.atBreak();
      // Blanks that end the file without a line break are not a line of the scalar.
      if (text === '' && !endedWithBreak) break;
      lines.push([spaces, text]);
      if (endedWithBreak) this.newline();
    }
    // What follows the last line break is a line too (empty), as YAML counts the breaks a | or > keeps.
    if (endedWithBreak) lines.push([0, '']);
    return { lines, contentIndent: contentIndent < 0 ? Math.max(leadingSpaces, indent + 1, 0) : contentIndent };
  }

  // ——— flow collections ———

  /** [..] or {..}, perhaps across lines, each indented more than `indent` (the closing bracket at least as much). */
  private flowCollection(indent: number): Tree {
    const at = this.i;
    const isMap = this.code() === OPEN_BRACE;
    const close = isMap ? CLOSE_BRACE : CLOSE_BRACKET;
    this.enter(at);
    this.flowLevel += 1;
    this.i += 1;
    const entries: Entry[] = [];
    const seen = new Keys();
    const items: Tree[] = [];
    for (let count = 0; ; count += 1) {
      this.flowSpace(indent, at);
      if (this.code() === close) break;
      if (this.code() === COMMA) this.fail(count === 0 ? 'a "," before the first entry' : 'two "," with no entry between them');
      if (isMap) {
        const key = this.flowKey(indent);
        this.path.push(key.key);
        let value: Tree;
        if (key.colon) {
          this.flowSpace(indent, at);
          value = this.code() === COMMA || this.code() === close ? this.empty(key.at) : this.flowNode(indent);
        } else {
          value = this.empty(key.at);
        }
        this.path.pop();
        this.addEntry(entries, seen, key, value);
      } else {
        this.path.push(items.length);
        items.push(this.flowNode(indent));
        this.path.pop();
        this.flowSpace(indent, at);
        if (this.code() === COLON) this.fail('"key: value" inside [..]: write it as {key: value}');
      }
      this.flowSpace(indent, at);
      if (this.code() === COMMA) {
        this.i += 1;
        continue;
      }
      if (this.code() === close) break;
      this.fail(`expected "," or "${String.fromCharCode(close)}" here`);
    }
    this.i += 1;
    this.flowLevel -= 1;
    this.leave();
    return this.node(isMap ? new MapTree(this.source, at, entries) : new SeqTree(this.source, at, items));
  }

  /** A key in {..}, with or without a ":" after it (its ":" consumed). */
  private flowKey(indent: number): Key {
    const code = this.code();
    if (code === QUESTION && this.blankOrEnd(this.i + 1)) this.fail('explicit keys ("? key") are not used in a layout: write "key: value"');
    if (code === OPEN_BRACKET || code === OPEN_BRACE || code === STAR) this.fail('a key must be a name, not a list, map or alias');
    if (code === AMPERSAND || code === BANG) this.fail('anchors and tags on keys are not used in a layout');
    const scalar = this.scalarOrKey(indent, true);
    if (!(scalar instanceof ScalarTree)) return scalar;
    // A key with no ":" after it (`{a, b}`): its value is empty. The key is the text as written.
    if (scalar.value === null || scalar.value === '') this.fail('a key must be a name, not empty', scalar.at);
    const key = typeof scalar.value === 'string' ? scalar.value : this.text.slice(scalar.at, this.trimEnd(scalar.at, this.i));
    return { key, at: scalar.at, colon: false };
  }

  private flowNode(indent: number): Tree {
    const anchor = this.anchorHere();
    if (anchor) this.flowSpace(indent, anchor.at);
    return this.anchored(anchor, () => {
      const code = this.code();
      if (anchor && (code === COMMA || this.closesFlow())) return this.empty(anchor.at);
      if (anchor && code === STAR) this.fail('an alias cannot have an anchor');
      if (code === OPEN_BRACKET || code === OPEN_BRACE) return this.flowCollection(indent);
      if (code === STAR) return this.alias();
      if (code === BAR || code === GT) this.fail('a block scalar (| or >) cannot be inside [..] or {..}');
      this.refuseProperties();
      const scalar = this.scalarOrKey(indent, true);
      if (!(scalar instanceof ScalarTree)) this.fail('"key: value" inside [..]: write it as {key: value}', scalar.at);
      return scalar;
    });
  }

  /** Blanks, comments and line breaks inside [..] or {..}; a line's first text must be indented more than `indent`. */
  private flowSpace(indent: number, openAt: number): void {
    const line = this.lineStart;
    this.toNextContent();
    if (this.eof()) this.fail(`this "${this.text[openAt]}" is never closed`, openAt);
    if (this.lineStart === line) return;
    if (this.atDocumentBoundary()) this.fail(`this "${this.text[openAt]}" is never closed before the document ends`, openAt);
    const column = this.indentation();
    // Only the outermost closing bracket may stand at its key's column.
    if (column < indent || (column === indent && !(this.closesFlow() && this.flowLevel === 1))) this.fail('a line inside [..] or {..} must be indented more than its key');
  }

  private closesFlow(): boolean {
    return this.code() === CLOSE_BRACKET || this.code() === CLOSE_BRACE;
  }

  // ——— anchors and aliases ———

  private anchorHere(): { name: string; at: number } | undefined {
    if (this.code() !== AMPERSAND) return undefined;
    const at = this.i;
    this.i += 1;
    const name = this.anchorName();
    if (name === '') this.fail('an anchor needs a name after "&"', at);
    if (name.endsWith(':')) this.fail('an anchor name ending in ":" is ambiguous', at);
    const next = this.code();
    if (!this.blankOrEnd(this.i) && next !== COMMA && next !== CLOSE_BRACKET && next !== CLOSE_BRACE) this.fail('an anchor must be followed by a blank');
    this.skipBlanks();
    if (this.code() === AMPERSAND) this.fail('a value can have one anchor');
    return { name, at };
  }

  private anchorName(): string {
    const start = this.i;
    for (;;) {
      const code = this.code();
      if (Number.isNaN(code) || isBlank(code) || isFlowIndicator(code) || this.atBreak()) break;
      this.i += 1;
    }
    return this.text.slice(start, this.i);
  }

  /** Reads the value an anchor names, keeping its size and height for the aliases that use it. */
  private anchored(anchor: { name: string; at: number } | undefined, read: () => Tree): Tree {
    if (!anchor) return read();
    this.anchors.set(anchor.name, anchor.at);
    const [expanded, deepest] = [this.expanded, this.deepest];
    this.deepest = this.depth;
    const tree = read();
    const height = this.deepest - this.depth;
    this.deepest = Math.max(deepest, this.deepest);
    // A definition of the same name inside this value comes later in the text: it stays the one aliases name.
    const current = this.anchors.get(anchor.name);
    if (current === anchor.at) this.anchors.set(anchor.name, { tree, size: this.expanded - expanded, height, at: anchor.at });
    return tree;
  }

  /** The value an alias names: the same tree (a scalar gets the alias's position, for errors about its use). */
  private alias(): Tree {
    const at = this.i;
    this.i += 1;
    const name = this.anchorName();
    if (name === '') this.fail('an alias needs a name after "*"', at);
    const anchor = this.anchors.get(name);
    this.written += 1;
    if (anchor === undefined || typeof anchor === 'number') {
      const shown = shorten(name);
      this.note(anchor !== undefined ? `alias *${shown} is inside the value its anchor &${shown} names` : `alias *${shown} has no anchor &${shown} before it`, at);
      this.expanded += 1;
      return new ScalarTree(this.source, at, null);
    }
    this.expanded += anchor.size;
    const limit = ALIAS_FACTOR * this.written + ALIAS_ALLOWANCE;
    if (this.expanded > limit) {
      this.fail(`aliases would expand to more than ${limit.toLocaleString('en')} values, ${ALIAS_FACTOR} times what the file writes plus ${ALIAS_ALLOWANCE.toLocaleString('en')}; is this an alias bomb?`, at);
    }
    if (this.depth + anchor.height > MAX_DEPTH) this.fail(`nested deeper than ${MAX_DEPTH} levels through alias *${shorten(name)}`, at);
    this.deepest = Math.max(this.deepest, this.depth + anchor.height);
    const tree = anchor.tree;
    return tree.kind === 'scalar' ? new ScalarTree(this.source, at, tree.value) : tree;
  }

  private refuseProperties(): void {
    if (this.code() === BANG) this.fail('tags (such as !!str) are not used in a layout: quote a value to make it a string');
    if (this.code() === AMPERSAND) this.fail('a value can have one anchor');
  }

  // ——— bookkeeping ———

  /** One string for each short text written more than once (state, running, enabled …): a large layout repeats them per unit. */
  private shared(text: string): string {
    if (text.length > 24) return text;
    const known = this.texts.get(text);
    if (known !== undefined) return known;
    this.texts.set(text, text);
    return text;
  }

  private node<T extends Tree>(tree: T): T {
    this.written += 1;
    this.expanded += 1;
    return tree;
  }

  private empty(at: number): ScalarTree {
    return this.node(new ScalarTree(this.source, at, null));
  }

  private enter(at: number): void {
    this.depth += 1;
    if (this.depth > MAX_DEPTH) this.fail(`nested deeper than ${MAX_DEPTH} levels; a layout needs six`, at);
    this.deepest = Math.max(this.deepest, this.depth);
  }

  private leave(): void {
    this.depth -= 1;
  }

  private fail(message: string, at = this.i): never {
    throw new Stop(configError(this.source.position(at), fieldPath(this.path), message));
  }

  private note(message: string, at: number, last?: string): void {
    this.errors.push(configError(this.source.position(at), fieldPath(last === undefined ? this.path : [...this.path, last]), message));
  }

  // ——— characters and lines ———

  private code(at = this.i): number {
    return this.text.charCodeAt(at);
  }

  private eof(): boolean {
    return this.i >= this.text.length;
  }

  private isBreakAt(at: number): boolean {
    const code = this.text.charCodeAt(at);
    return code === LF || (code === CR && this.text.charCodeAt(at + 1) === LF);
  }

  private atBreak(): boolean {
    return this.isBreakAt(this.i);
  }

  /** A blank, a line break or the end of the text at `at`. */
  private blankOrEnd(at: number): boolean {
    return at >= this.text.length || isBlank(this.text.charCodeAt(at)) || this.isBreakAt(at);
  }

  private newline(): void {
    this.i += this.code() === CR ? 2 : 1;
    this.lineStart = this.i;
  }

  private column(): number {
    return this.i - this.lineStart;
  }

  /** Spaces at the start of the current line. */
  private indentation(): number {
    let spaces = 0;
    while (this.text.charCodeAt(this.lineStart + spaces) === SPACE) spaces += 1;
    return spaces;
  }

  private skipBlanks(): void {
    while (isBlank(this.code())) this.i += 1;
  }

  private skipToLineEnd(): void {
    while (!this.eof() && !this.atBreak()) this.i += 1;
  }

  private restOfLine(): string {
    const start = this.i;
    let end = start;
    while (end < this.text.length && !this.isBreakAt(end)) end += 1;
    return this.text.slice(start, end);
  }

  /** True at a line break, the end of the text, or a comment. */
  private atLineEnd(): boolean {
    return this.eof() || this.atBreak() || (this.code() === HASH && (this.i === this.lineStart || isBlank(this.code(this.i - 1))));
  }

  /** After `what`, only blanks and a comment may follow on its line. */
  private endOfLine(what: string): void {
    this.skipBlanks();
    if (this.code() === HASH && this.i > this.lineStart && !isBlank(this.code(this.i - 1))) this.fail('a comment needs a blank before "#"');
    if (!this.atLineEnd()) this.fail(`${this.describeHere()} after ${what}: one value per key, and a key's mapping goes on the lines below it`);
    this.skipToLineEnd();
  }

  /** Moves over blanks, comments and line breaks to the next text (or the end). */
  private toNextContent(): void {
    for (;;) {
      this.skipBlanks();
      if (this.code() === HASH && (this.i === this.lineStart || isBlank(this.code(this.i - 1)))) this.skipToLineEnd();
      if (!this.atBreak()) return;
      this.newline();
    }
  }

  /** A block collection whose line starts with a tab before it: YAML indents with spaces only. */
  private checkIndentation(until = this.i): void {
    for (let at = this.lineStart; at < until; at += 1) {
      if (this.text.charCodeAt(at) === TAB) this.fail('a tab in the indentation: YAML indents with spaces only', at);
    }
  }

  private atListItem(): boolean {
    return this.code() === DASH && this.blankOrEnd(this.i + 1);
  }

  /** `---` or `...` at the start of a line, followed by a blank or the line end. */
  private atMarker(marker: '---' | '...'): boolean {
    const code = marker === '---' ? DASH : DOT;
    return this.i === this.lineStart && this.code() === code && this.code(this.i + 1) === code && this.code(this.i + 2) === code && this.blankOrEnd(this.i + 3);
  }

  private atDocumentBoundary(): boolean {
    return this.atMarker('---') || this.atMarker('...');
  }

  private describeHere(): string {
    if (this.eof()) return 'the end of the file';
    return quote(this.restOfLine().trim());
  }
}

const ESCAPES: Readonly<Record<string, string>> = {
  '0': '\0',
  a: '\x07',
  b: '\b',
  t: '\t',
  '\t': '\t',
  n: '\n',
  v: '\v',
  f: '\f',
  r: '\r',
  e: '\x1b',
  ' ': ' ',
  '"': '"',
  '/': '/',
  '\\': '\\',
  N: '\u0085',
  _: '\u00a0',
  L: '\u2028',
  P: '\u2029',
};

/** A plain scalar by YAML 1.2's core schema. */
function plainValue(text: string): string | number | boolean | null {
  if (text === '' || text === '~' || text === 'null' || text === 'Null' || text === 'NULL') return null;
  if (text === 'true' || text === 'True' || text === 'TRUE') return true;
  if (text === 'false' || text === 'False' || text === 'FALSE') return false;
  const first = text.charCodeAt(0);
  // Only text that starts like a number can be one; the rest stays a string without a regular expression run.
  if (!((first >= 48 && first <= 57) || first === DASH || first === PLUS || first === DOT)) return text;
  if (/^[-+]?[0-9]+$/.test(text)) return parseInt(text, 10);
  if (/^0o[0-7]+$/.test(text)) return parseInt(text.slice(2), 8);
  if (/^0x[0-9a-fA-F]+$/.test(text)) return parseInt(text.slice(2), 16);
  if (/^[-+]?\.(inf|Inf|INF)$/.test(text)) return text.startsWith('-') ? -Infinity : Infinity;
  if (/^\.(nan|NaN|NAN)$/.test(text)) return NaN;
  if (/^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/.test(text)) return parseFloat(text);
  return text;
}

/** A block scalar's value from its lines, as YAML folds (>) or keeps (|) them and chomps its trailing breaks. */
function foldBlockScalar(lines: ReadonlyArray<[number, string]>, contentIndent: number, folded: boolean, chomp: 'clip' | 'strip' | 'keep'): string {
  let end = lines.length;
  while (end > 0 && lines[end - 1]![1] === '') end -= 1;
  if (end === 0) return chomp === 'keep' && lines.length > 0 ? '\n'.repeat(Math.max(1, lines.length - 1)) : '';
  // Trailing blank lines indented more than the text belong to it.
  let chompStart = end;
  for (let index = lines.length - 1; index >= end; index -= 1) {
    if (lines[index]![0] > contentIndent) {
      chompStart = index + 1;
      break;
    }
  }
  let value = '';
  // Blank lines before the text are kept as they are, folded or not.
  let first = 0;
  for (; lines[first]![1] === ''; first += 1) value += `${' '.repeat(Math.max(0, lines[first]![0] - contentIndent))}\n`;
  let separator = '';
  let previousMoreIndented = false;
  for (let index = first; index < chompStart; index += 1) {
    const [spaces, text] = lines[index]!;
    const extra = ' '.repeat(Math.max(0, spaces - contentIndent));
    if (!folded) {
      value += separator + extra + text;
      separator = '\n';
    } else if (spaces > contentIndent || text.startsWith('\t')) {
      if (separator === ' ') separator = '\n';
      else if (!previousMoreIndented && separator === '\n') separator = '\n\n';
      value += separator + extra + text;
      separator = '\n';
      previousMoreIndented = true;
    } else if (text === '') {
      if (separator === '\n') value += '\n';
      else separator = '\n';
    } else {
      value += separator + text;
      separator = ' ';
      previousMoreIndented = false;
    }
  }
  if (chomp === 'strip') return value;
  if (chomp === 'clip') return `${value}\n`;
  for (let index = chompStart; index < lines.length; index += 1) value += `\n${' '.repeat(Math.max(0, lines[index]![0] - contentIndent))}`;
  return value.endsWith('\n') ? value : `${value}\n`;
}
