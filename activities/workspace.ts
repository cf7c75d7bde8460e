/**
 * Workspace activities: the issue's git workspace and its spec. Each heartbeats (git steps may be
 * slow), so the workflow proxies them with a heartbeat timeout and a dead worker is noticed in
 * seconds.
 */
import path from 'node:path';
import { checkWorkspaceContract, type ContractCheck } from '../src/contract/check.js';
import type { Escalation, EscalationRecord } from '../src/evidence/escalation.js';
import { appendDecision } from '../src/spec/decisions.js';
import { homePaths, specFile } from '../src/home.js';
import { refreshSpecCopy, specInput, writeIssueSpec } from '../src/spec/write.js';
import type { Issue } from '../src/trackers/types.js';
import { assertInsideRoot } from '../src/workspace/key.js';
import { urlScheme } from '../src/workspace/git.js';
import {
  commitAndPush,
  commitMessage,
  prepareWorkspace,
  removeWorkspace,
  type CommitOptions,
  type PushResult,
  type WorkspaceInfo,
} from '../src/workspace/workspace.js';
import { checkoutConflict, pushToNewBranch, rebaseOnRemote, type RebaseResult } from '../src/workspace/rebase.js';
import type { HumanReply } from '../workflows/definitions.js';
import type { ActivityContext } from './context.js';
import { withHeartbeat } from './heartbeat.js';

/** What the push activities take: the workspace and what Foreman's commit message says. */
export interface PushInput {
  workspace: WorkspaceInfo;
  identifier: string;
  title: string;
  /** The run waits for a human (the commit says "partial work"). */
  partial: boolean;
}

/** Builds the workspace activities. */
export function createWorkspaceActivities(ctx: ActivityContext) {
  /** The git options of a push activity, from the workspace, the policy's identity and the push credential. */
  const commitOptions = (input: PushInput): CommitOptions => ({
    path: input.workspace.path,
    branch: input.workspace.branch,
    baseBranch: input.workspace.baseBranch,
    baseCommit: input.workspace.baseCommit || undefined,
    message: commitMessage(input.identifier, input.title, input.partial),
    identity: ctx.identity(),
    auth: ctx.gitAuth(),
  });
  return {
    /**
     * Creates or reuses the workspace, checks out the issue branch, writes the authoritative spec
     * (FOREMAN_HOME) and its copy `.foreman/spec.md`. `decisions`: the run's answered escalations,
     * appended to the spec's Decisions (each once) when the workspace is re-created on this worker
     * after the one that held it was lost. The result names this worker's workspace task queue.
     */
    prepareWorkspace: (input: PrepareInput): Promise<WorkspaceInfo> => prepareHere(ctx, input),

    /** Checks the change against the contract: spec Scope, `protected_paths`, spec Evidence. */
    async checkContract(input: { workspace: WorkspaceInfo }): Promise<ContractCheck> {
      const { policy } = ctx.policy();
      return withHeartbeat(() =>
        checkWorkspaceContract({
          workspace: input.workspace.path,
          specPath: specFile(ctx.deps.home, input.workspace.key),
          baseRef: `${policy.scm.remote}/${input.workspace.baseBranch}`,
          baseCommit: input.workspace.baseCommit || undefined,
          remote: policy.scm.remote,
          protectedPaths: policy.protected_paths,
        }),
      );
    },

    /** Commits the workspace and pushes the issue branch (`partial`: the run waits for a human); `push_rejected` (permanent) when someone else pushed to it. */
    async commitAndPush(input: PushInput): Promise<PushResult> {
      return withHeartbeat(() => commitAndPush(commitOptions(input)));
    },

    /** After a rejected push: rebases Foreman's change onto the remote branch (src/workspace/rebase.ts); nothing is pushed. */
    async rebaseOnRemote(input: PushInput): Promise<RebaseResult> {
      return withHeartbeat(() => rebaseOnRemote(commitOptions(input)));
    },

    /** After a conflicting rebase: the merge with conflict markers in the work tree, for the agent to resolve; returns the conflicted paths. */
    async checkoutConflict(input: PushInput & { onto: string }): Promise<string[]> {
      return withHeartbeat(() => checkoutConflict({ ...commitOptions(input), onto: input.onto }));
    },

    /** Pushes Foreman's change to a new branch (`<branch>-2`…), first putting back `restore` (its commit before a rebase) when given. */
    async pushToNewBranch(input: PushInput & { restore: string | null }): Promise<PushResult> {
      return withHeartbeat(() => pushToNewBranch({ ...commitOptions(input), restore: input.restore }));
    },

    /** Removes the issue's workspace (runs `before_remove`; its failure is ignored). */
    async removeWorkspace(input: { identifier: string }): Promise<boolean> {
      const { policy } = ctx.policy();
      return withHeartbeat(() =>
        removeWorkspace({
          root: policy.workspace.root,
          identifier: input.identifier,
          hooks: policy.hooks,
          env: ctx.agentEnv(),
          log: ctx.log,
        }),
      );
    },

    /** Appends a human's answer to the authoritative spec's Decisions (once per escalation, even when retried) and refreshes the workspace copy. */
    async recordDecision(input: {
      workspace: WorkspaceInfo | null;
      escalation: Escalation;
      reply: HumanReply;
    }): Promise<void> {
      if (!input.workspace) return;
      const contract = specFile(ctx.deps.home, input.workspace.key);
      await appendDecision(contract, input.escalation, input.reply);
      assertInsideRoot(input.workspace.path, input.workspace.specPath);
      await refreshSpecCopy(contract, input.workspace.specPath);
    },
  };
}

/** What `prepareWorkspace` takes. */
export interface PrepareInput {
  issue: Issue;
  runId: string;
  /** The run's escalation records (answered ones are written into a new spec's Decisions). */
  decisions?: EscalationRecord[];
}

/** `prepareWorkspace` on this worker: the workspace, the spec, and this worker's workspace task queue. */
async function prepareHere(ctx: ActivityContext, input: PrepareInput): Promise<WorkspaceInfo> {
  const loaded = ctx.policy();
  const { policy } = loaded;
  const ws = await withHeartbeat(() =>
    prepareWorkspace({
      root: policy.workspace.root,
      identifier: input.issue.identifier,
      repo: policy.workspace.repo,
      baseBranch: policy.workspace.base_branch,
      hooks: policy.hooks,
      identity: ctx.identity(loaded),
      auth: ctx.gitAuth(loaded),
      // A local repository is a cache already: it is cloned directly.
      cacheRoot:
        policy.workspace.repo_cache && policy.workspace.repo && urlScheme(policy.workspace.repo) !== 'file'
          ? homePaths(ctx.deps.home).repoCache
          : undefined,
      env: ctx.agentEnv(),
      log: ctx.log,
    }),
  );
  const specPath = path.join(ws.path, '.foreman', 'spec.md');
  // A `.foreman` symlink (committed, or made by an agent) must not send writes outside.
  assertInsideRoot(ws.path, specPath);
  const now = new Date().toISOString();
  // The authoritative spec lives under FOREMAN_HOME; the workspace gets a copy to read.
  const contract = specFile(ctx.deps.home, ws.key);
  await writeIssueSpec(
    contract,
    specInput(policy, { issue: input.issue, branch: ws.branch, baseBranch: ws.baseBranch, now, runId: input.runId }),
  );
  await replayDecisions(contract, input.decisions ?? []);
  await refreshSpecCopy(contract, specPath);
  const worker = ctx.deps.worker;
  return { ...ws, specPath, ...(worker ? { queue: worker.workspaceQueue, workerId: worker.id } : {}) };
}

/**
 * Appends each answered escalation of `decisions` (the run's records, in order: record i is
 * escalation i + 1) to the spec's Decisions; appendDecision skips one already there.
 */
async function replayDecisions(contract: string, decisions: EscalationRecord[]): Promise<void> {
  for (const [i, d] of decisions.entries()) {
    if (d.answer === null) continue;
    const escalation: Escalation = {
      n: i + 1,
      kind: d.kind,
      question: d.question,
      options: [],
      recommendation: null,
      tried: '',
      askedAt: d.askedAt,
      reminded: false,
      parked: false,
    };
    await appendDecision(contract, escalation, {
      text: d.answer,
      author: d.author ?? 'unknown',
      source: d.answerSource ?? 'comment',
    });
  }
}

/** The workspace activities (types only on the workflow side). */
export type WorkspaceActivities = ReturnType<typeof createWorkspaceActivities>;
