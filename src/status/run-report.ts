/**
 * What a run reports about itself beyond its phase, shared by the workflow that writes it
 * (workflows/issue/report.ts, lifecycle.ts) and the status that reads it (src/status/): the latest
 * lifecycle event, the reviewer's latest verdict, and the memo a closing run leaves. Types only, so
 * workflow code imports them as types; workflows/definitions.ts extends its status and summary with them (docs/architecture.md, "Status and the API").
 */

import type { RateLimits } from '../agents/rate-limits.js';
import type { TokenUsage } from '../agents/usage.js';
import type { EscalationOption } from '../escalation/answer.js';
import type { Escalation, EscalationRecord } from '../evidence/escalation.js';
import type { IgnoredComment } from '../../workflows/definitions.js';

/** What the status query (`IssueRunStatus`) reports beyond its core fields; each absent on older runs. */
export interface StatusReport {
  /** The pull request's URL once opened. */
  prUrl?: string | null;
  /** The latest lifecycle event. */
  lastEvent?: LifecycleEvent | null;
  /** The latest QA round and whether every command passed; null before any. */
  qa?: { round: number; passed: boolean } | null;
  /** The reviewer's latest verdict; null before any. */
  review?: ReviewOutcome | null;
  /** Every escalation so far with its answer. */
  escalations?: EscalationRecord[];
}

/** What a run's summary (`IssueRunSummary`) reports beyond `foreman run`'s first fields; absent on older runs. */
export interface SummaryReport {
  /** The reviewer's latest verdict; null when review is off or never ran. */
  review?: ReviewOutcome | null;
  /** Model calls over all roles. */
  turns?: number;
}

/**
 * One lifecycle event of a run (`dispatched`, `agent step`, `QA result`…: workflows/issue/lifecycle.ts),
 * at RFC 3339 workflow time, with a short detail (step name, verdict, question) or null.
 */
export interface LifecycleEvent {
  event: string;
  at: string;
  message: string | null;
}

/** The reviewer's latest verdict: round, verdict, findings still open (the ledger), its summary (model-written). */
export interface ReviewOutcome {
  round: number;
  verdict: 'approve' | 'request_changes' | 'escalate';
  openFindings: number;
  summary: string | null;
}

/** A closed run's memo besides `identifier`/`issueId` (absent on older runs): visibility alone gives totals. */
export interface ClosedRunMemo {
  outcome: 'completed' | 'stopped';
  /** `handed_over` (in review, PR open or none), `merged` (PR merged, issue done), `stopped`. */
  phase: 'handed_over' | 'merged' | 'stopped';
  /** The tracker state the run last moved the issue to (e.g. `Human Review`); null when unknown. */
  state: string | null;
  branch: string | null;
  pr: string | null;
  tokens: { input_tokens: number; output_tokens: number; total_tokens: number };
  cost_usd: number | null;
  turns: number;
  /** Run start to end, ms, and the start (RFC 3339), in workflow time. */
  wall_ms: number;
  started_at: string;
}

/**
 * What an IssueWorkflow publishes for the operator's list views (memo key `RUN_VIEW_MEMO_KEY`, beside
 * `PublishedRun`): `foreman status`, `foreman ls`, `GET /api/v1/state`, the dashboard and `/metrics`
 * read every open run from one visibility list, with no status query per run (docs/architecture.md,
 * "Scale"). Updated when the run starts a step or starts to wait (a question, its reminder and park, the
 * pull request, a retry) and when it ignores a comment; texts are cut at
 * `MAX_PUBLISHED_TEXT` characters (workflows/issue/publish.ts), lists at their bounds, so the memo stays small.
 */
export interface PublishedRunView {
  /** The title when the run started. */
  title: string | null;
  /** When the run started (RFC 3339; the first execution's start across continue-as-new). */
  startedAt: string;
  round: number;
  /** Model calls of the finished steps. */
  turns: number;
  /** Tokens of the finished steps. */
  tokens: TokenUsage;
  /** USD of the finished steps; null when a model had no price. */
  costUsd: number | null;
  workspace: string | null;
  branch: string | null;
  prUrl: string | null;
  lastError: string | null;
  lastEvent: LifecycleEvent | null;
  /** A step riding out a transient outage (as in `IssueRunStatus`). */
  retrying: { step: string; attempt: number; error: string; nextAttemptAt: string } | null;
  rateLimits: RateLimits | null;
  qa: { round: number; passed: boolean } | null;
  review: ReviewOutcome | null;
  /** The open question; null when none (read it only while `PublishedRun.waiting`). */
  question: PublishedQuestion | null;
  /** Comments not taken as answers, latest last (at most 20, as the status query lists them). */
  ignoredComments: IgnoredComment[];
}

/** The open question of a `PublishedRunView`, with the reminder and park rule it waits under (specs/escalations.md). */
export interface PublishedQuestion extends Pick<Escalation, 'n' | 'kind' | 'askedAt' | 'reminded' | 'parked'> {
  question: string;
  /** At most `MAX_PUBLISHED_OPTIONS`, labels cut at `MAX_PUBLISHED_TEXT` characters. */
  options: EscalationOption[];
  recommendation: string | null;
  /** The run's `escalation.reping_ms`, `escalation.timeout_ms` and `handoff.parked_state`. */
  repingMs: number | null;
  parkMs: number | null;
  parkedState: string | null;
}
