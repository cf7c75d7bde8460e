/**
 * A step of a run: one activity call that, when it fails for good, becomes an escalation
 * (./escalation.ts) and is tried again once answered. A transient outage is first ridden out with
 * backoff for `retry.outageMs`; an outage escalation resumes by itself once a probe call succeeds.
 * docs/architecture.md, "Glossary" (escalation); specs/escalations.md (answers).
 */
import { ActivityFailure, ApplicationFailure, isCancellation, sleep } from '@temporalio/workflow';
import type { ErrorCode } from '../../src/errors.js';
import { isWorkspaceLost, WorkspaceLost } from './affinity.js';
import { escalate, type EscalationAsk, type ProbeTarget } from './escalation.js';
import { describeFailure, rateLimitsOf, retryBackoffMs } from './failure.js';
import { logStep } from './lifecycle.js';
import { publishView } from './publish.js';
import type { Run } from './run.js';

/** Codes of outages that heal by themselves: ridden out for `retry.outageMs` before a human is asked. */
const OUTAGE_CODES: ReadonlyMap<string, ProbeTarget> = new Map<ErrorCode, ProbeTarget>([
  ['model_overloaded', 'model'],
  ['model_rate_limited', 'model'],
  ['model_unreachable', 'model'],
  ['model_stalled', 'model'],
  ['model_bad_response', 'model'],
  ['tracker_request_failed', 'tracker'],
  ['tracker_rate_limited', 'tracker'],
]);

/**
 * Runs an activity step; when it fails for good (non-retryable, or retries spent) the failure is
 * escalated with the options Retry and Stop (specs/escalations.md). Retry or free text tries the
 * step once more; Stop ends the run (thrown as a cancellation by `escalate`). When the step fails
 * again after an answer, the question is re-asked in the same thread (a short follow-up, not a
 * second full comment). A transient outage (OUTAGE_CODES) is first ridden out: the step is retried
 * with backoff for `retry.outageMs`, shown in the status as `retrying`; its escalation then probes
 * the failed service and retries by itself when the probe succeeds. Cancellation passes through.
 */
export async function step<T>(run: Run, name: string, fn: () => Promise<T>): Promise<T> {
  let outageSince: number | null = null;
  let thread: string | undefined;
  for (let attempt = 1; ; attempt++) {
    try {
      publishView(run.state); // the view is current whenever a step starts (./publish.ts)
      const result = await fn();
      run.state.retrying = null;
      logStep(run, name, result);
      return result;
    } catch (err) {
      if (isCancellation(err)) throw err;
      const cause = describeFailure(err);
      // The worker holding the workspace is gone: no retry or human helps here; the implement loop
      // re-creates the workspace and redoes its lap (./affinity.ts).
      if (isWorkspaceLost(err)) throw new WorkspaceLost(name, cause);
      run.state.lastError = `${name}: ${cause}`;
      run.state.rateLimits = rateLimitsOf(err) ?? run.state.rateLimits ?? null;
      outageSince ??= Date.now();
      const waitMs = outageWait(run, err, outageSince, attempt);
      if (waitMs !== null) {
        run.state.retrying = {
          step: name,
          attempt,
          error: cause,
          nextAttemptAt: new Date(Date.now() + waitMs).toISOString(),
        };
        publishView(run.state);
        await sleep(waitMs);
        continue;
      }
      run.state.retrying = null;
      const probe = outageOf(err);
      const asked = await escalate(run, failedStepAsk(name, cause, run.settings.retry.maximumAttempts), {
        ...(thread ? { thread } : {}),
        ...(probe ? { probe, step: name } : {}),
      });
      thread ??= asked.key;
      if (asked.parsed) outageSince = null; // an outage after the answer is ridden out afresh
    }
  }
}

/**
 * The question a step that failed for good asks: `name` of the step, `cause` (describeFailure),
 * `attempts` made. Options: 1 Retry (`/foreman retry`), 2 Stop (`/foreman stop`); specs/escalations.md.
 */
export function failedStepAsk(name: string, cause: string, attempts: number): EscalationAsk {
  return {
    kind: 'error',
    question: `The step "${name}" failed and retrying did not help: ${cause}. Fix the cause if it is outside the code (credentials, network, repository), then answer to retry.`,
    options: [
      { label: 'Retry the step', command: 'retry' },
      { label: 'Stop: end this run and move the issue to a terminal state', command: 'stop' },
    ],
    recommendation: 'Retry the step',
    tried: `Foreman ran "${name}" ${attempts} time(s) with backoff, or stopped at once because the error cannot heal by retrying.`,
  };
}

/** The service whose outage `err` is (its code is in OUTAGE_CODES), or null. */
function outageOf(err: unknown): ProbeTarget | null {
  const failure = err instanceof ActivityFailure ? err.cause : err;
  if (!(failure instanceof ApplicationFailure) || failure.nonRetryable) return null;
  return OUTAGE_CODES.get(String(failure.details?.[0] ?? '')) ?? null;
}

/**
 * How long to wait before the next try of a step that failed with a transient outage, ms; null
 * when it is no outage or the outage has lasted `retry.outageMs` (then a human is asked).
 */
function outageWait(run: Run, err: unknown, since: number, attempt: number): number | null {
  if (!outageOf(err)) return null;
  const left = run.settings.retry.outageMs - (Date.now() - since);
  if (left <= 0) return null;
  return Math.max(1, Math.min(retryBackoffMs(run.settings.retry, attempt), left));
}
