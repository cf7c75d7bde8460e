/**
 * Signals and queries, defined once and imported by the workflows, the daemon, the webhook server
 * and the CLI alike: the one module of workflows/ that src/ may import (docs/architecture.md, "Boundaries").
 */
import { defineSearchAttributeKey } from '@temporalio/common';
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { RateLimits } from '../src/agents/rate-limits.js';
import type { TokenUsage } from '../src/agents/usage.js';
import type { Escalation, EscalationRecord } from '../src/evidence/escalation.js';
import type { QaCommandResult } from '../src/qa/run.js';
import type { StatusReport, SummaryReport } from '../src/status/run-report.js';
import type { CarriedRun } from './issue/continue.js';

/** Input of `IssueWorkflow`. */
export interface IssueWorkflowInput {
  issueId: string;
  identifier: string;
  /** History events after which a waiting run continues as new. (Default: 5000) */
  historyLimit?: number;
  /** Set by the run itself when it continues as new: everything it knew (workflows/issue/continue.ts). */
  carried?: CarriedRun;
  /**
   * The earlier run of this workflow id that handed the issue over, set by the dispatcher when the
   * issue was moved back to an active state: this run is a rework round on its branch
   * (docs/architecture.md, "Sending work back").
   */
  reworkOf?: { runId: string };
}

/** The issue of a run waiting on its pull request is in an active state again (from reconciliation). */
export interface ReworkRequested {
  /** The state the tracker reported. */
  state: string;
  /** When reconciliation saw it, RFC 3339. */
  at: string;
}

/** A human's answer to an escalation. */
export interface HumanReply {
  text: string;
  author: string;
  /** Where it came from: `cli` (`foreman answer`), `dashboard` (the answer route), a tracker `comment`, a `webhook`. */
  source: 'cli' | 'dashboard' | 'comment' | 'webhook';
  /** The tracker comment it came from; a comment is taken once. */
  commentId?: string;
  /** True when the author may approve (trust.approvers, or anyone who may answer when unset; `foreman answer` is the operator). Absent = false. */
  mayApprove?: boolean;
}

/**
 * A tracker comment that was not taken as an answer because its author may not answer
 * (specs/trust.md "Who may answer an escalation"); the run lists the latest few in its status.
 */
export interface IgnoredComment {
  commentId: string;
  author: string;
  /** Why, e.g. `not trusted`. */
  reason: string;
}

/** A review on the issue's pull request (from a webhook). */
export interface PullRequestReview {
  prNumber: number;
  state: 'approved' | 'changes_requested' | 'commented';
  author: string;
  body: string;
}

/** The issue's pull request was closed (from a webhook). */
export interface PullRequestClosed {
  prNumber: number;
  merged: boolean;
}

/** A CI check or status on the PR's head finished (from a webhook). */
export interface CiResult {
  sha: string;
  name: string;
  conclusion: string;
}

/** Why and how to stop an issue's run. */
export interface StopRequest {
  reason: string;
  /** Remove the workspace (the issue reached a terminal state). */
  cleanup: boolean;
}

/** Where a run is (docs/architecture.md, "One issue's path"). */
export type RunPhase =
  | 'starting'
  | 'preparing'
  | 'implementing'
  | 'qa'
  | 'pushing'
  | 'reporting'
  | 'in_review'
  | 'waiting_for_human'
  | 'stopping'
  | 'done'
  | 'stopped';

/**
 * What an IssueWorkflow publishes about itself for the dispatcher (memo key `PUBLISHED_MEMO_KEY`),
 * so one visibility list per tick tells it every run's state without a query per run
 * (docs/architecture.md, "What the dispatcher reads").
 */
export interface PublishedRun {
  phase: RunPhase;
  /** True while a question waits for a human's answer (the run holds no agent slot). */
  waiting: boolean;
  /** When the open question was asked (RFC 3339); null when none is open. */
  askedAt: string | null;
  /** The latest hand-over (RFC 3339); null before the first. */
  handedOverAt: string | null;
  /** The tracker state the issue was in when the run started. */
  startedFor: string | null;
  /** Tracker comments taken as answers to the open question (at most `MAX_PUBLISHED_COMMENT_IDS`, latest). */
  answered: string[];
  /** Tracker comments ignored because their author may not answer (at most `MAX_PUBLISHED_COMMENT_IDS`, latest). */
  ignored: string[];
}

/** The memo keys of `PublishedRun` and of `PublishedRunView` (src/status/run-report.ts). */
export const PUBLISHED_MEMO_KEY = 'run';
export const RUN_VIEW_MEMO_KEY = 'view';

/** Comment ids a `PublishedRun` lists per kind (the latest): bounds the memo. */
export const MAX_PUBLISHED_COMMENT_IDS = 50;

/**
 * The custom search attributes an IssueWorkflow publishes besides `ForemanDeployment`, with their
 * types (registered by the dev server and docker-compose.yml's `temporal-setup`): they let an
 * operator (or a later tick) filter runs in a visibility query, e.g. `ForemanWaiting = true`.
 */
export const RUN_SEARCH_ATTRIBUTES = {
  ForemanPhase: 'Keyword',
  ForemanWaiting: 'Bool',
  ForemanAskedAt: 'Datetime',
  ForemanHandedOverAt: 'Datetime',
} as const;

/** Typed keys of `RUN_SEARCH_ATTRIBUTES`. */
export const runAttributes = {
  phase: defineSearchAttributeKey('ForemanPhase', 'KEYWORD'),
  waiting: defineSearchAttributeKey('ForemanWaiting', 'BOOL'),
  askedAt: defineSearchAttributeKey('ForemanAskedAt', 'DATETIME'),
  handedOverAt: defineSearchAttributeKey('ForemanHandedOverAt', 'DATETIME'),
};

/** What `statusQuery` returns. */
export interface IssueRunStatus extends StatusReport {
  identifier: string;
  issueId: string;
  /** Workspace path once prepared. */
  workspace: string | null;
  branch: string | null;
  /** Model calls so far. */
  turns: number;
  tokens: TokenUsage;
  transcripts: string[];
  phase: RunPhase;
  round: number;
  startedAt: string;
  lastError: string | null;
  /** The question waiting for an answer, when phase is `waiting_for_human`. */
  escalation: Escalation | null;
  /** Tracker comments already taken as answers (so pollers don't send them again). */
  answeredCommentIds: string[];
  /** Comments not taken because their author may not answer, latest last (at most 20); absent on older runs. */
  ignoredComments?: IgnoredComment[];
  /** The number of the pull request the run opened; absent or null before it has one. */
  prNumber?: number | null;
  /** The latest report that the issue changed (`dispatch`, `webhook`; RFC 3339 time); null before any. */
  issueUpdated: IssueUpdate | null;
  /** A step riding out a transient outage: which, the attempt, the error, the next try (RFC 3339). */
  retrying: { step: string; attempt: number; error: string; nextAttemptAt: string } | null;
  /** The latest rate limits the model endpoint reported (Symphony SPEC §13.7); null before any. */
  rateLimits: RateLimits | null;
  /** USD spent on model calls so far; null when a price is unknown; absent on older runs. */
  costUsd?: number | null;
}

/** The JSON summary an IssueWorkflow returns (and `foreman run` prints). */
export interface IssueRunSummary extends SummaryReport {
  /** `completed`: pushed with evidence, issue in review. `stopped`: the tracker said stop. */
  outcome: 'completed' | 'stopped';
  identifier: string;
  /** Why the run stopped; null when completed. */
  reason: string | null;
  branch: string | null;
  commit: string | null;
  pushed: boolean;
  /** The pull request URL; null when none was opened (no GitHub remote, or `scm.pull_requests: false`). */
  pr: string | null;
  /** `merged` / `closed` once the PR was closed; `open` while handed over; null without a PR. */
  pr_state: 'open' | 'merged' | 'closed' | null;
  evidence: { commentId: string; key: string } | null;
  qa: QaCommandResult[];
  rounds: number;
  tokens: TokenUsage & { total: number };
  cost_usd: number | null;
  escalations: EscalationRecord[];
  wall_ms: number;
  workflowId: string;
  runId: string;
  /**
   * Rework rounds humans asked for from the tracker, counted across the issue's runs, and the run
   * id whose agent transcripts the conversation lives in; null when the issue was never sent back;
   * absent on older runs (docs/architecture.md, "Sending work back").
   */
  rework?: { round: number; conversationRunId: string } | null;
}

/** A report that the issue changed: what saw it (`dispatch`, `webhook`) and when (RFC 3339). */
export interface IssueUpdate {
  source: string;
  at: string;
}

/** The tracker reported a change to the issue (poll, file watch or webhook); sent with every start. */
export const issueUpdatedSignal = defineSignal<[IssueUpdate]>('issueUpdated');

/**
 * A human's answer to the waiting escalation (from `foreman answer`, a tracker comment, or a
 * webhook). Durable: it is kept even when no worker runs. Ignored when nothing is waiting; a
 * comment is taken once (by `commentId`).
 */
export const humanReplySignal = defineSignal<[HumanReply]>('humanReply');

/**
 * A comment on the issue was ignored: its author may not answer (specs/trust.md). The run keeps
 * it (once per comment, at most 20) so `foreman status` lists it and pollers do not log it again.
 */
export const commentIgnoredSignal = defineSignal<[IgnoredComment]>('commentIgnored');

/**
 * Stop the issue's run (the tracker says the issue is terminal or no longer active; Symphony SPEC
 * §8.5). With `cleanup`, the workspace is removed (after `before_remove`).
 */
export const stopSignal = defineSignal<[StopRequest]>('stop');

/**
 * The issue of a run waiting on its pull request was moved back to an active state: the run reads
 * the comments since its hand-over and starts a rework round on the same branch and pull request
 * (docs/architecture.md, "Sending work back"). Taken only while the run is `in_review`, and only
 * when the issue is still active when the run reads it.
 */
export const reworkRequestedSignal = defineSignal<[ReworkRequested]>('reworkRequested');

/** A review was submitted on the issue's pull request (changes requested → a rework round). */
export const prReviewSignal = defineSignal<[PullRequestReview]>('prReview');

/** The issue's pull request was merged (→ issue done, workspace cleaned) or closed unmerged (→ stop). */
export const prClosedSignal = defineSignal<[PullRequestClosed]>('prClosed');

/** A CI check on the pull request finished; the run reads the results from the SCM API. */
export const ciResultSignal = defineSignal<[CiResult]>('ciResult');

/** What the dispatcher's last tick skipped, and why (`dispatcherStatusQuery`). */
export interface DispatcherStatus {
  /** RFC 3339 time of the last finished tick; null before the first. */
  lastTickAt: string | null;
  /** Candidates not started, with the reason (e.g. an untrusted author: specs/trust.md). */
  skipped: { identifier: string; reason: string }[];
}

/** The dispatcher's last tick: what it skipped and why (shown by `foreman status` and the API). */
export const dispatcherStatusQuery = defineQuery<DispatcherStatus>('dispatcherStatus');

/** Ask the dispatcher to poll the tracker now instead of waiting for the next interval. */
export const refreshSignal = defineSignal<[{ reason: string }]>('refresh');

/** Where an IssueWorkflow is. */
export const statusQuery = defineQuery<IssueRunStatus>('status');

/** Workflow type names, for clients that start workflows by name. */
export const ISSUE_WORKFLOW_TYPE = 'IssueWorkflow';
export const DISPATCHER_WORKFLOW_TYPE = 'DispatcherWorkflow';

/**
 * Workflow id of an issue's run, one per issue per deployment: `foreman-<deployment key>-issue-<identifier>`
 * (docs/architecture.md, "Deployments on one namespace").
 */
export function issueWorkflowId(deploymentKey: string, identifier: string): string {
  return `foreman-${deploymentKey}-issue-${identifier}`;
}

/**
 * Workflow id runs had before deployment keys: `foreman-issue-<identifier>`. Only looked up (a run
 * started under it is still found by its deployment), never started.
 */
export function legacyIssueWorkflowId(identifier: string): string {
  return `foreman-issue-${identifier}`;
}

/** Workflow id of the dispatcher of a task queue (a deployment's queue carries its key). */
export function dispatcherWorkflowId(taskQueue: string): string {
  return `foreman-dispatcher-${taskQueue}`;
}
