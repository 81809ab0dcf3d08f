// The qmctl executable.
import { INTERRUPTED } from './interrupt.ts';
import { runCli } from './main.ts';

/** 128 + SIGPIPE: what a shell reports for a tool whose reader went away (Node ignores SIGPIPE, so it is said here). */
const BROKEN_PIPE = 141;

// `qmctl list-units | head -1`: once the reader is gone, end quietly, as a C tool ended by SIGPIPE does.
function endOnBrokenPipe(stream: NodeJS.WriteStream): NodeJS.WriteStream {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    process.exit(BROKEN_PIPE);
  });
  return stream;
}
const stdout = endOnBrokenPipe(process.stdout);
// Node makes process.stderr on first use, which for a pipe costs 1-2 ms of start-up; most runs never write to it.
let stderr: NodeJS.WriteStream | undefined;
const io = {
  stdout,
  get stderr(): NodeJS.WriteStream {
    return (stderr ??= endOnBrokenPipe(process.stderr));
  },
  env: process.env,
};

// No top-level await: the executable is CommonJS (scripts/build.mjs).
// The command is done, its output written (stdout and stderr are synchronous on Linux, and what a command gathers it
// writes before returning): exit once stdout's writes have ended, so an EPIPE among them is reported (141 above). Waiting for the event loop to
// drain only waited for the bus to close its side of the connection and for the garbage collector's idle-time work,
// 3-10 ms of every run. Interrupted, it exits at once: what the command waited for goes on without us, and nothing
// it still had in hand (a call the closed connection ended) may print.
void runCli(process.argv.slice(2), io).then((code) => {
  if (code === INTERRUPTED) process.exit(code);
  stdout.write('', (error) => error || process.exit(code));
});
