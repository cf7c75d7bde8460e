/**
 * What a run reports about itself beyond its phase, shared by the workflow that writes it
 * (workflows/issue/report.ts, lifecycle.ts) and the status that reads it (src/status/): the latest
 * lifecycle event, the reviewer's latest verdict, and the memo a closing run leaves. Types only, so
 * workflow code imports them as types; workflows/definitions.ts extends its status and summary with them (docs/architecture.md, "Status and the API").
 */

import type { EscalationRecord } from '../evidence/escalation.js';

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
