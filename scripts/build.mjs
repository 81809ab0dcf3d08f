// Bundles qmctl and qm-controller into one executable file each, dist/qmctl.mjs and dist/qm-controller.mjs,
// so an installed system needs only node.
//
// Start-up is dominated by V8 compiling this file. The large third-party packages (dbus-next,
// winston, yaml and what they pull in) are needed only by the commands that use them, so they are
// bundled apart and embedded compressed, as a string: a short string literal costs next to nothing
// to scan, and it is unpacked and compiled the first time a command imports one of them.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { chmod } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { brotliCompressSync } from 'node:zlib';

// The manual pages (dist/man) and shell completion (dist/completion), from the commands' own help and option tables.
// `--docs-only` makes just those (make man). The help is TypeScript, so it is read through tsx, outside the bundles.
const docs = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/gen-docs.ts', 'dist'], { stdio: 'inherit' });
if (docs.error || docs.status !== 0) {
  console.error(`build: generating the manual pages and completion failed${docs.error ? ` (${docs.error.message})` : ''}`);
  process.exit(1);
}
if (process.argv.includes('--docs-only')) process.exit(0);

const lazyPackages = ['dbus-next', 'winston', 'yaml'];
const require = createRequire(import.meta.url);

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  minify: true,
  keepNames: true,
  // Licence notices of bundled packages stay in the file that ships them.
  legalComments: 'eof',
  // dbus-next's optional transports for X11 and abstract sockets are never used here.
  external: ['x11', 'usocket'],
  logLevel: 'warning',
};

// 1. The lazily compiled dependencies: one CommonJS bundle exporting each package by name.
const dependencies = await build({
  ...common,
  stdin: {
    contents: `module.exports = { ${lazyPackages.map((name) => `${JSON.stringify(name)}: require(${JSON.stringify(name)})`).join(', ')} };`,
    resolveDir: process.cwd(),
    loader: 'js',
  },
  format: 'cjs',
  write: false,
});
const dependencySource = dependencies.outputFiles[0].text;

// 2. qmctl itself; imports of the lazy packages resolve to stubs that load them on first use.
const lazyDependencies = {
  name: 'lazy-dependencies',
  setup(plugin) {
    const filter = new RegExp(`^(${lazyPackages.map((name) => name.replace(/[.-]/g, '\\$&')).join('|')})$`);
    plugin.onResolve({ filter }, ({ path }) => ({ path, namespace: 'lazy-dependency' }));
    plugin.onResolve({ filter: /^qm-lazy-dependencies$/ }, ({ path }) => ({ path, namespace: 'lazy-dependency' }));
    plugin.onLoad({ filter: /.*/, namespace: 'lazy-dependency' }, ({ path }) => {
      if (path === 'qm-lazy-dependencies') {
        return {
          loader: 'js',
          // Builtins are required on first use too: loading node:vm or node:zlib costs start-up time.
          contents: `import { createRequire } from 'node:module';
const packed = ${JSON.stringify(brotliCompressSync(dependencySource).toString('base64'))};
let loaded;
export function dependency(name) {
  if (!loaded) {
    const require = createRequire(import.meta.url);
    const source = require('node:zlib').brotliDecompressSync(Buffer.from(packed, 'base64')).toString();
    const module = { exports: {} };
    require('node:vm').runInThisContext('(function (module, exports, require) {' + source + '\\n})', { filename: 'qmctl-dependencies.cjs' })(module, module.exports, require);
    loaded = module.exports;
  }
  return loaded[name];
}`,
        };
      }
      const names = Object.keys(require(path)).filter((name) => /^[A-Za-z_$][\w$]*$/.test(name) && name !== 'default');
      return {
        loader: 'js',
        resolveDir: process.cwd(),
        // `export { x as interface }`: export names may be reserved words, bindings may not.
        contents: `import { dependency } from 'qm-lazy-dependencies';
const module = dependency(${JSON.stringify(path)});
export default module;
${names.map((name, index) => `const e${index} = module[${JSON.stringify(name)}];`).join('\n')}
export { ${names.map((name, index) => `e${index} as ${name}`).join(', ')} };`,
      };
    });
  },
};

// qm-controller and qm-bluechi-gate are files of their own rather than qmctl subcommands: the daemons' code stays
// out of the file every qmctl start-up compiles, and systemd's ExecStart names what it runs.
for (const [entry, outfile] of [
  ['controller/cli/qmctl.ts', 'dist/qmctl.mjs'],
  ['controller/daemon/qm-controller.ts', 'dist/qm-controller.mjs'],
  ['controller/bluechi-gate/qm-bluechi-gate.ts', 'dist/qm-bluechi-gate.mjs'],
]) {
await build({
  ...common,
  entryPoints: [entry],
  outfile,
  format: 'esm',
  // rxjs' ES module build, so it is tree-shaken to the operators used (its exports map sends node to CommonJS).
  alias: { rxjs: './node_modules/rxjs/dist/esm/index.js' },
  plugins: [lazyDependencies],
  banner: {
    js: "#!/usr/bin/env node\nimport { createRequire as __qmCreateRequire } from 'node:module';\nconst require = __qmCreateRequire(import.meta.url);",
  },
});
await chmod(outfile, 0o755);
}

// qm-probe: the static C program `qmctl check` copies into QM and runs there and in a nested container whose root
// holds nothing else (check/qm-probe.c). Its compile line is the Makefile's (dist/qm-probe), which packages build too.
const probe = spawnSync('make', ['--no-print-directory', '-s', 'dist/qm-probe'], { stdio: 'inherit' });
if (probe.error || probe.status !== 0) {
  console.error(`build: compiling check/qm-probe.c failed${probe.error ? ` (${probe.error.message})` : ''}; make, gcc and libc6-dev are needed: bash scripts/install-deps.sh`);
  process.exit(1);
}
