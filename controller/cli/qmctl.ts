// The qmctl executable.
import { INTERRUPTED } from './interrupt.ts';
import { runCli } from './main.ts';

/** 128 + SIGPIPE: what a shell reports for a tool whose reader went away (Node ignores SIGPIPE, so it is said here). */
const BROKEN_PIPE = 141;

// `qmctl list-units | head -1`: once the reader is gone, end quietly, as a C tool ended by SIGPIPE does.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    process.exit(BROKEN_PIPE);
  });
}

// No top-level await: the executable is CommonJS (scripts/build.mjs).
void runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env }).then((code) => {
  // Interrupted while waiting: what it waited for goes on without us, and no timer of that wait may hold the exit.
  if (code === INTERRUPTED) process.exit(code);
  process.exitCode = code;
});
