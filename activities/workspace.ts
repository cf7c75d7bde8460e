/**
 * Workspace activities: the issue's git workspace and its spec. Each heartbeats (git steps may be
 * slow), so the workflow proxies them with a heartbeat timeout and a dead worker is noticed in
 * seconds.
 */
import path from 'node:path';
import { checkWorkspaceContract, type ContractCheck } from '../src/contract/check.js';
import type { Escalation } from '../src/evidence/escalation.js';
import { appendDecision } from '../src/spec/decisions.js';
import { specFile } from '../src/home.js';
import { refreshSpecCopy, specInput, writeIssueSpec } from '../src/spec/write.js';
import type { Issue } from '../src/trackers/types.js';
import { assertInsideRoot } from '../src/workspace/key.js';
import {
  commitAndPush,
  commitMessage,
  prepareWorkspace,
  removeWorkspace,
  type PushResult,
  type WorkspaceInfo,
} from '../src/workspace/workspace.js';
import type { HumanReply } from '../workflows/definitions.js';
import type { ActivityContext } from './context.js';
import { withHeartbeat } from './heartbeat.js';

/** Builds the workspace activities. */
export function createWorkspaceActivities(ctx: ActivityContext) {
  return {
    /** Creates or reuses the workspace, checks out the issue branch, writes the authoritative spec (FOREMAN_HOME) and its copy `.foreman/spec.md`. */
    async prepareWorkspace(input: { issue: Issue; runId: string }): Promise<WorkspaceInfo> {
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
        specInput(policy, {
          issue: input.issue,
          branch: ws.branch,
          baseBranch: ws.baseBranch,
          now,
          runId: input.runId,
        }),
      );
      await refreshSpecCopy(contract, specPath);
      return { ...ws, specPath };
    },

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

    /** Commits the workspace and pushes the issue branch (`partial`: the run waits for a human). */
    async commitAndPush(input: {
      workspace: WorkspaceInfo;
      identifier: string;
      title: string;
      partial: boolean;
    }): Promise<PushResult> {
      const identity = ctx.identity();
      return withHeartbeat(() =>
        commitAndPush({
          path: input.workspace.path,
          branch: input.workspace.branch,
          baseBranch: input.workspace.baseBranch,
          baseCommit: input.workspace.baseCommit || undefined,
          message: commitMessage(input.identifier, input.title, input.partial),
          identity,
          auth: ctx.gitAuth(),
        }),
      );
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

/** The workspace activities (types only on the workflow side). */
export type WorkspaceActivities = ReturnType<typeof createWorkspaceActivities>;
