// BlueChi's INI dialect, read exactly as bluechi-agent reads it.
//
// BlueChi parses with inih (benhoyt/inih at the commit its subprojects/ pins) built with
// INI_MAX_LINE=520 and INI_STOP_ON_FIRST_ERROR=1, other options at inih's defaults, and stores each
// (section, key) through cfg.c's parsing_handler. What follows reproduces both, byte for byte:
// - lines are read with fgets into a 520-byte buffer: at most 519 bytes at a time, so a longer line
//   is read as two (or more) lines; a NUL byte ends the line's text;
// - a UTF-8 BOM is skipped on the first line; whitespace is C isspace (space, \t, \n, \v, \f, \r);
// - `#` or `;` first on a line is a comment; `;` after whitespace starts an inline comment;
// - an indented non-blank line continues the previous key's value (blank and comment lines in
//   between do not break the chain; a section header does), and the pieces are concatenated with
//   nothing in between — as is a key given twice in one file;
// - `key=value` or `key:value`, split at the first of `=` or `:`; name and value are trimmed;
// - `[section]` keeps everything between `[` and the first `]` untrimmed, up to 49 bytes, and
//   ignores whatever follows the `]`; continuation lines use the key name cut to 49 bytes;
// - a line that is none of these, or a `[` without `]`, is a syntax error: parsing stops there and
//   bluechi-agent discards the whole file (and refuses to start, except for a drop-in that is not the
//   last one, which cfg_load_from_dir skips silently — we report every syntax error);
// - an empty value stores "no value" (NULL), which in a later file overrides an earlier value.
import { isUtf8 } from 'node:buffer';
import { invalidUtf8 } from '../controller/config-file.ts';
import { quote } from '../controller/quote.ts';
import { error, warning, type Diagnostic } from './diagnostics.ts';

/** inih's INI_MAX_LINE as BlueChi builds it; fgets reads at most one byte less. */
export const INI_MAX_LINE = 520;
const FGETS_BYTES = INI_MAX_LINE - 1;
/** The line length BlueChi documents ("The maximum line length supported is 500 characters"). */
export const DOCUMENTED_LINE_LIMIT = 500;
/** inih's MAX_SECTION and MAX_NAME buffers (50) hold 49 bytes and a NUL. */
export const MAX_SECTION_BYTES = 49;
export const MAX_NAME_BYTES = 49;

export interface IniAssignment {
  readonly section: string;
  readonly key: string;
  readonly value: string;
  /** The 1-based physical line the assignment (or continuation piece) is on. */
  readonly line: number;
  readonly continuation: boolean;
  /** Section, key and value as bytes (one char per byte), for exact concatenation. */
  readonly raw: { readonly section: string; readonly key: string; readonly value: string };
}

export interface IniFile {
  readonly file: string;
  readonly assignments: readonly IniAssignment[];
  readonly diagnostics: readonly Diagnostic[];
  /** True when bluechi-agent would discard the whole file because of a syntax error. */
  readonly rejected: boolean;
}

const isSpace = (ch: string | undefined) => ch === ' ' || ch === '\t' || ch === '\n' || ch === '\v' || ch === '\f' || ch === '\r';

function rstrip(text: string): string {
  let end = text.length;
  while (end > 0 && isSpace(text[end - 1])) end--;
  return text.slice(0, end);
}

function lskipIndex(text: string, from = 0): number {
  let index = from;
  while (index < text.length && isSpace(text[index])) index++;
  return index;
}

/** inih's find_chars_or_comment: the index of the first of `chars`, or of a `;` after whitespace. */
function findCharsOrComment(text: string, from: number, chars: string): number {
  let wasSpace = false;
  let index = from;
  while (index < text.length && !chars.includes(text[index]!) && !(wasSpace && text[index] === ';')) {
    wasSpace = isSpace(text[index]);
    index++;
  }
  return index;
}

const ASCII = /^[\x00-\x7f]*$/;

/**
 * Bytes held one per char back to text. A byte that is not part of UTF-8 text shows as `\xNN`: U+FFFD
 * would hide which byte it was, and a person has to find it in the file.
 */
export function decodeBytes(bytes: string): string {
  if (ASCII.test(bytes)) return bytes; // the common case, without a buffer per key and value
  const buffer = Buffer.from(bytes, 'latin1');
  if (isUtf8(buffer)) return buffer.toString('utf8');
  let text = '';
  let from = 0;
  for (let invalid = invalidUtf8(buffer); invalid !== undefined; invalid = invalidUtf8(buffer.subarray(from))) {
    const at = from + invalid.offset;
    text += `${buffer.toString('utf8', from, at)}\\x${buffer[at]!.toString(16).padStart(2, '0')}`;
    from = at + 1;
  }
  return text + buffer.toString('utf8', from);
}

/** Why `bytes` (one per char) are not UTF-8 text, naming the first bad byte; undefined when they are. */
export function notUtf8(bytes: string): string | undefined {
  if (ASCII.test(bytes)) return undefined;
  return invalidUtf8(Buffer.from(bytes, 'latin1'))?.reason;
}

/** Bytes quoted for a message: at most a bounded prefix, bytes that are not UTF-8 as \xNN. */
export function quoteBytes(bytes: string): string {
  // quote() escapes the backslash decodeBytes wrote; undo that for the \x80–\xff it wrote (ASCII is never invalid).
  return quote(decodeBytes(bytes)).replace(/\\\\x([89a-f][0-9a-f])/g, '\\x$1');
}

function toByteString(content: Uint8Array | string): string {
  const bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : Buffer.from(content.buffer, content.byteOffset, content.byteLength);
  return bytes.toString('latin1');
}

interface Chunk {
  /** The chunk's text up to its first NUL, as fgets leaves it for the C string functions. */
  readonly text: string;
  readonly line: number;
  /** True for the second and later pieces of an over-long physical line. */
  readonly tail: boolean;
  readonly hadNul: boolean;
}

interface PhysicalLine {
  readonly line: number;
  /** Bytes before the line terminator (`\n` or `\r\n`). */
  readonly length: number;
  /** True when fgets needed more than one call for it. */
  readonly split: boolean;
}

/** What fgets hands inih, one call at a time, with the physical line each piece came from. */
function fgetsChunks(bytes: string): { chunks: Chunk[]; lines: PhysicalLine[] } {
  const chunks: Chunk[] = [];
  const lines: PhysicalLine[] = [];
  let position = 0;
  let line = 1;
  while (position < bytes.length) {
    const newline = bytes.indexOf('\n', position);
    const lineEnd = newline === -1 ? bytes.length : newline + 1;
    const length = bytes.slice(position, lineEnd).replace(/\r?\n$/, '').length;
    lines.push({ line, length, split: lineEnd - position > FGETS_BYTES });
    let tail = false;
    while (position < lineEnd) {
      const end = Math.min(lineEnd, position + FGETS_BYTES);
      const raw = bytes.slice(position, end);
      const nul = raw.indexOf('\0');
      chunks.push({ text: nul === -1 ? raw : raw.slice(0, nul), line, tail, hadNul: nul !== -1 });
      position = end;
      tail = true;
    }
    line++;
  }
  return { chunks, lines };
}

/** Parses one file's bytes the way bluechi-agent does; `file` is used for positions in diagnostics. */
export function parseIni(content: Uint8Array | string, file: string): IniFile {
  const bytes = toByteString(content);
  const { chunks, lines } = fgetsChunks(bytes);
  const assignments: IniAssignment[] = [];
  const diagnostics: Diagnostic[] = [];
  let section = '';
  let previousName = '';
  let rejected = false;

  for (const { line, length, split } of lines) {
    if (split) {
      diagnostics.push(
        error(file, line, undefined,
          `line is ${length} bytes long; bluechi-agent reads a line ${FGETS_BYTES} bytes at a time (with its newline; documented limit: ${DOCUMENTED_LINE_LIMIT} characters) and reads the rest as a separate line — continue long values on indented lines`),
      );
    } else if (length > DOCUMENTED_LINE_LIMIT) {
      diagnostics.push(warning(file, line, undefined, `line is ${length} bytes long, over BlueChi's documented limit of ${DOCUMENTED_LINE_LIMIT} characters; continue long values on indented lines`));
    }
  }

  chunks.forEach((chunk, index) => {
    if (rejected) return;
    if (chunk.hadNul) diagnostics.push(warning(file, chunk.line, undefined, 'line contains a NUL byte; bluechi-agent ignores the rest of the line'));
    let from = 0;
    if (index === 0 && chunk.text.startsWith('\u00ef\u00bb\u00bf')) from = 3;
    const text = rstrip(chunk.text);
    const start = lskipIndex(text, from);
    const first = text[start];

    if (first === undefined || first === '#' || first === ';') return; // blank line or comment
    if (previousName !== '' && start > 0) {
      const end = findCharsOrComment(text, start, '');
      const value = rstrip(text.slice(start, end));
      assignments.push(assignment(section, previousName, value, chunk.line, true));
      return;
    }
    if (first === '[') {
      const end = findCharsOrComment(text, start + 1, ']');
      if (text[end] === ']') {
        section = text.slice(start + 1, end).slice(0, MAX_SECTION_BYTES);
        previousName = '';
        return;
      }
      rejected = true;
      const why = end < text.length ? ` (the ";" after whitespace starts a comment)` : '';
      diagnostics.push(error(file, chunk.line, undefined, `section header ${quoteBytes(text.slice(start))} has no closing "]"${why}; bluechi-agent rejects the whole file`));
      return;
    }
    const separator = findCharsOrComment(text, start, '=:');
    if (text[separator] === '=' || text[separator] === ':') {
      const name = rstrip(text.slice(start, separator));
      const valueEnd = findCharsOrComment(text, separator + 1, '');
      const value = rstrip(text.slice(lskipIndex(text.slice(0, valueEnd), separator + 1), valueEnd));
      previousName = name.slice(0, MAX_NAME_BYTES);
      assignments.push(assignment(section, name, value, chunk.line, false));
      return;
    }
    rejected = true;
    const lead = chunk.tail ? 'the rest of an over-long line, ' : '';
    diagnostics.push(
      error(file, chunk.line, undefined,
        `${lead}${quoteBytes(text.slice(start))} is not a "key=value" setting, a [section] header, a comment or an indented continuation; bluechi-agent rejects the whole file`),
    );
  });

  return { file, assignments, diagnostics, rejected };
}

function assignment(section: string, key: string, value: string, line: number, continuation: boolean): IniAssignment {
  return {
    section: decodeBytes(section),
    key: decodeBytes(key),
    value: decodeBytes(value),
    line,
    continuation,
    raw: { section, key, value },
  };
}
