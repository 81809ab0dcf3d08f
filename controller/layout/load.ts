// The edge where layouts come from disk: which files, in which order, read and checked as one.
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { QmError } from '../errors.ts';
import { mergeAll } from './merge.ts';
import { parseYaml, type Tree } from './tree.ts';
import { sortErrors, validateLayout, type Validated } from './validate.ts';

export const DEFAULT_LAYOUT = '/etc/qm/layout.yaml';

export interface LayoutSource {
  readonly file: string;
  readonly text: string;
}

/** Parses, merges in order and validates: every error of every file at once, or the layout. Pure. */
export function readLayout(sources: readonly LayoutSource[]): Validated {
  const files = sources.map((source) => source.file);
  const trees: Tree[] = [];
  const errors: QmError[] = [];
  for (const source of sources) {
    const parsed = parseYaml(source.text, source.file);
    if (parsed.ok) trees.push(parsed.tree);
    else errors.push(...parsed.errors);
  }
  // Syntax errors hide what the file meant; checking the rest would report noise about missing parts.
  if (errors.length > 0) return { ok: false, errors: sortErrors(errors, files) };
  return validateLayout(mergeAll(trees), files);
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
      files.push(...entries.filter((name) => name.endsWith('.yaml')).sort().map((name) => join(dropIns, name)));
    } catch (error) {
      if (!isMissing(error)) errors.push(unreadable('the layout drop-ins', dropIns, error));
    }
  }
  return { files, errors };
}

/** Reads the layout named by `paths` (default /etc/qm/layout.yaml and its layout.d/). */
export async function loadLayout(paths: readonly string[] = [DEFAULT_LAYOUT]): Promise<Validated> {
  const { files, errors } = await layoutFiles(paths.length > 0 ? paths : [DEFAULT_LAYOUT]);
  const sources: LayoutSource[] = [];
  for (const file of files) {
    try {
      sources.push({ file, text: await readFile(file, 'utf8') });
    } catch (error) {
      errors.push(unreadable('the layout', file, error));
    }
  }
  if (errors.length > 0) return { ok: false, errors };
  return readLayout(sources);
}

const isMissing = (error: unknown): boolean => (error as NodeJS.ErrnoException).code === 'ENOENT';

const REASONS = new Map([
  ['ENOENT', 'no such file'],
  ['ENOTDIR', 'not a directory'],
  ['EACCES', 'permission denied'],
  ['EISDIR', 'a directory'],
]);

function unreadable(what: string, file: string, error: unknown): QmError {
  const reason = REASONS.get((error as NodeJS.ErrnoException).code ?? '') ?? (error as Error).message;
  return new QmError('config', `cannot read ${what}: ${reason}`, { file }, { cause: error });
}
