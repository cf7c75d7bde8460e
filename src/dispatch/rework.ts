/**
 * Sending work back from the tracker (docs/architecture.md, "Sending work back"): what a human
 * asked for when they moved a handed-over issue back to an active state, and which earlier run
 * handed it over. The I/O half; the IssueWorkflow turns the result into a rework round
 * (workflows/issue/rework.ts).
 */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { IgnoredComment, IssueRunSummary } from '../../workflows/definitions.js';
import type { Policy } from '../config/schema.js';
import { TrackerError } from '../errors.js';
import type { Tracker } from '../trackers/types.js';
import { trustGateFor, userOf } from '../trust/index.js';
import { MAX_ANSWER_BYTES } from './reconcile.js';
import { normalizeState } from './select.js';

/**
 * Comments taken into one request at most, and their UTF-8 bytes together (`MAX_ANSWER_BYTES`, as
 * one answer): the latest ones; older ones are listed as ignored. Keeps the run state small.
 */
export const MAX_REWORK_COMMENTS = 20;

/** One comment that asks for rework, from a person who may steer (specs/trust.md). */
export interface ReworkComment {
  commentId: string;
  author: string;
  /** The comment's Markdown body (tracker text: delimited for the model, inert when posted). */
  body: string;
  /** RFC 3339. */
  createdAt: string;
}

/** What the tracker says about an issue sent back: its state now, and the comments since the hand-over. */
export interface ReworkRequest {
  /** The issue's state now, as the tracker names it. */
  state: string;
  /** True when that state is one of `tracker.active_states` (false: the send-back was stale or undone). */
  active: boolean;
  /** Comments since the hand-over by people who may answer an escalation, oldest first. */
  comments: ReworkComment[];
  /** Comments since the hand-over not taken: untrusted authors, too long, or beyond the request's bounds. */
  ignored: IgnoredComment[];
}

/** One rework round the tracker asked for, as the run keeps it (evidence, summary). */
export interface ReworkRound {
  /** 1-based: the Nth time the issue was sent back after a hand-over, counted across its runs. */
  round: number;
  /** The active state it was moved back to. */
  state: string;
  /** The request: trusted comments since the hand-over, oldest first (none: moved back without a comment). */
  comments: ReworkComment[];
  ignored: IgnoredComment[];
  /** The run that handed over, when this round runs in a new workflow run; null in the same run. */
  previousRunId: string | null;
}

/**
 * Reads the issue's state and the comments posted since `since` (RFC 3339, the hand-over): Foreman's
 * own and empty comments are skipped; a comment whose author may not answer an escalation (the
 * trust gate, specs/trust.md) is ignored with reason `not trusted`; of the rest the latest are
 * taken while they fit `MAX_REWORK_COMMENTS` and `MAX_ANSWER_BYTES` together, the older ones ignored.
 * Trackers report comment times to the second (GitHub), so a comment in the hand-over's second counts.
 * @throws TrackerError from the tracker (`issue_not_found` when the issue is gone).
 */
export async function readReworkRequest(
  tracker: Tracker,
  policy: Pick<Policy, 'trust' | 'tracker'>,
  input: { issueId: string; since: string },
): Promise<ReworkRequest> {
  const [issue] = await tracker.fetchIssuesByIds([input.issueId]);
  if (!issue) {
    throw new TrackerError('issue_not_found', `Issue ${input.issueId} is no longer in the tracker.`, {
      retryable: false,
    });
  }
  const active = policy.tracker.active_states.map(normalizeState).includes(normalizeState(issue.state));
  const gate = trustGateFor(tracker, policy);
  const trusted: ReworkComment[] = [];
  const ignored: IgnoredComment[] = [];
  const since = new Date(Math.floor(Date.parse(input.since) / 1000) * 1000 - 1).toISOString();
  for (const c of await tracker.fetchComments(issue.id, since)) {
    if (c.by_foreman || !c.body.trim()) continue;
    if (await gate.mayAnswer(userOf(c)))
      trusted.push({ commentId: c.id, author: c.author, body: c.body, createdAt: c.created_at });
    else ignored.push({ commentId: c.id, author: c.author, reason: 'not trusted' });
  }
  const comments: ReworkComment[] = [];
  let bytes = 0;
  for (const c of trusted.reverse()) {
    bytes += Buffer.byteLength(c.body, 'utf8');
    if (comments.length < MAX_REWORK_COMMENTS && bytes <= MAX_ANSWER_BYTES) comments.unshift(c);
    else ignored.push({ commentId: c.commentId, author: c.author, reason: 'beyond the request size limit' });
  }
  return { state: issue.state, active, comments, ignored };
}

/** The earlier run that handed the issue over, as a rework in a new workflow run continues it. */
export interface HandedOverRun {
  /** That run's (first execution's) run id. */
  runId: string;
  /** When it closed, RFC 3339: comments after it are the request. */
  closedAt: string;
  /** Its branch (`foreman/<key>`, or the `-N` branch a rejected push moved to). */
  branch: string | null;
  /** Rework rounds up to and including that run (0: it was the first hand-over). */
  round: number;
  /** The run id whose agent transcripts the conversation lives in (the first run of the chain). */
  conversationRunId: string;
}

/**
 * The run `runId` of `workflowId` when it handed the issue over and ended there: completed with no
 * pull request (a run with a pull request keeps running until it is closed,
 * and takes a send-back itself). Null for anything else: still running, stopped, failed, merged
 * or closed pull request, unknown run.
 * @throws what the Temporal client throws other than "not found".
 */
export async function handedOverRun(client: Client, workflowId: string, runId: string): Promise<HandedOverRun | null> {
  const handle = client.workflow.getHandle(workflowId, runId, { followRuns: false });
  let summary: IssueRunSummary;
  let closedAt: Date | undefined;
  try {
    const d = await handle.describe();
    if (d.status.name !== 'COMPLETED') return null;
    closedAt = d.closeTime;
    summary = (await handle.result()) as IssueRunSummary;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return null;
    throw err;
  }
  if (summary?.outcome !== 'completed' || summary.pr_state !== null || !closedAt) return null;
  return {
    runId: summary.runId,
    closedAt: closedAt.toISOString(),
    branch: summary.branch,
    round: summary.rework?.round ?? 0,
    conversationRunId: summary.rework?.conversationRunId ?? summary.runId,
  };
}
