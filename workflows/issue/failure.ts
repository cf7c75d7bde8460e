/** How an activity failure reads in a status line, an escalation and the log, and what it carries. */
import { ActivityFailure, ApplicationFailure } from '@temporalio/workflow';
import type { RateLimits } from '../../src/agents/rate-limits.js';
import type { RunSettings } from '../../src/config/run-settings.js';

/** A one-line reason from an activity failure: type, stable code (when Foreman gave one) and message, no trailing period. */
export function describeFailure(err: unknown): string {
  let e: unknown = err;
  if (e instanceof ActivityFailure && e.cause) e = e.cause;
  const text = (m: string) => m.trim().replace(/\.+$/, '');
  if (e instanceof ApplicationFailure) {
    const code = typeof e.details?.[0] === 'string' ? ` [${e.details[0]}]` : '';
    return `${e.type ?? 'Error'}${code}: ${text(e.message)}`;
  }
  if (e instanceof Error) return text(e.message);
  return String(e);
}

/** The rate limits a failed model call saw (activities/interceptor.ts puts them in `details[1]`); null: none. */
export function rateLimitsOf(err: unknown): RateLimits | null {
  const e = err instanceof ActivityFailure ? err.cause : err;
  if (!(e instanceof ApplicationFailure)) return null;
  const extra = e.details?.[1] as { rateLimits?: RateLimits } | undefined;
  return extra && typeof extra === 'object' && extra.rateLimits ? extra.rateLimits : null;
}

/**
 * The wait before try `attempt` + 1 of something the run retries itself (an outage step, an
 * escalation comment, an outage probe), ms: `retry.initialIntervalMs` doubling per attempt
 * (attempt 1 → the initial interval), capped at `retry.maximumIntervalMs`, at least 1.
 */
export function retryBackoffMs(retry: RunSettings['retry'], attempt: number): number {
  return Math.max(1, Math.min(retry.initialIntervalMs * 2 ** Math.min(attempt - 1, 10), retry.maximumIntervalMs));
}
