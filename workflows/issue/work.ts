/**
 * The work of a round: implement ⇄ QA ⇄ contract ⇄ review until the change is pushed. Each gate
 * either lets the work go on (null) or sends it back to the implementer with the next user turn
 * (a string): QA failures, the QA agent's failing checks, protected paths not approved, blocking
 * review findings, or a human's answer to an escalation raised on the way.
 */
import type { WorkspaceInfo } from '../../src/workspace/workspace.js';
import { applyReview, blockingSeveritiesFor, openFindings } from '../review-ledger.js';
import { continueRun, shouldContinueAsNew, type Rounds } from './continue.js';
import { budgetEscalation } from './budget.js';
import { escalate } from './escalation.js';
import { publish } from './publish.js';
import { pushWork } from './push.js';
import { step } from './step.js';
import { conversationOf, evidence, type Run } from './run.js';
import { budgetNow, recordUsage } from './state.js';
import { answerTurn, failingQaItems, qaAgentFeedback, qaFeedback, recreatedTurn, reviewFeedback } from './texts.js';
import { holdWorkspace, recreateWorkspace, workspaceLostOf } from './affinity.js';

/**
 * Enters the work: prepares the workspace (once), moves the issue to in progress, then the
 * implement loop. `initial` is the first implementer turn of a rework round (review or CI feedback
 * on the pull request). Returns the workspace, pushed.
 */
export async function work(run: Run, initial: string | null): Promise<WorkspaceInfo> {
  const { state, acts, input } = run;
  if (!state.workspace) {
    state.phase = 'preparing';
    const ws = await step(run, 'prepare the workspace', () =>
      acts.prepare.prepareWorkspace({ issue: run.issue, runId: run.runId }),
    );
    holdWorkspace(run, ws); // its steps run on the worker that prepared it (./affinity.ts)
  }
  await step(run, 'move the issue to in progress', () =>
    acts.tracker.moveIssue({ issueId: input.issueId, state: run.settings.inProgressState }),
  );
  return implementLoop(run, initial, { qa: 0, review: 0 });
}

/**
 * Implement → QA → contract → review until the work is pushed; returns the workspace. Each lap
 * after the first may continue as new (./continue.ts), picking up here with `feedback` and `rounds`.
 */
export async function implementLoop(run: Run, initial: string | null, rounds: Rounds): Promise<WorkspaceInfo> {
  const { state } = run;
  const ws = state.workspace!;
  let feedback: string | null = initial;
  let given = feedback; // the lap's turn without a note about a re-created workspace
  for (let lap = 0; ; lap++) {
    if (lap > 0 && shouldContinueAsNew(run)) await continueRun(run, { at: 'implement', feedback, rounds });
    const atStart = { ...rounds };
    try {
      const again = await lapOf(run, ws, feedback, rounds);
      if (again === null) return ws;
      feedback = given = again;
    } catch (err) {
      // The worker holding the workspace is gone: prepare it again elsewhere and redo this lap.
      const lost = workspaceLostOf(err);
      if (!lost) throw err;
      Object.assign(rounds, atStart);
      const move = await recreateWorkspace(run, lost, (name, fn) => step(run, name, fn));
      feedback = recreatedTurn(move, given);
    }
  }
}

/**
 * One lap: implement, then the gates, then the push. Returns null once pushed, or the next
 * implementer turn (a gate sent the work back, or a human let the agent resolve a rejected push).
 */
async function lapOf(run: Run, ws: WorkspaceInfo, feedback: string | null, rounds: Rounds): Promise<string | null> {
  const { state } = run;
  state.round = rounds.qa + 1;
  state.phase = 'implementing';
  publish(state);
  const back =
    (await implement(run, ws, feedback)) ??
    (await verify(run, ws, rounds)) ??
    (await protectedPathsGate(run, ws)) ??
    (await review(run, ws, rounds));
  if (back !== null) return back;
  return pushWork(run, ws); // a rejected push: rebase, QA, push (./push.ts)
}

/** One implementer step; its question, spent turns or spent budget become escalations. */
async function implement(run: Run, ws: WorkspaceInfo, feedback: string | null): Promise<string | null> {
  const { state } = run;
  const round = state.round;
  const agent = await step(run, 'run the implementer', () =>
    run.acts.agents.runImplementer({
      issue: run.issue,
      workspace: ws,
      round,
      feedback,
      runId: conversationOf(run),
      budget: budgetNow(state, run.settings),
    }),
  );
  recordUsage(state, agent, 'implementer');
  state.implementerSummary = agent.summary;
  if (agent.outcome === 'escalated') {
    const q = agent.escalation;
    const { reply } = await escalate(run, {
      kind: 'agent_question',
      question: q?.question ?? '(the implementer gave no question)',
      options: (q?.options ?? []).map((label) => ({ label, command: null })),
      recommendation: q?.recommendation ?? null,
      tried: agent.summary ?? `The implementer worked for ${agent.turns} turn(s) and then asked.`,
    });
    return answerTurn(reply, 'A human answered your question.');
  }
  if (agent.outcome === 'max_turns') {
    const { reply } = await escalate(run, {
      kind: 'max_turns',
      question: `The implementer used all of its ${agent.turns} turns without calling finish. Should it continue, and with what guidance?`,
      options: [
        { label: 'Continue (or write a hint as free text)', command: 'continue' },
        { label: 'Stop: end this run and move the issue to a terminal state', command: 'stop' },
      ],
      recommendation: null,
      tried: `${agent.turns} model turns and ${agent.toolCalls} tool calls in this round.`,
    });
    return answerTurn(reply, 'You ran out of turns; a human answered.');
  }
  if (agent.outcome === 'budget_exhausted') return budgetEscalation(run, agent.budgetExhausted);
  return null;
}

/** QA commands, then the QA agent's checks (when on); failures go back, then escalate after the bound. */
async function verify(run: Run, ws: WorkspaceInfo, rounds: Rounds): Promise<string | null> {
  const { state, settings: s, acts } = run;
  state.phase = 'qa';
  const report = await step(run, 'run QA', () => acts.qa.runQa({ workspace: ws }));
  rounds.qa++;
  state.qaRounds.push({ round: state.qaRounds.length + 1, report });
  let failure: string | null = report.passed ? null : qaFeedback(report);
  if (!failure && s.qaAgent) {
    const qaRun = await step(run, 'run the QA agent', () =>
      acts.agents.runQaAgent({
        issue: run.issue,
        workspace: ws,
        round: rounds.qa,
        runId: conversationOf(run),
        budget: budgetNow(state, s),
      }),
    );
    recordUsage(state, qaRun, 'qa');
    state.qaAgentReport = qaRun;
    if (qaRun.budgetExhausted) return budgetEscalation(run, qaRun.budgetExhausted);
    if (!qaRun.passed) failure = qaAgentFeedback(qaRun);
  }
  if (!failure) return null;
  if (rounds.qa < s.qaMaxRounds) return failure;
  const failing = failingQaItems(report, state.qaAgentReport);
  const { reply } = await escalate(run, {
    kind: 'qa_failed',
    question: `QA still fails after ${rounds.qa} implement → QA round(s): ${failing.join(', ')}. How should the implementer proceed?`,
    options: [
      { label: 'Keep going (better: write a hint as free text, what to change or check)', command: 'continue' },
      { label: 'Stop: end this run and move the issue to a terminal state', command: 'stop' },
    ],
    recommendation: null,
    tried: `${rounds.qa} round(s); after each, Foreman ran the QA checks and sent the failures back to the implementer.`,
  });
  rounds.qa = 0;
  return answerTurn(reply, `${failure}\n\nQA kept failing, so Foreman asked a human.`);
}

/** The contract: protected paths are never pushed without a human's approval. */
async function protectedPathsGate(run: Run, ws: WorkspaceInfo): Promise<string | null> {
  const { state } = run;
  state.contract = await step(run, 'check the contract', () => run.acts.workspace.checkContract({ workspace: ws }));
  const unapproved = state.contract.protectedTouched.filter((p) => !state.approvedPaths.includes(p));
  if (!unapproved.length) return null;
  const list = unapproved.map((p) => `\`${p}\``).join(', ');
  const { reply, command } = await escalate(run, {
    kind: 'protected_path',
    question: `The change touches protected paths: ${list}. May Foreman push these changes? Only \`/foreman approve\` from an approver pushes them; any other answer goes to the implementer, who reverts them.`,
    options: [
      { label: 'Approve: push the changes to these paths', command: 'approve' },
      { label: 'Revert the changes to these paths', command: null },
    ],
    recommendation: null,
    tried: `QA passed. \`protected_paths\` in the policy matches ${unapproved.length} changed file(s); nothing was pushed.`,
  });
  if (command !== 'approve') {
    return answerTurn(reply, `A human did not approve the changes to protected paths (${list}): revert them.`);
  }
  for (const p of unapproved) if (!state.approvedPaths.includes(p)) state.approvedPaths.push(p);
  state.protectedApproval = { paths: [...state.approvedPaths], by: reply.author, answer: reply.text };
  return null;
}

/** The reviewer (when on): a verdict per round against the ledger; blocking findings go back. */
async function review(run: Run, ws: WorkspaceInfo, rounds: Rounds): Promise<string | null> {
  const { state, settings: s, acts } = run;
  if (!s.review.enabled) return null;
  rounds.review++;
  const round = rounds.review;
  const open = openFindings(state.ledger);
  const r = await step(run, 'run the reviewer', () =>
    acts.agents.runReviewer({
      issue: run.issue,
      workspace: ws,
      round,
      openFindings: open,
      runId: conversationOf(run),
      budget: budgetNow(state, s),
    }),
  );
  recordUsage(state, r, 'reviewer');
  if (r.budgetExhausted) {
    rounds.review--;
    return budgetEscalation(run, r.budgetExhausted);
  }
  state.reviewSummary = r.summary;
  if (r.verdict === 'escalate') {
    // A question is no review: the ledger stays as it was (nothing counts as resolved).
    state.reviewRounds.push({ round, verdict: 'escalate', raised: [], resolved: [], blocking: [] });
    const { reply } = await escalate(run, {
      kind: 'review',
      question: r.summary ?? 'The reviewer asks for a human decision.',
      options: [],
      recommendation: null,
      tried: `Review round ${round}: the reviewer read the spec and the diff and asked for a decision.`,
    });
    return answerTurn(reply, 'The reviewer asked a human for a decision.');
  }
  const blockingNow = blockingSeveritiesFor(round, s.review.firstRound, s.review.laterRounds);
  const applied = applyReview(state.ledger, round, r.findings, blockingNow, r.verdict);
  state.ledger = applied.ledger;
  state.reviewRounds.push(applied.round);
  await step(run, 'post the evidence', () =>
    acts.tracker.postEvidence({ issueId: run.input.issueId, evidence: evidence(run, ws, 'in_progress') }),
  );
  const blocking = state.ledger.filter((f) => applied.round.blocking.includes(f.id));
  if (r.verdict !== 'request_changes' || !blocking.length) return null;
  if (round < s.review.maxRounds) return reviewFeedback(blocking);
  const { reply, command } = await escalate(run, {
    kind: 'review_rounds',
    question: `After ${round} review round(s) these findings are still open: ${blocking.map((f) => `${f.id} [${f.severity}] ${f.message}`).join('; ')}. \`/foreman approve\` (from an approver) hands over as is; free text is guidance for another round.`,
    options: [
      { label: 'Approve: hand over with these findings open', command: 'approve' },
      { label: 'Another round (better: write guidance as free text)', command: 'continue' },
    ],
    recommendation: null,
    tried: `${round} implement → QA → review rounds; the findings above kept coming back.`,
  });
  rounds.review = 0;
  return command === 'approve' ? null : answerTurn(reply, reviewFeedback(blocking));
}
