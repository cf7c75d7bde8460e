/**
 * IssueWorkflow: how one issue progresses, durably. Prepare the workspace and spec, move the issue
 * to in progress, then implement → QA until QA passes; commit, push, post the evidence and move
 * the issue to review.
 *
 * Manager by exception: whatever needs a human — the implementer's question, QA still failing
 * after `qa.max_rounds`, a spent budget, turns used up, a step that failed for good — becomes an
 * **escalation**: partial work pushed, one comment with the question, and a durable wait for a
 * `humanReply` (re-pinged once, then parked, per policy). The answer is recorded in the spec's
 * Decisions and the same agent conversation resumes with it. Nothing ends silently.
 *
 * A `stop` signal (the tracker moved the issue to a terminal or inactive state, Symphony SPEC §8.5)
 * cancels the work in progress, cleans the workspace when asked, and ends the run as `stopped`.
 *
 * Deterministic code only: all I/O is in activities (imported as types).
 */
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  proxyActivities,
  setHandler,
  upsertMemo,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import {
  ciResultSignal,
  humanReplySignal,
  issueUpdatedSignal,
  prClosedSignal,
  prReviewSignal,
  statusQuery,
  stopSignal,
} from './definitions.js';
import { applyReview, blockingSeveritiesFor, openFindings } from './review-ledger.js';
import type { AgentRunSummary } from '../src/agents/results.js';
import type { RoleUsage, TokenUsage } from '../src/agents/usage.js';
import type { ContractCheck } from '../src/contract/check.js';
import type { Escalation, EscalationRecord } from '../src/evidence/escalation.js';
import type { EvidenceData } from '../src/evidence/render.js';
import type { QaAgentReport } from '../src/qa/agent-checks.js';
import type { QaReport } from '../src/qa/run.js';
import type { ReviewRound, TrackedFinding } from '../src/review/findings.js';
import type { CiSummary, PullRequestRef } from '../src/scm/types.js';
import type { PushResult, WorkspaceInfo } from '../src/workspace/workspace.js';
import type {
  HumanReply,
  IssueRunStatus,
  IssueRunSummary,
  IssueWorkflowInput,
  PullRequestClosed,
  PullRequestReview,
  StopRequest,
} from './definitions.js';

const boot = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 10 },
});

/** Runs one issue from the tracker to a pushed branch with evidence. */
export async function IssueWorkflow(input: IssueWorkflowInput): Promise<IssueRunSummary> {
  const info = workflowInfo();
  const started = Date.now(); // workflow time: deterministic inside the sandbox
  const usage: TokenUsage = {
    input_tokens: 0,
    output_tokens: 0,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
  };
  const transcripts: string[] = [];
  const status: IssueRunStatus = {
    identifier: input.identifier,
    issueId: input.issueId,
    workspace: null,
    branch: null,
    turns: 0,
    tokens: usage,
    transcripts,
    phase: 'starting',
    round: 0,
    startedAt: new Date(started).toISOString(),
    lastError: null,
    escalation: null,
    answeredCommentIds: [],
  };
  const replies: HumanReply[] = [];
  // Assigned in handlers and nested functions: the casts keep TypeScript from narrowing them to null.
  let stop = null as StopRequest | null;
  let workScope = null as CancellationScope | null;

  setHandler(statusQuery, () => status);
  setHandler(issueUpdatedSignal, () => {
    // The run re-reads the tracker at each step; the signal only marks that something changed.
  });
  setHandler(humanReplySignal, (reply) => {
    // Only an open question takes answers; a comment counts once.
    if (status.phase !== 'waiting_for_human') return;
    if (reply.commentId) {
      if (status.answeredCommentIds.includes(reply.commentId)) return;
      status.answeredCommentIds.push(reply.commentId);
    }
    replies.push(reply);
  });
  const prReviews: PullRequestReview[] = [];
  let prClosed = null as PullRequestClosed | null;
  let ciEvents = 0;
  /** CI events already read (a rework round must not read the same red result again). */
  let seenCi = 0;
  setHandler(prReviewSignal, (review) => {
    prReviews.push(review);
  });
  setHandler(prClosedSignal, (closed) => {
    prClosed = closed;
  });
  setHandler(ciResultSignal, () => {
    ciEvents++;
  });
  setHandler(stopSignal, (req) => {
    if (stop) return;
    stop = req;
    workScope?.cancel();
  });

  const run = await boot.prepareRun({ issueId: input.issueId, identifier: input.identifier });
  const s = run.settings;
  const retry = {
    initialInterval: s.retry.initialIntervalMs,
    backoffCoefficient: 2,
    maximumInterval: s.retry.maximumIntervalMs,
    maximumAttempts: s.retry.maximumAttempts,
  };
  // Tracker calls are short; git steps (clone, push, diff) heartbeat, so a dead worker is noticed in
  // 30 s instead of at the end of a long timeout.
  const io = proxyActivities<Activities>({ startToCloseTimeout: '1 minute', retry });
  const git = proxyActivities<Activities>({ startToCloseTimeout: '10 minutes', heartbeatTimeout: '30 seconds', retry });
  const agent = proxyActivities<Activities>({
    startToCloseTimeout: s.agentTimeoutMs,
    heartbeatTimeout: '30 seconds',
    retry,
  });
  const qa = proxyActivities<Activities>({ startToCloseTimeout: s.qaTimeoutMs, heartbeatTimeout: '30 seconds', retry });
  // Escalation I/O retries without limit: asking a human is the last resort and must get through.
  const notify = proxyActivities<Activities>({
    startToCloseTimeout: '1 minute',
    retry: {
      initialInterval: s.retry.initialIntervalMs,
      backoffCoefficient: 2,
      maximumInterval: s.retry.maximumIntervalMs,
    },
  });

  let turns = 0;
  let costUsd: number | null = 0;
  /** Budget grants: each answer to a budget escalation grants the policy's budget once more. */
  let grants = 1;
  let ciRounds = 0;
  let deadline = s.budget.maxWallMs ? started + s.budget.maxWallMs : null;
  const qaRounds: { round: number; report: QaReport }[] = [];
  const escalations: EscalationRecord[] = [];
  let workspace = null as WorkspaceInfo | null;
  let lastAgent = null as AgentRunSummary | null;
  let push = null as PushResult | null;
  let qaAgentReport = null as QaAgentReport | null;
  let contract = null as ContractCheck | null;
  let ledger: TrackedFinding[] = [];
  const reviewRounds: ReviewRound[] = [];
  let reviewSummary = null as string | null;
  /** Protected paths a human approved for pushing, and the approval. */
  const approvedPaths = new Set<string>();
  let protectedApproval = null as EvidenceData['protectedApproval'];
  const roles: RoleUsage[] = [];
  let pr = null as PullRequestRef | null;
  let prState = null as IssueRunSummary['pr_state'];
  let ci = null as CiSummary | null;

  const totalTokens = () =>
    usage.input_tokens + usage.output_tokens + usage.cache_creation_input_tokens + usage.cache_read_input_tokens;
  const addUsage = (
    r: Pick<AgentRunSummary, 'usage' | 'costUsd' | 'turns' | 'transcriptPath'>,
    roleName: RoleUsage['role'] = 'implementer',
  ) => {
    let role = roles.find((x) => x.role === roleName);
    if (!role) {
      role = {
        role: roleName,
        turns: 0,
        usage: { input_tokens: 0, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
        costUsd: 0,
      };
      roles.push(role);
    }
    role.turns += r.turns;
    role.usage.input_tokens += r.usage.input_tokens;
    role.usage.output_tokens += r.usage.output_tokens;
    role.usage.cache_creation_input_tokens += r.usage.cache_creation_input_tokens;
    role.usage.cache_read_input_tokens += r.usage.cache_read_input_tokens;
    role.costUsd = role.costUsd === null || r.costUsd === null ? null : role.costUsd + r.costUsd;
    usage.input_tokens += r.usage.input_tokens;
    usage.output_tokens += r.usage.output_tokens;
    usage.cache_creation_input_tokens += r.usage.cache_creation_input_tokens;
    usage.cache_read_input_tokens += r.usage.cache_read_input_tokens;
    costUsd = costUsd === null || r.costUsd === null ? null : costUsd + r.costUsd;
    turns += r.turns;
    status.turns = turns;
    if (!transcripts.includes(r.transcriptPath)) transcripts.push(r.transcriptPath);
  };

  /**
   * Runs an activity step; when it fails for good (non-retryable, or retries spent) the failure is
   * escalated and, once answered, the step is tried again. Cancellation passes through.
   */
  async function step<T>(name: string, fn: () => Promise<T>): Promise<T> {
    for (;;) {
      try {
        return await fn();
      } catch (err) {
        if (isCancellation(err)) throw err;
        const cause = describeFailure(err);
        status.lastError = `${name}: ${cause}`;
        await escalate({
          kind: 'error',
          question: `The step "${name}" failed and retrying did not help: ${cause}. Fix the cause if it is outside the code (credentials, network, repository), then answer to retry.`,
          options: ['Retry the step', 'Stop: move the issue to a terminal state'],
          recommendation: 'Retry the step once the cause is fixed',
          tried: `Foreman ran "${name}" ${s.retry.maximumAttempts} time(s) with backoff, or stopped at once because the error cannot heal by retrying.`,
        });
      }
    }
  }

  /** Posts the question, waits durably for the answer (reminder, then park), records it. */
  async function escalate(
    e: Pick<Escalation, 'kind' | 'question' | 'options' | 'recommendation' | 'tried'>,
  ): Promise<HumanReply> {
    const escalation: Escalation = {
      ...e,
      n: escalations.length + 1,
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
    escalations.push(record);
    // Partial work goes to the branch first, so the human can look at it (never a silent loss) —
    // unless it touches protected paths nobody approved: those are never pushed.
    if (workspace) {
      try {
        const check = await git.checkContract({ workspace });
        const unapproved = check.protectedTouched.filter((p) => !approvedPaths.has(p));
        if (unapproved.length)
          escalation.tried += ` (Not pushed: the change touches protected paths ${unapproved.map((p) => `\`${p}\``).join(', ')}.)`;
        else
          push = await git.commitAndPush({
            workspace,
            identifier: input.identifier,
            title: run.issue.title,
            partial: true,
          });
      } catch (err) {
        if (isCancellation(err)) throw err;
        escalation.tried += ` (The partial work could not be pushed: ${describeFailure(err)}.)`;
      }
    }
    const key = `escalation-${info.runId}-${escalation.n}`;
    await notify.postEscalation({
      issueId: input.issueId,
      key,
      data: {
        identifier: input.identifier,
        title: run.issue.title,
        escalation,
        branch: workspace?.branch ?? null,
        push,
        repingMs: s.repingMs,
        parkMs: s.parkMs,
        parkedState: s.parkedState,
      },
    });
    if (s.escalatedState) await notify.moveIssue({ issueId: input.issueId, state: s.escalatedState });
    replies.length = 0;
    status.escalation = escalation;
    status.phase = 'waiting_for_human';

    const asked = Date.now();
    const answered = () => replies.length > 0;
    if (s.repingMs && (!s.parkMs || s.repingMs < s.parkMs) && !(await condition(answered, s.repingMs))) {
      escalation.reminded = true;
      await notify.postComment({
        issueId: input.issueId,
        key: `${key}-reminder`,
        body: `**Reminder:** Foreman is still waiting for an answer to the question above (asked ${escalation.askedAt}). Reply with a comment, or run \`foreman answer ${input.identifier} "…"\`.`,
      });
    }
    if (s.parkMs && !(await condition(answered, Math.max(1, s.parkMs - (Date.now() - asked))))) {
      escalation.parked = true;
      await notify.postComment({
        issueId: input.issueId,
        key: `${key}-parked`,
        body: `**Parked:** no answer after ${Math.round(s.parkMs / 1000)} s, so this issue is parked${s.parkedState ? ` in "${s.parkedState}"` : ''}. Foreman keeps waiting: an answer at any time resumes the work.`,
      });
      if (s.parkedState) await notify.moveIssue({ issueId: input.issueId, state: s.parkedState });
    }
    await condition(answered);
    // Everything said before the work resumes is the answer (e.g. two comments in a row).
    const all = replies.splice(0);
    const reply: HumanReply =
      all.length === 1
        ? all[0]!
        : {
            text: all.map((r) => r.text).join('\n\n'),
            author: [...new Set(all.map((r) => r.author))].join(', '),
            source: all[0]!.source,
          };
    record.answer = reply.text;
    record.author = reply.author;
    status.escalation = null;
    status.phase = 'implementing';
    await notify.recordDecision({ workspace, escalation, reply });
    await notify.moveIssue({ issueId: input.issueId, state: s.inProgressState });
    return reply;
  }

  /** Escalates a spent budget; an answer grants the policy's budget once more. Returns the next user turn. */
  async function budgetEscalation(b: AgentRunSummary['budgetExhausted']): Promise<string> {
    const what = b?.reason === 'wall' ? 'wall time' : b?.reason === 'usd' ? 'USD' : 'tokens';
    const spent = b
      ? formatAmount(
          b.reason,
          b.reason === 'usd' ? b.spentUsd : b.reason === 'tokens' ? b.spentTokens : Date.now() - started,
        )
      : '';
    const limit = b ? formatAmount(b.reason, b.reason === 'wall' ? (s.budget.maxWallMs ?? 0) * grants : b.limit) : '';
    const reply = await escalate({
      kind: 'budget',
      question: `The issue's ${what} budget is spent (${b ? `${spent} of ${limit}` : 'limit reached'}). Grant the same budget again and continue?`,
      options: ['Continue with another budget of the same size', 'Stop: move the issue to a terminal state'],
      recommendation: null,
      tried: `${turns} model turns so far; ${totalTokens()} tokens${costUsd !== null ? `, $${costUsd.toFixed(4)}` : ''}. The work so far is pushed to the branch.`,
    });
    grants++;
    if (s.budget.maxWallMs) deadline = Date.now() + s.budget.maxWallMs;
    return answerTurn(reply, 'Your budget ran out; a human granted more.');
  }

  const answerTurn = (reply: HumanReply, context: string) =>
    `${context}\n\nAnswer from ${reply.author} (${reply.source}):\n${reply.text}\n\nThe answer is recorded under Decisions in .foreman/spec.md. Continue the task; call finish when done.`;

  /** The evidence packet's data as it stands (rendered by an activity, never by the model). */
  function evidenceData(ws: WorkspaceInfo, stage: EvidenceData['stage']): EvidenceData {
    return {
      identifier: input.identifier,
      title: run.issue.title,
      stage,
      branch: ws.branch,
      baseBranch: ws.baseBranch,
      push,
      specPath: ws.specPath,
      implementerSummary: lastAgent?.summary ?? null,
      qaRounds,
      qaMaxRounds: s.qaMaxRounds,
      qaAgent: qaAgentReport,
      review: {
        enabled: s.review.enabled,
        maxRounds: s.review.maxRounds,
        rounds: reviewRounds,
        findings: ledger,
        summary: reviewSummary,
      },
      contract,
      protectedApproval,
      pr,
      ci,
      usage,
      costUsd,
      turns,
      roles,
      wallMs: Date.now() - started,
      escalations,
      transcripts,
      workflowId: info.workflowId,
      runId: info.runId,
    };
  }

  /** The budget as the next agent step must check it. */
  function budgetNow() {
    return {
      spentTokens: totalTokens(),
      spentUsd: costUsd ?? 0,
      maxTokens: s.budget.maxTokens === null ? null : s.budget.maxTokens * grants,
      maxUsd: s.budget.maxUsd === null ? null : s.budget.maxUsd * grants,
      deadline,
    };
  }

  /**
   * Hands the work over: opens or updates the pull request (evidence as its body; none without a
   * GitHub repository), posts the evidence on the issue (edited in place), moves it to review.
   */
  async function handOver(ws: WorkspaceInfo): Promise<IssueRunSummary['evidence']> {
    status.phase = 'reporting';
    const opened = await step('open the pull request', () =>
      git.openPullRequest({ issue: run.issue, workspace: ws, evidence: evidenceData(ws, 'ready') }),
    );
    if (opened) {
      pr = opened;
      prState = 'open';
    }
    const evidence = evidenceData(ws, 'ready');
    const posted = await step('post the evidence', () => io.postEvidence({ issueId: input.issueId, evidence }));
    await step('move the issue to review', () => io.moveIssue({ issueId: input.issueId, state: s.reviewState }));
    return posted;
  }

  /**
   * After hand-over, listens to the pull request (webhook signals, durable): changes requested or
   * red CI → returns the next implementer turn (a rework round); merged → issue done, workspace
   * removed; closed unmerged → stops. Returns null when the PR is closed either way.
   */
  async function awaitPullRequest(ws: WorkspaceInfo): Promise<string | null> {
    for (;;) {
      status.phase = 'in_review';
      await condition(() => prReviews.length > 0 || prClosed !== null || ciEvents > seenCi);
      if (prClosed) {
        const closed: PullRequestClosed = prClosed;
        prState = closed.merged ? 'merged' : 'closed';
        if (closed.merged) {
          await step('move the issue to done', () => io.moveIssue({ issueId: input.issueId, state: s.doneState }));
          await git.removeWorkspace({ identifier: input.identifier });
        }
        await notify.postComment({
          issueId: input.issueId,
          key: `pr-closed-${info.runId}`,
          body: closed.merged
            ? `**Merged:** [PR #${closed.prNumber}](${pr?.url ?? ''}) is merged. The issue is now "${s.doneState}" and the workspace is removed.`
            : `**Closed:** [PR #${closed.prNumber}](${pr?.url ?? ''}) was closed without merging. Foreman stops here; the branch and the workspace are kept.`,
        });
        return null;
      }
      if (ciEvents > seenCi) {
        seenCi = ciEvents;
        const result = await step('read CI', () => git.ciStatus({ workspace: ws }));
        if (result) {
          ci = result;
          // The evidence (on the issue and as the PR body) shows CI as GitHub reports it.
          const evidence = evidenceData(ws, 'ready');
          await step('update the pull request', () =>
            git.openPullRequest({ issue: run.issue, workspace: ws, evidence }),
          );
          await step('post the evidence', () => io.postEvidence({ issueId: input.issueId, evidence }));
        }
        if (ci?.state !== 'failure') continue;
        ciRounds++;
        const failing = ci.checks.filter((c) =>
          ['failure', 'timed_out', 'cancelled', 'action_required', 'error', 'startup_failure'].includes(
            c.conclusion ?? c.status,
          ),
        );
        const text = `CI failed on the pull request: ${failing.map((c) => `${c.name} (${c.conclusion ?? c.status}${c.url ? `, ${c.url}` : ''})`).join('; ')}. Find the cause, fix it, run the checks, then call finish.`;
        if (ciRounds <= s.maxCiRounds) return text;
        const reply = await escalate({
          kind: 'ci_failed',
          question: `CI still fails on the pull request after ${s.maxCiRounds} rework round(s): ${failing.map((c) => c.name).join(', ')}. How should the implementer proceed?`,
          options: ['Keep going with a hint', 'Stop: close the pull request'],
          recommendation: null,
          tried: `${s.maxCiRounds} rework round(s) after red CI; each pushed a new head to the pull request.`,
        });
        ciRounds = 0;
        return answerTurn(reply, text);
      }
      const review = prReviews.shift()!;
      if (review.state === 'changes_requested') {
        const inline = await step('read the review comments', () =>
          git.pullRequestReviewComments({ workspace: ws, prNumber: review.prNumber }),
        );
        return [
          `A human reviewer (${review.author}) requested changes on pull request #${review.prNumber}:`,
          '',
          review.body || '(no summary text)',
          ...(inline.length ? ['', 'Review comments on the code:', ...inline.map((c) => `- ${c}`)] : []),
          '',
          'Address them, run the checks, then call finish.',
        ].join('\n');
      }
    }
  }

  /**
   * Implement → QA → contract → review until the work is pushed; returns the workspace. `initial`
   * is the first implementer turn of a rework round (review or CI feedback on the pull request).
   */
  async function work(initial: string | null): Promise<WorkspaceInfo> {
    if (!workspace) {
      status.phase = 'preparing';
      workspace = await step('prepare the workspace', () =>
        git.prepareWorkspace({ issue: run.issue, runId: info.runId }),
      );
      status.workspace = workspace.path;
      status.branch = workspace.branch;
    }
    await step('move the issue to in progress', () =>
      io.moveIssue({ issueId: input.issueId, state: s.inProgressState }),
    );

    let feedback: string | null = initial;
    let round = 0;
    let reviewRound = 0;
    for (;;) {
      status.round = round + 1;
      status.phase = 'implementing';
      const ws: WorkspaceInfo = workspace;
      const implFeedback = feedback;
      lastAgent = await step('run the implementer', () =>
        agent.runImplementer({
          issue: run.issue,
          workspace: ws,
          round: round + 1,
          feedback: implFeedback,
          runId: info.runId,
          budget: budgetNow(),
        }),
      );
      addUsage(lastAgent);

      if (lastAgent.outcome === 'escalated') {
        const q = lastAgent.escalation;
        const reply = await escalate({
          kind: 'agent_question',
          question: q?.question ?? '(the implementer gave no question)',
          options: q?.options ?? [],
          recommendation: q?.recommendation ?? null,
          tried: lastAgent.summary ?? `The implementer worked for ${lastAgent.turns} turn(s) and then asked.`,
        });
        feedback = answerTurn(reply, 'A human answered your question.');
        continue;
      }
      if (lastAgent.outcome === 'max_turns') {
        const reply = await escalate({
          kind: 'max_turns',
          question: `The implementer used all of its ${lastAgent.turns} turns without calling finish. Should it continue, and with what guidance?`,
          options: ['Continue (optionally with a hint)', 'Stop: move the issue to a terminal state'],
          recommendation: null,
          tried: `${lastAgent.turns} model turns and ${lastAgent.toolCalls} tool calls in this round.`,
        });
        feedback = answerTurn(reply, 'You ran out of turns; a human answered.');
        continue;
      }
      if (lastAgent.outcome === 'budget_exhausted') {
        feedback = await budgetEscalation(lastAgent.budgetExhausted);
        continue;
      }

      status.phase = 'qa';
      const report = await step('run QA', () => qa.runQa({ workspace: ws }));
      round++;
      qaRounds.push({ round: qaRounds.length + 1, report });
      let failure: string | null = report.passed ? null : qaFeedback(report);
      if (!failure && s.qaAgent) {
        const qaRun = await step('run the QA agent', () =>
          agent.runQaAgent({
            issue: run.issue,
            workspace: ws,
            round,
            runId: info.runId,
            budget: budgetNow(),
            feedback: null,
          }),
        );
        addUsage(qaRun, 'qa');
        qaAgentReport = qaRun;
        if (qaRun.budgetExhausted) {
          feedback = await budgetEscalation(qaRun.budgetExhausted);
          continue;
        }
        if (!qaRun.passed) failure = qaAgentFeedback(qaRun);
      }
      if (failure) {
        feedback = failure;
        if (round < s.qaMaxRounds) continue;
        const failing = report.passed
          ? (qaAgentReport?.checks ?? [])
              .filter((c) => !c.passed)
              .map((c) => `\`${c.path}\` (exit ${c.exitCode ?? 'none'}, written by the QA agent)`)
          : report.results.filter((r) => !r.passed).map((r) => `\`${r.command}\` (exit ${r.exitCode ?? 'none'})`);
        const reply = await escalate({
          kind: 'qa_failed',
          question: `QA still fails after ${round} implement → QA round(s): ${failing.join(', ')}. How should the implementer proceed?`,
          options: ['Keep going with a hint (say what to change or check)', 'Stop: move the issue to a terminal state'],
          recommendation: null,
          tried: `${round} round(s); after each, Foreman ran the QA checks and sent the failures back to the implementer.`,
        });
        round = 0;
        feedback = answerTurn(reply, `${failure}\n\nQA kept failing, so Foreman asked a human.`);
        continue;
      }

      // The contract: protected paths are never pushed without a human's approval.
      contract = await step('check the contract', () => git.checkContract({ workspace: ws }));
      const unapproved = contract.protectedTouched.filter((p) => !approvedPaths.has(p));
      if (unapproved.length) {
        const list = unapproved.map((p) => `\`${p}\``).join(', ');
        const reply = await escalate({
          kind: 'protected_path',
          question: `The change touches protected paths: ${list}. May Foreman push these changes? Answer "approve" to push them; anything else is passed to the implementer, who reverts them.`,
          options: ['approve', 'Revert the changes to these paths'],
          recommendation: null,
          tried: `QA passed. \`protected_paths\` in the policy matches ${unapproved.length} changed file(s); nothing was pushed.`,
        });
        if (APPROVAL.test(reply.text)) {
          for (const p of unapproved) approvedPaths.add(p);
          protectedApproval = { paths: [...approvedPaths], by: reply.author, answer: reply.text };
        } else {
          feedback = answerTurn(
            reply,
            `A human did not approve the changes to protected paths (${list}): revert them.`,
          );
          continue;
        }
      }

      if (s.review.enabled) {
        reviewRound++;
        const open = openFindings(ledger);
        const r = await step('run the reviewer', () =>
          agent.runReviewer({
            issue: run.issue,
            workspace: ws,
            round: reviewRound,
            openFindings: open,
            runId: info.runId,
            budget: budgetNow(),
          }),
        );
        addUsage(r, 'reviewer');
        if (r.budgetExhausted) {
          reviewRound--;
          feedback = await budgetEscalation(r.budgetExhausted);
          continue;
        }
        reviewSummary = r.summary;
        if (r.verdict === 'escalate') {
          // A question is no review: the ledger stays as it was (nothing counts as resolved).
          reviewRounds.push({ round: reviewRound, verdict: 'escalate', raised: [], resolved: [], blocking: [] });
          const reply = await escalate({
            kind: 'review',
            question: r.summary ?? 'The reviewer asks for a human decision.',
            options: [],
            recommendation: null,
            tried: `Review round ${reviewRound}: the reviewer read the spec and the diff and asked for a decision.`,
          });
          feedback = answerTurn(reply, 'The reviewer asked a human for a decision.');
          continue;
        }
        const applied = applyReview(
          ledger,
          reviewRound,
          r.findings,
          blockingSeveritiesFor(reviewRound, s.review.firstRound, s.review.laterRounds),
          r.verdict,
        );
        ledger = applied.ledger;
        reviewRounds.push(applied.round);
        await step('post the evidence', () =>
          io.postEvidence({ issueId: input.issueId, evidence: evidenceData(ws, 'in_progress') }),
        );
        const blocking = ledger.filter((f) => applied.round.blocking.includes(f.id));
        if (r.verdict === 'request_changes' && blocking.length) {
          if (reviewRound < s.review.maxRounds) {
            feedback = reviewFeedback(blocking);
            continue;
          }
          const reply = await escalate({
            kind: 'review_rounds',
            question: `After ${reviewRound} review round(s) these findings are still open: ${blocking.map((f) => `${f.id} [${f.severity}] ${f.message}`).join('; ')}. Answer "approve" to hand over as is, or say how to address them.`,
            options: ['approve', 'Give the implementer guidance for another round'],
            recommendation: null,
            tried: `${reviewRound} implement → QA → review rounds; the findings above kept coming back.`,
          });
          reviewRound = 0;
          if (!APPROVAL.test(reply.text)) {
            feedback = answerTurn(reply, reviewFeedback(blocking));
            continue;
          }
        }
      }

      status.phase = 'pushing';
      push = await step('commit and push', () =>
        git.commitAndPush({ workspace: ws, identifier: input.identifier, title: run.issue.title, partial: false }),
      );
      return ws;
    }
  }

  let posted: IssueRunSummary['evidence'];
  try {
    posted = await CancellationScope.cancellable(async () => {
      workScope = CancellationScope.current();
      if (stop) workScope.cancel(); // a stop that came in before the work began
      let feedback: string | null = null;
      for (;;) {
        const ws = await work(feedback);
        const evidence = await handOver(ws);
        if (!pr) return evidence;
        const next = await awaitPullRequest(ws);
        if (next === null) return evidence;
        feedback = next; // a rework round on the same branch and pull request
      }
    });
  } catch (err) {
    if (!(isCancellation(err) && stop)) throw err;
    return await CancellationScope.nonCancellable(() => stopRun(stop!));
  }
  if (prState === 'closed') {
    status.phase = 'stopped';
    upsertMemo({ outcome: 'stopped' });
    return summary('stopped', 'the pull request was closed without merging.', posted);
  }
  status.phase = 'done';
  upsertMemo({ outcome: 'completed' });
  return summary('completed', null, posted);

  /** Ends the run on the tracker's word: workspace cleaned when asked, a note on the issue. */
  async function stopRun(req: StopRequest): Promise<IssueRunSummary> {
    status.phase = 'stopping';
    if (req.cleanup) await git.removeWorkspace({ identifier: input.identifier });
    await notify.postComment({
      issueId: input.issueId,
      key: `stopped-${info.runId}`,
      body: `**Foreman stopped working on this issue:** ${req.reason}${req.cleanup ? ' The workspace was removed.' : ' The workspace is kept.'}${push?.pushed ? ` Work so far is on \`${push.branch}\`.` : ''}`,
    });
    status.phase = 'stopped';
    upsertMemo({ outcome: 'stopped' });
    return summary('stopped', req.reason, null);
  }

  function summary(
    outcome: IssueRunSummary['outcome'],
    reason: string | null,
    evidence: IssueRunSummary['evidence'],
  ): IssueRunSummary {
    return {
      outcome,
      identifier: input.identifier,
      reason,
      branch: workspace?.branch ?? null,
      commit: push?.commit ?? null,
      pushed: push?.pushed ?? false,
      pr: pr?.url ?? null,
      pr_state: prState,
      evidence,
      qa: qaRounds.at(-1)?.report.results ?? [],
      rounds: qaRounds.length,
      tokens: { ...usage, total: totalTokens() },
      cost_usd: costUsd,
      escalations,
      wall_ms: Date.now() - started,
      workflowId: info.workflowId,
      runId: info.runId,
    };
  }
}

/** The text the implementer gets when QA fails: each failing command with its exit code and tail. */
function qaFeedback(report: QaReport): string {
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

/** An answer that approves (protected paths, handing over with open findings). */
const APPROVAL = /^\s*(yes|y|approve[sd]?|ok|okay|lgtm|go ahead|push)\b/i;

/** The text the implementer gets when the QA agent's checks fail. */
function qaAgentFeedback(r: QaAgentReport): string {
  const failed = r.checks.filter((c) => !c.passed);
  return [
    'Foreman ran the acceptance checks the QA agent wrote (under .foreman/qa/checks/) and these failed. Fix the code (not the checks), then call finish.',
    '',
    ...failed.map((c) => `$ bash ${c.path}\nexit code: ${c.exitCode ?? 'none'}\n${c.outputTail.trimEnd()}`),
  ].join('\n');
}

/** The text the implementer gets when the reviewer requests changes. */
function reviewFeedback(findings: TrackedFinding[]): string {
  return [
    'The reviewer requested changes. Address each finding (ids are stable across rounds), run the checks, then call finish.',
    '',
    ...findings.map((f) => `- ${f.id} [${f.severity}] ${f.path ?? ''}${f.line ? `:${f.line}` : ''} ${f.message}`),
  ].join('\n');
}

function formatAmount(kind: 'tokens' | 'usd' | 'wall', n: number): string {
  if (kind === 'usd') return `$${n.toFixed(2)}`;
  if (kind === 'wall') return `${Math.round(n / 1000)} s`;
  return `${n} tokens`;
}

/** A one-line reason from an activity failure: type, stable code (when Foreman gave one) and message, no trailing period. */
function describeFailure(err: unknown): string {
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
