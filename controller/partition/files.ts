// Files setup installs: written atomically (temp + fsync + rename), the previous version kept beside.
import { constants } from 'node:fs';
import { copyFile, mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { QmError } from '../errors.ts';

/** Where the version a write replaced is kept: `qm.container` → `qm.container.previous`. */
export const previousVersion = (path: string) => `${path}.previous`;

export interface WriteOptions {
  readonly mode?: number;
  /** Keep the replaced content as `PATH.previous` (default true). */
  readonly keepPrevious?: boolean;
}

export type WriteOutcome = 'created' | 'replaced' | 'unchanged';

/**
 * Writes `content` to `path` so a reader sees the old file or the new one, never half of either.
 * Unchanged content is not rewritten, so re-running setup leaves files (and their .previous) alone.
 */
export async function writeFileAtomic(path: string, content: string | Uint8Array, options: WriteOptions = {}): Promise<WriteOutcome> {
  const data = typeof content === 'string' ? Buffer.from(content) : Buffer.from(content);
  const existing = await readFile(path).catch(() => undefined);
  if (existing?.equals(data)) return 'unchanged';
  const directory = dirname(path);
  await mkdir(directory, { recursive: true });
  const temporary = join(directory, `.${basename(path)}.${process.pid}.tmp`);
  try {
    const handle = await open(temporary, 'w', options.mode ?? 0o644);
    try {
      await handle.writeFile(data);
      await handle.chmod(options.mode ?? 0o644);
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (existing !== undefined && options.keepPrevious !== false) {
      await copyFile(path, previousVersion(path), constants.COPYFILE_FICLONE);
    }
    await rename(temporary, path);
    await syncDirectory(directory);
  } catch (error) {
    await rm(temporary, { force: true });
    throw new QmError('io', `cannot write it: ${(error as Error).message}`, { file: path }, { cause: error });
  }
  return existing === undefined ? 'created' : 'replaced';
}

/** fsync a directory, so a rename in it survives a crash. */
export async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** The nearest existing ancestor of `path` (itself when it exists): where a new directory would land. */
export async function nearestExisting(path: string): Promise<string> {
  let current = path;
  while (!(await exists(current))) {
    const parent = dirname(current);
    if (parent === current) break;
    current = parent;
  }
  return current;
}
