/**
 * Escalation: a question to a human, asked durably. The partial work is pushed first (never
 * protected paths nobody approved), one comment asks the question, and the run waits for a
 * `humanReply` signal: one reminder after `escalation.reping_ms`, parked after
 * `escalation.timeout_ms`, still waiting; the answer goes into the spec's Decisions and the issue
 * back to in progress. Also the two escalations every phase may need: a step that failed for good,
 * and a spent budget. docs/architecture.md, "Glossary" (escalation, reminder, park).
 */
import { ActivityFailure, ApplicationFailure, condition, isCancellation, sleep } from '@temporalio/workflow';
import type { HumanReply } from '../definitions.js';
import type { AgentRunSummary } from '../../src/agents/results.js';
import { totalTokens } from '../../src/agents/usage.js';
import type { ErrorCode } from '../../src/errors.js';
import type { Escalation, EscalationRecord } from '../../src/evidence/escalation.js';
import type { Run } from './run.js';
import { answerTurn, formatAmount, parkedNotice, reminderNotice } from './texts.js';

/** What a phase asks; the rest of the escalation is filled in here. */
export type EscalationAsk = Pick<Escalation, 'kind' | 'question' | 'options' | 'recommendation' | 'tried'>;

/** Posts the question, waits durably for the answer (reminder, then park), records it, returns it. */
export async function escalate(run: Run, e: EscalationAsk): Promise<HumanReply> {
  const { state, settings: s, acts, inbox, input } = run;
  const escalation: Escalation = {
    ...e,
    n: state.escalations.length + 1,
    askedAt: new Date(Date.now()).toISOString(),
    reminded: false,
    parked: false,
  };
  const record: EscalationRecord = {
    question: e.question,
    kind: e.kind,
    askedAt: escalation.askedAt,
    answer: null,
    author: null,
  };
  state.escalations.push(record);
  await pushPartialWork(run, escalation);
  const key = `escalation-${run.runId}-${escalation.n}`;
  await acts.notify.postEscalation({
    issueId: input.issueId,
    key,
    data: {
      identifier: input.identifier,
      title: run.issue.title,
      escalation,
      branch: state.workspace?.branch ?? null,
      push: state.push,
      repingMs: s.repingMs,
      parkMs: s.parkMs,
      parkedState: s.parkedState,
    },
  });
  if (s.escalatedState) await acts.notify.moveIssue({ issueId: input.issueId, state: s.escalatedState });
  inbox.replies.length = 0;
  state.openEscalation = escalation;
  state.phase = 'waiting_for_human';

  await waitForAnswer(run, escalation, key);
  const reply = mergeReplies(inbox.replies.splice(0));
  record.answer = reply.text;
  record.author = reply.author;
  state.openEscalation = null;
  state.phase = 'implementing';
  await acts.notify.recordDecision({ workspace: state.workspace, escalation, reply });
  await acts.notify.moveIssue({ issueId: input.issueId, state: s.inProgressState });
  return reply;
}

/**
 * Pushes the partial work to the branch, so the human can look at it (never a silent loss) —
 * unless it touches protected paths nobody approved: those are never pushed. Says what happened in
 * the escalation's `tried`.
 */
async function pushPartialWork(run: Run, escalation: Escalation): Promise<void> {
  const { state, acts } = run;
  const workspace = state.workspace;
  if (!workspace) return;
  try {
    const check = await acts.workspace.checkContract({ workspace });
    const unapproved = check.protectedTouched.filter((p) => !state.approvedPaths.includes(p));
    if (unapproved.length) {
      escalation.tried += ` (Not pushed: the change touches protected paths ${unapproved.map((p) => `\`${p}\``).join(', ')}.)`;
    } else {
      state.push = await acts.workspace.commitAndPush({
        workspace,
        identifier: run.input.identifier,
        title: run.issue.title,
        partial: true,
      });
    }
  } catch (err) {
    if (isCancellation(err)) throw err;
    escalation.tried += ` (The partial work could not be pushed: ${describeFailure(err)}.)`;
  }
}

/** Waits for a reply: one reminder, then park (per policy), then without bound. */
async function waitForAnswer(run: Run, escalation: Escalation, key: string): Promise<void> {
  const { settings: s, acts, inbox, input } = run;
  const asked = Date.now();
  const answered = () => inbox.replies.length > 0;
  if (s.repingMs && (!s.parkMs || s.repingMs < s.parkMs) && !(await condition(answered, s.repingMs))) {
    escalation.reminded = true;
    await acts.notify.postComment({
      issueId: input.issueId,
      key: `${key}-reminder`,
      body: reminderNotice(escalation.askedAt, input.identifier),
    });
  }
  if (s.parkMs && !(await condition(answered, Math.max(1, s.parkMs - (Date.now() - asked))))) {
    escalation.parked = true;
    await acts.notify.postComment({
      issueId: input.issueId,
      key: `${key}-parked`,
      body: parkedNotice(s.parkMs, s.parkedState),
    });
    if (s.parkedState) await acts.notify.moveIssue({ issueId: input.issueId, state: s.parkedState });
  }
  await condition(answered);
}

/** Everything said before the work resumes is the answer (e.g. two comments in a row). */
function mergeReplies(all: HumanReply[]): HumanReply {
  if (all.length === 1) return all[0]!;
  return {
    text: all.map((r) => r.text).join('\n\n'),
    author: [...new Set(all.map((r) => r.author))].join(', '),
    source: all[0]!.source,
  };
}

/** Codes of outages that heal by themselves: ridden out for `retry.outageMs` before a human is asked. */
const OUTAGE_CODES: ReadonlySet<string> = new Set<ErrorCode>([
  'model_overloaded',
  'model_rate_limited',
  'model_unreachable',
  'model_stalled',
  'model_bad_response',
  'tracker_request_failed',
  'tracker_rate_limited',
]);

/**
 * Runs an activity step; when it fails for good (non-retryable, or retries spent) the failure is
 * escalated and, once answered, the step is tried again. A transient outage (OUTAGE_CODES) is
 * first ridden out: the step is retried with backoff for `retry.outageMs`, shown in the status as
 * `retrying`. Cancellation passes through.
 */
export async function step<T>(run: Run, name: string, fn: () => Promise<T>): Promise<T> {
  let outageSince: number | null = null;
  for (let attempt = 1; ; attempt++) {
    try {
      const result = await fn();
      run.state.retrying = null;
      return result;
    } catch (err) {
      if (isCancellation(err)) throw err;
      const cause = describeFailure(err);
      run.state.lastError = `${name}: ${cause}`;
      outageSince ??= Date.now();
      const waitMs = outageWait(run, err, outageSince, attempt);
      if (waitMs !== null) {
        run.state.retrying = {
          step: name,
          attempt,
          error: cause,
          nextAttemptAt: new Date(Date.now() + waitMs).toISOString(),
        };
        await sleep(waitMs);
        continue;
      }
      run.state.retrying = null;
      await escalate(run, {
        kind: 'error',
        question: `The step "${name}" failed and retrying did not help: ${cause}. Fix the cause if it is outside the code (credentials, network, repository), then answer to retry.`,
        options: ['Retry the step', 'Stop: move the issue to a terminal state'],
        recommendation: 'Retry the step once the cause is fixed',
        tried: `Foreman ran "${name}" ${run.settings.retry.maximumAttempts} time(s) with backoff, or stopped at once because the error cannot heal by retrying.`,
      });
    }
  }
}

/**
 * How long to wait before the next try of a step that failed with a transient outage, ms; null
 * when it is no outage or the outage has lasted `retry.outageMs` (then a human is asked).
 */
function outageWait(run: Run, err: unknown, since: number, attempt: number): number | null {
  const failure = err instanceof ActivityFailure ? err.cause : err;
  if (!(failure instanceof ApplicationFailure) || failure.nonRetryable) return null;
  if (!OUTAGE_CODES.has(String(failure.details?.[0] ?? ''))) return null;
  const left = run.settings.retry.outageMs - (Date.now() - since);
  if (left <= 0) return null;
  const backoff = run.settings.retry.initialIntervalMs * 2 ** Math.min(attempt - 1, 10);
  return Math.max(1, Math.min(backoff, run.settings.retry.maximumIntervalMs, left));
}

/** Escalates a spent budget; an answer grants the policy's budget once more. Returns the next user turn. */
export async function budgetEscalation(run: Run, b: AgentRunSummary['budgetExhausted']): Promise<string> {
  const { state, settings: s } = run;
  const what = b?.reason === 'wall' ? 'wall time' : b?.reason === 'usd' ? 'USD' : 'tokens';
  const spent = b
    ? formatAmount(
        b.reason,
        b.reason === 'usd' ? b.spentUsd : b.reason === 'tokens' ? b.spentTokens : Date.now() - state.startedAt,
      )
    : '';
  const limit = b
    ? formatAmount(b.reason, b.reason === 'wall' ? (s.budget.maxWallMs ?? 0) * state.grants : b.limit)
    : '';
  const cost = state.costUsd !== null ? `, $${state.costUsd.toFixed(4)}` : '';
  const reply = await escalate(run, {
    kind: 'budget',
    question: `The issue's ${what} budget is spent (${b ? `${spent} of ${limit}` : 'limit reached'}). Grant the same budget again and continue?`,
    options: ['Continue with another budget of the same size', 'Stop: move the issue to a terminal state'],
    recommendation: null,
    tried: `${state.turns} model turns so far; ${totalTokens(state.usage)} tokens${cost}. The work so far is pushed to the branch.`,
  });
  state.grants++;
  if (s.budget.maxWallMs) state.deadline = Date.now() + s.budget.maxWallMs;
  return answerTurn(reply, 'Your budget ran out; a human granted more.');
}

/** A one-line reason from an activity failure: type, stable code (when Foreman gave one) and message, no trailing period. */
export function describeFailure(err: unknown): string {
  let e: unknown = err;
  if (e instanceof ActivityFailure && e.cause) e = e.cause;
  const text = (m: string) => m.trim().replace(/\.+$/, '');
  if (e instanceof ApplicationFailure) {
    const code = typeof e.details?.[0] === 'string' ? ` [${e.details[0]}]` : '';
    return `${e.type ?? 'Error'}${code}: ${text(e.message)}`;
  }
  if (e instanceof Error) return text(e.message);
  return String(e);
}
