// The qm-controller executable: dist/qm-controller.mjs.
import { main } from './main.ts';

process.exitCode = await main(process.argv.slice(2));
