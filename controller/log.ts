// Logging through winston, to stderr only, so it never mixes into --json output on stdout.
import { fstatSync } from 'node:fs';
import type { Writable } from 'node:stream';
import winston from 'winston';

/** sd-daemon(3)'s priority prefixes, which journald reads from a service's stderr: `journalctl -p err` then works. */
const PRIORITIES: Readonly<Record<string, number>> = { error: 3, warn: 4, info: 6, debug: 7 };

export interface LoggerOptions {
  /** `stream` is the journal: each line starts with its `<N>` priority, and journald adds the time. */
  readonly journal?: boolean;
}

export function createLogger(level: string, stream: Writable, options: LoggerOptions = {}): winston.Logger {
  return winston.createLogger({
    level,
    format: winston.format.combine(
      winston.format.timestamp(),
      winston.format.printf(({ timestamp, level: lvl, message, ...meta }) => {
        const extra = Object.keys(meta).length > 0 ? ` ${JSON.stringify(meta)}` : '';
        const line = `${lvl}: ${String(message)}${extra}`;
        return options.journal ? `<${PRIORITIES[lvl] ?? 7}>${line}` : `${String(timestamp)} ${line}`;
      }),
    ),
    transports: [new winston.transports.Stream({ stream })],
  });
}

/**
 * Whether file descriptor `fd` (default stderr) is the journal: systemd sets JOURNAL_STREAM to its `device:inode`
 * for a service's output, and a process started from there but writing elsewhere (a terminal) must not match.
 */
export function isJournal(env: NodeJS.ProcessEnv, fd = 2): boolean {
  const expected = env.JOURNAL_STREAM;
  if (!expected) return false;
  try {
    const { dev, ino } = fstatSync(fd, { bigint: true });
    return expected === `${dev}:${ino}`;
  } catch {
    return false;
  }
}
