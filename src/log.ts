/**
 * The daemon's logger: pino on stdout, one line per state change with its
 * reason. Passwords never reach a log line: config secrets print as
 * "<redacted>" (config/secret.ts) and pino additionally censors any field
 * named password or key wherever it appears.
 *
 * `logging.level` and `logging.format` come from the config, which is read
 * after the logger exists, so both can change on a live logger: the level
 * through pino's own setter, the format through `LogOutput`, the stream pino
 * writes to. `json` passes pino's lines through; `pretty` rewrites each into
 * "TIME LEVEL message key=value ..." for a terminal. HERALD_LOG_LEVEL, when
 * set, overrides `logging.level` (docs/configuration.md#logging).
 */
import { pino, type Logger as PinoLogger } from 'pino';

export type Logger = PinoLogger;
export type LogFormat = 'json' | 'pretty';

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const LEVELS = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']);

/** Tell whether `s` is a level name pino knows ("silent" included). */
export function isLogLevel(s: string): boolean {
  return LEVELS.has(s);
}

/** The stream pino writes to: JSON lines through, or rewritten for people. */
export class LogOutput {
  format: LogFormat = 'json';
  constructor(private readonly dest: NodeJS.WritableStream) {}

  /** pino's destination interface: one complete JSON line per call. */
  write(line: string): void {
    this.dest.write(this.format === 'json' ? line : prettyLine(line));
  }
}

/** Rewrite one pino JSON line as "2024-05-01T10:00:00.000Z WARN  message key=value …". */
export function prettyLine(line: string): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const { time, level, msg, app: _app, pid: _pid, hostname: _host, ...rest } = o;
  const name = LEVEL_NAMES[level as number] ?? String(level);
  const fields = Object.entries(rest).map(([k, v]) => `${k}=${typeof v === 'string' && /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v)}`);
  return `${String(time ?? '')} ${name.padEnd(5)} ${String(msg ?? '')}${fields.length ? ` ${fields.join(' ')}` : ''}\n`;
}

/** Make the daemon's logger writing to `dest` (JSON until told otherwise). */
export function makeLogger(level = 'info', dest: NodeJS.WritableStream | LogOutput = process.stdout): Logger {
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
