/**
 * Tracker activities: what Foreman writes on the issue. Every write is idempotent (a hidden marker
 * key per comment, a no-op state move), so a retried activity never repeats a side effect; texts are
 * rendered from data here, never by the model.
 */
import { renderEscalation, type EscalationData } from '../src/evidence/escalation.js';
import { renderEvidence, type EvidenceData } from '../src/evidence/render.js';
import { linkPrefixes } from '../src/evidence/inert.js';
import { readReworkRequest, type ReworkRequest } from '../src/dispatch/rework.js';
import type { ActivityContext } from './context.js';

/** Builds the tracker activities. */
export function createTrackerActivities(ctx: ActivityContext) {
  return {
    /** Moves the issue to `state` (no-op when already there). */
    async moveIssue(input: { issueId: string; state: string }): Promise<void> {
      await ctx.tracker().moveIssue(input.issueId, input.state);
    },

    /** Renders the evidence packet and posts it on the issue (one comment per run, edited in place). */
    async postEvidence(input: {
      issueId: string;
      evidence: EvidenceData;
    }): Promise<{ commentId: string; key: string }> {
      const key = `evidence-${input.evidence.runId}`;
      const posted = await ctx
        .tracker()
        .upsertComment(
          input.issueId,
          key,
          renderEvidence(input.evidence, { links: linkPrefixes(ctx.policy().policy) }),
        );
      return { commentId: posted.id, key };
    },

    /** Posts an escalation (rendered from data) on the issue; idempotent by `key`. */
    async postEscalation(input: {
      issueId: string;
      key: string;
      data: EscalationData;
    }): Promise<{ commentId: string }> {
      const posted = await ctx
        .tracker()
        .upsertComment(
          input.issueId,
          input.key,
          renderEscalation(input.data, { links: linkPrefixes(ctx.policy().policy) }),
        );
      return { commentId: posted.id };
    },

    /**
     * The issue's state and the comments since the hand-over (`since`, RFC 3339) from people who
     * may steer it (docs/architecture.md, "Sending work back"). Read-only.
     */
    async readReworkRequest(input: { issueId: string; since: string }): Promise<ReworkRequest> {
      const { policy } = ctx.policy();
      return readReworkRequest(ctx.tracker(), policy, input);
    },

    /** Posts a short notice (reminder, parked, stopped) on the issue; idempotent by `key`. */
    async postComment(input: { issueId: string; key: string; body: string }): Promise<{ commentId: string }> {
      const posted = await ctx.tracker().upsertComment(input.issueId, input.key, input.body);
      return { commentId: posted.id };
    },
  };
}

/** The tracker activities (types only on the workflow side). */
export type TrackerActivities = ReturnType<typeof createTrackerActivities>;
