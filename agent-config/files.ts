// The file edge: read an agent's configuration files in bluechi-agent's order, and replace a file
// atomically (temp file, fsync, rename, fsync of the directory), keeping the previous version.
import { createHash, randomBytes } from 'node:crypto';
import { constants, promises as fs } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { errnoOf, errnoReason, readConfigFile } from '../controller/config-file.ts';
import { QmError } from '../controller/errors.ts';
import { warning, type Diagnostic } from './diagnostics.ts';
import { parseIni, type IniFile } from './ini.ts';
import { AGENT_CONF, AGENT_CONF_D } from './keys.ts';

/**
 * 1 MiB per file. BlueChi sets no limit, but joins each repeated key's pieces with strcat_dup, which is
 * quadratic in the file; a real agent.conf has 14 keys and a controller.conf's AllowedNodeNames for
 * ten thousand nodes still fits in half of this.
 */
export const MAX_AGENT_FILE_BYTES = 1024 * 1024;

/** The three places an agent reads, as cfg_load_complete_configuration does. */
export interface AgentFiles {
  readonly packagedDefault: string;
  readonly configFile: string;
  readonly dropInDir: string;
}

/** An agent whose /etc is `etcDir`: `etcDir/bluechi/agent.conf` and `etcDir/bluechi/agent.conf.d/`. */
export function agentFiles(packagedDefault: string, bluechiDir: string): AgentFiles {
  return { packagedDefault, configFile: join(bluechiDir, AGENT_CONF), dropInDir: join(bluechiDir, AGENT_CONF_D) };
}

export interface LoadedFiles {
  /** Parsed files in load order: packaged default, agent.conf, drop-ins in byte order. */
  readonly files: readonly IniFile[];
  readonly diagnostics: readonly Diagnostic[];
  /** A hash of every path read and its bytes: equal fingerprints, equal inputs. */
  readonly fingerprint: string;
}

export interface LoadOptions {
  /** Use this text for the config file instead of reading it (to check a file before writing it). */
  readonly configFileContent?: string;
  /** Warn when the packaged default is missing (bluechi-agent refuses to start without it). Default true. */
  readonly requireDefault?: boolean;
}

/** Reads what bluechi-agent (or, given its paths, bluechi-controller) reads. Missing agent.conf or drop-in dir are fine; unreadable files are not. */
export async function loadAgentFiles(paths: AgentFiles, options: LoadOptions = {}): Promise<LoadedFiles> {
  const files: IniFile[] = [];
  const diagnostics: Diagnostic[] = [];
  const hash = createHash('sha256');
  const note = (path: string, content: Uint8Array | string | undefined) => {
    hash.update(`${path}\0${content === undefined ? 'missing' : 'present'}\0`);
    if (content !== undefined) hash.update(content).update('\0');
  };

  const packaged = await readOptional(paths.packagedDefault);
  note(paths.packagedDefault, packaged);
  if (packaged === undefined && options.requireDefault !== false) {
    diagnostics.push(warning(paths.packagedDefault, undefined, undefined, 'missing: bluechi-agent refuses to start without its packaged default configuration (is bluechi-agent installed?)'));
  } else if (packaged !== undefined) {
    files.push(parseIni(packaged, paths.packagedDefault));
  }

  const config = options.configFileContent ?? (await readOptional(paths.configFile));
  note(paths.configFile, config);
  if (config !== undefined) files.push(parseIni(config, paths.configFile));

  for (const path of await dropInFiles(paths.dropInDir, diagnostics)) {
    const content = await readOptional(path, true);
    note(path, content);
    if (content !== undefined) files.push(parseIni(content, path));
  }
  return { files, diagnostics, fingerprint: hash.digest('hex') };
}

/** `*.conf` entries (hidden ones included, as scandir lists them) in byte order, as alphasort sorts them in the C locale. */
async function dropInFiles(dir: string, diagnostics: Diagnostic[]): Promise<string[]> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return [];
    throw ioError(error, dir, 'cannot list the drop-in directory');
  }
  const conf = names.filter((name) => name.endsWith('.conf')).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const paths: string[] = [];
  for (const name of conf) {
    const path = join(dir, name);
    let stat;
    try {
      stat = await fs.stat(path);
    } catch (error) {
      throw ioError(error, path, 'cannot read this drop-in (bluechi-agent would refuse to start)');
    }
    // bluechi-agent opens a directory, reads nothing from it and goes on; anything else not a regular file is refused when read.
    if (stat.isDirectory()) diagnostics.push(warning(path, undefined, undefined, 'a directory named *.conf; bluechi-agent reads nothing from it'));
    else paths.push(path);
  }
  return paths;
}

/** The file's bytes; undefined when it does not exist (unless `required`). Only regular files, up to MAX_AGENT_FILE_BYTES. */
async function readOptional(path: string, required = false): Promise<Buffer | undefined> {
  const read = await readConfigFile(path, MAX_AGENT_FILE_BYTES);
  if (read.ok) return read.bytes;
  if (read.missing && !required) return undefined;
  throw new QmError('io', `cannot read: ${read.reason}`, { file: path }, { cause: read.cause });
}

export { errnoOf };

/** An io error about `path`: the path goes in the origin (printed before the message), not into the message again. */
export function ioError(error: unknown, path: string, what: string): QmError {
  return new QmError('io', `${what}: ${errnoReason(error)}`, { file: path }, { cause: error });
}

export interface WriteResult {
  /** Where the replaced file was kept, when there was one. */
  readonly previous?: string;
}

/** `path` + `.prev`: the version before the last write. bluechi-agent reads neither name pattern. */
export const previousPath = (path: string) => `${path}.prev`;

/**
 * Replaces `path` with `content` so that a reader sees the old or the new file, never a mix, and a
 * crash leaves one of them on disk. The old file is kept as `path.prev`. On failure `path` is untouched.
 */
export async function writeFileAtomically(path: string, content: string, options: { keepPrevious?: boolean } = {}): Promise<WriteResult> {
  const dir = dirname(path);
  let mode = 0o644;
  let existing = false;
  try {
    const stat = await fs.stat(path);
    if (!stat.isFile()) throw new QmError('io', 'exists and is not a regular file; not replacing it', { file: path });
    mode = stat.mode & 0o7777;
    existing = true;
  } catch (error) {
    if (error instanceof QmError) throw error;
    if (errnoOf(error) !== 'ENOENT') throw ioError(error, path, 'cannot inspect');
  }

  const temp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const temps = [temp];
  try {
    await writeAndSync(temp, content, mode);
    let previous: string | undefined;
    if (existing && options.keepPrevious !== false) {
      previous = previousPath(path);
      const previousTemp = `${temp}.prev`;
      temps.push(previousTemp);
      await fs.copyFile(path, previousTemp, constants.COPYFILE_EXCL);
      await syncFile(previousTemp);
      await fs.rename(previousTemp, previous);
    }
    await fs.rename(temp, path);
    await syncFile(dir);
    return previous === undefined ? {} : { previous };
  } catch (error) {
    await Promise.all(temps.map((file) => fs.rm(file, { force: true }).catch(() => undefined)));
    if (error instanceof QmError) throw error;
    throw ioError(error, path, 'cannot write');
  }
}

async function writeAndSync(path: string, content: string, mode: number): Promise<void> {
  const handle = await fs.open(path, 'wx', mode);
  try {
    await handle.writeFile(content, 'utf8');
    await handle.chmod(mode);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function syncFile(path: string): Promise<void> {
  const handle = await fs.open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
