/**
 * Closed issue runs as durable records tell them (docs/architecture.md, "Status and the API"): the
 * memo a run leaves when it closes (workflows/issue/report.ts `closingMemo`), else the summary it
 * returned (its history's close event), else only what visibility says. A closed execution never
 * changes, so what was read for a run id is kept for the process's life (a cache of immutable
 * records, not state). Continued-as-new executions are not run ends and are skipped.
 */
import type { Client, WorkflowExecutionInfo } from '@temporalio/client';
import type { IssueRunSummary } from '../../workflows/definitions.js';
import type { ClosedRunMemo, ReviewOutcome } from './run-report.js';
import { totalTokens } from '../agents/usage.js';

/** A closed run's phase: what the run did last (`handed_over`, `merged`, `stopped`) or how Temporal ended it. */
export type ClosedPhase = ClosedRunMemo['phase'] | 'failed' | 'terminated' | 'canceled' | 'timed_out' | 'unknown';

/** One closed run (a `recent[]` row of `GET /api/v1/state`; specs/api.md). Times RFC 3339, money USD. */
export interface ClosedIssueRun {
  issue_identifier: string;
  issue_id: string | null;
  workflow_id: string;
  run_id: string;
  /** Temporal's execution status: `COMPLETED`, `FAILED`, `TERMINATED`, `CANCELED`, `TIMED_OUT`. */
  status: string;
  /** `completed` or `stopped` as the run returned it; null when it ended otherwise. */
  outcome: string | null;
  phase: ClosedPhase;
  /** The tracker state the run left the issue in (its memo); the API replaces it with the tracker's word. */
  state: string | null;
  /** The issue on the tracker; null when the tracker was not asked. */
  issue_url: string | null;
  /** The run in the Temporal Web UI; null without a UI URL. */
  temporal_url: string | null;
  started_at: string | null;
  closed_at: string | null;
  branch: string | null;
  pr_url: string | null;
  tokens: { input_tokens: number; output_tokens: number; total_tokens: number } | null;
  cost_usd: number | null;
  turns: number | null;
  /** Start to close, ms; null when unknown. */
  wall_ms: number | null;
}

const PHASE_OF_STATUS: Record<string, ClosedPhase> = {
  FAILED: 'failed',
  TERMINATED: 'terminated',
  CANCELLED: 'canceled',
  CANCELED: 'canceled',
  TIMED_OUT: 'timed_out',
};

type Info = Pick<WorkflowExecutionInfo, 'workflowId' | 'runId' | 'memo' | 'startTime' | 'status' | 'closeTime'>;

/** True for the executions that end a run (every closed status but continued-as-new). */
export function endsRun(wf: Pick<WorkflowExecutionInfo, 'status'>): boolean {
  return wf.status.name !== 'RUNNING' && wf.status.name !== 'CONTINUED_AS_NEW';
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** Reads a ClosedRunMemo from a memo; null when the run closed before runs wrote one. */
export function memoRecord(memo: Record<string, unknown> | undefined): ClosedRunMemo | null {
  if (!memo || typeof memo.phase !== 'string' || typeof memo.tokens !== 'object' || memo.tokens === null) return null;
  const t = memo.tokens as Record<string, unknown>;
  const phase = memo.phase;
  if (phase !== 'handed_over' && phase !== 'merged' && phase !== 'stopped') return null;
  return {
    outcome: memo.outcome === 'stopped' ? 'stopped' : 'completed',
    phase,
    state: str(memo.state),
    branch: str(memo.branch),
    pr: str(memo.pr),
    tokens: {
      input_tokens: num(t.input_tokens) ?? 0,
      output_tokens: num(t.output_tokens) ?? 0,
      total_tokens: num(t.total_tokens) ?? 0,
    },
    cost_usd: num(memo.cost_usd),
    turns: num(memo.turns) ?? 0,
    wall_ms: num(memo.wall_ms) ?? 0,
    started_at: str(memo.started_at) ?? '',
  };
}

/** The summary a completed run returned (read from its history; no worker needed), else null. */
export async function runSummary(client: Client, wf: Pick<Info, 'workflowId' | 'runId' | 'status'>) {
  if (wf.status.name !== 'COMPLETED') return null;
  try {
    const v = (await client.workflow.getHandle(wf.workflowId, wf.runId).result()) as IssueRunSummary | null;
    return v && typeof v === 'object' && 'tokens' in v ? v : null;
  } catch {
    return null;
  }
}

/** The record of a closed run from its memo, else its summary (fetched with `summary`), else visibility alone. */
export async function closedRecord(wf: Info, summary: () => Promise<IssueRunSummary | null>): Promise<ClosedIssueRun> {
  const memo = memoRecord(wf.memo);
  const base = {
    issue_identifier: str(wf.memo?.identifier) ?? wf.workflowId,
    issue_id: str(wf.memo?.issueId),
    workflow_id: wf.workflowId,
    run_id: wf.runId,
    status: wf.status.name,
    outcome: str(wf.memo?.outcome),
    closed_at: wf.closeTime?.toISOString() ?? null,
    issue_url: null,
    temporal_url: null,
  };
  if (memo) {
    return {
      ...base,
      outcome: memo.outcome,
      phase: memo.phase,
      state: memo.state,
      started_at: memo.started_at || wf.startTime.toISOString(),
      branch: memo.branch,
      pr_url: memo.pr,
      tokens: memo.tokens,
      cost_usd: memo.cost_usd,
      turns: memo.turns,
      wall_ms: memo.wall_ms,
    };
  }
  const s = wf.status.name === 'COMPLETED' ? await summary() : null;
  const phase: ClosedPhase = s
    ? s.outcome === 'stopped'
      ? 'stopped'
      : s.pr_state === 'merged'
        ? 'merged'
        : 'handed_over'
    : (PHASE_OF_STATUS[wf.status.name] ?? (base.outcome === 'stopped' ? 'stopped' : 'unknown'));
  const input = s ? s.tokens.input_tokens + s.tokens.cache_creation_input_tokens + s.tokens.cache_read_input_tokens : 0;
  return {
    ...base,
    outcome: s?.outcome ?? base.outcome,
    phase,
    state: null,
    started_at: wf.startTime.toISOString(),
    branch: s?.branch ?? null,
    pr_url: s?.pr ?? null,
    tokens: s
      ? { input_tokens: input, output_tokens: s.tokens.output_tokens, total_tokens: totalTokens(s.tokens) }
      : null,
    cost_usd: s?.cost_usd ?? null,
    turns: s?.turns ?? null,
    wall_ms: s?.wall_ms ?? (wf.closeTime ? wf.closeTime.getTime() - wf.startTime.getTime() : null),
  };
}

/**
 * Reads closed runs, each once per process: `records(client, infos)` returns their records in the
 * same order, fetching at most `concurrency` summaries at a time for runs without a memo.
 */
export function createClosedRunReader(concurrency = 4) {
  const cache = new Map<string, ClosedIssueRun>();
  return async function records(client: Client, infos: Info[]): Promise<ClosedIssueRun[]> {
    const out: ClosedIssueRun[] = new Array(infos.length);
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < infos.length; i = next++) {
        const wf = infos[i]!;
        const hit = cache.get(wf.runId);
        if (hit) {
          out[i] = hit;
          continue;
        }
        const r = await closedRecord(wf, () => runSummary(client, wf));
        cache.set(wf.runId, r);
        out[i] = r;
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
    return out;
  };
}

/** A review outcome as the API shows it (snake_case). */
export function reviewView(r: ReviewOutcome | null | undefined) {
  return r ? { round: r.round, verdict: r.verdict, open_findings: r.openFindings, summary: r.summary } : null;
}
