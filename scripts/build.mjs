// Bundles qmctl into one executable file, dist/qmctl.mjs, so an installed system needs only node.
import { build } from 'esbuild';
import { chmod } from 'node:fs/promises';

const outfile = 'dist/qmctl.mjs';
await build({
  entryPoints: ['controller/cli/qmctl.ts'],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // Start-up is dominated by parsing this file: the smaller, the faster `qmctl` answers.
  minify: true,
  keepNames: true,
  legalComments: 'linked',
  // dbus-next's optional transports for X11 and abstract sockets are never used here.
  external: ['x11', 'usocket'],
  // rxjs' ES module build, so it is tree-shaken to the operators used (its exports map sends node to CommonJS).
  alias: { rxjs: './node_modules/rxjs/dist/esm/index.js' },
  banner: {
    js: "#!/usr/bin/env node\nimport { createRequire as __qmCreateRequire } from 'node:module';\nconst require = __qmCreateRequire(import.meta.url);",
  },
  logLevel: 'warning',
});
await chmod(outfile, 0o755);
