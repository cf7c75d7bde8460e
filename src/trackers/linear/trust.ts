/**
 * The Linear tracker's trust look-ups (specs/trust.md): whether a user is a member of the team
 * (not a guest or app), and who applied a label to an issue (its history's `addedLabelIds`).
 */
import type { Issue, TrackerUser } from '../types.js';
import type { LinearContext } from './context.js';
import { linearUser } from './normalize.js';
import { LABEL_HISTORY_QUERY, labelHistorySchema, USER_ACCESS_QUERY, userAccessSchema } from './queries.js';

/**
 * True when `user` is an active member of the tracker's team (of any team when the tracker is
 * not scoped to one) and neither a guest nor an app. An unknown user id is false.
 *
 * @throws TrackerError the transport codes of the request.
 */
export async function linearWriteAccess(ctx: LinearContext, user: TrackerUser): Promise<boolean> {
  if (user.id.trim() === '') return false;
  let data;
  try {
    data = ctx.api.parse('user', userAccessSchema, await ctx.api.request('user', USER_ACCESS_QUERY, { id: user.id }));
  } catch (err) {
    if ((err as { code?: string }).code === 'tracker_not_found' || /not found/i.test((err as Error).message))
      return false;
    throw err;
  }
  const u = data.user;
  if (u.guest === true || u.app === true || u.active === false) return false;
  const keys = u.teams.nodes.map((t) => t.key.toLowerCase());
  return ctx.teamKey === null ? keys.length > 0 : keys.includes(ctx.teamKey.toLowerCase());
}

/**
 * The users whose history entries added the label `label` (case-insensitive) to `issue`, oldest
 * first.
 *
 * @throws TrackerError the transport codes of the request.
 */
export async function linearLabelAppliers(ctx: LinearContext, issue: Issue, label: string): Promise<TrackerUser[]> {
  const data = ctx.api.parse(
    'issue',
    labelHistorySchema,
    await ctx.api.request('issue', LABEL_HISTORY_QUERY, { id: issue.id }),
  );
  const want = label.trim().toLowerCase();
  const ids = new Set(data.issue.labels.nodes.filter((l) => l.name.trim().toLowerCase() === want).map((l) => l.id));
  return data.issue.history.nodes
    .filter((h) => (h.addedLabelIds ?? []).some((id) => ids.has(id)))
    .map((h) => linearUser(h.actor))
    .filter((u): u is TrackerUser => u !== null);
}
