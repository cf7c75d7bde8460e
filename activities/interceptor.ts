/**
 * Foreman's errors onto Temporal's retry contract, once for every activity: a `ForemanError`
 * becomes an `ApplicationFailure` whose `type` is the class name and whose `details[0]` is the
 * stable `code` (and, for a ModelError that saw rate-limit headers, `details[1]` is
 * `{ rateLimits }`), non-retryable when the error says a retry cannot help (`retryable: false`).
 * Anything else passes through and is retried under the workflow's retry policy.
 */
import { ApplicationFailure, CancelledFailure } from '@temporalio/activity';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { ForemanError, ModelError } from '../src/errors.js';
import { observeActivityFailure } from '../src/metrics/operational.js';

/** The failure Temporal should see for `err` (see the module header). */
export function toFailure(err: unknown): unknown {
  if (err instanceof ForemanError) {
    return ApplicationFailure.create({
      message: err.message,
      type: err.name,
      nonRetryable: !err.retryable,
      details: [err.code, ...(err instanceof ModelError && err.rateLimits ? [{ rateLimits: err.rateLimits }] : [])],
      // Temporal's next retry waits what the other side asked for (`retry-after`), not the backoff.
      ...(err.retryAfterMs !== undefined ? { nextRetryDelay: err.retryAfterMs } : {}),
      cause: err,
    });
  }
  return err;
}

/** The worker's activity interceptor (src/temporal/worker.ts registers it); each failed attempt is counted (specs/metrics.md). */
export const failureInterceptor: ActivityInterceptorsFactory = (ctx) => ({
  inbound: {
    async execute(input, next) {
      try {
        return await next(input);
      } catch (err) {
        const code = err instanceof ForemanError ? err.code : err instanceof CancelledFailure ? 'cancelled' : 'other';
        observeActivityFailure(ctx.info.activityType, code);
        throw toFailure(err);
      }
    },
  },
});
