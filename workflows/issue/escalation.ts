/**
 * Escalation: a question to a human, asked durably. The partial work is pushed first (never
 * protected paths nobody approved), one comment asks the question, and the run waits for a
 * `humanReply` signal: one reminder after `escalation.reping_ms`, parked after
 * `escalation.timeout_ms`, still waiting. The answer is parsed, not guessed (src/escalation/answer.ts,
 * specs/escalations.md): a picked option does exactly that (Stop ends the run here), free text is
 * guidance; it goes into the spec's Decisions and the issue back to in progress.
 * docs/architecture.md, "Glossary" (escalation, reminder, park).
 */
import { CancellationScope, CancelledFailure, condition, isCancellation, patched, sleep } from '@temporalio/workflow';
import type { HumanReply } from '../definitions.js';
import { interpretAnswer, normalizeOptions, type AnswerCommand } from '../../src/escalation/answer.js';
import type { Escalation, EscalationRecord } from '../../src/evidence/escalation.js';
import { moveBestEffort, mustPost } from './deliver.js';
import { recordDecision } from './affinity.js';
import { describeFailure, retryBackoffMs } from './failure.js';
import { checkpoint, PROBE_AUTHOR } from './ledger.js';
import { logEvent } from './lifecycle.js';
import { publish, publishView } from './publish.js';
import type { Run } from './run.js';
import { answerNotice, parkedNotice, reaskNotice, recoveredNotice, reminderNotice } from './texts.js';

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
  /** False while replaying a history from before answers were parsed (ANSWERS_PATCH): the old rules applied. */
  parsed: boolean;
}

/**
 * The `patched()` id of parsed answers, re-asks in the thread and outage probes: a history
 * recorded before them replays the old branch (docs/architecture.md, "Changing workflow code").
 */
export const ANSWERS_PATCH = 'parsed-answers';

/** The old rule, kept for histories from before ANSWERS_PATCH only: an answer starting like this approved. */
const LEGACY_APPROVAL = /^\s*(yes|y|approve[sd]?|ok|okay|lgtm|go ahead|push)\b/i;

/**
 * Posts the question, waits durably for an answer (reminder, then park), records it, returns it.
 * A pick not on offer and an approval from a non-approver are answered on the issue and the wait
 * goes on. A picked Stop moves the issue to `handoff.stopped_state` and ends the run: it throws a
 * cancellation that the IssueWorkflow turns into a `stopped` outcome.
 */
export async function escalate(run: Run, e: EscalationAsk, how: AskHow = {}): Promise<Resolution> {
  const { state, settings: s, acts, inbox, input } = run;
  const parsed = patched(ANSWERS_PATCH);
  if (!parsed) how = {}; // a history from before: no thread, no probe
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
    const body = reaskNotice(how.thread, escalation);
    await mustPost(run, 'ask again', () => acts.notify.postComment({ issueId: input.issueId, key, body }));
  } else {
    await mustPost(run, 'post the escalation', () =>
      acts.notify.postEscalation({
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
      }),
    );
  }
  await moveBestEffort(run, s.escalatedState);
  inbox.replies.length = 0;
  state.openEscalation = escalation;
  state.phase = 'waiting_for_human';
  publish(state);
  logEvent(run, 'escalation asked', { kind: e.kind, n: escalation.n, question: e.question.slice(0, 200) });
  publishView(state);
  await checkpoint(run, 'escalated');

  const resolution = parsed
    ? await awaitResolution(run, escalation, key, how)
    : await legacyResolution(run, escalation, key);
  record.answer = resolution.reply.text;
  record.author = resolution.reply.author;
  record.answeredAt = new Date(Date.now()).toISOString();
  record.answerSource = resolution.reply.source;
  logEvent(run, 'escalation answered', {
    n: escalation.n,
    command: resolution.command,
    author: resolution.reply.author,
  });
  state.openEscalation = null;
  if (resolution.command === 'stop') await stopByAnswer(run, resolution.reply);
  state.phase = 'implementing';
  publish(state);
  await recordDecision(run, escalation, resolution.reply);
  await moveBestEffort(run, s.inProgressState);
  return { ...resolution, key: how.thread ?? key, parsed };
}

/** The answer as histories from before ANSWERS_PATCH took it: every reply merged, approval by LEGACY_APPROVAL. */
async function legacyResolution(
  run: Run,
  escalation: Escalation,
  key: string,
): Promise<Omit<Resolution, 'key' | 'parsed'>> {
  await waitForAnswer(run, escalation, key, Date.now(), () => false);
  const all = run.inbox.replies.splice(0);
  const reply: HumanReply =
    all.length === 1
      ? all[0]!
      : {
          text: all.map((r) => r.text).join('\n\n'),
          author: [...new Set(all.map((r) => r.author))].join(', '),
          source: all[0]!.source,
        };
  return { reply, option: null, command: LEGACY_APPROVAL.test(reply.text) ? 'approve' : null };
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
): Promise<Omit<Resolution, 'key' | 'parsed'>> {
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
        const body = recoveredNotice(how.probe!, how.step ?? 'the step');
        await mustPost(run, 'say the run resumes', () =>
          run.acts.notify.postComment({ issueId: run.input.issueId, key: `${key}-recovered`, body }),
        );
        const retry = options.findIndex((o) => o.command === 'retry') + 1;
        const reply: HumanReply = { text: '/foreman retry', author: PROBE_AUTHOR, source: 'cli' };
        return { reply, option: retry || null, command: 'retry' };
      }
      const reply = run.inbox.replies.shift()!;
      const a = interpretAnswer(reply, options);
      if (a.kind === 'text') return { reply, option: null, command: null };
      if (a.kind === 'option') {
        const label = options[a.option - 1]!.label;
        return { reply: { ...reply, text: `${reply.text.trim()} (option ${a.option}: ${label})` }, ...a };
      }
      const body = answerNotice(reply.author, a.kind === 'invalid' ? a.why : null);
      await mustPost(run, 'answer the reply', () =>
        run.acts.notify.postComment({ issueId: run.input.issueId, key: `${key}-note-${notes}`, body }),
      );
    }
  } finally {
    probing?.cancel();
    await probe;
  }
}

/** Probes `target` with backoff until it answers; then sets `recovered.at` (RFC 3339). */
async function probeUntilUp(run: Run, target: ProbeTarget, recovered: { at: string | null }): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    await sleep(retryBackoffMs(run.settings.retry, attempt));
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
  const { settings: s, inbox } = run;
  await moveBestEffort(run, s.stoppedState);
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
    publishView(run.state);
    const body = reminderNotice(escalation.askedAt, input.identifier);
    await mustPost(run, 'remind', () =>
      acts.notify.postComment({ issueId: input.issueId, key: `${key}-reminder`, body }),
    );
  }
  if (!escalation.parked && s.parkMs && !(await condition(answered, left(s.parkMs)))) {
    escalation.parked = true;
    publishView(run.state);
    const body = parkedNotice(s.parkMs, s.parkedState);
    await mustPost(run, 'park', () => acts.notify.postComment({ issueId: input.issueId, key: `${key}-parked`, body }));
    await moveBestEffort(run, s.parkedState);
  }
  await condition(answered);
}
