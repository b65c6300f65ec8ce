import { pino, type Logger, type LoggerOptions, type DestinationStream } from 'pino';

export type { Logger } from 'pino';

/** Log levels accepted by `--log-level`. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const REDACTED = '[REDACTED]';

/**
 * Paths pino blanks wherever they appear (one level of nesting is covered by the `*.` forms):
 * passwords, CHAP secrets, CSI secrets maps and WSAPI session keys.
 */
export const REDACT_PATHS = [
  'password',
  '*.password',
  '*.*.password',
  'secrets',
  '*.secrets',
  '*.*.secrets',
  'chapSecret',
  '*.chapSecret',
  'chapPassword',
  '*.chapPassword',
  'chap.secret',
  '*.chap.secret',
  'key',
  '*.key',
  'sessionKey',
  '*.sessionKey',
  'headers["x-hp3par-wsapi-sessionkey"]',
  '*.headers["x-hp3par-wsapi-sessionkey"]',
];

/** Keys whose values never leave the process in a log line, at any depth (see redactDeep). */
const SECRET_KEY =
  /^(secrets?|password|passwd|chapSecret|chapPassword|chap_secret|sessionKey|key|authorization|x-hp3par-wsapi-sessionkey)$/i;

/**
 * Returns a copy of `value` with every secret-bearing key replaced, at any depth. Used for the
 * request objects logged per RPC, whose secrets maps can hold anything a class author put there.
 */
export function redactDeep(value: unknown, depth = 0): unknown {
  if (depth > 12 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => redactDeep(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    out[k] = SECRET_KEY.test(k)
      ? v && typeof v === 'object' && Object.keys(v).length === 0
        ? v
        : REDACTED
      : redactDeep(v, depth + 1);
  }
  return out;
}

export interface LoggerConfig {
  level?: LogLevel;
  /** Human-readable output; default: when stdout is a terminal. */
  pretty?: boolean;
  /** Where lines go (tests capture them); default stdout. */
  destination?: DestinationStream;
  name?: string;
}

/** The one root logger of a process; everything else is a child of it. */
export function createLogger(config: LoggerConfig = {}): Logger {
  const options: LoggerOptions = {
    level: config.level ?? 'info',
    redact: { paths: REDACT_PATHS, censor: REDACTED },
    base: config.name ? { name: config.name } : undefined,
  };
  // JSON lines carry the level's name ("level":"warn"), which log collectors and people read
  // without pino's numbers; pino-pretty formats the numbers itself.
  const json: LoggerOptions = { ...options, formatters: { level: (label) => ({ level: label }) } };
  if (config.destination) return pino(json, config.destination);
  const pretty = config.pretty ?? process.stdout.isTTY === true;
  if (pretty) {
    return pino({
      ...options,
      transport: {
        target: 'pino-pretty',
        options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' },
      },
    });
  }
  return pino(json);
}

/** A logger that drops everything (library defaults, tests that do not look at logs). */
export const silentLogger: Logger = pino({ level: 'silent' });
