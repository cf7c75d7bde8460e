/**
 * One running issue as `foreman status`, `foreman ls`, `GET /api/v1/state`, the dashboard and
 * `GET /api/v1/<identifier>` show it (Symphony SPEC §13.7 `running[]`, extended; specs/api.md):
 * what the run reports (phase, round, totals of finished steps, the open question) joined with
 * Temporal's record of the step in flight (src/status/live.ts), so an agent step's turns, tokens and
 * last tool show while it runs. The list views read the report from the run's memo (what it
 * published: one visibility list for every run) and describe only the runs at work; the single-run
 * views ask the status query (docs/architecture.md, "Scale").
 */
import type { Client, WorkflowExecutionDescription, WorkflowExecutionInfo } from '@temporalio/client';
import { normalizeOptions, type EscalationOption } from '../escalation/answer.js';
import { addUsage, emptyUsage, totalTokens, type TokenUsage } from '../agents/usage.js';
import type { RateLimits } from '../agents/rate-limits.js';
import type { Escalation } from '../evidence/escalation.js';
import { publishedRunOf } from '../dispatch/runs.js';
import {
  RUN_VIEW_MEMO_KEY,
  statusQuery,
  type IgnoredComment,
  type IssueRunStatus,
} from '../../workflows/definitions.js';
import type { PublishedRunView } from './run-report.js';
import { agentStep, pendingSteps, retryingSteps, type PendingStep } from './live.js';
import { reviewView } from './records.js';

/** Tokens as the API shows them: input (cache reads and writes included), output, total. */
export interface TokenCounts {
  input_tokens: number;
  output_tokens: number;
  total_tokens: number;
}

/** A run's status as one word: what a person would say it is doing. */
export type RunStatus = 'running' | 'retrying' | 'waiting_for_human' | 'in_review';

/** One running issue (Symphony SPEC §13.7.2 `running[]`, extended). Times RFC 3339; money USD. */
export interface RunningIssue {
  issue_id: string;
  issue_identifier: string;
  /** The issue on the tracker; null when the tracker was not asked or has none. */
  issue_url: string | null;
  /** The issue's title when the run started; null when the run did not publish it. */
  title: string | null;
  /** The tracker's state of the issue (e.g. `In Progress`); null when the tracker was not asked. */
  state: string | null;
  status: RunStatus;
  workflow_id: string;
  run_id: string;
  /** The run in the Temporal Web UI; null without a UI URL. */
  temporal_url: string | null;
  phase: IssueRunStatus['phase'] | 'unknown';
  round: number;
  /** The agent step in flight's transcript, `<run id>/<role>`; null when no agent step runs. */
  session_id: string | null;
  /** Model calls of the run so far, the step in flight's included. */
  turn_count: number;
  /** The latest event: the agent step's (`turn_completed`, `step_started`) or the run's lifecycle event. */
  last_event: string | null;
  last_message: string | null;
  last_event_at: string | null;
  /** The latest tool the agent in flight called; null when none. */
  last_tool: string | null;
  started_at: string;
  last_error: string | null;
  /** A step riding out a transient outage: which, the attempt, the next try; null when none. */
  retrying: { step: string; attempt: number; error: string; next_attempt_at: string } | null;
  workspace: string | null;
  branch: string | null;
  pr_url: string | null;
  /** Tokens of the run so far, the step in flight's included. */
  tokens: TokenCounts;
  /** USD of finished steps; null when a model had no price. */
  cost_usd: number | null;
  /** The latest model rate limits this run saw (Symphony SPEC §13.7); null before any. */
  rate_limits: RateLimits | null;
  /** The step in flight (Temporal's pending activity), with the agent's live progress. */
  current_step: CurrentStep | null;
  /** The latest QA round; null before any. */
  qa: { round: number; passed: boolean } | null;
  /** The reviewer's latest verdict; null before any. */
  review: ReturnType<typeof reviewView>;
  /** The open question, when the run waits for a human. */
  waiting: WaitingQuestion | null;
  /** Comments not taken as answers because their author may not answer (specs/trust.md), latest last. */
  ignored_comments: { comment_id: string; author: string; reason: string }[];
}

/** The open question of a run waiting for a human. */
export interface WaitingQuestion {
  question: string;
  kind: string;
  /** 1-based number of the question within the run. */
  n: number;
  options: { number: number; label: string; command: string | null }[];
  recommendation: string | null;
  asked_at: string;
  /** Since `asked_at`, ms. */
  age_ms: number;
  reminded: boolean;
  parked: boolean;
  /**
   * What happens without an answer: the run's `escalation.reping_ms`, `escalation.timeout_ms` and
   * `handoff.parked_state` (specs/escalations.md); null when unknown (a run that did not publish it).
   */
  rule: { reping_ms: number | null; park_ms: number | null; parked_state: string | null } | null;
}

/** The step in flight. */
export interface CurrentStep {
  activity: string;
  /** The agent role, for an agent step; null otherwise. */
  role: string | null;
  attempt: number;
  state: string;
  started_at: string | null;
  last_heartbeat_at: string | null;
  /** The agent step's model calls, tokens and last tool so far; 0/null for other steps. */
  turns: number;
  tokens: TokenCounts;
  last_tool: string | null;
}

/** Input + cache tokens, output, total of a usage. */
export function tokenCounts(u: TokenUsage): TokenCounts {
  const input = u.input_tokens + u.cache_creation_input_tokens + u.cache_read_input_tokens;
  return { input_tokens: input, output_tokens: u.output_tokens, total_tokens: totalTokens(u) };
}

/** The status query of the run (Default `runId`: the latest), or null when no worker answers within `timeoutMs`. */
export async function queryStatus(
  client: Client,
  workflowId: string,
  runId?: string,
  timeoutMs = 5000,
): Promise<IssueRunStatus | null> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      client.workflow.getHandle(workflowId, runId).query(statusQuery),
      new Promise<null>((resolve) => {
        timer = setTimeout(() => resolve(null), timeoutMs);
        timer.unref();
      }),
    ]);
  } catch {
    return null;
  } finally {
    clearTimeout(timer);
  }
}

type Info = Pick<WorkflowExecutionInfo, 'workflowId' | 'runId' | 'memo' | 'startTime'>;

/** The open question a row is built from: the status query's escalation, or a published question. */
type OpenQuestion = Pick<
  Escalation,
  'n' | 'kind' | 'question' | 'recommendation' | 'askedAt' | 'reminded' | 'parked'
> & {
  options: readonly EscalationOption[] | readonly string[];
  /** The rule it waits under, when published (`PublishedQuestion`); absent: unknown. */
  repingMs?: number | null;
  parkMs?: number | null;
  parkedState?: string | null;
};

/**
 * What a running row is built from: the run's status query answer (`reportOfStatus`) or what the
 * run published in its memo (`reportOfMemo`).
 */
export type RunReport = Pick<
  IssueRunStatus,
  'identifier' | 'issueId' | 'workspace' | 'branch' | 'turns' | 'tokens' | 'phase' | 'round' | 'startedAt'
> &
  Pick<IssueRunStatus, 'lastError' | 'retrying' | 'rateLimits' | 'prUrl' | 'lastEvent' | 'qa' | 'review'> & {
    costUsd: number | null;
    /** The open question; null when the run does not wait for a human. */
    escalation: OpenQuestion | null;
    ignoredComments: IgnoredComment[];
    title: string | null;
  };

/** A status query answer as a `RunReport`. */
export function reportOfStatus(s: IssueRunStatus): RunReport {
  return {
    ...s,
    costUsd: s.costUsd ?? null,
    escalation: s.phase === 'waiting_for_human' ? s.escalation : null,
    ignoredComments: s.ignoredComments ?? [],
    title: null,
  };
}

/**
 * The `RunReport` a run published in its memo (`PublishedRun` and `PublishedRunView`,
 * workflows/issue/publish.ts); null when it has not published both (a run started by code from
 * before, which is asked with its status query instead).
 */
export function reportOfMemo(memo: Record<string, unknown> | undefined): RunReport | null {
  const run = publishedRunOf(memo);
  const v = memo?.[RUN_VIEW_MEMO_KEY] as PublishedRunView | undefined;
  if (!run || !v || typeof v !== 'object' || typeof v.startedAt !== 'string' || typeof v.tokens !== 'object')
    return null;
  const text = (x: unknown) => (typeof x === 'string' ? x : null);
  return {
    identifier: text(memo?.identifier) ?? '',
    issueId: text(memo?.issueId) ?? '',
    workspace: v.workspace ?? null,
    branch: v.branch ?? null,
    turns: v.turns ?? 0,
    tokens: { ...emptyUsage(), ...v.tokens },
    phase: run.phase,
    round: v.round ?? 0,
    startedAt: v.startedAt,
    lastError: v.lastError ?? null,
    retrying: v.retrying ?? null,
    rateLimits: v.rateLimits ?? null,
    prUrl: v.prUrl ?? null,
    lastEvent: v.lastEvent ?? null,
    qa: v.qa ?? null,
    review: v.review ?? null,
    costUsd: v.costUsd ?? null,
    escalation: run.waiting && v.question && Array.isArray(v.question.options) ? v.question : null,
    ignoredComments: Array.isArray(v.ignoredComments) ? v.ignoredComments : [],
    title: v.title ?? null,
  };
}

/** Reads one running workflow: its status query and its pending activities, in parallel (the single-run views). */
export async function readRunning(client: Client, wf: Info, described?: WorkflowExecutionDescription) {
  const [status, steps] = await Promise.all([
    queryStatus(client, wf.workflowId, wf.runId),
    (described ? Promise.resolve(described) : client.workflow.getHandle(wf.workflowId, wf.runId).describe()).then(
      (d) => pendingSteps(client, d),
      () => [] as PendingStep[],
    ),
  ]);
  return { status, report: status && reportOfStatus(status), steps };
}

/** Whether a run with this report may have a step in flight: not waiting for a human, not waiting on its pull request. */
function mayBeAtWork(r: RunReport): boolean {
  return r.phase !== 'waiting_for_human' && r.phase !== 'in_review' && r.escalation === null;
}

/**
 * Reads a listed open run for the list views: its report from its memo (no query), and its pending
 * activities only when it may be at work (bounded by the concurrency limit, not by the parked runs).
 * A run that published no view is asked with its status query (and described), as before.
 */
export async function readOpenRun(
  client: Client,
  wf: Info,
): Promise<{ report: RunReport | null; steps: PendingStep[] }> {
  const report = reportOfMemo(wf.memo);
  if (!report) return readRunning(client, wf);
  if (!mayBeAtWork(report)) return { report, steps: [] };
  const steps = await client.workflow
    .getHandle(wf.workflowId, wf.runId)
    .describe()
    .then(
      (d) => pendingSteps(client, d),
      () => [] as PendingStep[],
    );
  return { report, steps };
}

/**
 * Builds the running row from the run's report `s` (null: no worker answered its status query; the
 * row then says `unknown`) and the pending `steps`, at `now` (epoch ms).
 */
export function runningRow(wf: Info, s: RunReport | null, steps: PendingStep[], now: number): RunningIssue {
  const agent = agentStep(steps);
  const live = agent?.progress ?? null;
  const usage = emptyUsage();
  if (s) addUsage(usage, s.tokens);
  if (live) addUsage(usage, live.usage);
  const first = agent ?? steps[0] ?? null;
  const lastEvent = live
    ? {
        event: live.last_event,
        message: live.last_tool ? `${live.role} called ${live.last_tool}` : `${live.role} step started`,
        at: live.last_event_at,
      }
    : s?.lastEvent
      ? { event: s.lastEvent.event, message: s.lastEvent.message, at: s.lastEvent.at }
      : null;
  const retryingStep = retryingSteps(steps)[0];
  const retrying = s?.retrying
    ? {
        step: s.retrying.step,
        attempt: s.retrying.attempt,
        error: s.retrying.error,
        next_attempt_at: s.retrying.nextAttemptAt,
      }
    : null;
  const waiting = s?.phase === 'waiting_for_human' && s.escalation ? waitingOf(s.escalation, now) : null;
  return {
    issue_id: s?.issueId || (typeof wf.memo?.issueId === 'string' ? wf.memo.issueId : ''),
    issue_identifier: s?.identifier || (typeof wf.memo?.identifier === 'string' ? wf.memo.identifier : wf.workflowId),
    issue_url: null,
    title: s?.title ?? null,
    state: null,
    status: waiting
      ? 'waiting_for_human'
      : s?.phase === 'in_review'
        ? 'in_review'
        : retrying || retryingStep
          ? 'retrying'
          : 'running',
    workflow_id: wf.workflowId,
    run_id: wf.runId,
    temporal_url: null,
    phase: s?.phase ?? 'unknown',
    round: s?.round ?? 0,
    session_id: live?.session_id ?? null,
    turn_count: (s?.turns ?? 0) + (live?.turns ?? 0),
    last_event: lastEvent?.event ?? null,
    last_message: lastEvent?.message ?? null,
    last_event_at: lastEvent?.at ?? null,
    last_tool: live?.last_tool ?? null,
    started_at: s?.startedAt ?? wf.startTime.toISOString(),
    last_error: s?.lastError ?? null,
    retrying,
    workspace: s?.workspace ?? null,
    branch: s?.branch ?? null,
    pr_url: s?.prUrl ?? null,
    tokens: tokenCounts(usage),
    cost_usd: s?.costUsd ?? null,
    rate_limits: s?.rateLimits ?? null,
    current_step: first
      ? {
          activity: first.activity,
          role: first.progress?.role ?? null,
          attempt: first.attempt,
          state: first.state,
          started_at: first.started_at,
          last_heartbeat_at: first.last_heartbeat_at,
          turns: first.progress?.turns ?? 0,
          tokens: tokenCounts(first.progress?.usage ?? emptyUsage()),
          last_tool: first.progress?.last_tool ?? null,
        }
      : null,
    qa: s?.qa ?? null,
    review: reviewView(s?.review),
    waiting,
    ignored_comments: (s?.ignoredComments ?? []).map((c) => ({
      comment_id: c.commentId,
      author: c.author,
      reason: c.reason,
    })),
  };
}

function waitingOf(e: OpenQuestion, now: number): WaitingQuestion {
  return {
    question: e.question,
    kind: e.kind,
    n: e.n,
    options: normalizeOptions(e.options).map((o, i) => ({ number: i + 1, label: o.label, command: o.command })),
    recommendation: e.recommendation,
    asked_at: e.askedAt,
    age_ms: now - Date.parse(e.askedAt),
    reminded: e.reminded,
    parked: e.parked,
    rule:
      e.repingMs === undefined
        ? null
        : { reping_ms: e.repingMs, park_ms: e.parkMs ?? null, parked_state: e.parkedState ?? null },
  };
}

/** The Temporal Web UI page of a run: `<ui>/namespaces/<ns>/workflows/<id>/<run id>/history`; null without a UI. */
export function temporalRunUrl(ui: string | null | undefined, namespace: string, workflowId: string, runId: string) {
  if (!ui) return null;
  const e = encodeURIComponent;
  return `${ui.replace(/\/+$/, '')}/namespaces/${e(namespace)}/workflows/${e(workflowId)}/${e(runId)}/history`;
}
