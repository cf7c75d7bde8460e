/**
 * Escalation: a question to a human, asked durably. The partial work is pushed first (never
 * protected paths nobody approved), one comment asks the question, and the run waits for a
 * `humanReply` signal: one reminder after `escalation.reping_ms`, parked after
 * `escalation.timeout_ms`, still waiting. The answer is parsed, not guessed (src/escalation/answer.ts,
 * specs/escalations.md): a picked option does exactly that (Stop ends the run here), free text is
 * guidance; it goes into the spec's Decisions and the issue back to in progress. Also the budget
 * escalation. docs/architecture.md, "Glossary" (escalation, reminder, park).
 */
import { CancellationScope, CancelledFailure, condition, isCancellation, sleep } from '@temporalio/workflow';
import type { HumanReply } from '../definitions.js';
import type { AgentRunSummary } from '../../src/agents/results.js';
import { totalTokens } from '../../src/agents/usage.js';
import { interpretAnswer, normalizeOptions, type AnswerCommand } from '../../src/escalation/answer.js';
import type { Escalation, EscalationRecord } from '../../src/evidence/escalation.js';
import { describeFailure } from './failure.js';
import type { Run } from './run.js';
import {
  answerNotice,
  answerTurn,
  formatAmount,
  parkedNotice,
  reaskNotice,
  recoveredNotice,
  reminderNotice,
} from './texts.js';

/** What a phase asks; the rest of the escalation is filled in here. */
export type EscalationAsk = Pick<Escalation, 'kind' | 'question' | 'options' | 'recommendation' | 'tried'>;

/** The service an outage escalation probes until it answers again. */
export type ProbeTarget = 'model' | 'tracker';

/** How an escalation is asked: in the thread of an earlier one, and/or probing an outage. */
export interface AskHow {
  /** Comment key of the escalation this re-asks: a short follow-up instead of a full comment. */
  thread?: string;
  /** Probe this service with backoff; when it answers, the run resumes as if "retry" was picked. */
  probe?: ProbeTarget;
  /** The step that failed (for the probe's comment). */
  step?: string;
}

/** The answer that resumed the work: the reply, and the option it picked (null: free text). */
export interface Resolution {
  reply: HumanReply;
  option: number | null;
  command: AnswerCommand | null;
  /** Comment key of this escalation (or of the thread it re-asked in). */
  key: string;
}

/**
 * Posts the question, waits durably for an answer (reminder, then park), records it, returns it.
 * A pick not on offer and an approval from a non-approver are answered on the issue and the wait
 * goes on. A picked Stop moves the issue to `handoff.stopped_state` and ends the run: it throws a
 * cancellation that the IssueWorkflow turns into a `stopped` outcome.
 */
export async function escalate(run: Run, e: EscalationAsk, how: AskHow = {}): Promise<Resolution> {
  const { state, settings: s, acts, inbox, input } = run;
  const escalation: Escalation = {
    ...e,
    n: state.escalations.length + 1,
    askedAt: new Date(Date.now()).toISOString(),
    reminded: false,
    parked: false,
    ...(how.thread ? { thread: how.thread } : {}),
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
  if (how.thread) {
    await acts.notify.postComment({ issueId: input.issueId, key, body: reaskNotice(how.thread, escalation) });
  } else {
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
  }
  if (s.escalatedState) await acts.notify.moveIssue({ issueId: input.issueId, state: s.escalatedState });
  inbox.replies.length = 0;
  state.openEscalation = escalation;
  state.phase = 'waiting_for_human';

  const resolution = await awaitResolution(run, escalation, key, how);
  record.answer = resolution.reply.text;
  record.author = resolution.reply.author;
  state.openEscalation = null;
  if (resolution.command === 'stop') await stopByAnswer(run, resolution.reply);
  state.phase = 'implementing';
  await acts.notify.recordDecision({ workspace: state.workspace, escalation, reply: resolution.reply });
  await acts.notify.moveIssue({ issueId: input.issueId, state: s.inProgressState });
  return { ...resolution, key: how.thread ?? key };
}

/**
 * Takes replies in arrival order until one resolves the question: a picked option or free text.
 * A pick not on offer, or `/foreman approve` without `mayApprove`, gets a short reply and the wait
 * goes on. With `how.probe`, a probe that succeeds resolves it as "retry".
 */
async function awaitResolution(
  run: Run,
  escalation: Escalation,
  key: string,
  how: AskHow,
): Promise<Omit<Resolution, 'key'>> {
  const options = normalizeOptions(escalation.options);
  const recovered = { at: null as string | null };
  const probing = how.probe ? new CancellationScope() : null;
  const probe = probing
    ?.run(() => probeUntilUp(run, how.probe!, recovered))
    .catch((err) => {
      if (!isCancellation(err)) throw err;
    });
  const since = Date.now();
  try {
    for (let notes = 1; ; notes++) {
      await waitForAnswer(run, escalation, key, since, () => recovered.at !== null);
      if (recovered.at !== null && !run.inbox.replies.length) {
        await run.acts.notify.postComment({
          issueId: run.input.issueId,
          key: `${key}-recovered`,
          body: recoveredNotice(how.probe!, how.step ?? 'the step'),
        });
        const retry = options.findIndex((o) => o.command === 'retry') + 1;
        const reply: HumanReply = { text: '/foreman retry', author: 'Foreman (probe)', source: 'cli' };
        return { reply, option: retry || null, command: 'retry' };
      }
      const reply = run.inbox.replies.shift()!;
      const a = interpretAnswer(reply, options);
      if (a.kind === 'text') return { reply, option: null, command: null };
      if (a.kind === 'option') {
        const label = options[a.option - 1]!.label;
        return { reply: { ...reply, text: `${reply.text.trim()} (option ${a.option}: ${label})` }, ...a };
      }
      await run.acts.notify.postComment({
        issueId: run.input.issueId,
        key: `${key}-note-${notes}`,
        body: answerNotice(reply.author, a.kind === 'invalid' ? a.why : null),
      });
    }
  } finally {
    probing?.cancel();
    await probe;
  }
}

/** Probes `target` with backoff until it answers; then sets `recovered.at` (RFC 3339). */
async function probeUntilUp(run: Run, target: ProbeTarget, recovered: { at: string | null }): Promise<void> {
  const r = run.settings.retry;
  for (let i = 0; ; i++) {
    await sleep(Math.max(1, Math.min(r.initialIntervalMs * 2 ** Math.min(i, 10), r.maximumIntervalMs)));
    const up = await run.acts.probe.probeService({ target, issueId: run.input.issueId }).catch((err: unknown) => {
      if (isCancellation(err)) throw err;
      return false;
    });
    if (up) {
      recovered.at = new Date(Date.now()).toISOString();
      return;
    }
  }
}

/**
 * A picked Stop: the issue moves to `handoff.stopped_state` (so it is not dispatched again) and
 * the run ends `stopped` through the IssueWorkflow's stop path (one stop comment).
 */
async function stopByAnswer(run: Run, reply: HumanReply): Promise<never> {
  const { settings: s, acts, input, inbox } = run;
  if (s.stoppedState) await acts.notify.moveIssue({ issueId: input.issueId, state: s.stoppedState });
  const moved = s.stoppedState ? ` The issue is now "${s.stoppedState}".` : '';
  inbox.stop ??= { reason: `${reply.author} answered Stop to the escalation.${moved}`, cleanup: false };
  inbox.workScope?.cancel();
  throw new CancelledFailure('stopped by a human answer');
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

/**
 * Waits for a reply (or `extra()`): one reminder, then park (per policy), then without bound.
 * `since` is when the wait began (workflow time, ms); a reminder or park already done is not redone.
 */
async function waitForAnswer(
  run: Run,
  escalation: Escalation,
  key: string,
  since: number,
  extra: () => boolean,
): Promise<void> {
  const { settings: s, acts, inbox, input } = run;
  const answered = () => inbox.replies.length > 0 || extra();
  const left = (ms: number) => Math.max(1, ms - (Date.now() - since));
  if (
    !escalation.reminded &&
    s.repingMs &&
    (!s.parkMs || s.repingMs < s.parkMs) &&
    !(await condition(answered, left(s.repingMs)))
  ) {
    escalation.reminded = true;
    await acts.notify.postComment({
      issueId: input.issueId,
      key: `${key}-reminder`,
      body: reminderNotice(escalation.askedAt, input.identifier),
    });
  }
  if (!escalation.parked && s.parkMs && !(await condition(answered, left(s.parkMs)))) {
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

/** Escalates a spent budget; Continue (or free text) grants the policy's budget once more. Returns the next user turn. */
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
  const { reply } = await escalate(run, {
    kind: 'budget',
    question: `The issue's ${what} budget is spent (${b ? `${spent} of ${limit}` : 'limit reached'}). Grant the same budget again and continue?`,
    options: [
      { label: 'Continue with another budget of the same size', command: 'continue' },
      { label: 'Stop: end this run and move the issue to a terminal state', command: 'stop' },
    ],
    recommendation: null,
    tried: `${state.turns} model turns so far; ${totalTokens(state.usage)} tokens${cost}. The work so far is pushed to the branch.`,
  });
  state.grants++;
  if (s.budget.maxWallMs) state.deadline = Date.now() + s.budget.maxWallMs;
  return answerTurn(reply, 'Your budget ran out; a human granted more.');
}
