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
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: 'linked',
  // dbus-next's optional transports for X11 and abstract sockets are never used here.
  external: ['x11', 'usocket'],
  banner: {
    js: "#!/usr/bin/env node\nimport { createRequire as __qmCreateRequire } from 'node:module';\nconst require = __qmCreateRequire(import.meta.url);",
  },
  logLevel: 'warning',
});
await chmod(outfile, 0o755);
