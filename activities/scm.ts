/**
 * SCM activities: the issue's pull request on GitHub (open or update it with the evidence as its
 * body, read its review comments and CI). GitHub calls may wait on rate limits, so each heartbeats
 * and the workflow proxies them with their own timeouts.
 */
import { renderEvidence, type EvidenceData } from '../src/evidence/render.js';
import { linkPrefixes } from '../src/evidence/inert.js';
import { issueReference, scmForWorkspace } from '../src/scm/for-policy.js';
import type { CiSummary, PullRequestRef } from '../src/scm/types.js';
import type { Issue } from '../src/trackers/types.js';
import type { WorkspaceInfo } from '../src/workspace/workspace.js';
import type { ActivityContext } from './context.js';
import { withHeartbeat } from './heartbeat.js';

/** Builds the SCM activities. */
export function createScmActivities(ctx: ActivityContext) {
  const scmFor = (ws: WorkspaceInfo) => scmForWorkspace(ctx.policy().policy, ws.path, ctx.env, ctx.log);
  return {
    /**
     * Opens the issue's pull request — or updates the open one for the branch, never a second —
     * with the evidence packet as its body, and links it on the issue (Linear: attachment; GitHub:
     * the body's cross-reference). Null when PRs are off or the repository is not on GitHub.
     */
    async openPullRequest(input: {
      issue: Issue;
      workspace: WorkspaceInfo;
      evidence: EvidenceData;
    }): Promise<PullRequestRef | null> {
      const loaded = ctx.policy();
      return withHeartbeat(async () => {
        const gh = await scmFor(input.workspace);
        if (!gh) return null;
        const link = issueReference(input.issue, loaded.policy.tracker.kind, gh.owner, gh.repo);
        const pr = await gh.scm.openOrUpdatePullRequest({
          head: input.workspace.branch,
          base: input.workspace.baseBranch,
          title: `${input.issue.identifier}: ${input.issue.title.replace(/\s+/g, ' ')}`.slice(0, 250),
          body: `${link}\n\n${renderEvidence(input.evidence, { links: linkPrefixes(loaded.policy) })}`,
          draft: loaded.policy.scm.draft,
        });
        const tracker = ctx.tracker(loaded);
        if (tracker.linkPullRequest)
          await tracker.linkPullRequest(input.issue.id, pr.url, `PR #${pr.number}: ${input.issue.title}`);
        return { number: pr.number, url: pr.url, created: pr.created };
      });
    },

    /** The inline review comments on the issue's pull request, as `path:line (author): text` lines. */
    async pullRequestReviewComments(input: { workspace: WorkspaceInfo; prNumber: number }): Promise<string[]> {
      return withHeartbeat(async () => {
        const gh = await scmFor(input.workspace);
        if (!gh) return [];
        const comments = await gh.scm.reviewComments(input.prNumber);
        return comments.map((c) => `${c.path}${c.line ? `:${c.line}` : ''} (${c.author}): ${c.body}`);
      });
    },

    /** CI on the branch's head as GitHub reports it (check runs + commit statuses). */
    async ciStatus(input: { workspace: WorkspaceInfo }): Promise<CiSummary | null> {
      return withHeartbeat(async () => {
        const gh = await scmFor(input.workspace);
        if (!gh) return null;
        const summary = await gh.scm.checksFor(input.workspace.branch);
        return {
          state: summary.state,
          checks: summary.checks.map((c) => ({ name: c.name, status: c.status, conclusion: c.conclusion, url: c.url })),
        };
      });
    },
  };
}

/** The SCM activities (types only on the workflow side). */
export type ScmActivities = ReturnType<typeof createScmActivities>;
