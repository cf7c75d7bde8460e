/**
 * Linear payloads → the normalized `Issue` and `IssueComment` (Symphony SPEC §4.1.1, §11.3), and
 * the project reference of the policy → an issue filter.
 */
import type { z } from 'zod';
import { readMarker, type CommentKey } from '../marker.js';
import { isRecord, nonBlank, normalizeName, toIsoTime } from '../shared.js';
import type { BlockerRef, Issue, IssueComment, TrackerUser } from '../types.js';
import type { commentSchema } from './queries.js';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The routing rule of `dispatchable`: true when the assignee (id/email, null when none) may take the issue. */
export type AssigneeRule = (a: { id: string | null; email: string | null }) => boolean;

/** Returns the normalized issue, or a sentence saying why the record is unusable. */
export function normalizeIssue(node: unknown, isRouted: AssigneeRule): Issue | string {
  if (!isRecord(node)) return 'an issue node is not an object';
  const id = nonBlank(node.id);
  const identifier = nonBlank(node.identifier);
  const title = nonBlank(node.title);
  const state = isRecord(node.state) ? nonBlank(node.state.name) : null;
  const what = identifier ?? id ?? '(unknown issue)';
  if (id === null) return `issue ${what} has no id`;
  if (identifier === null) return `issue ${id} has no identifier`;
  if (title === null) return `issue ${what} has no title`;
  if (state === null) return `issue ${what} has no state name`;

  const assignee = isRecord(node.assignee) ? node.assignee : null;
  const assigneeId = assignee ? nonBlank(assignee.id) : null;
  const assigneeEmail = assignee ? nonBlank(assignee.email) : null;
  const team = isRecord(node.team) ? node.team : null;
  return {
    id,
    identifier,
    title,
    description: typeof node.description === 'string' && node.description.trim() !== '' ? node.description : null,
    priority: normalizePriority(node.priority),
    state,
    branch_name: nonBlank(node.branchName),
    url: nonBlank(node.url),
    assignee_id: assigneeId,
    labels: normalizeLabels(node.labels),
    blocked_by: normalizeBlockers(node.inverseRelations),
    dispatchable: isRouted({ id: assigneeId, email: assigneeEmail }),
    created_at: toIsoTime(node.createdAt),
    updated_at: toIsoTime(node.updatedAt),
    native_ref: { id, identifier, teamId: team ? nonBlank(team.id) : null },
    author: linearUser(node.creator),
  };
}

/**
 * A Linear user (`id name displayName guest app`) as the trust rules see it (specs/trust.md):
 * role `GUEST` for guests, else `MEMBER` (team membership is `Tracker.writeAccess`'s question);
 * `app` users are bots. null without an id.
 */
export function linearUser(node: unknown): TrackerUser | null {
  if (!isRecord(node)) return null;
  const id = nonBlank(node.id);
  if (id === null) return null;
  return {
    id,
    name: nonBlank(node.displayName) ?? nonBlank(node.name) ?? id,
    role: node.guest === true ? 'GUEST' : 'MEMBER',
    bot: node.app === true,
  };
}

/** Linear: 0 = no priority, 1 urgent, 2 high, 3 medium, 4 low. Anything else is unknown. */
function normalizePriority(value: unknown): number | null {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 4 ? value : null;
}

function normalizeLabels(value: unknown): string[] {
  if (!isRecord(value) || !Array.isArray(value.nodes)) return [];
  const out = new Set<string>();
  for (const n of value.nodes) {
    if (isRecord(n) && typeof n.name === 'string' && n.name.trim() !== '') out.add(n.name.trim().toLowerCase());
  }
  return [...out];
}

/** `blocked_by`: inverse relations of type `blocks` (the other issue blocks this one). */
function normalizeBlockers(value: unknown): BlockerRef[] {
  if (!isRecord(value) || !Array.isArray(value.nodes)) return [];
  const out: BlockerRef[] = [];
  const seen = new Set<string>();
  for (const n of value.nodes) {
    if (!isRecord(n) || typeof n.type !== 'string' || normalizeName(n.type) !== 'blocks' || !isRecord(n.issue))
      continue;
    const ref: BlockerRef = {
      id: nonBlank(n.issue.id),
      identifier: nonBlank(n.issue.identifier),
      state: isRecord(n.issue.state) ? nonBlank(n.issue.state.name) : null,
    };
    if (ref.id === null && ref.identifier === null) continue;
    const key = ref.id ?? ref.identifier ?? '';
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(ref);
  }
  return out;
}

/**
 * Normalizes one comment. It is Foreman's (`by_foreman`, authored `foreman`, with its `key`) only
 * when its author is the API key's viewer and its marker's MAC is right; a comment with a forged
 * or unsigned marker is a person's (docs/architecture.md, "Foreman's own comments").
 */
export function toComment(
  node: z.infer<typeof commentSchema>,
  self: { viewerId: string; commentKey: CommentKey },
): IssueComment {
  const { key, signed, body } = readMarker(node.body, self.commentKey);
  const byForeman = signed && node.user?.id === self.viewerId;
  const author = byForeman ? 'foreman' : node.user?.displayName || node.user?.name || node.botActor?.name || 'unknown';
  return {
    id: node.id,
    author,
    body,
    created_at: toIsoTime(node.createdAt) ?? node.createdAt,
    by_foreman: byForeman,
    key: byForeman ? key : null,
    author_user: node.user
      ? linearUser(node.user)
      : node.botActor
        ? { id: '', name: node.botActor.name ?? 'bot', role: null, bot: true }
        : null,
  };
}

/** The project scope: a UUID matches `project.id`; anything else matches `slugId` (whole or its hex tail). */
export function parseProjectRef(value: string | undefined): { raw: string; filter: Record<string, unknown> } | null {
  let raw = value?.trim() ?? '';
  if (raw === '') return null;
  // A pasted project URL: https://linear.app/<org>/project/<slug>/overview
  const fromUrl = /\/project\/([^/?#]+)/.exec(raw);
  if (fromUrl?.[1]) raw = decodeURIComponent(fromUrl[1]);
  if (UUID_RE.test(raw)) return { raw, filter: { id: { eq: raw } } };
  const tail = /-([0-9a-f]{8,})$/i.exec(raw)?.[1];
  const slugs = tail && tail !== raw ? [raw, tail] : [raw];
  return { raw, filter: { slugId: { in: slugs } } };
}
