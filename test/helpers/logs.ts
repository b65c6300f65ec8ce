/** Captures a pino logger's lines in memory, for tests that look at logs. */
import { createLogger, type Logger } from '../../src/log.js';

export interface CapturedLog {
  log: Logger;
  lines: () => string[];
  text: () => string;
}

export function captureLog(level: 'debug' | 'info' | 'trace' = 'debug'): CapturedLog {
  const chunks: string[] = [];
  const log = createLogger({ level, destination: { write: (msg: string) => void chunks.push(msg) } });
  return {
    log,
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter((l) => l !== ''),
    text: () => chunks.join(''),
  };
}
