/**
 * The daemon's logger: pino JSON lines on stdout, one per state change with
 * its reason. Passwords never reach a log line: config secrets print as
 * "<redacted>" (config/secret.ts) and pino additionally censors any field
 * named password or key wherever it appears.
 */
import { pino, type Logger as PinoLogger } from 'pino';

export type Logger = PinoLogger;

/** Make the daemon's logger. */
export function makeLogger(level = 'info', dest: NodeJS.WritableStream = process.stdout): Logger {
  return pino(
    {
      level,
      base: { app: 'herald' },
      redact: { paths: ['password', '*.password', 'key', '*.key', 'md5Key', '*.md5Key'], censor: '<redacted>' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    dest as pino.DestinationStream,
  );
}
