/**
 * Agent activities: one step of the implementer, the reviewer or the QA agent. Each continues its
 * role's conversation from the transcript (src/agents/resume.ts) and heartbeats while the model and
 * the tools work; the workflow proxies them with a heartbeat timeout.
 */
import fs from 'node:fs/promises';
import { Context } from '@temporalio/activity';
import { trackProgress, type ProgressTracker } from '../src/agents/progress.js';
import type { AgentRunSummary, BudgetInput, ReviewResult } from '../src/agents/results.js';
import { backendModel, backendNameOf } from '../src/agents/backends/config.js';
import type { AgentRole } from '../src/agents/usage.js';
import type { Policy } from '../src/config/schema.js';
import { resumeTurn } from '../src/agents/resume.js';
import {
  implementerSystemPrompt,
  qaAgentRequest,
  qaSystemPrompt,
  reviewerSystemPrompt,
  reviewRequest,
} from '../src/agents/roles.js';
import { runRole, type RoleRunInput } from '../src/agents/run-role.js';
import { renderPrompt } from '../src/config/prompt.js';
import { specFile, transcriptPath } from '../src/home.js';
import { runAgentChecks, type QaAgentStepResult } from '../src/qa/agent-checks.js';
import { toFindings, type Finding } from '../src/review/findings.js';
import type { Issue } from '../src/trackers/types.js';
import { workspaceDiff } from '../src/workspace/diff.js';
import type { WorkspaceInfo } from '../src/workspace/workspace.js';
import { runHook, runHookBestEffort } from '../src/workspace/workspace.js';
import { sandboxPolicyOf } from '../src/sandbox/policy.js';
import type { ActivityContext } from './context.js';
import { withHeartbeat } from './heartbeat.js';
import { redactDeep } from '../src/redact.js';

/** Input every agent step gets. */
interface StepInput {
  issue: Issue;
  workspace: WorkspaceInfo;
  /** 1-based round of the role. */
  round: number;
  runId: string;
  budget: BudgetInput;
}

const exists = (file: string) =>
  fs.stat(file).then(
    () => true,
    () => false,
  );

/** Builds the agent activities: one step of each role (below). */
export function createAgentActivities(ctx: ActivityContext) {
  return {
    // Model-written text (a summary, a question, findings) may quote a secret the agent saw; what
    // the workflow keeps (its history, the status query) never carries one.
    runImplementer: async (input: StepInput & { feedback: string | null }) =>
      redactDeep(await runImplementer(ctx, input)),
    runReviewer: async (input: StepInput & { openFindings: Finding[] }) => redactDeep(await runReviewer(ctx, input)),
    runQaAgent: async (input: StepInput) => redactDeep(await runQaAgent(ctx, input)),
  };
}

/**
 * Runs (or resumes) the implementer conversation for one round. Round 1 starts from the
 * policy prompt; later rounds, and a retry after a crash, continue the same conversation from
 * its transcript with `feedback` (QA, review or a human's answer) as the next user turn.
 * `before_run` / `after_run` hooks run around it, inside the heartbeat.
 */
async function runImplementer(
  ctx: ActivityContext,
  input: StepInput & { feedback: string | null },
): Promise<AgentRunSummary> {
  const loaded = ctx.policy();
  const { policy } = loaded;
  const role = policy.roles.implementer;
  const tPath = transcriptPath(ctx.deps.home, input.workspace.key, input.runId, 'implementer');
  const attempt = Context.current().info.attempt;
  const resume = await resumeTurn(tPath, input.feedback, attempt);
  const prompt = await renderPrompt(loaded.promptTemplate, {
    issue: input.issue,
    attempt: input.round > 1 ? input.round - 1 : attempt > 1 ? attempt - 1 : null, // Symphony SPEC §5.4
  });
  const env = ctx.agentEnv();
  const progress = trackProgress('implementer', input.runId);
  return withHeartbeat(async (signal) => {
    const sandbox = sandboxPolicyOf(policy.sandbox);
    const hookPlace = { hooks: policy.hooks, cwd: input.workspace.path, env, log: ctx.log, sandbox };
    await runHook('before_run', hookPlace);
    try {
      const result = await runRole(policy, ctx.env, {
        role: 'implementer',
        model: backendModel(policy, 'implementer'),
        system: implementerSystemPrompt(role.instructions),
        prompt,
        maxTurns: role.max_turns ?? policy.agent.max_turns,
        maxTokens: role.max_tokens ?? policy.model.max_tokens,
        ...shared(input, tPath, resume, env, signal, progress),
      });
      if (result.outcome === 'review_submitted') throw new Error('the implementer cannot submit reviews');
      return {
        ...stepAgent(policy, 'implementer'),
        outcome: result.outcome,
        summary: result.summary ?? null,
        escalation: result.escalation ?? null,
        budgetExhausted: result.budgetExhausted ?? null,
        turns: result.turns,
        toolCalls: result.toolCalls,
        usage: result.usage,
        costUsd: result.costUsd,
        transcriptPath: result.transcriptPath,
        rateLimits: result.rateLimits ?? null,
      };
    } finally {
      await runHookBestEffort('after_run', hookPlace);
    }
  }, progress.details);
}

/**
 * Runs the reviewer: a separate, read-only conversation over the spec and the diff, resumed
 * each round (it knows what it asked for). It answers only through `submit_review`; a run that
 * ends without a verdict becomes an `escalate` verdict saying so.
 */
async function runReviewer(
  ctx: ActivityContext,
  input: StepInput & { openFindings: Finding[] },
): Promise<ReviewResult> {
  const { policy } = ctx.policy();
  const role = policy.roles.reviewer;
  const tPath = transcriptPath(ctx.deps.home, input.workspace.key, input.runId, 'reviewer');
  const diff = await workspaceDiff(input.workspace, policy.scm.remote);
  const request = reviewRequest({
    round: input.round,
    remote: policy.scm.remote,
    baseBranch: input.workspace.baseBranch,
    diff,
    openFindings: input.openFindings,
  });
  const spec = await fs
    .readFile(specFile(ctx.deps.home, input.workspace.key), 'utf8')
    .catch(() => '(the spec file is missing)');
  const resume = (await exists(tPath)) ? { extraUserText: request } : undefined;
  const progress = trackProgress('reviewer', input.runId);
  const result = await withHeartbeat(
    (signal) =>
      runRole(policy, ctx.env, {
        role: 'reviewer',
        model: backendModel(policy, 'reviewer'),
        system: reviewerSystemPrompt(role.instructions),
        prompt: `The contract (.foreman/spec.md):\n\n${spec}\n\n${request}`,
        maxTurns: role.max_turns,
        maxTokens: policy.model.max_tokens,
        ...shared(input, tPath, resume, ctx.agentEnv(), signal, progress),
      }),
    progress.details,
  );
  const base = {
    ...stepAgent(policy, 'reviewer'),
    turns: result.turns,
    usage: result.usage,
    costUsd: result.costUsd,
    transcriptPath: result.transcriptPath,
    rateLimits: result.rateLimits ?? null,
    budgetExhausted: result.budgetExhausted ?? null,
  };
  if (result.outcome === 'review_submitted' && result.review) {
    const { verdict, findings } = result.review;
    return { ...base, verdict, findings: toFindings(findings), summary: result.summary ?? null };
  }
  const why =
    result.outcome === 'budget_exhausted'
      ? 'the budget ran out'
      : `it used its ${result.turns} turns without calling submit_review`;
  return { ...base, verdict: 'escalate', findings: [], summary: `The reviewer gave no verdict: ${why}.` };
}

/**
 * Runs the QA agent (`roles.qa.agent`): it writes acceptance checks under
 * `.foreman/qa/checks/`, then Foreman runs every check itself. The checks' results are the
 * evidence (agent-written).
 */
async function runQaAgent(ctx: ActivityContext, input: StepInput): Promise<QaAgentStepResult> {
  const { policy } = ctx.policy();
  const role = policy.roles.qa;
  const tPath = transcriptPath(ctx.deps.home, input.workspace.key, input.runId, 'qa');
  const ask = qaAgentRequest(input.round);
  const env = ctx.agentEnv();
  const resume = (await exists(tPath)) ? { extraUserText: ask } : undefined;
  const progress = trackProgress('qa', input.runId);
  const result = await withHeartbeat(
    (signal) =>
      runRole(policy, ctx.env, {
        role: 'qa',
        model: backendModel(policy, 'qa'),
        system: qaSystemPrompt(),
        prompt: `${ask}\n\nThe contract is in .foreman/spec.md.`,
        maxTurns: role.max_turns,
        maxTokens: policy.model.max_tokens,
        ...shared(input, tPath, resume, env, signal, progress),
      }),
    progress.details,
  );
  // The step's progress stays in the heartbeats while Foreman runs the checks (the status keeps its numbers).
  const checks = await withHeartbeat(
    () =>
      runAgentChecks(
        input.workspace.path,
        env,
        policy.qa.timeout_ms,
        policy.qa.output_tail_bytes,
        sandboxPolicyOf(policy.sandbox),
      ),
    progress.details,
  );
  return {
    ...stepAgent(policy, 'qa'),
    passed: checks.every((c) => c.passed),
    checks,
    summary: result.summary ?? null,
    turns: result.turns,
    usage: result.usage,
    costUsd: result.costUsd,
    transcriptPath: result.transcriptPath,
    rateLimits: result.rateLimits ?? null,
    budgetExhausted: result.budgetExhausted ?? null,
  };
}

/** Which backend and model run `role` under `policy` (src/agents/backends/config.ts), for the step's result. */
function stepAgent(policy: Policy, role: AgentRole) {
  return { backend: backendNameOf(policy, role), model: backendModel(policy, role) };
}

/**
 * The parts of a role run every agent step shares: the issue, workspace, budget, transcript, env,
 * signal, and the progress the step's heartbeats carry (src/agents/progress.ts).
 */
function shared(
  input: StepInput,
  transcriptPath: string,
  resume: RoleRunInput['resume'],
  env: RoleRunInput['env'],
  signal: AbortSignal,
  progress: ProgressTracker,
) {
  return {
    transcriptPath,
    resume,
    identifier: input.issue.identifier,
    workspace: input.workspace.path,
    budget: input.budget,
    env,
    signal,
    onProgress: progress.update,
  };
}

/** The agent activities (types only on the workflow side). */
export type AgentActivities = ReturnType<typeof createAgentActivities>;
