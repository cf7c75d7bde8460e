/**
 * IssueWorkflow: how one issue progresses, durably. Prepare the workspace and spec, move the issue
 * to in progress, implement → QA (bounded rounds, QA failures fed back to the same agent
 * conversation), commit and push the branch, post the evidence, move the issue to review.
 * When the bound is hit or a step fails for good, the run ends as `needs_human` with the reason
 * posted on the issue — never silently.
 *
 * Deterministic code only: all I/O is in activities (imported as types).
 */
import {
  ActivityFailure,
  ApplicationFailure,
  proxyActivities,
  setHandler,
  upsertMemo,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { issueUpdatedSignal, statusQuery } from './definitions.js';
import type {
  AgentRunSummary,
  EvidenceData,
  IssueRunStatus,
  IssueRunSummary,
  IssueWorkflowInput,
  PushResult,
  QaReport,
  TokenUsage,
  WorkspaceInfo,
} from './types.js';

const boot = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 10 },
});

/** Runs one issue from the tracker to a pushed branch with evidence. */
export async function IssueWorkflow(input: IssueWorkflowInput): Promise<IssueRunSummary> {
  const info = workflowInfo();
  const started = Date.now(); // workflow time: deterministic inside the sandbox
  const usage: TokenUsage = { input_tokens: 0, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };
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
  };
  setHandler(statusQuery, () => status);
  setHandler(issueUpdatedSignal, () => {
    // The run re-reads the tracker at each step; the signal only marks that something changed.
  });

  const run = await boot.prepareRun({ issueId: input.issueId, identifier: input.identifier });
  const s = run.settings;
  const retry = {
    initialInterval: s.retry.initialIntervalMs,
    backoffCoefficient: 2,
    maximumInterval: s.retry.maximumIntervalMs,
    maximumAttempts: s.retry.maximumAttempts,
  };
  const io = proxyActivities<Activities>({ startToCloseTimeout: '10 minutes', retry });
  const agent = proxyActivities<Activities>({
    startToCloseTimeout: s.agentTimeoutMs,
    heartbeatTimeout: '30 seconds',
    retry,
  });
  const qa = proxyActivities<Activities>({ startToCloseTimeout: s.qaTimeoutMs, heartbeatTimeout: '30 seconds', retry });

  let turns = 0;
  const qaRounds: { round: number; report: QaReport }[] = [];
  let workspace: WorkspaceInfo | null = null;
  let lastAgent: AgentRunSummary | null = null;
  let push: PushResult | null = null;

  const addUsage = (r: AgentRunSummary) => {
    usage.input_tokens += r.usage.input_tokens;
    usage.output_tokens += r.usage.output_tokens;
    usage.cache_creation_input_tokens += r.usage.cache_creation_input_tokens;
    usage.cache_read_input_tokens += r.usage.cache_read_input_tokens;
    turns += r.turns;
    status.turns = turns;
    if (!transcripts.includes(r.transcriptPath)) transcripts.push(r.transcriptPath);
  };

  const finish = async (outcome: 'completed' | 'needs_human', reason: string | null): Promise<IssueRunSummary> => {
    status.phase = 'reporting';
    const evidence: EvidenceData = {
      identifier: input.identifier,
      title: run.issue.title,
      outcome,
      reason,
      branch: workspace?.branch ?? '',
      baseBranch: workspace?.baseBranch ?? '',
      push,
      specPath: workspace?.specPath ?? '',
      implementerSummary: lastAgent?.summary ?? null,
      qaRounds,
      qaMaxRounds: s.qaMaxRounds,
      usage,
      turns,
      wallMs: Date.now() - started,
      transcripts,
      workflowId: info.workflowId,
      runId: info.runId,
    };
    const posted = await io.postEvidence({ issueId: input.issueId, evidence });
    const target = outcome === 'completed' ? s.reviewState : s.needsHumanState;
    if (target) await io.moveIssue({ issueId: input.issueId, state: target });
    status.phase = outcome === 'completed' ? 'done' : 'needs_human';
    upsertMemo({ outcome });
    return {
      outcome,
      identifier: input.identifier,
      reason,
      branch: workspace?.branch ?? null,
      commit: push?.commit ?? null,
      pushed: push?.pushed ?? false,
      pr: null,
      evidence: posted,
      qa: qaRounds.at(-1)?.report.results ?? [],
      rounds: qaRounds.length,
      tokens: {
        ...usage,
        total: usage.input_tokens + usage.output_tokens + usage.cache_creation_input_tokens + usage.cache_read_input_tokens,
      },
      wall_ms: evidence.wallMs,
      workflowId: info.workflowId,
      runId: info.runId,
    };
  };

  let reason: string;
  try {
    reason = await implementUntilGreen();
  } catch (err) {
    reason = describeFailure(err);
  }
  return await wrapUp(reason);

  /** Implement → QA rounds. Returns '' once the work is pushed, else why the run needs a human. */
  async function implementUntilGreen(): Promise<string> {
    status.phase = 'preparing';
    workspace = await io.prepareWorkspace({ issue: run.issue, runId: info.runId });
    status.workspace = workspace.path;
    status.branch = workspace.branch;
    await io.moveIssue({ issueId: input.issueId, state: s.inProgressState });

    let feedback: string | null = null;
    for (let round = 1; round <= s.qaMaxRounds; round++) {
      status.round = round;
      status.phase = 'implementing';
      lastAgent = await agent.runImplementer({ issue: run.issue, workspace, round, feedback, runId: info.runId });
      addUsage(lastAgent);
      if (lastAgent.outcome === 'escalated') {
        return `The implementer asked for a human decision: ${lastAgent.escalation?.question ?? '(no question given)'}`;
      }
      if (lastAgent.outcome === 'max_turns') {
        return `The implementer used all of its turns (${lastAgent.turns}) without calling finish.`;
      }

      status.phase = 'qa';
      const report = await qa.runQa({ workspace });
      qaRounds.push({ round, report });
      if (report.passed) {
        status.phase = 'pushing';
        push = await io.commitAndPush({ workspace, identifier: input.identifier, title: run.issue.title, partial: false });
        return '';
      }
      feedback = qaFeedback(report);
    }
    return `QA still failed after ${s.qaMaxRounds} implement → QA round(s).`;
  }

  /**
   * Reports the end of the run: `completed` when the work is pushed and no reason stands; else
   * pushes whatever partial work exists (so a human can look at it) and reports needs_human.
   */
  async function wrapUp(reason: string): Promise<IssueRunSummary> {
    if (!reason && push) {
      try {
        return await finish('completed', null);
      } catch (err) {
        reason = `The work is pushed but the evidence could not be posted: ${describeFailure(err)}`;
      }
    }
    status.lastError = reason;
    if (workspace && !push) {
      try {
        push = await io.commitAndPush({ workspace, identifier: input.identifier, title: run.issue.title, partial: true });
      } catch (err) {
        reason += ` (The partial work could not be pushed: ${describeFailure(err)})`;
      }
    }
    try {
      return await finish('needs_human', reason);
    } catch (err) {
      throw ApplicationFailure.nonRetryable(
        `${input.identifier}: could not report needs_human (${reason}): ${describeFailure(err)}`,
        'EvidenceNotPosted',
      );
    }
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

/** A one-line reason from an activity failure (type and message of the root cause). */
function describeFailure(err: unknown): string {
  let e: unknown = err;
  if (e instanceof ActivityFailure && e.cause) e = e.cause;
  if (e instanceof ApplicationFailure) return `${e.type ?? 'Error'}: ${e.message}`;
  if (e instanceof Error) return e.message;
  return String(e);
}
