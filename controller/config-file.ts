// Reading a configuration file without trusting what its path names: only a regular file is read, up to a
// size limit, and nothing can block — a FIFO, device, socket or directory is refused by what it is.
import { constants, promises as fs, type Stats } from 'node:fs';

export type FileRead =
  | { readonly ok: true; readonly bytes: Buffer }
  | {
      readonly ok: false;
      /** True when the path does not exist (ENOENT), which some callers accept. */
      readonly missing: boolean;
      /** Why it was not read, as a person reads it: "permission denied", "a FIFO (named pipe), not a regular file". */
      readonly reason: string;
      readonly cause?: unknown;
    };

const CHUNK = 64 * 1024;

/**
 * The bytes of the regular file at `path`, at most `limit` of them. Opened with O_NONBLOCK, so opening a
 * FIFO returns at once, and checked with fstat on the open file before any byte is read (a stat of the
 * path first keeps a device from being opened at all).
 */
export async function readConfigFile(path: string, limit: number): Promise<FileRead> {
  try {
    const refused = notRegular(await fs.stat(path), limit);
    if (refused) return refused;
    const handle = await fs.open(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
    try {
      // The path may have been replaced between stat and open.
      const again = notRegular(await handle.stat(), limit);
      if (again) return again;
      const chunks: Buffer[] = [];
      let total = 0;
      for (;;) {
        const chunk = Buffer.allocUnsafe(CHUNK);
        const { bytesRead } = await handle.read(chunk, 0, CHUNK, null);
        if (bytesRead === 0) break;
        total += bytesRead;
        // The file grew after fstat.
        if (total > limit) return tooLarge(total, limit);
        chunks.push(bytesRead === CHUNK ? chunk : chunk.subarray(0, bytesRead));
      }
      return { ok: true, bytes: Buffer.concat(chunks, total) };
    } finally {
      await handle.close();
    }
  } catch (error) {
    return { ok: false, missing: errnoOf(error) === 'ENOENT', reason: errnoReason(error), cause: error };
  }
}

function notRegular(stats: Stats, limit: number): FileRead | undefined {
  if (!stats.isFile()) return { ok: false, missing: false, reason: `${fileType(stats)}, not a regular file` };
  if (stats.size > limit) return tooLarge(stats.size, limit);
  return undefined;
}

function tooLarge(size: number, limit: number): FileRead {
  return { ok: false, missing: false, reason: `it is ${size} bytes, over the limit of ${limit} bytes (${mebibytes(limit)}) for one file` };
}

function mebibytes(bytes: number): string {
  return bytes % (1024 * 1024) === 0 ? `${bytes / (1024 * 1024)} MiB` : `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

/** What a path that is not a regular file is, in the words `ls -l` and `stat` use. */
export function fileType(stats: Stats): string {
  if (stats.isDirectory()) return 'a directory';
  if (stats.isFIFO()) return 'a FIFO (named pipe)';
  if (stats.isCharacterDevice()) return 'a character device';
  if (stats.isBlockDevice()) return 'a block device';
  if (stats.isSocket()) return 'a socket';
  return 'not a regular file';
}

export function errnoOf(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

const REASONS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file or directory',
  ENOTDIR: 'not a directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  EISDIR: 'a directory',
  ENOSPC: 'no space left on device',
  ELOOP: 'too many levels of symbolic links',
  ENAMETOOLONG: 'file name too long',
  EIO: 'input/output error',
};

/** An error from a file operation, as a person reads it (without the path: the caller names it). */
export function errnoReason(error: unknown): string {
  const code = errnoOf(error);
  return (code && REASONS[code]) ?? (error as Error | undefined)?.message ?? String(error);
}

/** Where the first byte that is not UTF-8 is, and why; undefined when `bytes` are UTF-8 text (RFC 3629). */
export function invalidUtf8(bytes: Uint8Array): { readonly offset: number; readonly reason: string } | undefined {
  const hex = (offset: number) => `0x${bytes[offset]!.toString(16).padStart(2, '0')}`;
  let offset = 0;
  while (offset < bytes.length) {
    const lead = bytes[offset]!;
    if (lead < 0x80) {
      offset += 1;
      continue;
    }
    if (lead < 0xc2 || lead > 0xf4) {
      const why = lead < 0xc0 ? 'continues a character that never started' : 'cannot start a character';
      return { offset, reason: `byte ${hex(offset)} ${why}` };
    }
    const length = lead < 0xe0 ? 2 : lead < 0xf0 ? 3 : 4;
    // The second byte's range excludes overlong forms (E0, F0), surrogates (ED) and code points past U+10FFFF (F4).
    const [low, high] = lead === 0xe0 ? [0xa0, 0xbf] : lead === 0xed ? [0x80, 0x9f] : lead === 0xf0 ? [0x90, 0xbf] : lead === 0xf4 ? [0x80, 0x8f] : [0x80, 0xbf];
    for (let index = 1; index < length; index += 1) {
      const byte = bytes[offset + index];
      const [min, max] = index === 1 ? [low, high] : [0x80, 0xbf];
      if (byte === undefined || byte < 0x80 || byte > 0xbf) return { offset, reason: `the character that starts with byte ${hex(offset)} is cut short` };
      if (byte < min || byte > max) return { offset, reason: `bytes ${hex(offset)} ${hex(offset + 1)} encode no character (an overlong form, a surrogate or past U+10FFFF)` };
    }
    offset += length;
  }
  return undefined;
}
