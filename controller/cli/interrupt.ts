// An interrupted qmctl command: exit 130 (128 + SIGINT, as shells report it), saying what goes on without it.
import type { Writable } from 'node:stream';

export const INTERRUPTED = 130;

export function reportInterrupted(stderr: Writable, command: string, goesOn: string): number {
  stderr.write(`qmctl ${command}: interrupted${goesOn ? `. ${goesOn}` : ''}\n`);
  return INTERRUPTED;
}
