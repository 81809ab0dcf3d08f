// The qm-bluechi-gate executable: dist/qm-bluechi-gate.cjs.
import { main } from './main.ts';

// No top-level await: the executable is CommonJS (scripts/build.mjs).
void main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
