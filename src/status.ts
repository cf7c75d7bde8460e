/**
 * The runtime state an operator sees (`GET /api/v1/state`, the dashboard, `foreman status`; shapes
 * in specs/api.md), read from Temporal — the only scheduler state — never from process memory:
 * running issue workflows from what they published and the step in flight (src/status/running.ts),
 * and closed runs from their memo or result (src/status/records.ts), so totals survive the runs
 * that made them. The tracker, when given, says each issue's state and URL.
 */
import type { Client, WorkflowExecutionInfo } from '@temporalio/client';
import { deploymentQuery, type Deployment } from './deployment.js';
import { dispatcherStatusQuery, dispatcherWorkflowId, ISSUE_WORKFLOW_TYPE } from '../workflows/definitions.js';
import { latestRateLimits, type RateLimits } from './agents/rate-limits.js';
import type { Issue, Tracker } from './trackers/types.js';
import { createClosedRunReader, endsRun, type ClosedIssueRun } from './status/records.js';
import { readOpenRun, runningRow, temporalRunUrl, type RunningIssue, type TokenCounts } from './status/running.js';
import { retryingSteps } from './status/live.js';

export type { ClosedIssueRun } from './status/records.js';
export type { RunningIssue, WaitingQuestion, CurrentStep, TokenCounts } from './status/running.js';
export { collectIssue, type IssueDetail } from './status/issue.js';

/** A retry waiting to happen (Symphony SPEC §13.7.2 `retrying[]`): an outage ridden out, or an activity's retry. */
export interface RetryingIssue {
  issue_id: string;
  issue_identifier: string;
  issue_url: string | null;
  /** The step (run step name, or activity type) that failed. */
  step: string;
  /** The attempt that is due (1-based). */
  attempt: number;
  /** RFC 3339; null when Temporal has not scheduled it yet. */
  due_at: string | null;
  error: string;
}

/** Sums over runs: tokens, USD (known prices only), wall seconds, runs. */
export interface RunTotals extends TokenCounts {
  /** USD of the runs whose models had a price. */
  cost_usd: number;
  /** Runs counted whose cost is unknown (a model without a price). */
  runs_without_price: number;
  /** Wall-clock seconds the runs were open (start to close, or to now), waits for humans included. */
  seconds_running: number;
  runs: number;
}

/** Summary view of the system (Symphony SPEC §13.7.2 `GET /api/v1/state`, extended; specs/api.md). */
export interface StateSnapshot {
  generated_at: string;
  /** The task queue of the deployment the snapshot covers; null for all. */
  task_queue: string | null;
  /** The deployment key the snapshot covers (src/deployment.ts); null for all. */
  deployment: string | null;
  /** The Temporal Web UI; null when none is known (`foreman start --no-ui`, or a server without one). */
  temporal_ui_url: string | null;
  counts: {
    /** Open runs at work (not waiting for a human, not in review, not retrying). */
    running: number;
    retrying: number;
    waiting_for_human: number;
    /** Issues handed over and still in review: open runs waiting on their PR, and closed hand-overs the tracker still shows in their review state. */
    in_review: number;
    /** Runs that completed (handed over or merged) since `totals.today.since`. */
    done_today: number;
    /** Every open run. */
    open: number;
    /** Closed runs listed in `recent`. */
    closed_recently: number;
  };
  /** Every open run (at work, retrying, waiting or in review: see each row's `status`). */
  running: RunningIssue[];
  retrying: RetryingIssue[];
  recent: ClosedIssueRun[];
  /**
   * Issues the dispatcher's last tick did not start, with the reason (e.g. `author X is not
   * trusted; a trusted person must apply the label "foreman"`: specs/trust.md); empty when no
   * dispatcher answers or `task_queue` is null.
   */
  skipped: { issue_identifier: string; reason: string }[];
  /** Symphony SPEC §13.3 `codex_totals`: all-time tokens and seconds over every run, open ones included. */
  codex_totals: TokenCounts & { seconds_running: number };
  /** All-time totals (closed runs' records plus open runs so far), with `today` and `in_flight` parts. */
  totals: RunTotals & { today: RunTotals & { since: string }; in_flight: RunTotals };
  /** The latest model rate limits any running issue saw (Symphony SPEC §13.7 `rate_limits`); null: none. */
  rate_limits: RateLimits | null;
  /** Why the tracker could not be asked for states and URLs; null when it answered or was not asked. */
  tracker_error: string | null;
}

/** What `collectState` and `collectIssue` may use besides Temporal. */
export interface StatusOptions {
  /** Asked once per snapshot for the issues' states and URLs (the daemon wraps it in a short cache). */
  tracker?: Pick<Tracker, 'fetchIssuesByIds'>;
  /** The Temporal Web UI base URL, for `temporal_ui_url` and each run's `temporal_url`. */
  temporalUiUrl?: string | null;
  /** Closed runs listed in `recent`. (Default: 20) */
  recentLimit?: number;
  /** Reads closed runs; a process keeps one so each closed run is read once. (Default: a new one) */
  readClosed?: ReturnType<typeof createClosedRunReader>;
  /** Epoch ms now. (Default: Date.now) */
  now?: () => number;
}

/** Closed hand-overs whose tracker state is looked up to count `in_review`, newest first. */
const IN_REVIEW_LOOKUPS = 50;

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
 * Wraps a tracker so issues fetched by id are reused for `ttlMs` (the dashboard polls; a tracker's
 * API has rate limits). Only what the tracker said is kept, never run state.
 */
export function cachedIssueLookup(
  tracker: Pick<Tracker, 'fetchIssuesByIds'>,
  ttlMs = 5000,
  now: () => number = Date.now,
): Pick<Tracker, 'fetchIssuesByIds'> {
  const cache = new Map<string, { at: number; issue: Issue | null }>();
  return {
    async fetchIssuesByIds(ids) {
      const t = now();
      const stale = ids.filter((id) => (cache.get(id)?.at ?? -Infinity) < t - ttlMs);
      if (stale.length) {
        const got = new Map((await tracker.fetchIssuesByIds(stale)).map((i) => [i.id, i]));
        for (const id of stale) cache.set(id, { at: t, issue: got.get(id) ?? null });
        if (cache.size > 5000) for (const [id, v] of cache) if (v.at < t - ttlMs) cache.delete(id);
      }
      return ids.map((id) => cache.get(id)?.issue).filter((i): i is Issue => Boolean(i));
    },
  };
}

/** Start of the local day of `now` (epoch ms), as the daemon's clock (TZ) sees it. */
export function startOfDay(now: number): number {
  const d = new Date(now);
  d.setHours(0, 0, 0, 0);
  return d.getTime();
}

/** The tracker's issues by id; an error is returned as text, never thrown. */
export async function trackerIssues(
  tracker: StatusOptions['tracker'],
  ids: string[],
): Promise<{ issues: Map<string, Issue>; error: string | null }> {
  const issues = new Map<string, Issue>();
  const unique = [...new Set(ids.filter(Boolean))];
  if (!tracker || unique.length === 0) return { issues, error: null };
  try {
    for (const i of await tracker.fetchIssuesByIds(unique)) issues.set(i.id, i);
    return { issues, error: null };
  } catch (err) {
    return { issues, error: err instanceof Error ? err.message : String(err) };
  }
}

function emptyTotals(): RunTotals {
  return {
    input_tokens: 0,
    output_tokens: 0,
    total_tokens: 0,
    cost_usd: 0,
    runs_without_price: 0,
    seconds_running: 0,
    runs: 0,
  };
}

function addRun(t: RunTotals, tokens: TokenCounts | null, cost: number | null, ms: number | null): void {
  t.runs++;
  if (tokens) {
    t.input_tokens += tokens.input_tokens;
    t.output_tokens += tokens.output_tokens;
    t.total_tokens += tokens.total_tokens;
  }
  if (cost === null) t.runs_without_price++;
  else t.cost_usd += cost;
  t.seconds_running += Math.max(0, ms ?? 0) / 1000;
}

/**
 * Reads the state of the issue runs of `deployment` (null: every deployment; legacy runs on its
 * legacy queue included, src/deployment.ts): every open run from what it published (a describe
 * only for runs that may be at work, no query but for runs that published nothing), every closed
 * run's record (for the totals; the latest `recentLimit` listed), the tracker's word on their
 * issues. The Temporal calls do not grow with the runs parked (docs/architecture.md, "Scale").
 * @throws what the Temporal client throws when visibility cannot be listed.
 */
export async function collectState(
  client: Client,
  deployment: Deployment | null,
  opts: StatusOptions = {},
): Promise<StateSnapshot> {
  const now = (opts.now ?? Date.now)();
  const base = `WorkflowType = '${ISSUE_WORKFLOW_TYPE}'` + (deployment ? ` AND ${deploymentQuery(deployment)}` : '');
  const openInfos: WorkflowExecutionInfo[] = [];
  for await (const wf of client.workflow.list({ query: `${base} AND ExecutionStatus = 'Running'` })) openInfos.push(wf);
  const closedInfos: WorkflowExecutionInfo[] = [];
  for await (const wf of client.workflow.list({ query: `${base} AND ExecutionStatus != 'Running'` }))
    if (endsRun(wf)) closedInfos.push(wf);

  const readClosed = opts.readClosed ?? createClosedRunReader();
  const [reads, closed, skipped] = await Promise.all([
    Promise.all(openInfos.map(async (wf) => ({ wf, ...(await readOpenRun(client, wf)) }))),
    readClosed(client, closedInfos),
    dispatcherSkipped(client, deployment?.taskQueue ?? null),
  ]);
  const namespace = client.options.namespace;
  const running = reads.map(({ wf, report, steps }) => ({
    ...runningRow(wf, report, steps, now),
    temporal_url: temporalRunUrl(opts.temporalUiUrl, namespace, wf.workflowId, wf.runId),
  }));
  const openIds = new Set(running.map((r) => r.issue_identifier));
  // The latest closed run per issue with no open run: the issue's standing since.
  const latestClosed = new Map<string, ClosedIssueRun>();
  for (const c of closed)
    if (!openIds.has(c.issue_identifier) && !latestClosed.has(c.issue_identifier))
      latestClosed.set(c.issue_identifier, c);
  const handedOver = [...latestClosed.values()].filter((c) => c.phase === 'handed_over').slice(0, IN_REVIEW_LOOKUPS);
  const recent = closed.slice(0, opts.recentLimit ?? 20);
  const lookup = await trackerIssues(opts.tracker, [
    ...running.map((r) => r.issue_id),
    ...recent.map((r) => r.issue_id ?? ''),
    ...handedOver.map((r) => r.issue_id ?? ''),
  ]);
  for (const r of running) {
    const issue = lookup.issues.get(r.issue_id);
    r.issue_url = issue?.url ?? null;
    r.state = issue?.state ?? null;
  }
  const shownRecent = recent.map((r) => {
    const issue = r.issue_id ? lookup.issues.get(r.issue_id) : undefined;
    return {
      ...r,
      state: issue?.state ?? r.state,
      issue_url: issue?.url ?? null,
      temporal_url: temporalRunUrl(opts.temporalUiUrl, namespace, r.workflow_id, r.run_id),
    };
  });
  // Without the tracker's word a hand-over counts as still in review; with it, only if the state is unchanged.
  const trackerAnswered = opts.tracker !== undefined && lookup.error === null;
  const stillInReview = handedOver.filter((c) => {
    const issue = c.issue_id ? lookup.issues.get(c.issue_id) : undefined;
    if (!issue) return !trackerAnswered;
    return c.state === null || issue.state.trim().toLowerCase() === c.state.trim().toLowerCase();
  });

  const retrying: RetryingIssue[] = [];
  for (const { wf, report, steps } of reads) {
    const row = running.find((r) => r.run_id === wf.runId)!;
    const who = { issue_id: row.issue_id, issue_identifier: row.issue_identifier, issue_url: row.issue_url };
    if (report?.retrying)
      retrying.push({
        ...who,
        step: report.retrying.step,
        attempt: report.retrying.attempt + 1,
        due_at: report.retrying.nextAttemptAt,
        error: report.retrying.error,
      });
    for (const s of retryingSteps(steps)) retrying.push({ ...who, ...s });
  }

  const since = startOfDay(now);
  const all = emptyTotals();
  const today = emptyTotals();
  const inFlight = emptyTotals();
  for (const c of closed) {
    addRun(all, c.tokens, c.cost_usd, c.wall_ms);
    if (c.closed_at && Date.parse(c.closed_at) >= since) addRun(today, c.tokens, c.cost_usd, c.wall_ms);
  }
  for (const r of running) {
    const ms = now - Date.parse(r.started_at);
    addRun(all, r.tokens, r.cost_usd, ms);
    addRun(inFlight, r.tokens, r.cost_usd, ms);
    addRun(today, r.tokens, r.cost_usd, Math.min(ms, now - since));
  }
  const isDone = (c: ClosedIssueRun) => c.phase === 'handed_over' || c.phase === 'merged';
  return {
    generated_at: new Date(now).toISOString(),
    task_queue: deployment?.taskQueue ?? null,
    deployment: deployment?.key ?? null,
    temporal_ui_url: opts.temporalUiUrl ?? null,
    counts: {
      running: running.filter((r) => r.status === 'running').length,
      retrying: running.filter((r) => r.status === 'retrying').length,
      waiting_for_human: running.filter((r) => r.status === 'waiting_for_human').length,
      in_review: running.filter((r) => r.status === 'in_review').length + stillInReview.length,
      done_today: closed.filter((c) => isDone(c) && c.closed_at !== null && Date.parse(c.closed_at) >= since).length,
      open: running.length,
      closed_recently: shownRecent.length,
    },
    running,
    retrying,
    recent: shownRecent,
    skipped,
    codex_totals: {
      input_tokens: all.input_tokens,
      output_tokens: all.output_tokens,
      total_tokens: all.total_tokens,
      seconds_running: all.seconds_running,
    },
    totals: { ...all, today: { ...today, since: new Date(since).toISOString() }, in_flight: inFlight },
    rate_limits: running.reduce<RateLimits | null>((acc, r) => latestRateLimits(acc, r.rate_limits), null),
    tracker_error: lookup.error,
  };
}

/** Renders a snapshot as the plain-text table `foreman status` prints. */
export function formatState(s: StateSnapshot): string {
  const rows = [['ISSUE', 'PHASE', 'ROUND', 'TURNS', 'TOKENS', 'NOW', 'STARTED', 'LAST ERROR']];
  for (const r of s.running) {
    const step = r.current_step;
    const now = step?.role ? `${step.role}${r.last_tool ? `: ${r.last_tool}` : ''}` : (step?.activity ?? '');
    rows.push([
      r.issue_identifier,
      r.retrying ? `${r.phase} (retrying)` : r.phase,
      String(r.round),
      String(r.turn_count),
      String(r.tokens.total_tokens),
      now,
      r.started_at,
      r.retrying
        ? `${r.retrying.error}; attempt ${r.retrying.attempt + 1} at ${r.retrying.next_attempt_at}`
        : (r.last_error ?? ''),
    ]);
  }
  const table = alignColumns(rows);
  const c = s.counts;
  const usd = (n: number) => `$${n.toFixed(2)}`;
  const out = [
    `${c.running} running${s.deployment ? ` in ${s.deployment}` : ''}, ${c.waiting_for_human} waiting for a human, ` +
      `${c.retrying} retrying, ${c.in_review} in review, ${c.done_today} done today`,
    `tokens today ${s.totals.today.total_tokens} (${usd(s.totals.today.cost_usd)}), in flight ${s.totals.in_flight.total_tokens}, ` +
      `all time ${s.totals.total_tokens} (${usd(s.totals.cost_usd)})`,
  ];
  if (s.temporal_ui_url) out.push(`Temporal UI: ${s.temporal_ui_url}`);
  if (s.running.length) out.push('', ...table);
  if (s.rate_limits) out.push('', formatRateLimits(s.rate_limits));
  const waiting = s.running.filter((r) => r.waiting);
  if (waiting.length) {
    out.push('', 'Waiting for a human (answer with `foreman answer ISSUE "text"` or a comment on the issue):');
    for (const r of waiting) {
      const w = r.waiting!;
      const flags = [w.reminded ? 'reminded' : '', w.parked ? 'parked' : ''].filter(Boolean).join(', ');
      out.push(`  ${r.issue_identifier}  waiting ${formatAge(w.age_ms)}${flags ? ` (${flags})` : ''}: ${w.question}`);
      for (const x of r.ignored_comments) out.push(`    ignored a comment from ${x.author}: ${x.reason}`);
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
      out.push(`  ${r.issue_identifier}  ${r.phase}${r.state ? ` (${r.state})` : ''}  ${r.closed_at ?? ''}`);
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

/** Rows of cells as lines with each column padded to its widest cell, two spaces apart (status and `foreman ls`). */
export function alignColumns(rows: string[][]): string[] {
  const widths = (rows[0] ?? []).map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length)));
  return rows.map((row) =>
    row
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd(),
  );
}

/** A duration for people: `42 s`, `5 min`, `3 h`, `2 d` (status and `foreman ls`). */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172_800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86_400)} d`;
}
