/**
 * Structured logs (pino) on stderr, so stdout stays free for command output such as
 * `foreman run`'s JSON summary. Every log line passes through the redactor (src/redact.ts): the
 * message and every string field (errors included) lose secret values and token shapes; fields
 * named like credentials are censored outright. Lines are JSON, one object a line, unless a person
 * reads them: on a terminal they are pretty-printed by pino-pretty (`FOREMAN_LOG_FORMAT` overrides).
 */
import { pino, type DestinationStream, type Logger } from 'pino';
import { PinoPretty } from 'pino-pretty';
import { redact, redactDeep } from './redact.js';

export type { Logger };

/** How log lines are written: `json` (one object a line, for machines) or `pretty` (for people). */
export type LogFormat = 'json' | 'pretty';

/**
 * The log format: `FOREMAN_LOG_FORMAT` (`json` or `pretty`, any case) when set, else `pretty` when
 * the lines go to a terminal (`isTTY`), else `json`. An unknown value falls back to that choice,
 * with a warning to log (nothing is lost, and a typo does not stop the daemon).
 */
export function logFormat(env: NodeJS.ProcessEnv, isTTY: boolean): { format: LogFormat; warning: string | null } {
  const auto: LogFormat = isTTY ? 'pretty' : 'json';
  const set = env.FOREMAN_LOG_FORMAT?.trim().toLowerCase();
  if (!set) return { format: auto, warning: null };
  if (set === 'json' || set === 'pretty') return { format: set, warning: null };
  return {
    format: auto,
    warning: `FOREMAN_LOG_FORMAT must be "json" or "pretty", not "${env.FOREMAN_LOG_FORMAT}"; writing ${auto}.`,
  };
}

/** Redacts an error the way pino's standard serializer shows it (message, stack, cause). */
function redactedError(err: unknown): unknown {
  // The serializer's result has its own prototype: copy it to plain JSON so redactDeep walks it.
  return redactDeep(JSON.parse(JSON.stringify(pino.stdSerializers.err(err as Error))) as unknown);
}

/**
 * Creates the process logger. Level from `FOREMAN_LOG_LEVEL` (Default: `info`); format from
 * {@link logFormat} (pretty lines are redacted the same way: the redactor runs before formatting).
 * @param destination Where lines go. (Default: stderr)
 * @param isTTY Whether a person reads `destination`. (Default: stderr's `isTTY` for stderr, else false)
 */
export function createLogger(
  env: NodeJS.ProcessEnv = process.env,
  destination?: DestinationStream,
  isTTY: boolean = destination === undefined && process.stderr.isTTY === true,
): Logger {
  const { format, warning } = logFormat(env, isTTY);
  const out = destination ?? pino.destination(2);
  const log = pino(
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
    format === 'pretty' ? prettyStream(out, isTTY) : out,
  );
  if (warning) log.warn(warning);
  return log;
}

/** pino-pretty over `out`: one line per entry (key fields after the message), local time, colour on a terminal. */
function prettyStream(out: DestinationStream, colorize: boolean): DestinationStream {
  return PinoPretty({
    destination: out,
    sync: true,
    colorize,
    singleLine: true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,service',
  });
}

/** A logger that drops everything (tests, library use). */
export const silentLogger: Logger = pino({ level: 'silent' });
