/**
 * The IssueWorkflow's words, as pure functions of data: what the implementer is told after QA,
 * review, CI or a human's answer, the escalation questions, and the short notices posted on the
 * issue. The packets themselves (evidence, escalation comment) are rendered in src/evidence/.
 */
import type { HumanReply } from '../definitions.js';
import { howToPick, normalizeOptions } from '../../src/escalation/answer.js';
import type { Escalation } from '../../src/evidence/escalation.js';
import type { WorkspaceMove } from '../../src/evidence/render.js';
import type { QaAgentReport } from '../../src/qa/agent-checks.js';
import type { QaReport } from '../../src/qa/run.js';
import type { TrackedFinding } from '../../src/review/findings.js';
import type { CiSummary } from '../../src/scm/types.js';
import type { RebaseResult } from '../../src/workspace/rebase.js';
import type { ReworkRound } from '../../src/dispatch/rework.js';
import { afterLabel, humanAnswerBlock, inertInline, inertMarkdown, untrustedBlock } from '../../src/evidence/inert.js';

/** Check conclusions that count as a red CI result. */
export const FAILING_CONCLUSIONS = ['failure', 'timed_out', 'cancelled', 'action_required', 'error', 'startup_failure'];

/**
 * The next implementer turn after a human's answer; `context` says what the answer is about. The
 * answer is a `<human_answer>` block: guidance from a trusted person, distinct from tracker text.
 */
export function answerTurn(reply: HumanReply, context: string): string {
  return `${context}\n\n${humanAnswerBlock(reply.author, reply.source, reply.text)}\n\nThe answer is recorded under Decisions in .foreman/spec.md. Continue the task; call finish when done.`;
}

/**
 * The implementer's turn after its workspace was re-created on another worker (./affinity.ts):
 * what it was made from, that unpushed changes are gone, then the turn the lap began with (`feedback`).
 */
export function recreatedTurn(move: WorkspaceMove, feedback: string | null): string {
  const from =
    move.from.kind === 'pushed_branch'
      ? `the last push of the issue branch ${move.from.branch}`
      : `the base branch ${move.from.branch} (nothing had been pushed)`;
  const note =
    `Foreman lost the worker that held your workspace and re-created the workspace from ${from}. ` +
    'Changes that had not been pushed are gone: check the workspace, redo what is missing, run the checks, then call finish.';
  return feedback ? `${note}\n\n${feedback}` : note;
}

/** The text the implementer gets when QA fails: each failing command with its exit code and tail. */
export function qaFeedback(report: QaReport): string {
  const failed = report.results.filter((r) => !r.passed);
  const parts = failed.map(
    (r) =>
      `$ ${r.command}\nexit code: ${r.exitCode ?? 'none'}${r.timedOut ? ' (timed out)' : ''}\n${r.outputTail.trimEnd()}`,
  );
  return [
    'Foreman ran the QA commands and these failed. Fix the cause, run them yourself, then call finish.',
    '',
    ...parts,
  ].join('\n');
}

/** The text the implementer gets when the QA agent's checks fail. */
export function qaAgentFeedback(r: QaAgentReport): string {
  const failed = r.checks.filter((c) => !c.passed);
  return [
    'Foreman ran the acceptance checks the QA agent wrote (under .foreman/qa/checks/) and these failed. Fix the code (not the checks), then call finish.',
    '',
    ...failed.map((c) => `$ bash ${c.path}\nexit code: ${c.exitCode ?? 'none'}\n${c.outputTail.trimEnd()}`),
  ].join('\n');
}

/** The failing QA items named in the QA escalation's question. */
export function failingQaItems(report: QaReport, qaAgent: QaAgentReport | null): string[] {
  return report.passed
    ? (qaAgent?.checks ?? [])
        .filter((c) => !c.passed)
        .map((c) => `\`${c.path}\` (exit ${c.exitCode ?? 'none'}, written by the QA agent)`)
    : report.results.filter((r) => !r.passed).map((r) => `\`${r.command}\` (exit ${r.exitCode ?? 'none'})`);
}

/** The text the implementer gets when the reviewer requests changes. */
export function reviewFeedback(findings: TrackedFinding[]): string {
  return [
    'The reviewer requested changes. Address each finding (ids are stable across rounds), run the checks, then call finish.',
    '',
    ...findings.map((f) => `- ${f.id} [${f.severity}] ${f.path ?? ''}${f.line ? `:${f.line}` : ''} ${f.message}`),
  ].join('\n');
}

/** The failing checks of a red CI result. */
export function failingChecks(ci: CiSummary): CiSummary['checks'] {
  return ci.checks.filter((c) => FAILING_CONCLUSIONS.includes(c.conclusion ?? c.status));
}

/** The text the implementer gets when CI fails on the pull request. */
export function ciFeedback(failing: CiSummary['checks']): string {
  return `CI failed on the pull request: ${failing.map((c) => `${c.name} (${c.conclusion ?? c.status}${c.url ? `, ${c.url}` : ''})`).join('; ')}. Find the cause, fix it, run the checks, then call finish.`;
}

/**
 * The text the implementer gets when a human reviewer requests changes on the pull request; the
 * review and its comments are tracker text, delimited as `<untrusted_tracker_text>` blocks.
 */
export function humanReviewFeedback(o: { author: string; prNumber: number; body: string; inline: string[] }): string {
  return [
    `A human reviewer (${o.author}) requested changes on pull request #${o.prNumber}:`,
    '',
    o.body.trim() ? untrustedBlock(`pull request review by ${o.author}`, o.body) : '(no summary text)',
    ...(o.inline.length
      ? ['', 'Review comments on the code:', ...o.inline.map((c) => untrustedBlock('pull request review comment', c))]
      : []),
    '',
    'Address them, run the checks, then call finish.',
  ].join('\n');
}

/**
 * The implementer's turn of a rework round a human asked for by moving the issue back
 * (docs/architecture.md, "Sending work back"): each comment since the hand-over by a person who may
 * steer it, as a `<human_answer>` block, or that it came back without a comment.
 */
export function reworkTurn(r: ReworkRound): string {
  const state = r.state.replace(/[^\p{L}\p{N} _.-]/gu, ''); // a tracker's state name: plain words only
  const moved = `After your hand-over, a human moved the issue back to "${state}" (rework round ${r.round}).`;
  if (!r.comments.length) {
    return `${moved} The issue was moved back to "${state}" without a comment. Check your change against the issue and .foreman/spec.md, fix what falls short, run the checks, then call finish.`;
  }
  return [
    `${moved} Their request, from the comments since the hand-over:`,
    '',
    ...r.comments.map((c) => humanAnswerBlock(c.author, 'comment', c.body)),
    '',
    'Make the change they ask for on the same branch, run the checks, then call finish.',
  ].join('\n');
}

/** An amount of a budget: `$1.50`, `90 s` or `1200 tokens`. */
export function formatAmount(kind: 'tokens' | 'usd' | 'wall', n: number): string {
  if (kind === 'usd') return `$${n.toFixed(2)}`;
  if (kind === 'wall') return `${Math.round(n / 1000)} s`;
  return `${n} tokens`;
}

/** The reminder posted once when an escalation waits past `escalation.reping_ms`. */
export function reminderNotice(askedAt: string, identifier: string): string {
  return `**Reminder:** Foreman is still waiting for an answer to the question above (asked ${askedAt}). Reply with a comment, or run \`foreman answer ${identifier} "…"\`.`;
}

/** The notice posted when an escalation waits past `escalation.timeout_ms`. */
export function parkedNotice(parkMs: number, parkedState: string | null): string {
  return `**Parked:** no answer after ${Math.round(parkMs / 1000)} s, so this issue is parked${parkedState ? ` in "${parkedState}"` : ''}. Foreman keeps waiting: an answer at any time resumes the work.`;
}

/** The notice posted when the tracker stopped the run. */
export function stoppedNotice(o: { reason: string; cleanup: boolean; pushedBranch: string | null }): string {
  return `**Foreman stopped working on this issue:** ${inertInline(o.reason)}${o.cleanup ? ' The workspace was removed.' : ' The workspace is kept.'}${o.pushedBranch ? ` Work so far is on \`${o.pushedBranch}\`.` : ''}`;
}

/** The notice posted when the pull request was merged or closed. */
export function pullRequestClosedNotice(o: {
  merged: boolean;
  prNumber: number;
  url: string;
  doneState: string;
}): string {
  return o.merged
    ? `**Merged:** [PR #${o.prNumber}](${o.url}) is merged. The issue is now "${o.doneState}" and the workspace is removed.`
    : `**Closed:** [PR #${o.prNumber}](${o.url}) was closed without merging. Foreman stops here; the branch and the workspace are kept.`;
}

/** `n commit(s) someone else pushed to \`branch\` (head \`sha\`)`: the remote side of a rejected push. */
function theirCommits(branch: string, r: RebaseResult): string {
  const n = r.remoteCommits;
  return `${n} commit${n === 1 ? '' : 's'} someone else pushed to \`${branch}\` (head \`${(r.onto ?? '').slice(0, 12)}\`)`;
}

/** The question of the rejected-push escalation: a conflicting rebase, QA failing after it, or a branch that keeps moving. */
export function pushRejectedQuestion(o: {
  branch: string;
  rebase: RebaseResult;
  qa: { items: string[] } | null;
}): string {
  const theirs = theirCommits(o.branch, o.rebase);
  const why =
    o.rebase.outcome === 'conflict'
      ? `Rebasing Foreman's change onto the ${theirs} conflicts in ${o.rebase.conflicts.map((p) => `\`${p}\``).join(', ')}.`
      : o.qa
        ? `Foreman rebased its change onto the ${theirs}, but QA then fails: ${o.qa.items.join(', ')}.`
        : `Foreman rebased its change onto the ${theirs}, but the branch kept moving before each push.`;
  return `${why} What should Foreman do? Answer 1, 2 or 3; free text is passed to the implementer as guidance (option 2).`;
}

/** The implementer's turn after a human let it resolve a conflicting rebase; the files carry conflict markers. */
export function rebaseConflictTurn(branch: string, r: RebaseResult, conflicts: string[]): string {
  return [
    `Someone else pushed to the branch: ${theirCommits(branch, r)}. Foreman merged your change onto their commits in the workspace; these files conflict and now contain conflict markers (<<<<<<<, =======, >>>>>>>):`,
    ...conflicts.map((p) => `- ${p}`),
    'Resolve each conflict keeping the intent of both sides, remove every marker, run the checks, then call finish.',
  ].join('\n');
}

/** The implementer's turn after a human let it fix what broke once its change was rebased onto someone else's commits. */
export function rebaseQaTurn(branch: string, r: RebaseResult, qaFeedback: string | null): string {
  const head = `Someone else pushed to the branch: ${theirCommits(branch, r)}. Foreman rebased your change onto their commits; the workspace holds the result.`;
  return qaFeedback ? `${head}\n\n${qaFeedback}` : `${head} Check that the change still holds, then call finish.`;
}

/**
 * The short follow-up posted when a step fails again after an answer: it re-asks the question of
 * the escalation `thread` (its comment key) in the same thread instead of a second full comment.
 */
export function reaskNotice(thread: string, e: Escalation): string {
  const picks = normalizeOptions(e.options)
    .map((o, i) => `${howToPick(o, i + 1)}: ${inertInline(o.label)}`)
    .join('; ');
  return `${afterLabel(`**Failed again** (question ${e.n}; the same question as decision ${thread.split('-').at(-1)} above):`, inertMarkdown(e.question))}\n\nAnswer as before: ${picks}. Any other reply is guidance for the agent.`;
}

/** The reply to an answer that does not resolve the question: a pick not on offer (`why`), or an approval from a non-approver. */
export function answerNotice(author: string, why: string | null): string {
  return why
    ? `**Not an option:** ${inertInline(why)}. Foreman is still waiting: reply with an option's number or command, or with free text.`
    : `**Not approved:** ${inertInline(author)} is not an approver (\`trust.approvers\`), so \`/foreman approve\` from them does not count. Foreman is still waiting.`;
}

/** The comment posted when an outage escalation resumes by itself: the probe of `target` succeeded. */
export function recoveredNotice(target: 'model' | 'tracker', step: string): string {
  const what = target === 'model' ? 'The model API answers again' : 'The tracker answers again';
  return `**Resumed:** ${what}, so Foreman retries "${step}" by itself (as if "retry" had been answered).`;
}
