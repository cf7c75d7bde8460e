/**
 * The dashboard's data (docs/architecture.md, "Dashboard"), read from Temporal only: the home view
 * (summary, escalation inbox, retry queue, running and recent runs) built on the `/api/v1/state`
 * snapshot (src/status.ts: what the runs published, no query per run) plus today's closed runs, and
 * one issue's view (status query, workflow history, transcripts). Immutable facts (a closed run's
 * summary, a run's starting settings) are cached by run id; nothing else is kept.
 */
import path from 'node:path';
import type { Client } from '@temporalio/client';
import type { Policy } from '../../config/schema.js';
import { runSettings, type RunSettings } from '../../config/run-settings.js';
import { deploymentQuery, type Deployment } from '../../deployment.js';
import { findIssueRun } from '../../dispatch/runs.js';
import { formatDuration, renderEvidence } from '../../evidence/render.js';
import { linkPrefixes } from '../../evidence/inert.js';
import { totalTokens } from '../../agents/usage.js';
import { transcriptPath } from '../../home.js';
import { TranscriptDirReader } from '../../cli/runs.js';
import { workspaceKey } from '../../workspace/key.js';
import type { StateSnapshot, WaitingQuestion } from '../../status.js';
import { memoRecord } from '../../status/records.js';
import { queryStatus, reportOfStatus, runningRow } from '../../status/running.js';
import { ISSUE_WORKFLOW_TYPE } from '../../../workflows/definitions.js';
import { readRunHistory, type RunHistory } from './history.js';

/** What the dashboard reads with. */
export interface DashboardSource {
  client: Client;
  deployment: Deployment;
  /** FOREMAN_HOME (transcripts). */
  home: string;
  policy(): Policy;
  namespace: string;
  temporalUiUrl: string | null;
}

/** One question waiting for a human. */
export interface InboxItem {
  identifier: string;
  /** The issue's title (from the run's history); null when it cannot be read. */
  title: string | null;
  workflow_id: string;
  /** The question's number in the run (the answer route's `escalation`). */
  n: number;
  kind: string;
  question: string;
  options: { n: number; label: string; command: string | null; recommended: boolean }[];
  recommendation: string | null;
  asked_at: string;
  reminded: boolean;
  parked: boolean;
  /** What the run does without an answer (its reminder and park rule, specs/escalations.md). */
  without_answer: string;
}

/** One run riding out an outage. */
export interface RetryItem {
  identifier: string;
  step: string;
  attempt: number;
  error: string;
  next_attempt_at: string;
}

/** The home page's data. */
export interface HomeView {
  generated_at: string;
  summary: {
    /** Runs at work: running, neither waiting for a human nor in review. */
    working: number;
    waiting: number;
    retrying: number;
    in_review: number;
    done_today: number;
    /** Tokens and USD of the runs running now and those that ended today (UTC); USD null: a price unknown. */
    tokens_today: number;
    usd_today: number | null;
  };
  inbox: InboxItem[];
  retry: RetryItem[];
  running: {
    identifier: string;
    phase: string;
    round: number;
    turns: number;
    tokens: number;
    cost_usd: number | null;
    started_at: string;
    last_error: string | null;
  }[];
  recent: { identifier: string; status: string; outcome: string | null; closed_at: string | null }[];
}

/** Caches of immutable per-run facts, by run id (bounded). */
export class RunCache<T> {
  private readonly map = new Map<string, T>();
  constructor(private readonly max = 500) {}
  async get(key: string, load: () => Promise<T>): Promise<T> {
    if (this.map.has(key)) return this.map.get(key)!;
    const v = await load();
    if (this.map.size >= this.max) this.map.delete(this.map.keys().next().value!);
    this.map.set(key, v);
    return v;
  }
}

/** Longest wait for the issue page's status query, ms (a run no worker answers shows without its details). */
const QUERY_WAIT_MS = 3000;

/** The run caches a dashboard keeps for its lifetime. */
export interface DashboardCaches {
  history: RunCache<RunHistory>;
  /** Tokens and USD of closed runs, by run id. */
  closed: RunCache<{ tokens: number; usd: number | null; completed: boolean }>;
}

/** Fresh caches. */
export function dashboardCaches(): DashboardCaches {
  return { history: new RunCache(50), closed: new RunCache(2000) };
}

async function historyOf(src: DashboardSource, caches: DashboardCaches, workflowId: string, runId: string) {
  const handle = src.client.workflow.getHandle(workflowId, runId);
  const d = await handle.describe();
  // A history only grows: its length names a version of it.
  return caches.history.get(`${runId}:${d.historyLength}`, async () => readRunHistory(await handle.fetchHistory()));
}

/**
 * What a waiting run does without an answer, from the settings it started with (specs/escalations.md;
 * the policy in force when they cannot be read): a reminder, parking, else waiting without bound.
 */
export function withoutAnswer(
  e: { asked_at: string; reminded: boolean; parked: boolean },
  s: Pick<RunSettings, 'repingMs' | 'parkMs' | 'parkedState'>,
): string {
  const asked = Date.parse(e.asked_at);
  const at = (ms: number) => new Date(asked + ms).toISOString().slice(0, 16).replace('T', ' ') + ' UTC';
  const parts: string[] = [];
  if (s.repingMs && (!s.parkMs || s.repingMs < s.parkMs))
    parts.push(
      e.reminded ? 'a reminder was posted' : `one reminder after ${formatDuration(s.repingMs)} (${at(s.repingMs)})`,
    );
  if (s.parkMs) {
    const where = s.parkedState ? ` in "${s.parkedState}"` : '';
    parts.push(e.parked ? `parked${where}` : `parked${where} after ${formatDuration(s.parkMs)} (${at(s.parkMs)})`);
  }
  parts.push('the run waits for an answer without bound; nothing else happens on the issue');
  return parts.join('; ');
}

/**
 * The inbox item of a running row waiting for a human; `rule` is the reminder and park rule when
 * the row does not carry it (the run's starting settings, else the policy in force).
 */
function inboxItem(
  r: Pick<StateSnapshot['running'][number], 'issue_identifier' | 'workflow_id' | 'title'>,
  w: WaitingQuestion,
  rule: () => Pick<RunSettings, 'repingMs' | 'parkMs' | 'parkedState'>,
): InboxItem {
  const options = w.options.map((o) => ({
    n: o.number,
    label: o.label,
    command: o.command,
    recommended: w.recommendation !== null && o.label.trim() === w.recommendation.trim(),
  }));
  const base = { asked_at: w.asked_at, reminded: w.reminded, parked: w.parked };
  return {
    identifier: r.issue_identifier,
    title: r.title,
    workflow_id: r.workflow_id,
    n: w.n,
    kind: w.kind,
    question: w.question,
    options,
    recommendation: w.recommendation,
    ...base,
    without_answer: withoutAnswer(
      base,
      w.rule ? { repingMs: w.rule.reping_ms, parkMs: w.rule.park_ms, parkedState: w.rule.parked_state } : rule(),
    ),
  };
}

/**
 * Tokens, USD and whether it completed, of the closed runs of today (UTC): from each run's closing
 * memo, else (a run from before it) its history, read once per run.
 */
async function closedToday(src: DashboardSource, caches: DashboardCaches) {
  const midnight = new Date();
  midnight.setUTCHours(0, 0, 0, 0);
  const query =
    `WorkflowType = '${ISSUE_WORKFLOW_TYPE}' AND ${deploymentQuery(src.deployment)} ` +
    `AND ExecutionStatus != 'Running' AND CloseTime >= '${midnight.toISOString()}'`;
  const out: { tokens: number; usd: number | null; completed: boolean }[] = [];
  for await (const wf of src.client.workflow.list({ query })) {
    out.push(
      await caches.closed.get(wf.runId, async () => {
        const memo = memoRecord(wf.memo);
        if (memo)
          return { tokens: memo.tokens.total_tokens, usd: memo.cost_usd, completed: memo.outcome === 'completed' };
        const h = await historyOf(src, caches, wf.workflowId, wf.runId).catch(() => null);
        const sum = h?.summary;
        return { tokens: sum?.tokens.total ?? 0, usd: sum ? sum.cost_usd : 0, completed: sum?.outcome === 'completed' };
      }),
    );
  }
  return out;
}

/**
 * The home page's data from the state snapshot (every open run as it published itself) plus
 * today's closed runs (one visibility list): no call per open run, so its cost does not grow with
 * the runs parked (docs/architecture.md, "Scale").
 */
export async function collectHome(
  src: DashboardSource,
  caches: DashboardCaches,
  state: StateSnapshot,
): Promise<HomeView> {
  let policyRule: RunSettings | undefined;
  const rule = () => (policyRule ??= runSettings(src.policy()));
  const inbox = state.running
    .filter((r) => r.waiting)
    .map((r) => inboxItem(r, r.waiting!, rule))
    .sort((a, b) => a.asked_at.localeCompare(b.asked_at));
  const today = await closedToday(src, caches);
  let usd: number | null = 0;
  const addUsd = (v: number | null | undefined) =>
    (usd = usd === null || v === null || v === undefined ? null : usd + v);
  for (const r of state.running) addUsd(r.cost_usd);
  for (const c of today) addUsd(c.usd);
  const tokens = state.running.reduce((n, r) => n + r.tokens.total_tokens, 0) + today.reduce((n, c) => n + c.tokens, 0);
  const retry = state.running
    .filter((r) => r.retrying)
    .map((r) => ({ identifier: r.issue_identifier, ...r.retrying! }))
    .sort((a, b) => a.next_attempt_at.localeCompare(b.next_attempt_at));
  const waitingOrReview = (p: string) => p === 'waiting_for_human' || p === 'in_review';
  return {
    generated_at: state.generated_at,
    summary: {
      working: state.running.filter((r) => !waitingOrReview(r.phase)).length,
      waiting: inbox.length,
      retrying: retry.length,
      in_review: state.running.filter((r) => r.phase === 'in_review').length,
      done_today: today.filter((c) => c.completed).length,
      tokens_today: tokens,
      usd_today: usd,
    },
    inbox,
    retry,
    running: state.running.map((r) => ({
      identifier: r.issue_identifier,
      phase: r.phase,
      round: r.round,
      turns: r.turn_count,
      tokens: r.tokens.total_tokens,
      cost_usd: r.cost_usd,
      started_at: r.started_at,
      last_error: r.last_error,
    })),
    recent: state.recent.map((r) => ({
      identifier: r.issue_identifier,
      status: r.status.toLowerCase(),
      outcome: r.outcome,
      closed_at: r.closed_at,
    })),
  };
}

/** One issue's page data. */
export interface IssueView {
  identifier: string;
  title: string | null;
  workflow_id: string;
  run_id: string;
  /** Temporal's execution status, lower case. */
  status: string;
  /** The run's phase (running), else its outcome or status. */
  phase: string;
  round: number | null;
  turns: number | null;
  tokens: number | null;
  cost_usd: number | null;
  last_error: string | null;
  retrying: RetryItem | null;
  waiting: InboxItem | null;
  links: {
    issue: string | null;
    branch: string | null;
    branch_url: string | null;
    pr: string | null;
    temporal: string | null;
  };
  timeline: RunHistory['timeline'];
  /** The evidence packet as Foreman posts it (Markdown); null before the first. */
  evidence: string | null;
}

/** An http(s) URL, else null (links on the page are never `javascript:` or the like). */
export function httpUrl(u: string | null | undefined): string | null {
  if (!u) return null;
  try {
    const url = new URL(u);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
  } catch {
    return null;
  }
}

/** The issue's latest run's view; null when it never ran in the deployment. */
export async function collectIssueView(
  src: DashboardSource,
  caches: DashboardCaches,
  identifier: string,
): Promise<IssueView | null> {
  const found = await findIssueRun(src.client, src.deployment, identifier).catch(() => null);
  if (!found) return null;
  const d = found.description;
  const running = d.status.name === 'RUNNING';
  const [s, h] = await Promise.all([
    running ? queryStatus(src.client, found.workflowId, d.runId, QUERY_WAIT_MS) : Promise.resolve(null),
    historyOf(src, caches, found.workflowId, d.runId),
  ]);
  const sum = h.summary;
  const policy = src.policy();
  const branch = s?.branch ?? sum?.branch ?? h.evidence?.branch ?? null;
  const repo = policy.scm.github.repo;
  const ui = src.temporalUiUrl;
  const waiting = s ? runningRow(d, reportOfStatus(s), [], Date.now()).waiting : null;
  const row = { issue_identifier: identifier, workflow_id: found.workflowId, title: h.issue?.title ?? null };
  return {
    identifier,
    title: h.issue?.title ?? null,
    workflow_id: found.workflowId,
    run_id: d.runId,
    status: d.status.name.toLowerCase(),
    phase: s?.phase ?? sum?.outcome ?? d.status.name.toLowerCase(),
    round: s?.round ?? sum?.rounds ?? null,
    turns: s?.turns ?? null,
    tokens: s ? totalTokens(s.tokens) : (sum?.tokens.total ?? null),
    cost_usd: s ? (s.costUsd ?? null) : (sum?.cost_usd ?? null),
    last_error: s?.lastError ?? null,
    retrying: s?.retrying
      ? {
          identifier,
          step: s.retrying.step,
          attempt: s.retrying.attempt,
          error: s.retrying.error,
          next_attempt_at: s.retrying.nextAttemptAt,
        }
      : null,
    waiting: waiting ? inboxItem(row, waiting, () => h.settings ?? runSettings(policy)) : null,
    links: {
      issue: httpUrl(h.issue?.url),
      branch,
      branch_url:
        branch && repo
          ? httpUrl(`https://github.com/${repo}/tree/${branch.split('/').map(encodeURIComponent).join('/')}`)
          : null,
      pr: httpUrl(sum?.pr ?? h.pr?.url),
      temporal: ui
        ? httpUrl(
            `${ui}/namespaces/${encodeURIComponent(src.namespace)}/workflows/${encodeURIComponent(found.workflowId)}`,
          )
        : null,
    },
    timeline: h.timeline,
    evidence: h.evidence ? renderEvidence(h.evidence, { links: linkPrefixes(policy) }) : null,
  };
}

/** A reader of the transcripts of `identifier`'s run `runId` (src/cli/runs.ts, as `foreman logs`). */
export function transcriptReader(home: string, identifier: string, runId: string): TranscriptDirReader {
  return new TranscriptDirReader(path.dirname(transcriptPath(home, workspaceKey(identifier), runId, 'x')));
}
