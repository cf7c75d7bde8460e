/**
 * `GET /api/v1/<identifier>`: one issue's latest run in Symphony SPEC §13.7's per-issue shape,
 * extended with everything `foreman run` prints for a finished run (branch, PR, evidence, QA,
 * review verdict, escalations with answers, tokens, cost) and the tracker's word on the issue
 * (specs/api.md). Read from Temporal (status query, pending activities, memo, result, history),
 * the transcripts folder and, when given, the tracker.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Client, WorkflowExecutionDescription } from '@temporalio/client';
import type { Deployment } from '../deployment.js';
import { findIssueRun } from '../dispatch/runs.js';
import { transcriptPath } from '../home.js';
import { workspaceKey } from '../workspace/key.js';
import type { QaCommandResult } from '../qa/run.js';
import type { IssueRunSummary } from '../../workflows/definitions.js';
import type { StatusOptions } from '../status.js';
import { trackerIssues } from '../status.js';
import { recentEvents, type RunEvent } from './events.js';
import { retryingSteps } from './live.js';
import { closedRecord, reviewView, runSummary, type ClosedPhase } from './records.js';
import {
  readRunning,
  runningRow,
  temporalRunUrl,
  tokenCounts,
  type RunningIssue,
  type RunStatus,
  type TokenCounts,
  type WaitingQuestion,
} from './running.js';

/** One issue's latest run (specs/api.md, `GET /api/v1/<identifier>`). Times RFC 3339, money USD. */
export interface IssueDetail {
  issue_identifier: string;
  issue_id: string;
  issue_url: string | null;
  /** The tracker's state of the issue (e.g. `Human Review`); the run's memo when the tracker was not asked. */
  state: string | null;
  /** Open: `running`, `retrying`, `waiting_for_human`, `in_review`. Closed: `handed_over`, `merged`, `stopped`, `failed`, `terminated`… */
  status: RunStatus | ClosedPhase;
  /** The run's phase while open (`implementing`…); the closed status once closed. */
  phase: string;
  workflow_id: string;
  run_id: string;
  temporal_url: string | null;
  workspace: { path: string } | null;
  attempts: {
    /** Earlier runs of the issue (same workflow id) before this one. */
    restart_count: number;
    /** Attempt of the step in flight (1 = first try); 0 when no step is in flight. */
    current_retry_attempt: number;
  };
  /** The running row (as in `GET /api/v1/state`); null once closed. */
  running: RunningIssue | null;
  /** The retry due, if the run waits to retry a step; null otherwise. */
  retry: { step: string; attempt: number; due_at: string | null; error: string } | null;
  /** The run's agent transcripts (`foreman logs` reads them), one per role. */
  logs: { transcripts: { label: string; path: string; url: null }[] };
  /** The last 50 events of the run's history. */
  recent_events: RunEvent[];
  last_error: string | null;
  tracked: Record<string, never>;
  /** `completed` / `stopped` once closed by the run itself; null while open or when ended otherwise. */
  outcome: string | null;
  /** Why the run stopped; null otherwise. */
  reason: string | null;
  started_at: string | null;
  closed_at: string | null;
  branch: string | null;
  commit: string | null;
  pushed: boolean | null;
  pr: { url: string; state: string | null } | null;
  /** The evidence comment on the issue; `url` where the tracker's comment links are known (GitHub, local). */
  evidence: { comment_id: string; key: string; url: string | null } | null;
  qa: { passed: boolean; rounds: number; results: QaCommandResult[] } | null;
  review: ReturnType<typeof reviewView>;
  escalations: { question: string; kind: string; asked_at: string; answer: string | null; author: string | null }[];
  waiting: WaitingQuestion | null;
  tokens: TokenCounts | null;
  cost_usd: number | null;
  turns: number | null;
  wall_ms: number | null;
  /** The rework round this run was (docs/architecture.md, "Sending work back"); null when none. */
  rework: { round: number } | null;
}

/** A link to comment `id` on the issue at `issueUrl`, where the tracker's format is known; else null. */
export function commentUrl(issueUrl: string | null, id: string): string | null {
  if (!issueUrl) return null;
  try {
    const u = new URL(issueUrl);
    if (u.protocol === 'file:') return issueUrl.replace(/\.md$/, '.comments.md');
    if (u.hostname === 'github.com' && /^\d+$/.test(id)) return `${issueUrl}#issuecomment-${id}`;
  } catch {
    return null;
  }
  return null;
}

async function transcriptsOf(home: string | undefined, identifier: string, runId: string, known: string[]) {
  let files = known;
  if (files.length === 0 && home) {
    const dir = path.dirname(transcriptPath(home, workspaceKey(identifier), runId, 'x'));
    files = (await fs.readdir(dir).catch(() => [] as string[]))
      .filter((f) => f.endsWith('.jsonl'))
      .sort()
      .map((f) => path.join(dir, f));
  }
  return files.map((p) => ({ label: path.basename(p, '.jsonl'), path: p, url: null }));
}

async function restarts(client: Client, workflowId: string): Promise<number> {
  try {
    const q = `WorkflowId = '${workflowId.replace(/'/g, "\\'")}' AND ExecutionStatus != 'ContinuedAsNew'`;
    return Math.max(0, (await client.workflow.count(q)).count - 1);
  } catch {
    return 0;
  }
}

/**
 * Details of one issue's latest run in `deployment` (a legacy run included), or null when it never ran.
 * @throws what the Temporal client throws other than "not found".
 */
export async function collectIssue(
  client: Client,
  deployment: Pick<Deployment, 'key' | 'legacyTaskQueue'>,
  identifier: string,
  opts: StatusOptions & { home?: string } = {},
): Promise<IssueDetail | null> {
  const found = await findIssueRun(client, deployment, identifier);
  if (!found) return null;
  const d = found.description;
  const [detail, events, restartCount] = await Promise.all([
    d.status.name === 'RUNNING' ? openDetail(client, d, opts) : closedDetail(client, d, opts),
    recentEvents(client, d.workflowId, d.runId).catch(() => [] as RunEvent[]),
    restarts(client, d.workflowId),
  ]);
  detail.recent_events = events;
  detail.attempts.restart_count = restartCount;
  if (detail.last_error === null && d.status.name === 'FAILED')
    detail.last_error = events.findLast((e) => e.event === 'run_failed')?.message ?? null;
  const lookup = await trackerIssues(opts.tracker, [detail.issue_id]);
  const issue = lookup.issues.get(detail.issue_id);
  if (issue) {
    detail.issue_url = issue.url;
    detail.state = issue.state;
    if (detail.running) Object.assign(detail.running, { issue_url: issue.url, state: issue.state });
    if (detail.evidence) detail.evidence.url = commentUrl(issue.url, detail.evidence.comment_id);
  }
  return detail;
}

/** The fields every run has, before the open or closed specifics. */
function baseDetail(d: WorkflowExecutionDescription): IssueDetail {
  const memo = d.memo ?? {};
  return {
    issue_identifier: typeof memo.identifier === 'string' ? memo.identifier : d.workflowId,
    issue_id: typeof memo.issueId === 'string' ? memo.issueId : '',
    issue_url: null,
    state: null,
    status: 'running',
    phase: 'unknown',
    workflow_id: d.workflowId,
    run_id: d.runId,
    temporal_url: null,
    workspace: null,
    attempts: { restart_count: 0, current_retry_attempt: 0 },
    running: null,
    retry: null,
    logs: { transcripts: [] },
    recent_events: [],
    last_error: null,
    tracked: {},
    outcome: null,
    reason: null,
    started_at: d.startTime.toISOString(),
    closed_at: d.closeTime?.toISOString() ?? null,
    branch: null,
    commit: null,
    pushed: null,
    pr: null,
    evidence: null,
    qa: null,
    review: null,
    escalations: [],
    waiting: null,
    tokens: null,
    cost_usd: null,
    turns: null,
    wall_ms: null,
    rework: null,
  };
}

async function openDetail(
  client: Client,
  d: WorkflowExecutionDescription,
  opts: StatusOptions & { home?: string },
): Promise<IssueDetail> {
  const now = (opts.now ?? Date.now)();
  const { status: s, report, steps } = await readRunning(client, d, d);
  const row = runningRow(d, report, steps, now);
  row.temporal_url = temporalRunUrl(opts.temporalUiUrl, client.options.namespace, d.workflowId, d.runId);
  const retryStep = retryingSteps(steps)[0] ?? null;
  const detail = baseDetail(d);
  return {
    ...detail,
    issue_id: row.issue_id,
    issue_identifier: row.issue_identifier,
    status: row.status,
    phase: row.phase,
    temporal_url: row.temporal_url,
    workspace: row.workspace ? { path: row.workspace } : null,
    attempts: { restart_count: 0, current_retry_attempt: Math.max(0, ...steps.map((x) => x.attempt)) },
    running: row,
    retry: row.retrying
      ? {
          step: row.retrying.step,
          attempt: row.retrying.attempt + 1,
          due_at: row.retrying.next_attempt_at,
          error: row.retrying.error,
        }
      : retryStep,
    logs: {
      transcripts: await transcriptsOf(
        opts.home,
        row.issue_identifier,
        d.raw.workflowExecutionInfo?.firstRunId ?? d.runId,
        s?.transcripts ?? [],
      ),
    },
    last_error: row.last_error,
    started_at: row.started_at,
    branch: row.branch,
    pr: row.pr_url ? { url: row.pr_url, state: 'open' } : null,
    qa: s?.qa ? { passed: s.qa.passed, rounds: s.qa.round, results: [] } : null,
    review: row.review,
    escalations: escalationViews(s?.escalations),
    waiting: row.waiting,
    tokens: row.tokens,
    cost_usd: row.cost_usd,
    turns: row.turn_count,
    wall_ms: now - Date.parse(row.started_at),
  };
}

/** A run's escalations in the per-issue route's shape (specs/api.md). */
function escalationViews(
  list: readonly {
    question: string;
    kind: string;
    askedAt: string;
    answer: string | null;
    author: string | null;
  }[] = [],
): IssueDetail['escalations'] {
  return list.map((e) => ({
    question: e.question,
    kind: e.kind,
    asked_at: e.askedAt,
    answer: e.answer,
    author: e.author,
  }));
}

async function closedDetail(
  client: Client,
  d: WorkflowExecutionDescription,
  opts: StatusOptions & { home?: string },
): Promise<IssueDetail> {
  let summary: IssueRunSummary | null | undefined;
  const getSummary = async () => (summary ??= await runSummary(client, d));
  const rec = await closedRecord(d, getSummary);
  const s = await getSummary();
  const detail = baseDetail(d);
  // Transcripts live under the run whose conversation the agents continue (a rework's first run).
  const firstRunId = s?.rework?.conversationRunId ?? s?.runId ?? d.raw.workflowExecutionInfo?.firstRunId ?? d.runId;
  return {
    ...detail,
    issue_id: rec.issue_id ?? detail.issue_id,
    status: rec.phase,
    phase: rec.phase,
    state: rec.state,
    temporal_url: temporalRunUrl(opts.temporalUiUrl, client.options.namespace, d.workflowId, d.runId),
    logs: { transcripts: await transcriptsOf(opts.home, rec.issue_identifier, firstRunId, []) },
    outcome: rec.outcome,
    reason: s?.reason ?? null,
    started_at: rec.started_at,
    branch: rec.branch,
    commit: s?.commit ?? null,
    pushed: s?.pushed ?? null,
    pr: rec.pr_url ? { url: rec.pr_url, state: s?.pr_state ?? null } : null,
    evidence: s?.evidence ? { comment_id: s.evidence.commentId, key: s.evidence.key, url: null } : null,
    qa: s && s.rounds > 0 ? { passed: s.qa.every((r) => r.passed), rounds: s.rounds, results: s.qa } : null,
    review: reviewView(s?.review),
    escalations: escalationViews(s?.escalations),
    tokens: rec.tokens ?? (s ? tokenCounts(s.tokens) : null),
    cost_usd: rec.cost_usd,
    turns: rec.turns,
    wall_ms: rec.wall_ms,
    rework: s?.rework ? { round: s.rework.round } : null,
  };
}
