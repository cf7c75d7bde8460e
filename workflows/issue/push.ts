/**
 * The push at the end of the implement loop, and what follows when someone else pushed to the
 * issue branch (docs/architecture.md, "A rejected push"). A push refused as non-fast-forward
 * (`push_rejected`, permanent) is not retried as is and never forced: Foreman rebases its change
 * onto the remote commits, re-runs the QA commands on the rebased tree and pushes. When the rebase
 * conflicts, or QA fails on the rebased tree, a human is asked once: 1. push to a new branch,
 * 2. let the agent resolve it (free text counts as this, with the text as guidance), 3. stop.
 */
import { ActivityFailure, ApplicationFailure, CancelledFailure, patched } from '@temporalio/workflow';
import type { ErrorCode } from '../../src/errors.js';
import type { RebaseResult } from '../../src/workspace/rebase.js';
import type { PushResult, WorkspaceInfo } from '../../src/workspace/workspace.js';
import { chooseOption, type EscalationOption } from '../../src/escalation/answer.js';
import { budgetEscalation } from './budget.js';
import { escalate } from './escalation.js';
import { step } from './step.js';
import { conversationOf, type Run } from './run.js';
import { budgetNow, recordUsage } from './state.js';
import {
  answerTurn,
  failingQaItems,
  pushRejectedQuestion,
  qaAgentFeedback,
  qaFeedback,
  rebaseConflictTurn,
  rebaseQaTurn,
} from './texts.js';

/** Rebases in a row (someone keeps pushing between Foreman's rebase and its push) before a human is asked. */
const MAX_REBASES = 3;

/** The options of the rejected-push escalation, numbered in this order (specs/escalations.md). */
export const PUSH_REJECTED_OPTIONS: readonly EscalationOption[] = [
  {
    label: 'Push to a new branch: Foreman pushes its change to a new branch and opens the pull request from it',
    command: 'branch',
  },
  {
    label:
      'Let the agent resolve it: the implementer gets a turn with the conflict; free text goes with it as guidance',
    command: 'resolve',
  },
  { label: 'Stop: the run ends here; the branch and the workspace are kept', command: 'stop' },
];

const REJECTED = 'push_rejected' satisfies ErrorCode;

/**
 * Commits and pushes the work; after a rejected push, rebases, re-runs QA and pushes again. Sets
 * `state.push` (and `ws.branch` when the work went to a new branch). Returns null once pushed, or
 * the next implementer turn when a human let the agent resolve a conflict or a QA failure.
 */
export async function pushWork(run: Run, ws: WorkspaceInfo): Promise<string | null> {
  const { state, acts } = run;
  const args = pushInput(run, ws);
  let rebased: RebaseResult | null = null;
  for (let rebases = 0; ; rebases++) {
    state.phase = 'pushing';
    const pushed = await step(run, 'commit and push', () => acts.workspace.commitAndPush(args).catch(rejected));
    if (pushed) {
      state.push = rebased?.onto
        ? { ...pushed, rebasedOnto: { commit: rebased.onto, commits: rebased.remoteCommits } }
        : pushed;
      return null;
    }
    const r = await step(run, 'rebase onto the remote branch', () => acts.workspace.rebaseOnRemote(args));
    if (r.outcome === 'conflict' || rebases >= MAX_REBASES) return askAfterRejection(run, ws, r, null);
    if (r.outcome === 'up_to_date') continue; // the branch moved back: push again
    const qa = await qaOnRebasedTree(run, ws);
    if (typeof qa === 'string') return qa; // the QA agent's budget ran out: answered like any budget escalation
    if (qa) return askAfterRejection(run, ws, r, qa);
    rebased = r;
  }
}

/** What the push activities take for the run's final (not partial) push of `ws`. */
function pushInput(run: Run, ws: WorkspaceInfo) {
  return { workspace: ws, identifier: run.input.identifier, title: run.issue.title, partial: false };
}

/** What failed in QA on the rebased tree: the failing items (for the question) and the implementer's feedback. */
interface QaFailure {
  items: string[];
  feedback: string;
}

/**
 * The run's QA on the rebased tree, as in the implement loop (./work.ts `verify`): the QA commands
 * (policy and spec Evidence), then the QA agent's checks when the policy has it. Returns null when
 * it passes, the failure, or (the QA agent's budget ran out) the next implementer turn.
 */
async function qaOnRebasedTree(run: Run, ws: WorkspaceInfo): Promise<QaFailure | string | null> {
  const { state, acts, settings: s } = run;
  state.phase = 'qa';
  const report = await step(run, 'run QA', () => acts.qa.runQa({ workspace: ws }));
  state.qaRounds.push({ round: state.qaRounds.length + 1, report });
  if (!report.passed) return { items: failingQaItems(report, null), feedback: qaFeedback(report) };
  if (!s.qaAgent) return null;
  const round = state.qaRounds.length;
  const budget = budgetNow(state, s);
  const qaRun = await step(run, 'run the QA agent', () =>
    acts.agents.runQaAgent({ issue: run.issue, workspace: ws, round, runId: conversationOf(run), budget }),
  );
  recordUsage(state, qaRun, 'qa');
  state.qaAgentReport = qaRun;
  if (qaRun.budgetExhausted) return budgetEscalation(run, qaRun.budgetExhausted);
  return qaRun.passed ? null : { items: failingQaItems(report, qaRun), feedback: qaAgentFeedback(qaRun) };
}

/**
 * A `push_rejected` failure of the push activity becomes null (the caller rebases); any other
 * failure passes. Behind `patched()`: a run from older code that saw a rejected push went on to the
 * failed-step escalation (retryable `push_rejected`), and replaying its history must do so again
 * (docs/architecture.md, "Changing workflow code"); its next rejection takes the new path.
 */
function rejected(err: unknown): null {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure && cause.details?.[0] === REJECTED && patched(PUSH_REBASE_PATCH)) return null;
  throw err;
}

/** The `patched()` id of the rejected-push path. */
export const PUSH_REBASE_PATCH = 'push-rebase';

/**
 * Asks a human once what to do after a rebase that conflicts (`qa` null) or after which QA fails,
 * then does exactly that: 1 pushes to a new branch (null: pushed), 2 or free text returns the
 * implementer's next turn, 3 stops the run.
 */
async function askAfterRejection(
  run: Run,
  ws: WorkspaceInfo,
  r: RebaseResult,
  qa: QaFailure | null,
): Promise<string | null> {
  const { state, acts } = run;
  const args = pushInput(run, ws);
  const { reply, option } = await escalate(run, {
    kind: 'push_rejected',
    question: pushRejectedQuestion({ branch: ws.branch, rebase: r, qa }),
    options: [...PUSH_REJECTED_OPTIONS],
    recommendation: null,
    tried: `Foreman's push to \`${ws.branch}\` was refused as non-fast-forward; it fetched the branch (head \`${(r.onto ?? '').slice(0, 12)}\`) and ${
      r.outcome === 'conflict' ? 'tried to rebase its change onto it' : 'rebased its change onto it and re-ran QA'
    }. Nothing was forced.`,
  });
  // A parsed answer says which option it picked (a picked Stop already ended the run in `escalate`);
  // a history from before parsed answers (escalation.ts ANSWERS_PATCH) resolves with none: parse it here.
  const choice = option ?? chooseOption(reply, PUSH_REJECTED_OPTIONS);
  if (choice === 1) {
    const pushed: PushResult = await step(run, 'push to a new branch', () =>
      // A rebased work tree (QA failed on it, or the branch kept moving) goes back to Foreman's own commit.
      acts.workspace.pushToNewBranch({ ...args, restore: r.outcome === 'rebased' ? r.ours : null }),
    );
    state.push = pushed;
    ws.branch = pushed.branch; // the pull request is opened from the new branch
    return null;
  }
  if (choice === 3) {
    // Only a history from before parsed answers gets here (see above).
    const reason = `a human chose to stop after someone else pushed to \`${ws.branch}\`.`;
    run.inbox.stop = { reason, cleanup: false };
    throw new CancelledFailure(reason); // the run's stop path (issue-workflow.ts) ends it as stopped
  }
  if (qa || r.outcome !== 'conflict' || !r.onto)
    return answerTurn(reply, rebaseQaTurn(ws.branch, r, qa?.feedback ?? null));
  const onto = r.onto;
  const conflicts = await step(run, 'check out the conflict', () => acts.workspace.checkoutConflict({ ...args, onto }));
  return answerTurn(reply, rebaseConflictTurn(ws.branch, r, conflicts));
}
