/**
 * Sending work back from the tracker (docs/architecture.md, "Sending work back"): a human moved a
 * handed-over issue back to an active state. The comments since the hand-over from people who may
 * steer it (specs/trust.md) become the implementer's next turn, and the round runs on the same
 * branch (and pull request) in the same conversation. Two ways in: the run still waits on its pull
 * request (`reworkRequested` from reconciliation), or the run had ended and the dispatcher started a
 * new one with `reworkOf` naming it.
 */
import type { ReworkRequested } from '../definitions.js';
import type { ReworkRequest } from '../../src/dispatch/rework.js';
import { boot } from './activities.js';
import { logEvent } from './lifecycle.js';
import type { Run } from './run.js';
import { recordIgnoredComment } from './state.js';
import { step } from './step.js';
import { reworkTurn } from './texts.js';

/**
 * A send-back while the run waits on its pull request: reads the issue and the comments since the
 * hand-over. Returns the implementer's turn, or null when the issue is not in an active state when
 * read (a report that raced the hand-over, or a move already undone).
 */
export async function reworkInRun(run: Run, _signal: ReworkRequested): Promise<string | null> {
  const since = new Date(run.state.handedOverAt ?? run.state.startedAt).toISOString();
  const req = await step(run, 'read the rework request', () =>
    run.acts.tracker.readReworkRequest({ issueId: run.input.issueId, since }),
  );
  if (!req.active) return null;
  // A run from before hand-over times were kept reads since its start: answers are not requests.
  const comments = req.comments.filter((c) => !run.state.answeredCommentIds.includes(c.commentId));
  return begin(run, { ...req, comments }, (run.state.rework?.round ?? 0) + 1, null);
}

/**
 * The start of a run the dispatcher started as a rework (`reworkOf`): finds the run that handed
 * over, continues its conversation, and reads the comments since it ended. Returns the
 * implementer's first turn, or null when that run did not hand over (the run starts fresh).
 */
export async function reworkOnStart(run: Run): Promise<string | null> {
  const of = run.input.reworkOf;
  if (!of) return null;
  const prev = await step(run, 'find the run that handed over', () =>
    boot.previousHandOver({ workflowId: run.workflowId, runId: of.runId }),
  );
  if (!prev) return null;
  run.state.conversationRunId = prev.conversationRunId;
  const req = await step(run, 'read the rework request', () =>
    run.acts.tracker.readReworkRequest({ issueId: run.input.issueId, since: prev.closedAt }),
  );
  return begin(run, req, prev.round + 1, prev.runId);
}

/** Records the round (evidence, summary), lists the comments not taken in the status, returns the turn. */
function begin(run: Run, req: ReworkRequest, round: number, previousRunId: string | null): string {
  for (const c of req.ignored) recordIgnoredComment(run.state, c);
  const rework = { round, state: req.state, comments: req.comments, ignored: req.ignored, previousRunId };
  run.state.rework = rework;
  logEvent(run, 'rework requested', {
    round,
    state: req.state,
    comments: req.comments.length,
    ignored: req.ignored.length,
  });
  return reworkTurn(rework);
}
