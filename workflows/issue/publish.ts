/**
 * Publishing: the run writes what the dispatcher needs to know about it (phase, waiting for a
 * human, when the question was asked, hand-over time, the comments it took or ignored) into its
 * memo and search attributes, so a tick reads every run with one visibility list instead of a
 * query per run (docs/architecture.md, "What the dispatcher reads"). Called where those change.
 */
import { patched, upsertMemo, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { MAX_PUBLISHED_COMMENT_IDS, PUBLISHED_MEMO_KEY, runAttributes, type PublishedRun } from '../definitions.js';
import type { RunState } from './state.js';

/**
 * The `patched()` id of publishing: a history recorded before it replays without the upserts
 * (docs/architecture.md, "Changing workflow code").
 */
export const PUBLISH_PATCH = 'publish-run-state';

/** What `state` publishes (pure). */
export function publishedOf(state: RunState): PublishedRun {
  const open = state.phase === 'waiting_for_human' ? state.openEscalation : null;
  return {
    phase: state.phase,
    waiting: open !== null,
    askedAt: open?.askedAt ?? null,
    handedOverAt: state.handedOverAt ? new Date(state.handedOverAt).toISOString() : null,
    startedFor: state.startedFor ?? null,
    answered: state.answeredCommentIds.slice(-MAX_PUBLISHED_COMMENT_IDS),
    ignored: (state.ignoredComments ?? []).map((c) => c.commentId).slice(-MAX_PUBLISHED_COMMENT_IDS),
  };
}

/**
 * Upserts the memo and search attributes from `state` when they differ from what the run last
 * published (so calling it often costs nothing). Not in histories from before `PUBLISH_PATCH`.
 */
export function publish(state: RunState): void {
  const next = publishedOf(state);
  if (JSON.stringify(next) === JSON.stringify(workflowInfo().memo?.[PUBLISHED_MEMO_KEY])) return;
  if (!patched(PUBLISH_PATCH)) return;
  upsertMemo({ [PUBLISHED_MEMO_KEY]: next });
  upsertSearchAttributes([
    { key: runAttributes.phase, value: next.phase },
    { key: runAttributes.waiting, value: next.waiting },
    { key: runAttributes.askedAt, value: next.askedAt ? new Date(next.askedAt) : null },
    { key: runAttributes.handedOverAt, value: next.handedOverAt ? new Date(next.handedOverAt) : null },
  ]);
}
