/**
 * Escalation I/O must get through (docs/architecture.md, "Glossary": escalation): the comments that
 * ask, remind and answer are retried until they are posted, and a state move that the tracker
 * refuses (e.g. an issue file whose front matter was broken mid-run) is set aside with a warning.
 * Neither ever ends the run as a failed workflow; cancellation (a stop) passes through.
 */
import { isCancellation, log, sleep } from '@temporalio/workflow';
import { describeFailure, retryBackoffMs } from './failure.js';
import { publishView } from './publish.js';
import type { Run } from './run.js';

/**
 * Runs a comment write of the escalation path until it succeeds. The activity already retries
 * transient errors without limit; a permanent one (the tracker refused it) is tried again with
 * the run's backoff (`retry.initialIntervalMs` doubling up to `retry.maximumIntervalMs`), shown
 * in the status as `retrying` with the error, so a human who fixes the cause sees it go through.
 */
export async function mustPost<T>(run: Run, what: string, post: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      const done = await post();
      if (attempt > 1) run.state.retrying = null;
      return done;
    } catch (err) {
      if (isCancellation(err)) throw err;
      const error = describeFailure(err);
      const waitMs = retryBackoffMs(run.settings.retry, attempt);
      run.state.lastError = `${what}: ${error}`;
      run.state.retrying = { step: what, attempt, error, nextAttemptAt: new Date(Date.now() + waitMs).toISOString() };
      log.warn('escalation I/O failed; trying again', { issue: run.input.identifier, what, error });
      publishView(run.state);
      await sleep(waitMs);
    }
  }
}

/**
 * Moves the issue to `state` as part of escalating (asked, parked, answered, stopped). A move the
 * tracker refuses is logged and kept as the run's `lastError`; the escalation goes on without it
 * (the comment is what asks the human).
 */
export async function moveBestEffort(run: Run, state: string | null | undefined): Promise<void> {
  if (!state) return;
  try {
    await run.acts.notify.moveIssue({ issueId: run.input.issueId, state });
  } catch (err) {
    if (isCancellation(err)) throw err;
    const error = describeFailure(err);
    run.state.lastError = `move the issue to "${state}": ${error}`;
    log.warn('could not move the issue while escalating; going on', { issue: run.input.identifier, state, error });
  }
}
