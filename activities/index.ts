/**
 * Activities: thin, typed entry points that do the IssueWorkflow's and dispatcher's I/O by calling
 * into src/. Built by a factory over injected dependencies (STYLE.md); only the worker bootstrap
 * builds real ones. Every activity reads the *current* policy (dynamic reload, Symphony SPEC §6.2).
 *
 * Errors: a `ForemanError` with `retryable: false` becomes a non-retryable `ApplicationFailure`
 * (type = class name, details = [code]); anything else is retried under the workflow's policy.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { runAgent } from '../src/agents/harness.js';
import { priceTable } from '../src/agents/pricing.js';
import { implementerSystemPrompt, QA_CHECKS_DIR, qaSystemPrompt, reviewerSystemPrompt } from '../src/agents/roles.js';
import { listChangedFiles } from '../src/contract/changes.js';
import { checkContract as checkContractFiles, parseSpecContract } from '../src/contract/check.js';
import { toFindings } from '../src/review/findings.js';
import { createGitHubScm, parseGitHubRemote } from '../src/scm/github.js';
import {
  fileScheduledIssue as fileScheduledIssueNow,
  nudgeDispatcher as nudgeDispatcherNow,
} from '../src/temporal/schedules.js';
import type { FileScheduledIssueInput, FiledIssue, NudgeDispatcherInput } from '../workflows/schedule-workflow.js';
import { simpleGit } from 'simple-git';
import { readTranscript, rebuildConversation } from '../src/agents/transcript.js';
import type { LoadedPolicy } from '../src/config/load.js';
import { renderPrompt } from '../src/config/prompt.js';
import type { PolicyStore } from '../src/config/store.js';
import { retryBackoffMs } from '../src/dispatch/select.js';
import { dispatchTick as runDispatchTick } from '../src/dispatch/tick.js';
import { ForemanError, TrackerError } from '../src/errors.js';
import { renderEscalation } from '../src/evidence/escalation.js';
import { renderEvidence } from '../src/evidence/render.js';
import { homePaths } from '../src/home.js';
import type { Logger } from '../src/logger.js';
import { runQaCommands } from '../src/qa/run.js';
import { trackerForPolicy } from '../src/trackers/index.js';
import type { Issue, Tracker } from '../src/trackers/types.js';
import { assertInsideRoot } from '../src/workspace/key.js';
import { killOrphans, pidDirFor, scrubbedEnv } from '../src/workspace/shell.js';
import {
  commitAndPush as gitCommitAndPush,
  prepareWorkspace as gitPrepareWorkspace,
  removeWorkspace as gitRemoveWorkspace,
  runHook,
  runHookBestEffort,
} from '../src/workspace/workspace.js';
import type { AgentRunSummary, BudgetInput, ReviewResult } from '../src/agents/results.js';
import type { PreparedRun } from '../src/config/run-settings.js';
import type { ContractCheck } from '../src/contract/check.js';
import type { DispatchTickResult } from '../src/dispatch/tick.js';
import type { Escalation, EscalationData } from '../src/evidence/escalation.js';
import type { EvidenceData } from '../src/evidence/render.js';
import type { QaAgentCheck, QaAgentReport } from '../src/qa/agent-checks.js';
import type { QaReport } from '../src/qa/run.js';
import type { Finding } from '../src/review/findings.js';
import type { CiSummary, PullRequestRef } from '../src/scm/types.js';
import type { PushResult, WorkspaceInfo } from '../src/workspace/workspace.js';
import type { HumanReply } from '../workflows/definitions.js';

/** What the activities need from the process that hosts them. */
export interface ActivityDeps {
  /** The policy in force (reloaded on change; last good kept on error). */
  policyStore: PolicyStore;
  /** Foreman's state directory (transcripts). */
  home: string;
  log: Logger;
  /** Temporal client, for the dispatcher's signal-with-start. */
  client: Client;
  /** Task queue the IssueWorkflows run on. */
  taskQueue: string;
  /** Environment the daemon runs with: model/tracker secrets are read from it, never passed on. */
  env?: NodeJS.ProcessEnv;
}

const SPEC_TEMPLATE = fileURLToPath(new URL('../specs/issue-spec.md', import.meta.url));
const HEARTBEAT_EVERY_MS = 5_000;

/**
 * Maps our errors onto Temporal's retry contract (see module header): the failure carries the
 * class name as `type` and the stable `code` in `details[0]`, so the workflow can name it.
 */
function toFailure(err: unknown): unknown {
  if (err instanceof ForemanError) {
    return ApplicationFailure.create({
      message: err.message,
      type: err.name,
      nonRetryable: !err.retryable,
      details: [err.code],
      cause: err,
    });
  }
  return err;
}

function wrap<A extends unknown[], R>(fn: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  return async (...args: A) => {
    try {
      return await fn(...args);
    } catch (err) {
      throw toFailure(err);
    }
  };
}

/** Heartbeats on a timer while `work` runs, so a dead worker is noticed within the heartbeat timeout. */
async function withHeartbeat<R>(work: (signal: AbortSignal) => Promise<R>, details?: () => unknown): Promise<R> {
  const ctx = Context.current();
  ctx.heartbeat(details?.());
  const timer = setInterval(() => ctx.heartbeat(details?.()), HEARTBEAT_EVERY_MS);
  try {
    return await work(ctx.cancellationSignal);
  } finally {
    clearInterval(timer);
  }
}

/** Builds the activities over `deps`. */
export function createActivities(deps: ActivityDeps) {
  const env = deps.env ?? process.env;
  const trackers = new Map<string, Tracker>();
  const paths = homePaths(deps.home);

  const current = (): LoadedPolicy => deps.policyStore.current();
  const trackerFor = (loaded: LoadedPolicy): Tracker => {
    const key = JSON.stringify(loaded.policy.tracker);
    let t = trackers.get(key);
    if (!t) {
      t = trackerForPolicy(loaded, deps.log, env);
      trackers.set(key, t);
    }
    return t;
  };
  const identity = (loaded: LoadedPolicy) => ({
    remote: loaded.policy.scm.remote,
    authorName: loaded.policy.scm.author_name,
    authorEmail: loaded.policy.scm.author_email,
  });
  const agentEnv = () => scrubbedEnv({ base: env });
  const transcriptPath = (key: string, runId: string, role: string) =>
    path.join(paths.transcripts, key, runId, `${role}.jsonl`);

  /** One agent run of any role: the model client, budget, env and heartbeat wiring in one place. */
  const runRole = (
    loaded: LoadedPolicy,
    o: {
      role: 'implementer' | 'reviewer' | 'qa';
      model: string;
      system: string;
      prompt: string;
      maxTurns: number;
      maxTokens: number;
      transcriptPath: string;
      resume: { extraUserText: string } | undefined;
      issue: Issue;
      workspace: WorkspaceInfo;
      budget: BudgetInput;
      env: Record<string, string>;
      signal: AbortSignal;
    },
  ) => {
    const { policy } = loaded;
    killOrphans(pidDirFor(o.workspace.path)); // what a crashed earlier attempt left running
    return runAgent({
      role: o.role,
      pidDir: pidDirFor(o.workspace.path),
      model: o.model,
      system: o.system,
      prompt: o.prompt,
      workspace: o.workspace.path,
      transcriptPath: o.transcriptPath,
      maxTurns: o.maxTurns,
      maxTokens: o.maxTokens,
      stream: policy.model.stream,
      client: {
        baseURL: policy.model.base_url ?? env.ANTHROPIC_BASE_URL,
        apiKey: policy.model.api_key ?? env.ANTHROPIC_API_KEY,
        timeoutMs: policy.model.timeout_ms,
        maxRetries: policy.model.max_retries,
      },
      env: o.env,
      ...(o.resume ? { resume: o.resume } : {}),
      budget: {
        spentTokens: o.budget.spentTokens,
        spentUsd: o.budget.spentUsd,
        ...(o.budget.maxTokens !== null ? { maxTokens: o.budget.maxTokens } : {}),
        ...(o.budget.maxUsd !== null ? { maxUsd: o.budget.maxUsd } : {}),
        ...(o.budget.deadline !== null ? { deadline: o.budget.deadline } : {}),
        prices: priceTable(policy.budget.prices),
      },
      signal: o.signal,
      issueIdentifier: o.issue.identifier,
    });
  };

  /**
   * The GitHub client for the workspace's repository: `scm.github.repo`, else the GitHub tracker's
   * repo, else the remote's URL; token from `scm.github.token`, the GitHub tracker, or GITHUB_TOKEN.
   * Null when PRs are off, the repository is not on GitHub, or there is no token.
   */
  const scmFor = async (loaded: LoadedPolicy, ws: WorkspaceInfo) => {
    const { policy } = loaded;
    if (!policy.scm.pull_requests) return null;
    const provider = policy.tracker.kind === 'github' ? policy.tracker.provider : {};
    const str = (v: unknown) => (typeof v === 'string' && v.trim() ? v.trim() : undefined);
    const token = policy.scm.github.token ?? str(provider.token) ?? str(provider.api_key) ?? str(env.GITHUB_TOKEN);
    const baseUrl = policy.scm.github.base_url ?? str(provider.endpoint) ?? str(provider.base_url);
    let slug = policy.scm.github.repo ?? str(provider.repo);
    if (!slug) {
      const url =
        (await simpleGit({ baseDir: ws.path })
          .remote(['get-url', policy.scm.remote])
          .catch(() => '')) || '';
      const hosts = ['github.com', ...(baseUrl ? [new URL(baseUrl).hostname] : [])];
      const parsed = parseGitHubRemote(url.trim(), hosts);
      slug = parsed ? `${parsed.owner}/${parsed.repo}` : undefined;
    }
    const [owner, repo] = slug?.split('/') ?? [];
    if (!owner || !repo || !token) return null;
    return {
      owner,
      repo,
      scm: createGitHubScm({ owner, repo, token, ...(baseUrl ? { baseUrl } : {}), log: deps.log }),
    };
  };

  return {
    /** Reads the issue and fixes the settings the run branches on. */
    prepareRun: wrap(async (input: { issueId: string; identifier: string }): Promise<PreparedRun> => {
      const loaded = current();
      const { policy } = loaded;
      const tracker = trackerFor(loaded);
      const [byId] = await tracker.fetchIssuesByIds([input.issueId]);
      const issue = byId ?? (await tracker.fetchIssueByIdentifier(input.identifier));
      if (!issue) {
        throw new TrackerError(
          'issue_not_found',
          `Issue ${input.identifier} was not found in the ${tracker.kind} tracker.`,
          {
            retryable: false,
          },
        );
      }
      const backoffMax = policy.agent.max_retry_backoff_ms;
      return {
        issue,
        settings: {
          qaMaxRounds: policy.qa.max_rounds,
          qaAgent: policy.roles.qa.agent,
          review: {
            enabled: policy.roles.reviewer.enabled,
            maxRounds: policy.review.max_rounds,
            firstRound: policy.review.first_round,
            laterRounds: policy.review.later_rounds,
          },
          maxCiRounds: policy.scm.max_ci_rounds,
          doneState: policy.handoff.done_state,
          inProgressState: policy.handoff.in_progress_state,
          reviewState: policy.handoff.review_state,
          escalatedState: policy.handoff.escalated_state ?? null,
          parkedState: policy.handoff.parked_state ?? null,
          repingMs: policy.escalation.reping_ms ?? null,
          parkMs: policy.escalation.timeout_ms ?? null,
          budget: {
            maxTokens: policy.budget.max_tokens ?? null,
            maxUsd: policy.budget.max_usd ?? null,
            maxWallMs: policy.budget.max_wall_ms ?? null,
          },
          // Symphony SPEC §8.4: delay = min(10000 * 2^(attempt-1), agent.max_retry_backoff_ms)
          retry: {
            initialIntervalMs: retryBackoffMs(1, backoffMax),
            maximumIntervalMs: backoffMax,
            maximumAttempts: policy.budget.max_attempts,
          },
          agentTimeoutMs: policy.budget.max_wall_ms ?? 3_600_000,
          qaTimeoutMs: policy.qa.timeout_ms * Math.max(1, policy.qa.commands.length) + 60_000,
        },
      };
    }),

    /** Creates or reuses the workspace, checks out the issue branch and writes `.foreman/spec.md`. */
    prepareWorkspace: wrap(async (input: { issue: Issue; runId: string }): Promise<WorkspaceInfo> => {
      const loaded = current();
      const { policy } = loaded;
      const ws = await withHeartbeat(() =>
        gitPrepareWorkspace({
          root: policy.workspace.root,
          identifier: input.issue.identifier,
          repo: policy.workspace.repo,
          baseBranch: policy.workspace.base_branch,
          hooks: policy.hooks,
          identity: identity(loaded),
          env: agentEnv(),
          log: deps.log,
        }),
      );
      const specPath = path.join(ws.path, '.foreman', 'spec.md');
      // A `.foreman` symlink (committed, or made by an agent) must not send writes outside.
      assertInsideRoot(ws.path, specPath);
      await writeSpec(specPath, loaded, input.issue, ws.branch, ws.baseBranch, input.runId);
      return { ...ws, specPath };
    }),

    /** Moves the issue to `state` (no-op when already there). */
    moveIssue: wrap(async (input: { issueId: string; state: string }): Promise<void> => {
      await trackerFor(current()).moveIssue(input.issueId, input.state);
    }),

    /**
     * Runs (or resumes) the implementer conversation for one round. Round 1 starts from the
     * policy prompt; later rounds — and a retry after a crash — continue the same conversation
     * from its transcript, with the QA feedback as the next user turn.
     */
    runImplementer: wrap(
      async (input: {
        issue: Issue;
        workspace: WorkspaceInfo;
        round: number;
        feedback: string | null;
        runId: string;
        budget: BudgetInput;
      }): Promise<AgentRunSummary> => {
        const loaded = current();
        const { policy } = loaded;
        const role = policy.roles.implementer;
        const tPath = transcriptPath(input.workspace.key, input.runId, 'implementer');
        const attempt = Context.current().info.attempt;
        const resume = await resumeFor(tPath, input.feedback, attempt);
        const prompt = await renderPrompt(loaded.promptTemplate, {
          issue: input.issue,
          attempt: input.round > 1 ? input.round - 1 : attempt > 1 ? attempt - 1 : null, // Symphony SPEC §5.4
        });
        const envForAgent = agentEnv();
        // Hooks run inside the heartbeat too: a slow before_run (e.g. `npm ci`) must not look like a dead worker.
        return withHeartbeat(async (signal) => {
          await runHook('before_run', policy.hooks, input.workspace.path, envForAgent, deps.log);
          try {
            const result = await runRole(loaded, {
              role: 'implementer',
              model: role.model,
              system: implementerSystemPrompt(role.instructions),
              prompt,
              maxTurns: role.max_turns ?? policy.agent.max_turns,
              maxTokens: role.max_tokens ?? policy.model.max_tokens,
              transcriptPath: tPath,
              resume,
              issue: input.issue,
              workspace: input.workspace,
              budget: input.budget,
              env: envForAgent,
              signal,
            });
            if (result.outcome === 'review_submitted') throw new Error('the implementer cannot submit reviews');
            return {
              outcome: result.outcome,
              summary: result.summary ?? null,
              escalation: result.escalation ?? null,
              budgetExhausted: result.budgetExhausted ?? null,
              turns: result.turns,
              toolCalls: result.toolCalls,
              usage: result.usage,
              costUsd: result.costUsd,
              transcriptPath: result.transcriptPath,
            };
          } finally {
            await runHookBestEffort('after_run', policy.hooks, input.workspace.path, envForAgent, deps.log);
          }
        });
      },
    ),

    /**
     * Runs the reviewer: a separate, read-only conversation over the spec and the diff, resumed
     * each round (it knows what it asked for). It answers only through `submit_review`; a run that
     * ends without a verdict becomes an `escalate` verdict saying so.
     */
    runReviewer: wrap(
      async (input: {
        issue: Issue;
        workspace: WorkspaceInfo;
        round: number;
        openFindings: Finding[];
        runId: string;
        budget: BudgetInput;
      }): Promise<ReviewResult & { budgetExhausted: AgentRunSummary['budgetExhausted'] }> => {
        const loaded = current();
        const { policy } = loaded;
        const role = policy.roles.reviewer;
        const tPath = transcriptPath(input.workspace.key, input.runId, 'reviewer');
        const diff = await workspaceDiff(input.workspace, policy.scm.remote);
        const open = input.openFindings.length
          ? `Findings still open from earlier rounds (ids are stable; re-raise one only if it is still not fixed):\n${input.openFindings
              .map((f) => `- ${f.id} [${f.severity}] ${f.path ?? ''}${f.line ? `:${f.line}` : ''} ${f.message}`)
              .join('\n')}`
          : '';
        const request = [
          `Review round ${input.round}. The change against \`${policy.scm.remote}/${input.workspace.baseBranch}\`:`,
          '',
          diff,
          '',
          open,
        ]
          .join('\n')
          .trim();
        const spec = await fs.readFile(input.workspace.specPath, 'utf8').catch(() => '(the spec file is missing)');
        const exists = await fs.stat(tPath).then(
          () => true,
          () => false,
        );
        const result = await withHeartbeat((signal) =>
          runRole(loaded, {
            role: 'reviewer',
            model: role.model,
            system: reviewerSystemPrompt(role.instructions),
            prompt: `The contract (.foreman/spec.md):\n\n${spec}\n\n${request}`,
            maxTurns: role.max_turns,
            maxTokens: policy.model.max_tokens,
            transcriptPath: tPath,
            resume: exists ? { extraUserText: request } : undefined,
            issue: input.issue,
            workspace: input.workspace,
            budget: input.budget,
            env: agentEnv(),
            signal,
          }),
        );
        const base = {
          turns: result.turns,
          usage: result.usage,
          costUsd: result.costUsd,
          transcriptPath: result.transcriptPath,
          budgetExhausted: result.budgetExhausted ?? null,
        };
        if (result.outcome === 'review_submitted' && result.review) {
          return {
            ...base,
            verdict: result.review.verdict,
            findings: toFindings(result.review.findings),
            summary: result.summary ?? null,
          };
        }
        const why =
          result.outcome === 'budget_exhausted'
            ? 'the budget ran out'
            : `it used its ${result.turns} turns without calling submit_review`;
        return { ...base, verdict: 'escalate', findings: [], summary: `The reviewer gave no verdict: ${why}.` };
      },
    ),

    /**
     * Runs the QA agent (roles.qa.agent): it writes acceptance checks under `.foreman/qa/checks/`,
     * then Foreman runs every check itself. The checks' results are the evidence (agent-written).
     */
    runQaAgent: wrap(
      async (input: {
        issue: Issue;
        workspace: WorkspaceInfo;
        round: number;
        runId: string;
        budget: BudgetInput;
        feedback: string | null;
      }): Promise<QaAgentReport & { budgetExhausted: AgentRunSummary['budgetExhausted'] }> => {
        const loaded = current();
        const { policy } = loaded;
        const role = policy.roles.qa;
        const tPath = transcriptPath(input.workspace.key, input.runId, 'qa');
        const exists = await fs.stat(tPath).then(
          () => true,
          () => false,
        );
        const ask = `QA round ${input.round}: write or update the acceptance checks for the current state of the workspace, run them, then call finish.`;
        const env = agentEnv();
        const result = await withHeartbeat((signal) =>
          runRole(loaded, {
            role: 'qa',
            model: role.model,
            system: qaSystemPrompt(),
            prompt: `${ask}\n\nThe contract is in .foreman/spec.md.`,
            maxTurns: role.max_turns,
            maxTokens: policy.model.max_tokens,
            transcriptPath: tPath,
            resume: exists ? { extraUserText: input.feedback ? `${ask}\n\n${input.feedback}` : ask } : undefined,
            issue: input.issue,
            workspace: input.workspace,
            budget: input.budget,
            env,
            signal,
          }),
        );
        const checks = await withHeartbeat(() =>
          runAgentChecks(input.workspace.path, env, policy.qa.timeout_ms, policy.qa.output_tail_bytes),
        );
        return {
          passed: checks.every((c) => c.passed),
          checks,
          summary: result.summary ?? null,
          turns: result.turns,
          usage: result.usage,
          costUsd: result.costUsd,
          transcriptPath: result.transcriptPath,
          budgetExhausted: result.budgetExhausted ?? null,
        };
      },
    ),

    /** Checks the change against the contract: spec Scope, `protected_paths`, spec Evidence. */
    checkContract: wrap(async (input: { workspace: WorkspaceInfo }): Promise<ContractCheck> => {
      const { policy } = current();
      const spec = await fs.readFile(input.workspace.specPath, 'utf8').catch(() => '');
      const { scope, evidence } = parseSpecContract(spec);
      const changedFiles = await withHeartbeat(() =>
        listChangedFiles(input.workspace.path, `${policy.scm.remote}/${input.workspace.baseBranch}`),
      );
      const { protectedTouched, outOfScope } = checkContractFiles({
        changedFiles,
        scope,
        protectedPaths: policy.protected_paths,
      });
      return { changedFiles, protectedTouched, outOfScope, scope, evidence };
    }),

    /** Runs `qa.commands` in the workspace and returns their evidence. */
    runQa: wrap(async (input: { workspace: WorkspaceInfo }): Promise<QaReport> => {
      const { policy } = current();
      // The spec's Evidence list is the contract (a human may have edited it); the policy's
      // commands are what it starts from.
      const spec = await fs.readFile(input.workspace.specPath, 'utf8').catch(() => '');
      const fromSpec = parseSpecContract(spec).evidence;
      const commands = fromSpec.length ? fromSpec : policy.qa.commands;
      let running = '';
      const pidDir = pidDirFor(input.workspace.path);
      killOrphans(pidDir); // a QA command a crashed attempt left running must not run beside this one
      return withHeartbeat(
        (signal) =>
          runQaCommands({
            pidDir,
            commands,
            cwd: input.workspace.path,
            env: agentEnv(),
            timeoutMs: policy.qa.timeout_ms,
            tailBytes: policy.qa.output_tail_bytes,
            signal,
            onCommand: (c) => {
              running = c;
            },
          }),
        () => ({ command: running }),
      );
    }),

    /** Commits the workspace and pushes the issue branch. */
    commitAndPush: wrap(
      async (input: {
        workspace: WorkspaceInfo;
        identifier: string;
        title: string;
        partial: boolean;
      }): Promise<PushResult> => {
        const loaded = current();
        const subject = `${input.identifier}: ${input.title}`.slice(0, 72);
        const body = input.partial
          ? 'Partial work: the run needs a human decision. See the issue for the evidence.'
          : 'Ready for review. See the issue for the evidence.';
        return withHeartbeat(() =>
          gitCommitAndPush({
            path: input.workspace.path,
            branch: input.workspace.branch,
            baseBranch: input.workspace.baseBranch,
            message: `${subject}\n\n${body}\n\nIssue: ${input.identifier}`,
            identity: identity(loaded),
          }),
        );
      },
    ),

    /** Renders the evidence packet and posts it on the issue (one comment per run, edited in place). */
    postEvidence: wrap(
      async (input: { issueId: string; evidence: EvidenceData }): Promise<{ commentId: string; key: string }> => {
        const key = `evidence-${input.evidence.runId}`;
        const posted = await trackerFor(current()).upsertComment(input.issueId, key, renderEvidence(input.evidence));
        return { commentId: posted.id, key };
      },
    ),

    /** Posts an escalation (rendered from data) on the issue; idempotent by `key`. */
    postEscalation: wrap(
      async (input: { issueId: string; key: string; data: EscalationData }): Promise<{ commentId: string }> => {
        const posted = await trackerFor(current()).upsertComment(
          input.issueId,
          input.key,
          renderEscalation(input.data),
        );
        return { commentId: posted.id };
      },
    ),

    /** Posts a short notice (reminder, parked, stopped) on the issue; idempotent by `key`. */
    postComment: wrap(async (input: { issueId: string; key: string; body: string }): Promise<{ commentId: string }> => {
      const posted = await trackerFor(current()).upsertComment(input.issueId, input.key, input.body);
      return { commentId: posted.id };
    }),

    /** Appends a human's answer to the spec's Decisions (once per escalation, even when retried). */
    recordDecision: wrap(
      async (input: { workspace: WorkspaceInfo | null; escalation: Escalation; reply: HumanReply }): Promise<void> => {
        if (!input.workspace) return;
        assertInsideRoot(input.workspace.path, input.workspace.specPath);
        await appendDecision(input.workspace.specPath, input.escalation, input.reply);
      },
    ),

    /** Removes the issue's workspace (runs `before_remove`; its failure is ignored). */
    removeWorkspace: wrap(async (input: { identifier: string }): Promise<boolean> => {
      const { policy } = current();
      return withHeartbeat(() =>
        gitRemoveWorkspace({
          root: policy.workspace.root,
          identifier: input.identifier,
          hooks: policy.hooks,
          env: agentEnv(),
          log: deps.log,
        }),
      );
    }),

    /**
     * Opens the issue's pull request — or updates the open one for the branch, never a second —
     * with the evidence packet as its body, and links it on the issue (Linear: attachment; GitHub:
     * the body's cross-reference). Null when PRs are off or the repository is not on GitHub.
     */
    openPullRequest: wrap(
      async (input: {
        issue: Issue;
        workspace: WorkspaceInfo;
        evidence: EvidenceData;
      }): Promise<PullRequestRef | null> => {
        const loaded = current();
        const gh = await scmFor(loaded, input.workspace);
        if (!gh) return null;
        const ref = input.issue.native_ref;
        const sameRepo = loaded.policy.tracker.kind === 'github' && ref?.owner === gh.owner && ref?.repo === gh.repo;
        const link = sameRepo
          ? `Refs #${String(ref?.number)}`
          : input.issue.url
            ? `Issue: ${input.issue.url}`
            : `Issue: ${input.issue.identifier}`;
        const pr = await gh.scm.openOrUpdatePullRequest({
          head: input.workspace.branch,
          base: input.workspace.baseBranch,
          title: `${input.issue.identifier}: ${input.issue.title}`.slice(0, 250),
          body: `${link}\n\n${renderEvidence(input.evidence)}`,
          draft: loaded.policy.scm.draft,
        });
        const tracker = trackerFor(loaded);
        if (tracker.linkPullRequest)
          await tracker.linkPullRequest(input.issue.id, pr.url, `PR #${pr.number}: ${input.issue.title}`);
        return { number: pr.number, url: pr.url, created: pr.created };
      },
    ),

    /** The inline review comments on the issue's pull request, as `path:line (author): text` lines. */
    pullRequestReviewComments: wrap(
      async (input: { workspace: WorkspaceInfo; prNumber: number }): Promise<string[]> => {
        const gh = await scmFor(current(), input.workspace);
        if (!gh) return [];
        const comments = await gh.scm.reviewComments(input.prNumber);
        return comments.map((c) => `${c.path}${c.line ? `:${c.line}` : ''} (${c.author}): ${c.body}`);
      },
    ),

    /** CI on the branch's head as GitHub reports it (check runs + commit statuses). */
    ciStatus: wrap(async (input: { workspace: WorkspaceInfo }): Promise<CiSummary | null> => {
      const gh = await scmFor(current(), input.workspace);
      if (!gh) return null;
      const summary = await gh.scm.checksFor(input.workspace.branch);
      return {
        state: summary.state,
        checks: summary.checks.map((c) => ({ name: c.name, status: c.status, conclusion: c.conclusion, url: c.url })),
      };
    }),

    /** Files a schedule's issue for the tick's UTC day; idempotent (src/temporal/schedules.ts). */
    fileScheduledIssue: wrap(async (input: FileScheduledIssueInput): Promise<FiledIssue> => {
      const loaded = current();
      return fileScheduledIssueNow({ ...input, tracker: loaded.policy.tracker, baseDir: loaded.dir });
    }),

    /** Asks the task queue's dispatcher to poll now (signal-with-start). */
    nudgeDispatcher: wrap(async (input: NudgeDispatcherInput): Promise<void> => nudgeDispatcherNow(deps.client, input)),

    /** One dispatcher tick (see src/dispatch/tick.ts). */
    dispatchTick: wrap(async (): Promise<DispatchTickResult> => {
      const loaded = await deps.policyStore.reload(); // defensive re-read (SPEC §6.2); keeps the last good
      return runDispatchTick({
        client: deps.client,
        taskQueue: deps.taskQueue,
        loaded,
        tracker: trackerFor(loaded),
        log: deps.log,
      });
    }),
  };
}

/**
 * How the implementer continues an existing conversation. QA feedback becomes the next user turn
 * once (a retried activity finds it already delivered and lets the harness continue from the
 * transcript). A retry of a run that had ended cleanly gets a note to check the workspace and go on.
 */
async function resumeFor(
  tPath: string,
  feedback: string | null,
  attempt: number,
): Promise<{ extraUserText: string } | undefined> {
  const entries = await readTranscript(tPath).catch(() => null);
  if (!entries?.length) return feedback ? { extraUserText: feedback } : undefined;
  if (feedback) {
    const delivered = rebuildConversation(entries).some(
      (m) =>
        m.role === 'user' &&
        Array.isArray(m.content) &&
        m.content.some((b) => b.type === 'text' && b.text === feedback),
    );
    if (!delivered) return { extraUserText: feedback };
  }
  if (attempt > 1 && entries.at(-1)?.type === 'end') {
    return {
      extraUserText: `Foreman restarted this step (attempt ${attempt}). Check the workspace state and continue the task; call finish when done.`,
    };
  }
  return undefined; // the harness continues an unfinished conversation on its own
}

/** The activity functions the workflows call (types only on the workflow side). */
export type Activities = ReturnType<typeof createActivities>;

/** The diff a reviewer reads: tracked changes against the base, plus the untracked files' names. */
async function workspaceDiff(ws: WorkspaceInfo, remote: string): Promise<string> {
  const g = simpleGit({ baseDir: ws.path });
  const base = `${remote}/${ws.baseBranch}`;
  const diff = await g.raw(['diff', base, '--', '.', ':(exclude).foreman']);
  const untracked = (await g.raw(['ls-files', '--others', '--exclude-standard'])).trim();
  const cut =
    diff.length > 60_000
      ? `${diff.slice(0, 60_000)}\n[… diff cut at 60000 characters; use git diff to read the rest …]`
      : diff;
  return [
    '```diff',
    cut.trimEnd() || '(no changes to tracked files)',
    '```',
    untracked
      ? `New files (read them with read_file):\n${untracked
          .split('\n')
          .map((f) => `- ${f}`)
          .join('\n')}`
      : '',
  ]
    .filter(Boolean)
    .join('\n');
}

/** Runs every check script the QA agent wrote (sorted by name), with bash, in the workspace. */
async function runAgentChecks(
  workspace: string,
  env: Record<string, string>,
  timeoutMs: number,
  tailBytes: number,
): Promise<QaAgentCheck[]> {
  const dir = path.join(workspace, QA_CHECKS_DIR);
  const names = (await fs.readdir(dir).catch(() => [] as string[])).filter((n) => !n.startsWith('.')).sort();
  const paths = names.map((n) => path.posix.join(QA_CHECKS_DIR, n));
  const report = await runQaCommands({
    pidDir: pidDirFor(workspace),
    commands: paths.map((p) => `bash ${JSON.stringify(p)}`),
    cwd: workspace,
    env,
    timeoutMs,
    tailBytes,
  });
  return report.results.map((r, i) => ({
    path: paths[i]!,
    exitCode: r.exitCode,
    durationMs: r.durationMs,
    outputTail: r.outputTail,
    passed: r.passed,
  }));
}

/**
 * Appends an answered escalation under the spec's `## Decisions` heading (before `## Log`), or at
 * the end when a human removed the heading. A retry finds the entry and writes nothing.
 */
async function appendDecision(specPath: string, escalation: Escalation, reply: HumanReply): Promise<void> {
  const text = await fs.readFile(specPath, 'utf8').catch(() => '');
  const marker = `<!-- decision ${escalation.n} @ ${escalation.askedAt} -->`;
  if (text.includes(marker)) return;
  const quote = (t: string) =>
    t
      .trim()
      .split('\n')
      .map((l) => `  > ${l}`)
      .join('\n');
  const entry = [
    `- **Q${escalation.n}** (${escalation.kind}, asked ${escalation.askedAt}): ${escalation.question.replace(/\s+/g, ' ')}`,
    `  **Answer** from ${reply.author} (${reply.source}):`,
    quote(reply.text),
    `  ${marker}`,
    '',
  ].join('\n');
  const log = text.indexOf('\n## Log');
  const next =
    log >= 0
      ? `${text.slice(0, log).trimEnd()}\n${entry}${text.slice(log)}`
      : `${text.trimEnd()}\n\n## Decisions\n${entry}`;
  const tmp = `${specPath}.tmp-${process.pid}`;
  await fs.writeFile(tmp, next);
  await fs.rename(tmp, specPath);
}

/** Writes the per-issue spec once; a later run appends a line to its Log instead of overwriting (a human may have edited it). */
async function writeSpec(
  specPath: string,
  loaded: LoadedPolicy,
  issue: Issue,
  branch: string,
  baseBranch: string,
  runId: string,
): Promise<void> {
  const now = new Date().toISOString();
  const existing = await fs.readFile(specPath, 'utf8').catch(() => null);
  if (existing !== null) {
    if (!existing.includes(runId)) await fs.appendFile(specPath, `- ${now}: run ${runId} started.\n`);
    return;
  }
  const { policy } = loaded;
  const template = await fs.readFile(SPEC_TEMPLATE, 'utf8');
  const text = await renderPrompt(template, {
    issue,
    attempt: 1,
    branch,
    base_branch: baseBranch,
    protected_paths: policy.protected_paths,
    scope: policy.scope,
    tools: ['read_file', 'list_files', 'search', 'write_file', 'edit_file', 'run_command', 'escalate', 'finish'],
    qa_commands: policy.qa.commands,
    qa_max_rounds: policy.qa.max_rounds,
    max_turns: policy.roles.implementer.max_turns ?? policy.agent.max_turns,
    max_tokens: policy.roles.implementer.max_tokens ?? policy.model.max_tokens,
    budget_tokens: policy.budget.max_tokens ?? null,
    now,
    run_id: runId,
  });
  await fs.mkdir(path.dirname(specPath), { recursive: true });
  const tmp = `${specPath}.tmp-${process.pid}`;
  await fs.writeFile(tmp, text.endsWith('\n') ? text : `${text}\n`);
  await fs.rename(tmp, specPath);
}
