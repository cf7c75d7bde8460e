/**
 * What a run reports about itself: the status query's answer (with the latest QA and review
 * outcome), and the memo a closing run leaves for visibility (src/status/records.ts reads it).
 * Pure functions over the run state (./state.ts).
 */
import type { IssueRunStatus, IssueWorkflowInput } from '../definitions.js';
import type { ClosedRunMemo, ReviewOutcome } from '../../src/status/run-report.js';
import { totalTokens } from '../../src/agents/usage.js';
import type { RunState } from './state.js';

/** The latest QA round: number and passed; null before any. */
export function qaOf(state: RunState): IssueRunStatus['qa'] {
  const last = state.qaRounds.at(-1);
  return last ? { round: last.round, passed: last.report.passed } : null;
}

/** The reviewer's latest verdict with the findings still open; null before any review. */
export function reviewOf(state: RunState): ReviewOutcome | null {
  const last = state.reviewRounds.at(-1);
  if (!last) return null;
  return {
    round: last.round,
    verdict: last.verdict,
    openFindings: state.ledger.filter((f) => f.status === 'open').length,
    summary: state.reviewSummary,
  };
}

/** What a closing run leaves in its memo (ClosedRunMemo), at workflow time `now` (epoch ms). */
export function closingMemo(state: RunState, outcome: ClosedRunMemo['outcome'], now: number): ClosedRunMemo {
  const usage = state.usage;
  const input = usage.input_tokens + usage.cache_creation_input_tokens + usage.cache_read_input_tokens;
  return {
    outcome,
    phase: outcome === 'stopped' ? 'stopped' : state.prState === 'merged' ? 'merged' : 'handed_over',
    state: state.trackerState ?? null,
    branch: state.workspace?.branch ?? null,
    pr: state.pr?.url ?? null,
    tokens: { input_tokens: input, output_tokens: usage.output_tokens, total_tokens: totalTokens(usage) },
    cost_usd: state.costUsd,
    turns: state.turns,
    wall_ms: now - state.startedAt,
    started_at: new Date(state.startedAt).toISOString(),
  };
}

/** What `statusQuery` answers. */
export function statusOf(input: IssueWorkflowInput, state: RunState): IssueRunStatus {
  return {
    identifier: input.identifier,
    issueId: input.issueId,
    workspace: state.workspace?.path ?? null,
    branch: state.workspace?.branch ?? null,
    turns: state.turns,
    tokens: state.usage,
    transcripts: state.transcripts,
    phase: state.phase,
    round: state.round,
    startedAt: new Date(state.startedAt).toISOString(),
    lastError: state.lastError,
    escalation: state.openEscalation,
    answeredCommentIds: state.answeredCommentIds,
    ignoredComments: state.ignoredComments ?? [],
    prNumber: state.pr?.number ?? null,
    issueUpdated: state.issueUpdated,
    retrying: state.retrying ?? null,
    rateLimits: state.rateLimits ?? null,
    costUsd: state.costUsd ?? null,
    prUrl: state.pr?.url ?? null,
    lastEvent: state.lastEvent ?? null,
    qa: qaOf(state),
    review: reviewOf(state),
    escalations: state.escalations,
  };
}
