// V8 code caches for the packages an executable embeds: compiled code read back instead of compiled again.
// Cached code runs as it is, so a cache is used only when root made it: the file is root's, writable by nobody else,
// not a symbolic link, and names the very source it was made from. Anything else is ignored without a word, and
// only root writes caches.
import { chmodSync, closeSync, constants, fstatSync, lstatSync, openSync, readFileSync, renameSync, writeFileSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Where the executables keep their caches: make install and the packages make it, root-owned, mode 0755. Where it
 * does not exist (qmctl run from a source tree, a test), no cache is written.
 */
export const CODE_CACHE_DIR = '/var/cache/qm/code-cache';

const MAGIC = 'qm-code-cache 1\n';

function header(sourceHash: string): string {
  return `${MAGIC}${sourceHash}\n`;
}

/** Whether a cache file or its directory is trusted: root's own and writable by nobody else. */
export function trusted(info: Stats): boolean {
  return info.uid === 0 && (info.mode & 0o022) === 0;
}

/** The cached data in `file` made from the source whose sha256 is `sourceHash`, or undefined when it is not to be used. */
export function readCodeCache(file: string, sourceHash: string): Buffer | undefined {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch {
    return undefined;
  }
  try {
    const info = fstatSync(fd);
    if (!info.isFile() || !trusted(info)) return undefined;
    const data = readFileSync(fd);
    const expected = header(sourceHash);
    if (data.length <= expected.length || data.toString('latin1', 0, expected.length) !== expected) return undefined;
    return data.subarray(expected.length);
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** Whether caches may be written into `dir`: by root, where the directory exists and is trusted. */
export function mayWriteCodeCaches(dir: string): boolean {
  if (process.geteuid?.() !== 0) return false;
  try {
    const info = lstatSync(dir);
    return info.isDirectory() && trusted(info);
  } catch {
    return false;
  }
}

/** Writes `data` as the cache in `file` for source `sourceHash` — when running as root into an existing trusted directory. */
export function writeCodeCache(file: string, sourceHash: string, data: Buffer): boolean {
  if (!mayWriteCodeCaches(dirname(file))) return false;
  try {
    // Written whole under another name, then renamed: a reader sees the old cache or the new one, never half of one.
    const temporary = `${file}.${process.pid}.tmp`;
    writeFileSync(temporary, Buffer.concat([Buffer.from(header(sourceHash), 'latin1'), data]), { mode: 0o644, flag: 'wx' });
    chmodSync(temporary, 0o644); // whatever root's umask: every user reads it
    renameSync(temporary, file);
    return true;
  } catch {
    return false;
  }
}
