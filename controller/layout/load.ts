// The edge where layouts come from disk: which files, in which order, read and checked as one.
import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { errnoOf, errnoReason, invalidUtf8, readConfigFile } from '../config-file.ts';
import { QmError } from '../errors.ts';
import type { Tree } from './tree.ts';
import { parseYaml } from './yaml.ts';
import { sortErrors, validateLayout, type Validated } from './validate.ts';

/** Not under /etc/qm: that is QM's own /etc, writable from inside QM, which must never choose what the vehicle runs. */
export const DEFAULT_LAYOUT = '/etc/qm-controller/layout.yaml';
/**
 * 4 MiB: almost three times a 10,000-unit vehicle's layout (1.5 MB), and what one file may cost: the yaml
 * library's document takes about 75 times the text in memory and a second of CPU per MB to check (bench
 * layout-check), so a file at the limit costs about 340 MiB and 5 s, once.
 */
export const MAX_LAYOUT_FILE_BYTES = 4 * 1024 * 1024;

export interface LayoutSource {
  readonly file: string;
  readonly text: string;
}

/** Parses, merges in order and validates: every error of every file at once, or the layout. Pure. */
export function readLayout(sources: readonly LayoutSource[]): Validated {
  const files = sources.map((source) => source.file);
  const trees: (Tree | undefined)[] = [];
  const errors: QmError[] = [];
  for (const source of sources) {
    const parsed = parseYaml(source.text, source.file);
    if (parsed.ok) trees.push(parsed.tree);
    else for (const error of parsed.errors) errors.push(error);
  }
  // Syntax errors hide what the file meant; checking the rest would report noise about missing parts.
  if (errors.length > 0) return { ok: false, errors: sortErrors(errors, files) };
  return validateLayout(trees, files);
}

/**
 * The files a layout argument stands for, in merge order: a file `dir/NAME.yaml` and then its drop-ins
 * `dir/NAME.d/*.yaml` in lexical order; a directory stands for `DIR/layout.yaml` and `DIR/layout.d/`.
 * Only a missing drop-in directory means none: one that cannot be read (a file, no permission) is an
 * error naming it, or an integrator's overrides would silently not apply.
 */
export async function layoutFiles(paths: readonly string[]): Promise<{ files: string[]; errors: QmError[] }> {
  const files: string[] = [];
  const errors: QmError[] = [];
  for (const path of paths) {
    let isDirectory = false;
    try {
      isDirectory = (await stat(path)).isDirectory();
    } catch (error) {
      // A missing path is reported when it is read, as "no such file".
      if (!isMissing(error)) {
        errors.push(unreadable('the layout', path, error));
        continue;
      }
    }
    const main = isDirectory ? join(path, 'layout.yaml') : path;
    const dropIns = join(dirname(main), `${basename(main, extname(main))}.d`);
    files.push(main);
    try {
      const entries = await readdir(dropIns);
      // A loop, not push(...names): a spread of a huge directory listing overflows the call stack.
      for (const name of entries.filter((entry) => entry.endsWith('.yaml')).sort()) files.push(join(dropIns, name));
    } catch (error) {
      if (!isMissing(error)) errors.push(unreadable('the layout drop-ins', dropIns, error));
    }
  }
  return { files, errors };
}

/** Reads the layout named by `paths` (default /etc/qm-controller/layout.yaml and its layout.d/). */
export async function loadLayout(paths: readonly string[] = [DEFAULT_LAYOUT]): Promise<Validated> {
  const { files, errors } = await layoutFiles(paths.length > 0 ? paths : [DEFAULT_LAYOUT]);
  const contents: LayoutBytes[] = [];
  for (const file of files) {
    const read = await readConfigFile(file, MAX_LAYOUT_FILE_BYTES);
    if (read.ok) contents.push({ file, bytes: read.bytes });
    else errors.push(new QmError('config', `cannot read the layout: ${read.reason}`, { file }, { cause: read.cause }));
  }
  const sources = decodeAll(contents, errors);
  if (errors.length > 0) return { ok: false, errors };
  return readLayout(sources);
}

export interface LayoutBytes {
  readonly file: string;
  readonly bytes: Uint8Array;
}

/** readLayout for files as read from disk: text that is not UTF-8 is an error at its first bad byte. Pure. */
export function readLayoutBytes(files: readonly LayoutBytes[]): Validated {
  const errors: QmError[] = [];
  const sources = decodeAll(files, errors);
  return errors.length > 0 ? { ok: false, errors } : readLayout(sources);
}

function decodeAll(files: readonly LayoutBytes[], errors: QmError[]): LayoutSource[] {
  const sources: LayoutSource[] = [];
  for (const { file, bytes } of files) {
    const decoded = decodeLayout(file, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    if (decoded instanceof QmError) errors.push(decoded);
    else sources.push(decoded);
  }
  return sources;
}

/** The file's text, or an error at the first byte that is not UTF-8 (shown as U+FFFD it would hide what is wrong). */
function decodeLayout(file: string, bytes: Buffer): LayoutSource | QmError {
  const invalid = invalidUtf8(bytes);
  if (!invalid) return { file, text: bytes.toString('utf8') };
  // lastIndexOf reads a negative start as counted from the end.
  const lineStart = invalid.offset === 0 ? 0 : bytes.lastIndexOf(0x0a, invalid.offset - 1) + 1;
  let line = 1;
  for (let newline = bytes.indexOf(0x0a); newline !== -1 && newline < lineStart; newline = bytes.indexOf(0x0a, newline + 1)) line += 1;
  const column = bytes.toString('utf8', lineStart, invalid.offset).length + 1;
  return new QmError('config', `the file is not UTF-8 text: ${invalid.reason}`, { file, line, column });
}

const isMissing = (error: unknown): boolean => errnoOf(error) === 'ENOENT';

function unreadable(what: string, file: string, error: unknown): QmError {
  return new QmError('config', `cannot read ${what}: ${errnoReason(error)}`, { file }, { cause: error });
}
