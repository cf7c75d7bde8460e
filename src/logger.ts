/**
 * Structured logs (pino) on stderr, so stdout stays free for command output such as
 * `foreman run`'s JSON summary. Every log line passes through the redactor (src/redact.ts): the
 * message and every string field (errors included) lose secret values and token shapes; fields
 * named like credentials are censored outright.
 */
import { pino, type DestinationStream, type Logger } from 'pino';
import { redact, redactDeep } from './redact.js';

export type { Logger };

/** Redacts an error the way pino's standard serializer shows it (message, stack, cause). */
function redactedError(err: unknown): unknown {
  // The serializer's result has its own prototype: copy it to plain JSON so redactDeep walks it.
  return redactDeep(JSON.parse(JSON.stringify(pino.stdSerializers.err(err as Error))) as unknown);
}

/**
 * Creates the process logger. Level from `FOREMAN_LOG_LEVEL` (Default: `info`).
 * @param destination Where lines go. (Default: stderr)
 */
export function createLogger(env: NodeJS.ProcessEnv = process.env, destination?: DestinationStream): Logger {
  return pino(
    {
      level: env.FOREMAN_LOG_LEVEL ?? 'info',
      base: { service: 'foreman' },
      redact: {
        paths: ['apiKey', 'api_key', '*.apiKey', '*.api_key', 'token', '*.token', 'authorization', '*.authorization'],
        censor: '[redacted]',
      },
      serializers: { err: redactedError, error: redactedError },
      formatters: { log: (obj) => redactDeep(obj) },
      hooks: {
        logMethod(args, method) {
          const redacted: unknown[] = args.map((a: unknown) => (typeof a === 'string' ? redact(a) : a));
          // `log.error(err)` takes its message from the error: give it the redacted one instead.
          if (redacted.length === 1 && redacted[0] instanceof Error) redacted.push(redact(redacted[0].message));
          return method.apply(this, redacted as Parameters<typeof method>);
        },
      },
    },
    destination ?? pino.destination(2),
  );
}

/** A logger that drops everything (tests, library use). */
export const silentLogger: Logger = pino({ level: 'silent' });
