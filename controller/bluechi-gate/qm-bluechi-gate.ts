// The qm-bluechi-gate executable: dist/qm-bluechi-gate.mjs.
import { main } from './main.ts';

process.exitCode = await main(process.argv.slice(2));
