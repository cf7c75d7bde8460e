/**
 * Publishing: the run writes what others read about it into its memo and search attributes, so one
 * visibility list tells every run's state with no query per run.
 * - `PublishedRun` (memo `run`, and search attributes): what the dispatcher needs (phase, waiting for
 *   a human, when the question was asked, hand-over time, the comments it took or ignored), written
 *   where those change (docs/architecture.md, "What the dispatcher reads").
 * - `PublishedRunView` (memo `view`): what the list views show (totals, the open question, the
 *   latest event...), written when the run starts a step or starts to wait, so it is current
 *   whenever the run is parked (docs/architecture.md, "Scale").
 */
import { patched, upsertMemo, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import {
  MAX_PUBLISHED_COMMENT_IDS,
  PUBLISHED_MEMO_KEY,
  RUN_VIEW_MEMO_KEY,
  runAttributes,
  type PublishedRun,
} from '../definitions.js';
import type { PublishedQuestion, PublishedRunView } from '../../src/status/run-report.js';
import { normalizeOptions } from '../../src/escalation/answer.js';
import { qaOf, reviewOf } from './report.js';
import type { RunState } from './state.js';

/**
 * The `patched()` id of publishing: a history recorded before it replays without the upserts
 * (docs/architecture.md, "Changing workflow code").
 */
export const PUBLISH_PATCH = 'publish-run-state';

/**
 * The `patched()` id of publishing the view: a history recorded before it replays without the view's
 * upserts (docs/architecture.md, "Changing workflow code").
 */
export const VIEW_PATCH = 'publish-run-view';

/** Characters a published text keeps (a question, an option, an error); longer ones end with `…`. */
export const MAX_PUBLISHED_TEXT = 1000;

/** Options a published question lists. */
export const MAX_PUBLISHED_OPTIONS = 10;

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

/** `text` cut at `MAX_PUBLISHED_TEXT` characters (an ellipsis marks the cut); null stays null. */
export function cut<T extends string | null>(text: T): T {
  if (text === null || text.length <= MAX_PUBLISHED_TEXT) return text;
  return `${text.slice(0, MAX_PUBLISHED_TEXT - 1)}…` as T;
}

function questionOf(state: RunState): PublishedQuestion | null {
  const e = state.openEscalation;
  if (!e) return null;
  const rule = state.shown;
  return {
    n: e.n,
    kind: e.kind,
    question: cut(e.question),
    options: normalizeOptions(e.options)
      .slice(0, MAX_PUBLISHED_OPTIONS)
      .map((o) => ({ label: cut(o.label), command: o.command })),
    recommendation: cut(e.recommendation),
    askedAt: e.askedAt,
    reminded: e.reminded,
    parked: e.parked,
    repingMs: rule?.repingMs ?? null,
    parkMs: rule?.parkMs ?? null,
    parkedState: rule?.parkedState ?? null,
  };
}

/** What `state` publishes for the list views (pure). */
export function viewOf(state: RunState): PublishedRunView {
  const review = reviewOf(state);
  return {
    title: state.shown ? cut(state.shown.title) : null,
    startedAt: new Date(state.startedAt).toISOString(),
    round: state.round,
    turns: state.turns,
    tokens: state.usage,
    costUsd: state.costUsd ?? null,
    workspace: state.workspace?.path ?? null,
    branch: state.workspace?.branch ?? null,
    prUrl: state.pr?.url ?? null,
    lastError: cut(state.lastError),
    lastEvent: state.lastEvent ?? null,
    retrying: state.retrying ? { ...state.retrying, error: cut(state.retrying.error) } : null,
    rateLimits: state.rateLimits ?? null,
    qa: qaOf(state) ?? null,
    review: review ? { ...review, summary: cut(review.summary) } : null,
    question: questionOf(state),
    ignoredComments: state.ignoredComments ?? [],
  };
}

/**
 * Upserts the view memo from `state` when it differs from what the run last published. Not in
 * histories from before `VIEW_PATCH`; never after the run's last phase (its closing memo says the rest).
 */
export function publishView(state: RunState): void {
  if (state.phase === 'done' || state.phase === 'stopped' || state.phase === 'stopping') return;
  const next = JSON.stringify(viewOf(state));
  if (next === JSON.stringify(workflowInfo().memo?.[RUN_VIEW_MEMO_KEY])) return;
  if (!patched(VIEW_PATCH)) return;
  upsertMemo({ [RUN_VIEW_MEMO_KEY]: JSON.parse(next) as PublishedRunView }); // a copy: the state changes in place
}
