// The executable itself: a few lines that compile the program and the npm packages it uses, kept apart in
// NAME.parts (scripts/build.mjs), from V8 code caches when root has made them. Node reads and decodes a whole
// executable before it runs a line of it — several milliseconds for each 100 KB on these machines — and Node 20 keeps no
// code cache for the files it loads itself; here only the bytes a command uses are read, and compiled code read back.
// A package is compiled the first time the program imports it, so a command pays only for the packages it uses; of
// qmctl's program, a command compiles the part that holds it and a few commands like it.
import { closeSync, existsSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Script } from 'node:vm';
import { commandOf } from '../cli/command-line.ts';
import { CODE_CACHE_DIR, mayWriteCodeCaches, readCodeCache, writeCodeCache } from './code-cache.ts';

/**
 * Set by the build: the executable's name; its commands, each with the part of the program that holds it (each
 * command has a code cache of its own), none for the daemons; and its parts.
 */
declare const QM_PROGRAM: string;
declare const QM_COMMAND_PARTS: Readonly<Record<string, string>>;
/** Each part's place in NAME.parts and its sha256 (which names the source a code cache was made from). */
declare const QM_PARTS: Readonly<Record<string, { readonly start: number; readonly end: number; readonly sha256: string }>>;
/** NAME.parts' first line: which build made it. */
declare const QM_PARTS_HEADER: string;

/** The program's function: CommonJS' module arguments, the executable's URL for import.meta.url, and the package loader. */
type Program = (exports: object, require: NodeJS.Require, module: NodeJS.Module, filename: string, dirname: string, url: string, load: (name: string) => unknown) => void;
type CommonJs = (module: { exports: unknown }, exports: unknown, require: NodeJS.Require) => void;

// Beside the executable (dist/), or installed: /usr/bin/qmctl and /usr/libexec/qm-controller both find /usr/share/qm/.
const besideMe = join(__dirname, `${QM_PROGRAM}.parts`);
const partsFile = existsSync(besideMe) ? besideMe : join(__dirname, '..', 'share', 'qm', `${QM_PROGRAM}.parts`);
const cacheDir = process.env.QM_CODE_CACHE_DIR || CODE_CACHE_DIR;
let mayWrite: boolean | undefined;

/** The bytes of NAME.parts in each of `ranges`, read through one open. */
function read(...ranges: Array<readonly [start: number, end: number]>): Buffer[] {
  const fd = openSync(partsFile, 'r');
  try {
    return ranges.map(([start, end]) => {
      const bytes = Buffer.allocUnsafe(end - start);
      return bytes.subarray(0, readSync(fd, bytes, 0, bytes.length, start));
    });
  } finally {
    closeSync(fd);
  }
}

/**
 * Part `name` (its bytes, read here unless given) compiled, with `cacheName`.v8 as its code cache; root writes the
 * cache on exit when there was none to use.
 */
function compile(name: string, cacheName: string, bytes?: Buffer): unknown {
  const part = QM_PARTS[name]!;
  const cacheFile = join(cacheDir, `${cacheName}.v8`);
  const cachedData = readCodeCache(cacheFile, part.sha256);
  // The build made every part ASCII (esbuild escapes the rest), so latin1 decodes it exactly and fastest.
  const source = (bytes ?? read([part.start, part.end])[0]!).toString('latin1');
  const script = new Script(source, { filename: `${partsFile}:${name}`, cachedData });
  // Made at exit, so it holds all that this run compiled; not made at all where it could not be kept.
  if ((cachedData === undefined || script.cachedDataRejected) && (mayWrite ??= mayWriteCodeCaches(cacheDir))) {
    process.once('exit', () => writeCodeCache(cacheFile, part.sha256, script.createCachedData()));
  }
  return script.runInThisContext();
}

const packages = new Map<string, unknown>();
/** What a package requires: another package of NAME.parts (dbus-next's xml2js), or Node's own. */
const requireFromParts = Object.assign((id: string) => (Object.hasOwn(QM_PARTS, id) ? load(id) : module.require(id)), require);
function load(name: string): unknown {
  if (!packages.has(name)) {
    const module = { exports: {} };
    (compile(name, `${QM_PROGRAM}-${name}`) as CommonJs)(module, module.exports, requireFromParts);
    packages.set(name, module.exports);
  }
  return packages.get(name);
}

// The command run, found as qmctl finds it, chooses the part of the program to compile: the one that holds it, or the
// whole program (help, an unknown command, the daemons).
const command = commandOf(process.argv.slice(2));
const held = command !== undefined && Object.hasOwn(QM_COMMAND_PARTS, command);
const programPart = held ? QM_COMMAND_PARTS[command]! : 'program';
const program = QM_PARTS[programPart]!;
// The header, which names the build, and the program's part, through one open.
let programBytes: Buffer | undefined;
let header: string;
try {
  const [headerBytes, bytes] = read([0, QM_PARTS_HEADER.length], [program.start, program.end]);
  header = headerBytes!.toString('latin1');
  programBytes = bytes;
} catch (error) {
  header = (error as Error).message;
}
if (header !== QM_PARTS_HEADER) {
  process.stderr.write(`${QM_PROGRAM}: ${partsFile} is missing or was not built with ${__filename} (${JSON.stringify(header.slice(0, 80))}); install both from one build\n`);
  process.exit(1);
}
// A command's code cache holds what that command compiled, so each command reads only its own code back.
(compile(programPart, held ? `${QM_PROGRAM}.${command}` : QM_PROGRAM, programBytes) as Program)(module.exports, require, module, __filename, __dirname, pathToFileURL(__filename).href, load);
