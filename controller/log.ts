// Logging through winston, to stderr only, so it never mixes into --json output on stdout.
import type { Writable } from 'node:stream';
import winston from 'winston';

export function createLogger(level: string, stream: Writable): winston.Logger {
  return winston.createLogger({
    level,
    format: winston.format.combine(
      winston.format.timestamp(),
      winston.format.printf(({ timestamp, level: lvl, message, ...meta }) => {
        const extra = Object.keys(meta).length > 0 ? ` ${JSON.stringify(meta)}` : '';
        return `${String(timestamp)} ${lvl}: ${String(message)}${extra}`;
      }),
    ),
    transports: [new winston.transports.Stream({ stream })],
  });
}
