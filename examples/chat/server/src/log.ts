/**
 * Structured logger: one JSON object per line. It only accepts short scalar fields, so a payload,
 * a key or a token cannot end up in the log by accident: byte arrays are not accepted by the types,
 * and at run time any value that is not a number, a boolean, null or a short string is replaced by a
 * marker. Strings are capped at 64 characters (a base64 key or ciphertext is longer than that).
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogValue = string | number | boolean | null;
export type LogFields = Readonly<Record<string, LogValue | undefined>>;

export interface Logger {
  debug(event: string, fields?: LogFields): void;
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
}

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
export const MAX_LOG_STRING = 64;

export interface LoggerOptions {
  /** Where lines go (default: process.stderr). */
  write?: (line: string) => void;
  /** Lowest level written (default: info). */
  level?: LogLevel;
  /** Clock for the `t` field (default: Date.now). */
  now?: () => number;
}

function safeValue(value: unknown): LogValue {
  if (value === null || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'string') {
    return value.length <= MAX_LOG_STRING ? value : `[string of ${value.length} chars]`;
  }
  return '[omitted]';
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const min = LEVELS[options.level ?? 'info'];
  const now = options.now ?? Date.now;
  const emit = (level: LogLevel, event: string, fields?: LogFields) => {
    if (LEVELS[level] < min) return;
    const record: Record<string, LogValue> = { t: now(), level, event: String(safeValue(event)) };
    if (fields) {
      for (const [k, v] of Object.entries(fields)) {
        if (v === undefined || k === 't' || k === 'level' || k === 'event') continue;
        record[k.slice(0, MAX_LOG_STRING)] = safeValue(v);
      }
    }
    write(`${JSON.stringify(record)}\n`);
  };
  return {
    debug: (e, f) => emit('debug', e, f),
    info: (e, f) => emit('info', e, f),
    warn: (e, f) => emit('warn', e, f),
    error: (e, f) => emit('error', e, f),
  };
}

/** A logger that drops everything (tests that do not read the log). */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
