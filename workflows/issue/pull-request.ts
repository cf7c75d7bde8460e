/**
 * Hand-over and after: the pull request is opened (or updated) with the evidence as its body, the
 * evidence is posted on the issue and the issue moves to review; then the run listens to the pull
 * request (webhook signals, durable). Changes requested or red CI start a rework round; merged →
 * issue done, workspace removed; closed unmerged → the run stops.
 */
import { condition } from '@temporalio/workflow';
import type { IssueRunSummary, PullRequestClosed } from '../definitions.js';
import type { WorkspaceInfo } from '../../src/workspace/workspace.js';
import { continueRun, shouldContinueAsNew } from './continue.js';
import { escalate } from './escalation.js';
import { publish, publishView } from './publish.js';
import { reworkInRun } from './rework.js';
import { step } from './step.js';
import { evidence, type Run } from './run.js';
import { answerTurn, ciFeedback, failingChecks, humanReviewFeedback, pullRequestClosedNotice } from './texts.js';
import { unlessLost } from './affinity.js';

/**
 * Opens or updates the pull request (none without a GitHub repository), posts the evidence on the
 * issue (edited in place), moves the issue to review. Returns the evidence comment.
 */
export async function handOver(run: Run, ws: WorkspaceInfo): Promise<IssueRunSummary['evidence']> {
  const { state, acts, input } = run;
  state.phase = 'reporting';
  publish(state);
  const opened = await step(run, 'open the pull request', () =>
    acts.scm.openPullRequest({ issue: run.issue, workspace: ws, evidence: evidence(run, ws, 'ready') }),
  );
  if (opened) {
    state.pr = opened;
    state.prState = 'open';
  }
  const packet = evidence(run, ws, 'ready');
  const posted = await step(run, 'post the evidence', () =>
    acts.tracker.postEvidence({ issueId: input.issueId, evidence: packet }),
  );
  await step(run, 'move the issue to review', () =>
    acts.tracker.moveIssue({ issueId: input.issueId, state: run.settings.reviewState }),
  );
  state.handedOverAt = Date.now(); // comments after this ask for rework (./rework.ts)
  (state.handOvers ??= []).push(Date.now());
  return posted;
}

/**
 * Listens to the pull request (and the tracker) until something needs work or it is closed:
 * returns the next implementer turn (a rework round: changes requested, red CI, or the issue moved
 * back to an active state, ./rework.ts), or null when the pull request was closed either way. Each lap
 * after the first may continue as new (./continue.ts), carrying `posted` (the evidence comment).
 */
export async function awaitPullRequest(run: Run, posted: IssueRunSummary['evidence']): Promise<string | null> {
  const { state, inbox } = run;
  const ws = state.workspace!;
  for (let lap = 0; ; lap++) {
    if (lap > 0 && shouldContinueAsNew(run)) await continueRun(run, { at: 'in_review', evidence: posted });
    state.phase = 'in_review';
    publish(state);
    publishView(state);
    await condition(
      () =>
        inbox.prReviews.length > 0 || inbox.prClosed !== null || inbox.ciEvents > inbox.seenCi || inbox.rework !== null,
    );
    if (inbox.prClosed) {
      await closed(run, inbox.prClosed);
      return null;
    }
    if (inbox.rework) {
      const sent = inbox.rework;
      inbox.rework = null;
      const next = await reworkInRun(run, sent);
      if (next !== null) return next;
      continue;
    }
    if (inbox.ciEvents > inbox.seenCi) {
      inbox.seenCi = inbox.ciEvents;
      const next = await ciRound(run, ws);
      if (next !== null) return next;
      continue;
    }
    const review = inbox.prReviews.shift()!;
    if (review.state === 'changes_requested') {
      const inline = await step(run, 'read the review comments', () =>
        run.acts.scm.pullRequestReviewComments({ workspace: ws, prNumber: review.prNumber }),
      );
      return humanReviewFeedback({ author: review.author, prNumber: review.prNumber, body: review.body, inline });
    }
  }
}

/** The pull request was closed: merged → issue done and workspace removed; either way a notice. */
async function closed(run: Run, pr: PullRequestClosed): Promise<void> {
  const { state, acts, input, settings: s } = run;
  state.prState = pr.merged ? 'merged' : 'closed';
  state.prClosedAt = Date.now();
  if (pr.merged) {
    await step(run, 'move the issue to done', () =>
      acts.tracker.moveIssue({ issueId: input.issueId, state: s.doneState }),
    );
    // Its worker gone, the workspace went with it (./affinity.ts).
    await unlessLost(run, 'remove the workspace', () =>
      acts.workspace.removeWorkspace({ identifier: input.identifier }),
    );
  }
  await acts.notify.postComment({
    issueId: input.issueId,
    key: `pr-closed-${run.runId}`,
    body: pullRequestClosedNotice({
      merged: pr.merged,
      prNumber: pr.prNumber,
      url: state.pr?.url ?? '',
      doneState: s.doneState,
    }),
  });
}

/**
 * Reads CI from the SCM API and shows it in the evidence (issue and PR body). Red CI → a rework
 * round, at most `scm.max_ci_rounds` times, then an escalation. Returns the next implementer turn,
 * or null to keep listening.
 */
async function ciRound(run: Run, ws: WorkspaceInfo): Promise<string | null> {
  const { state, acts, input, settings: s } = run;
  const result = await step(run, 'read CI', () => acts.scm.ciStatus({ workspace: ws }));
  if (result) {
    state.ci = result;
    const packet = evidence(run, ws, 'ready');
    await step(run, 'update the pull request', () =>
      acts.scm.openPullRequest({ issue: run.issue, workspace: ws, evidence: packet }),
    );
    await step(run, 'post the evidence', () => acts.tracker.postEvidence({ issueId: input.issueId, evidence: packet }));
  }
  if (state.ci?.state !== 'failure') return null;
  state.ciRounds++;
  const failing = failingChecks(state.ci);
  const text = ciFeedback(failing);
  if (state.ciRounds <= s.maxCiRounds) return text;
  const { reply } = await escalate(run, {
    kind: 'ci_failed',
    question: `CI still fails on the pull request after ${s.maxCiRounds} rework round(s): ${failing.map((c) => c.name).join(', ')}. How should the implementer proceed?`,
    options: [
      { label: 'Keep going (better: write a hint as free text)', command: 'continue' },
      {
        label: 'Stop: end this run (the pull request stays open) and move the issue to a terminal state',
        command: 'stop',
      },
    ],
    recommendation: null,
    tried: `${s.maxCiRounds} rework round(s) after red CI; each pushed a new head to the pull request.`,
  });
  state.ciRounds = 0;
  return answerTurn(reply, text);
}
