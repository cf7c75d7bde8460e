/**
 * Reconciliation (Symphony SPEC §8.5 part B): each tick, running runs are checked against their
 * issues on the tracker (stopped when the issue left the active states) and against the humans on
 * it (new comments answer a waiting run). Part of the dispatcher tick (tick.ts).
 */
import type { Client } from '@temporalio/client';
import type { LoadedPolicy } from '../config/load.js';
import type { Logger } from '../logger.js';
import type { Issue, IssueComment, Tracker } from '../trackers/types.js';
import { commentsSince } from '../trackers/shared.js';
import {
  commentIgnoredSignal,
  humanReplySignal,
  reworkRequestedSignal,
  statusQuery,
  stopSignal,
} from '../../workflows/definitions.js';
import type { HumanReply, IgnoredComment, IssueRunStatus, PublishedRun } from '../../workflows/definitions.js';
import type { RunningRun } from './runs.js';
import { trustGateFor, userOf } from '../trust/index.js';
import { inertInline } from '../evidence/inert.js';
import { normalizeState } from './select.js';

/** The run's status, or null when it cannot answer (no worker, not running, or it just ended). */
export async function statusOf(client: Client, workflowId: string): Promise<IssueRunStatus | null> {
  try {
    return await client.workflow.getHandle(workflowId).query(statusQuery);
  } catch {
    return null;
  }
}

/**
 * Reconciles running runs with the tracker (Symphony SPEC §8.5 part B) and with the humans on it:
 * - the issue is now terminal → stop the run and remove its workspace;
 * - the issue is neither active nor one of Foreman's own hand-off states → stop, keep the workspace;
 * - the issue no longer exists (deleted, or out of the tracker's scope) → stop, keep the workspace;
 * - the run waits on its pull request and the issue is in an active state again (a human sent it
 *   back) → `reworkRequested`, every tick until the run takes it; the run re-reads the issue, so a
 *   report racing its hand-over changes nothing (docs/architecture.md, "Sending work back");
 * - the run waits for an answer → each new comment since the question by someone who may answer
 *   (specs/trust.md) becomes a `humanReply` with `mayApprove` set (Foreman's own comments never
 *   count; a comment is sent once); a comment from anyone else is ignored (logged, and signalled
 *   to the run as `commentIgnored` once, so `foreman status` lists it).
 * Returns the identifiers of runs waiting for a human (they do not hold an agent slot).
 * A tracker error skips reconciliation this tick (runs keep going).
 */
export async function reconcile(deps: ReconcileDeps, runs: RunningRun[]): Promise<Set<string>> {
  const { policy } = deps.loaded;
  const waiting = new Set<string>();
  const withIds = runs.filter((r) => r.issueId);
  let issues: Issue[];
  try {
    issues = await deps.tracker.fetchIssuesByIds(withIds.map((r) => r.issueId!));
  } catch (err) {
    deps.log.warn({ err: (err as Error).message }, 'could not refresh running issues; trying again next tick');
    return waiting;
  }
  const byId = new Map(issues.map((i) => [i.id, i]));
  const terminal = new Set(policy.tracker.terminal_states.map(normalizeState));
  const active = new Set(policy.tracker.active_states.map(normalizeState));
  active.delete(normalizeState(policy.handoff.review_state)); // a review state that is active sends nothing back
  const keepGoing = new Set(
    [
      ...policy.tracker.active_states,
      policy.handoff.in_progress_state,
      policy.handoff.review_state,
      policy.handoff.escalated_state ?? '',
      policy.handoff.parked_state ?? '',
    ].map(normalizeState),
  );
  const asking: Asking[] = [];
  for (const run of withIds) {
    const issue = byId.get(run.issueId!);
    const handle = deps.client.workflow.getHandle(run.workflowId);
    if (!issue) {
      // A legacy run (docs/architecture.md, "Deployments on one namespace") may be another
      // deployment's on a shared queue: only runs carrying this deployment's key are stopped here.
      if (run.legacy) continue;
      // Deleted (or moved out of the tracker's scope): nobody can answer or review it any more.
      deps.log.warn({ issue: run.identifier }, 'stopping the run: the issue no longer exists in the tracker');
      await handle
        .signal(stopSignal, { reason: 'the issue no longer exists in the tracker.', cleanup: false })
        .catch((err: Error) => deps.log.warn({ issue: run.identifier, err: err.message }, 'could not signal stop'));
      continue;
    }
    const state = normalizeState(issue.state);
    if (terminal.has(state) || !keepGoing.has(state)) {
      const cleanup = terminal.has(state);
      deps.log.info(
        { issue: run.identifier, state: issue.state, cleanup },
        'stopping the run: the issue left the active states',
      );
      await handle
        .signal(stopSignal, { reason: `the issue moved to "${issue.state}".`, cleanup })
        .catch((err: Error) => deps.log.warn({ issue: run.identifier, err: err.message }, 'could not signal stop'));
      continue;
    }
    const status = run.published ?? publishedFromStatus(await statusOf(deps.client, run.workflowId));
    if (status?.phase === 'in_review' && active.has(state)) {
      await handle
        .signal(reworkRequestedSignal, { state: issue.state, at: new Date().toISOString() })
        .then(() => deps.log.info({ issue: run.identifier, state: issue.state }, 'sent back for rework'))
        .catch((err: Error) => deps.log.warn({ issue: run.identifier, err: err.message }, 'could not signal rework'));
      continue;
    }
    if (status?.phase !== 'waiting_for_human' || !status.askedAt) continue;
    waiting.add(run.identifier);
    asking.push({ run, issue, status, askedAt: status.askedAt });
  }
  await answerFromComments(deps, asking);
  return waiting;
}

/** A run waiting for an answer, as reconciliation found it. */
interface Asking {
  run: RunningRun;
  issue: Issue;
  status: PublishedRun;
  /** When its question was asked (RFC 3339). */
  askedAt: string;
}

/**
 * Reads the comments of every waiting run in one batched tracker call (since the oldest question)
 * and delivers each new one: a `humanReply` from someone who may answer, `commentIgnored` for
 * anyone else, a visible refusal for an over-long answer (rules: `reconcile`). A tracker error
 * skips this tick's answers (logged); a failed signal is tried again next tick.
 */
async function answerFromComments(deps: ReconcileDeps, asking: Asking[]): Promise<void> {
  if (asking.length === 0) return;
  const since = asking.map((a) => a.askedAt).reduce((x, y) => (Date.parse(y) < Date.parse(x) ? y : x));
  let byIssue: Map<string, IssueComment[]>;
  try {
    byIssue = await commentsSince(
      deps.tracker,
      asking.map((a) => a.issue.id),
      since,
    );
  } catch (err) {
    deps.log.warn({ err: (err as Error).message }, 'could not read comments; trying again next tick');
    return;
  }
  const gate = trustGateFor(deps.tracker, deps.loaded.policy);
  for (const { run, issue, status, askedAt } of asking) {
    const handle = deps.client.workflow.getHandle(run.workflowId);
    const after = Date.parse(askedAt);
    for (const c of byIssue.get(issue.id) ?? []) {
      if (!(Date.parse(c.created_at) > after)) continue;
      if (c.by_foreman || status.answered.includes(c.id) || !c.body.trim()) continue;
      const user = userOf(c);
      if (!(await gate.mayAnswer(user))) {
        await ignoreComment(deps, run, status.ignored, { commentId: c.id, author: c.author, reason: 'not trusted' });
        continue;
      }
      if (Buffer.byteLength(c.body, 'utf8') > MAX_ANSWER_BYTES) {
        await refuseLongAnswer(deps, issue.id, run.identifier, c);
        continue;
      }
      const reply: HumanReply = {
        text: c.body,
        author: c.author,
        source: 'comment',
        commentId: c.id,
        mayApprove: await gate.mayApprove(user),
      };
      try {
        await handle.signal(humanReplySignal, reply);
        deps.log.info({ issue: run.identifier, comment: c.id, author: c.author }, 'answer from a comment delivered');
      } catch (err) {
        // Not delivered: the next tick tries again (the comment is not marked as answered).
        deps.log.warn(
          { issue: run.identifier, comment: c.id, err: (err as Error).message },
          'could not deliver an answer',
        );
      }
    }
  }
}

/**
 * What a run from before runs published their state (workflows/issue/publish.ts) answers to the
 * status query, in the published shape; null when it cannot answer.
 */
function publishedFromStatus(status: IssueRunStatus | null): PublishedRun | null {
  if (!status) return null;
  return {
    phase: status.phase,
    waiting: status.escalation !== null,
    askedAt: status.escalation?.askedAt ?? null,
    handedOverAt: null,
    startedFor: null,
    answered: status.answeredCommentIds,
    ignored: (status.ignoredComments ?? []).map((c) => c.commentId),
  };
}

/**
 * Tells the run (`commentIgnored`) that a comment was not taken because its author may not answer
 * (specs/trust.md), and logs it, once: a comment the run already lists is left alone. A failed
 * signal is logged; the next tick tries again.
 */
export async function ignoreComment(
  deps: { client: Client; log: Pick<Logger, 'info' | 'warn'> },
  run: Pick<RunningRun, 'workflowId' | 'identifier'>,
  /** Comment ids the run already lists as ignored (its published `ignored`, or its status). */
  alreadyIgnored: readonly string[],
  c: IgnoredComment,
): Promise<void> {
  if (alreadyIgnored.includes(c.commentId)) return;
  deps.log.info(
    { issue: run.identifier, comment: c.commentId, author: c.author },
    `ignored a comment from ${c.author}: ${c.reason}`,
  );
  await deps.client.workflow
    .getHandle(run.workflowId)
    .signal(commentIgnoredSignal, c)
    .catch((err: Error) =>
      deps.log.warn({ issue: run.identifier, err: err.message }, 'could not signal commentIgnored'),
    );
}

/** What `reconcile` works with. */
export interface ReconcileDeps {
  client: Client;
  loaded: LoadedPolicy;
  tracker: Tracker;
  log: Logger;
}

/**
 * Longest answer taken from a comment, in UTF-8 bytes: far below Temporal's 2 MB payload limit,
 * far above any real answer. A longer comment gets a visible reply instead of being dropped.
 */
export const MAX_ANSWER_BYTES = 64 * 1024;

/** Tells the author, on the issue, that their answer is too long to take (once per comment). */
async function refuseLongAnswer(
  deps: Pick<ReconcileDeps, 'tracker' | 'log'>,
  issueId: string,
  identifier: string,
  c: { id: string; author: string; body: string },
): Promise<void> {
  const bytes = Buffer.byteLength(c.body, 'utf8');
  const body =
    `Foreman could not take the answer in comment ${c.id} by ${inertInline(c.author)}: it is ${bytes} bytes, ` +
    `over the ${MAX_ANSWER_BYTES}-byte limit for an answer. Please answer again in a shorter comment ` +
    '(link to long material instead of pasting it); the question is still open.';
  try {
    await deps.tracker.upsertComment(issueId, `answer-too-long-${c.id.replace(/[^A-Za-z0-9_.-]/g, '-')}`, body);
    deps.log.warn({ issue: identifier, comment: c.id, bytes }, 'answer refused: too long (reply posted)');
  } catch (err) {
    deps.log.warn({ issue: identifier, comment: c.id, err: (err as Error).message }, 'answer refused: too long');
  }
}
