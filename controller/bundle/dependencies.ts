// How a bundled executable (scripts/build.mjs) loads the packages embedded in it: each package is a CommonJS bundle of
// its own, embedded compressed, and unpacked and compiled the first time a command imports it — so a command pays
// only for the packages it uses — from a V8 code cache when root has made one for it (code-cache.ts).
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { CODE_CACHE_DIR, readCodeCache, writeCodeCache } from './code-cache.ts';

/** One embedded package: its CommonJS bundle, brotli-compressed and base64-encoded, and the sha256 of the bundle. */
export interface PackedPackage {
  readonly packed: string;
  readonly sha256: string;
}

/**
 * `load(name)`: the exports of embedded package `name`, unpacked and run on the first call. Its code cache is
 * `program-name.v8` in `cacheDir`; when it is missing or V8 rejects it (another Node), root writes it on exit,
 * with the code compiled by then.
 */
export function packageLoader(
  program: string,
  packages: Readonly<Record<string, PackedPackage>>,
  cacheDir = process.env.QM_CODE_CACHE_DIR || CODE_CACHE_DIR,
): (name: string) => unknown {
  // Builtins are required on first use too: loading node:vm or node:zlib costs start-up time.
  const require = createRequire(import.meta.url);
  const loaded = new Map<string, unknown>();
  return (name) => {
    if (loaded.has(name)) return loaded.get(name);
    const embedded = packages[name];
    if (!embedded) throw new Error(`no package ${name} is embedded in this executable`);
    const { brotliDecompressSync } = require('node:zlib') as typeof import('node:zlib');
    const { Script } = require('node:vm') as typeof import('node:vm');
    const source = `(function (module, exports, require) {${brotliDecompressSync(Buffer.from(embedded.packed, 'base64')).toString()}\n})`;
    const cacheFile = join(cacheDir, `${program}-${name}.v8`);
    const cachedData = readCodeCache(cacheFile, embedded.sha256);
    const script = new Script(source, { filename: `${program}-${name}.cjs`, cachedData });
    if ((cachedData === undefined || script.cachedDataRejected) && process.geteuid?.() === 0) {
      process.once('exit', () => writeCodeCache(cacheFile, embedded.sha256, script.createCachedData()));
    }
    const module = { exports: {} };
    (script.runInThisContext() as (module: object, exports: object, require: NodeJS.Require) => void)(module, module.exports, require);
    loaded.set(name, module.exports);
    return module.exports;
  };
}
