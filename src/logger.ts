/**
 * Structured logs (pino) on stderr, so stdout stays free for command output such as
 * `foreman run`'s JSON summary. Secrets are redacted by key name; values never come from the env.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

/** Creates the process logger. Level from `FOREMAN_LOG_LEVEL` (Default: `info`). */
export function createLogger(env: NodeJS.ProcessEnv = process.env): Logger {
  return pino(
    {
      level: env.FOREMAN_LOG_LEVEL ?? 'info',
      base: { service: 'foreman' },
      redact: {
        paths: ['apiKey', 'api_key', '*.apiKey', '*.api_key', 'token', '*.token', 'authorization', '*.authorization'],
        censor: '[redacted]',
      },
    },
    pino.destination(2),
  );
}

/** A logger that drops everything (tests, library use). */
export const silentLogger: Logger = pino({ level: 'silent' });
