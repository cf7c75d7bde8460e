/**
 * The runtime state an operator sees (`GET /api/v1/state`, the dashboard, `foreman status`),
 * read from Temporal — the only scheduler state — never from process memory: running issue
 * workflows with their status query, and recently closed runs with their outcome.
 */
import type { Client, WorkflowExecutionInfo } from '@temporalio/client';
import { deploymentQuery, type Deployment } from './deployment.js';
import { findIssueRun } from './dispatch/runs.js';
import {
  dispatcherStatusQuery,
  dispatcherWorkflowId,
  ISSUE_WORKFLOW_TYPE,
  statusQuery,
} from '../workflows/definitions.js';
import type { IssueRunStatus } from '../workflows/definitions.js';
import { latestRateLimits, type RateLimits } from './agents/rate-limits.js';

/** One running issue (Symphony SPEC §13.7.2 `running[]`, extended). */
export interface RunningIssue {
  issue_id: string;
  issue_identifier: string;
  workflow_id: string;
  run_id: string;
  phase: IssueRunStatus['phase'] | 'unknown';
  round: number;
  turn_count: number;
  started_at: string;
  last_error: string | null;
  /** A step riding out a transient outage: which, the attempt, the next try (RFC 3339); null when none. */
  retrying: { step: string; attempt: number; error: string; next_attempt_at: string } | null;
  workspace: string | null;
  branch: string | null;
  tokens: { input_tokens: number; output_tokens: number; total_tokens: number };
  /** The latest model rate limits this run saw (Symphony SPEC §13.7); null before any. */
  rate_limits: RateLimits | null;
  /** The open question, when the run waits for a human. */
  waiting: {
    question: string;
    kind: string;
    asked_at: string;
    age_ms: number;
    reminded: boolean;
    parked: boolean;
  } | null;
  /** Comments not taken as answers because their author may not answer (specs/trust.md), latest last. */
  ignored_comments: { comment_id: string; author: string; reason: string }[];
}

/** One recently closed run. */
export interface ClosedIssueRun {
  issue_identifier: string;
  workflow_id: string;
  run_id: string;
  status: string;
  outcome: string | null;
  closed_at: string | null;
}

/** Summary view of the system (Symphony SPEC §13.7.2 `GET /api/v1/state`, extended). */
export interface StateSnapshot {
  generated_at: string;
  /** The task queue of the deployment the snapshot covers; null for all. */
  task_queue: string | null;
  /** The deployment key the snapshot covers (src/deployment.ts); null for all. */
  deployment: string | null;
  counts: { running: number; waiting_for_human: number; closed_recently: number };
  running: RunningIssue[];
  recent: ClosedIssueRun[];
  /**
   * Issues the dispatcher's last tick did not start, with the reason (e.g. `author X is not
   * trusted; a trusted person must apply the label "foreman"`: specs/trust.md); empty when no
   * dispatcher answers or `task_queue` is null.
   */
  skipped: { issue_identifier: string; reason: string }[];
  totals: { input_tokens: number; output_tokens: number; total_tokens: number };
  /** The latest model rate limits any running issue saw (Symphony SPEC §13.7 `rate_limits`); null: none. */
  rate_limits: RateLimits | null;
}

type ExecutionInfo = Pick<
  WorkflowExecutionInfo,
  'workflowId' | 'runId' | 'memo' | 'startTime' | 'status' | 'closeTime'
>;

const identifierOf = (wf: ExecutionInfo) =>
  typeof wf.memo?.identifier === 'string' ? wf.memo.identifier : wf.workflowId;

/** Queries one running workflow; a workflow that can't answer (no worker) still shows, as `unknown`. */
async function describeRunning(client: Client, wf: ExecutionInfo): Promise<RunningIssue> {
  let s: IssueRunStatus | null;
  try {
    s = await client.workflow.getHandle(wf.workflowId, wf.runId).query(statusQuery);
  } catch {
    s = null;
  }
  const t = s?.tokens;
  const input = t ? t.input_tokens + t.cache_creation_input_tokens + t.cache_read_input_tokens : 0;
  const output = t?.output_tokens ?? 0;
  return {
    issue_id: s?.issueId ?? (typeof wf.memo?.issueId === 'string' ? wf.memo.issueId : ''),
    issue_identifier: s?.identifier ?? identifierOf(wf),
    workflow_id: wf.workflowId,
    run_id: wf.runId,
    phase: s?.phase ?? 'unknown',
    round: s?.round ?? 0,
    turn_count: s?.turns ?? 0,
    started_at: s?.startedAt ?? wf.startTime.toISOString(),
    last_error: s?.lastError ?? null,
    retrying: s?.retrying
      ? {
          step: s.retrying.step,
          attempt: s.retrying.attempt,
          error: s.retrying.error,
          next_attempt_at: s.retrying.nextAttemptAt,
        }
      : null,
    workspace: s?.workspace ?? null,
    branch: s?.branch ?? null,
    tokens: { input_tokens: input, output_tokens: output, total_tokens: input + output },
    rate_limits: s?.rateLimits ?? null,
    waiting:
      s?.phase === 'waiting_for_human' && s.escalation
        ? {
            question: s.escalation.question,
            kind: s.escalation.kind,
            asked_at: s.escalation.askedAt,
            age_ms: Date.now() - Date.parse(s.escalation.askedAt),
            reminded: s.escalation.reminded,
            parked: s.escalation.parked,
          }
        : null,
    ignored_comments: (s?.ignoredComments ?? []).map((c) => ({
      comment_id: c.commentId,
      author: c.author,
      reason: c.reason,
    })),
  };
}

/** The dispatcher's last skipped list on `taskQueue`; empty when it cannot answer. */
async function dispatcherSkipped(client: Client, taskQueue: string | null): Promise<StateSnapshot['skipped']> {
  if (!taskQueue) return [];
  try {
    const d = await client.workflow.getHandle(dispatcherWorkflowId(taskQueue)).query(dispatcherStatusQuery);
    return d.skipped.map((x) => ({ issue_identifier: x.identifier, reason: x.reason }));
  } catch {
    return [];
  }
}

/**
 * Reads the state of the issue runs of `deployment` (null: every deployment; legacy runs on its
 * legacy queue included, src/deployment.ts): all running, and the last `recentLimit` closed.
 */
export async function collectState(
  client: Client,
  deployment: Deployment | null,
  recentLimit = 20,
): Promise<StateSnapshot> {
  const base = `WorkflowType = '${ISSUE_WORKFLOW_TYPE}'` + (deployment ? ` AND ${deploymentQuery(deployment)}` : '');
  const runningInfos: WorkflowExecutionInfo[] = [];
  for await (const wf of client.workflow.list({ query: `${base} AND ExecutionStatus = 'Running'` }))
    runningInfos.push(wf);
  const running = await Promise.all(runningInfos.map((wf) => describeRunning(client, wf)));

  const recent: ClosedIssueRun[] = [];
  for await (const wf of client.workflow.list({ query: `${base} AND ExecutionStatus != 'Running'` })) {
    recent.push(closedRun(wf));
    if (recent.length >= recentLimit) break;
  }
  const totals = running.reduce(
    (acc, r) => ({
      input_tokens: acc.input_tokens + r.tokens.input_tokens,
      output_tokens: acc.output_tokens + r.tokens.output_tokens,
      total_tokens: acc.total_tokens + r.tokens.total_tokens,
    }),
    { input_tokens: 0, output_tokens: 0, total_tokens: 0 },
  );
  return {
    generated_at: new Date().toISOString(),
    task_queue: deployment?.taskQueue ?? null,
    deployment: deployment?.key ?? null,
    counts: {
      running: running.length,
      waiting_for_human: running.filter((r) => r.waiting).length,
      closed_recently: recent.length,
    },
    running,
    recent,
    skipped: await dispatcherSkipped(client, deployment?.taskQueue ?? null),
    totals,
    rate_limits: running.reduce<RateLimits | null>((acc, r) => latestRateLimits(acc, r.rate_limits), null),
  };
}

/** Renders a snapshot as the plain-text table `foreman status` prints. */
export function formatState(s: StateSnapshot): string {
  const rows = [['ISSUE', 'PHASE', 'ROUND', 'TURNS', 'TOKENS', 'STARTED', 'LAST ERROR']];
  for (const r of s.running) {
    rows.push([
      r.issue_identifier,
      r.retrying ? `${r.phase} (retrying)` : r.phase,
      String(r.round),
      String(r.turn_count),
      String(r.tokens.total_tokens),
      r.started_at,
      r.retrying
        ? `${r.retrying.error}; attempt ${r.retrying.attempt + 1} at ${r.retrying.next_attempt_at}`
        : (r.last_error ?? ''),
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  const table = rows.map((row) =>
    row
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd(),
  );
  const out = [
    `${s.counts.running} running${s.deployment ? ` in ${s.deployment}` : ''}, ${s.counts.waiting_for_human} waiting for a human; tokens in flight: ${s.totals.total_tokens}`,
  ];
  if (s.running.length) out.push('', ...table);
  if (s.rate_limits) out.push('', formatRateLimits(s.rate_limits));
  const waiting = s.running.filter((r) => r.waiting);
  if (waiting.length) {
    out.push('', 'Waiting for a human (answer with `foreman answer ISSUE "text"` or a comment on the issue):');
    for (const r of waiting) {
      const w = r.waiting!;
      const flags = [w.reminded ? 'reminded' : '', w.parked ? 'parked' : ''].filter(Boolean).join(', ');
      out.push(`  ${r.issue_identifier}  waiting ${formatAge(w.age_ms)}${flags ? ` (${flags})` : ''}: ${w.question}`);
      for (const c of r.ignored_comments) out.push(`    ignored a comment from ${c.author}: ${c.reason}`);
    }
  }
  const skipped = (s.skipped ?? []).filter((x) => !/^(no_global_slot|no_state_slot|already_running)$/.test(x.reason));
  if (skipped.length) {
    out.push('', 'Not started:');
    for (const x of skipped) out.push(`  ${x.issue_identifier}  ${x.reason}`);
  }
  if (s.recent.length) {
    out.push('', 'Recently finished:');
    for (const r of s.recent)
      out.push(
        `  ${r.issue_identifier}  ${r.status.toLowerCase()}${r.outcome ? ` (${r.outcome})` : ''}  ${r.closed_at ?? ''}`,
      );
  }
  return out.join('\n');
}

/** One line of the latest model rate limits: what is left of each limit, when it resets. */
export function formatRateLimits(r: RateLimits): string {
  const part = (what: string, left: number | null, limit: number | null, reset: string | null) =>
    left === null
      ? null
      : `${what} ${left}${limit !== null ? `/${limit}` : ''} left${reset ? ` (reset ${reset})` : ''}`;
  const parts = [
    part('requests', r.requests_remaining, r.requests_limit, r.requests_reset),
    part('tokens', r.tokens_remaining, r.tokens_limit, r.tokens_reset),
    r.retry_after_s !== null ? `retry after ${r.retry_after_s} s` : null,
  ].filter((p): p is string => p !== null);
  return `Model rate limits (HTTP ${r.status} at ${r.observed_at}): ${parts.join('; ') || 'no counts reported'}`;
}

/** A duration for people: `42 s`, `5 min`, `3 h`, `2 d` (status and `foreman ls`). */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172_800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86_400)} d`;
}

/** Details of one issue's latest run in `deployment` (a legacy run included), or null when it never ran. */
export async function collectIssue(
  client: Client,
  deployment: Pick<Deployment, 'key' | 'legacyTaskQueue'>,
  identifier: string,
): Promise<RunningIssue | ClosedIssueRun | null> {
  let d;
  try {
    d = (await findIssueRun(client, deployment, identifier))?.description;
  } catch {
    return null;
  }
  if (!d) return null;
  if (d.status.name === 'RUNNING') return describeRunning(client, d);
  return closedRun(d);
}

function closedRun(wf: ExecutionInfo): ClosedIssueRun {
  return {
    issue_identifier: identifierOf(wf),
    workflow_id: wf.workflowId,
    run_id: wf.runId,
    status: wf.status.name,
    outcome: typeof wf.memo?.outcome === 'string' ? wf.memo.outcome : null,
    closed_at: wf.closeTime?.toISOString() ?? null,
  };
}
