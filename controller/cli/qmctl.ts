// The qmctl executable.
import { INTERRUPTED } from './interrupt.ts';
import { runCli } from './main.ts';

const code = await runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env });
// Interrupted while waiting: what it waited for goes on without us, and no timer of that wait may hold the exit.
if (code === INTERRUPTED) process.exit(code);
process.exitCode = code;
