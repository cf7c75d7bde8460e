/**
 * Run activities: what a run starts from (the issue as the tracker has it now, and the settings
 * the run keeps from the policy in force).
 */
import { boundIssue, descriptionCutNotice, runSettings, type PreparedRun } from '../src/config/run-settings.js';
import { backendModel } from '../src/agents/backends/config.js';
import { probeModel } from '../src/agents/probe.js';
import { modelClientOptions } from '../src/agents/run-role.js';
import { TrackerError } from '../src/errors.js';
import { handedOverRun, type HandedOverRun } from '../src/dispatch/rework.js';
import type { ActivityContext } from './context.js';

/** Builds the run activities. */
export function createRunActivities(ctx: ActivityContext) {
  return {
    /**
     * Reads the issue (by id, else by identifier), bounds its description (a comment says when it
     * was cut) and fixes the settings the run branches on.
     * @throws TrackerError `issue_not_found` (not retryable) when the tracker has no such issue.
     */
    async prepareRun(input: { issueId: string; identifier: string }): Promise<PreparedRun> {
      const loaded = ctx.policy();
      const tracker = ctx.tracker(loaded);
      const [byId] = await tracker.fetchIssuesByIds([input.issueId]);
      const issue = byId ?? (await tracker.fetchIssueByIdentifier(input.identifier));
      if (!issue) {
        throw new TrackerError(
          'issue_not_found',
          `Issue ${input.identifier} was not found in the ${tracker.kind} tracker.`,
          { retryable: false },
        );
      }
      const max = loaded.policy.agent.max_issue_bytes;
      const bounded = boundIssue(issue, max);
      if (bounded.cutBytes > 0) {
        ctx.log.warn(
          { issue: issue.identifier, cutBytes: bounded.cutBytes },
          'issue description cut to the size limit',
        );
        await tracker.upsertComment(issue.id, 'issue-description-cut', descriptionCutNotice(max, bounded.cutBytes));
      }
      return { issue: bounded.issue, settings: runSettings(loaded.policy) };
    },

    /**
     * The earlier run `runId` of this workflow id, when it handed the issue over without a pull
     * request (a rework round continues its branch and conversation); null otherwise
     * (docs/architecture.md, "Sending work back").
     */
    async previousHandOver(input: { workflowId: string; runId: string }): Promise<HandedOverRun | null> {
      return handedOverRun(ctx.deps.client, input.workflowId, input.runId);
    },

    /**
     * Whether a service an outage escalation waits on answers again: `model` makes a one-token
     * Messages API call with the implementer's model, `tracker` reads the issue. Never throws: an
     * error is `false` (the workflow probes again later with backoff).
     */
    async probeService(input: { target: 'model' | 'tracker'; issueId: string }): Promise<boolean> {
      const loaded = ctx.policy();
      if (input.target === 'model') {
        return probeModel(modelClientOptions(loaded.policy, ctx.env), backendModel(loaded.policy, 'implementer'));
      }
      try {
        await ctx.tracker(loaded).fetchIssuesByIds([input.issueId]);
        return true;
      } catch {
        return false;
      }
    },
  };
}

/** The run activities (types only on the workflow side). */
export type RunActivities = ReturnType<typeof createRunActivities>;
