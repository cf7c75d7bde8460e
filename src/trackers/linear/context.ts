/**
 * What every method of one Linear tracker shares: the transport, the scope (team key and/or
 * project), the workflow-state cache, the routing rule behind `dispatchable`, and the two paged
 * reads (issues, comments) the methods are built from.
 */
import { TrackerError } from '../../errors.js';
import type { CommentKey } from '../marker.js';
import type { Serializer } from '../serialize.js';
import { compareStrings, normalizeName } from '../shared.js';
import type { Issue, IssueComment } from '../types.js';
import type { LinearApi, LinearTrackerLog } from './client.js';
import { normalizeIssue, toComment, type AssigneeRule } from './normalize.js';
import {
  COMMENTS_QUERY,
  ISSUE_COMMENTS_QUERY,
  ISSUES_QUERY,
  VIEWER_QUERY,
  WORKFLOW_STATES_QUERY,
  commentSchema,
  viewerSchema,
  workflowStateSchema,
  type WorkflowStateNode,
} from './queries.js';

/** One tracker's shared state. */
export interface LinearContext {
  api: LinearApi;
  log: LinearTrackerLog | undefined;
  teamKey: string | null;
  project: { raw: string; filter: Record<string, unknown> } | null;
  /** The routing rule's subject: `me`, an email or a user id; null routes every issue. */
  assignee: string | null;
  /** How long a team's workflow-state list is reused, in ms. */
  stateCacheMs: number;
  stateCache: Map<string, { at: number; states: Promise<WorkflowStateNode[]> }>;
  viewer: Promise<{ id: string; email: string | null }> | undefined;
  /** Serializes writes per key within this process, so two retries of one activity never race. */
  serialized: Serializer;
  /** The installation's comment key: signs and checks Foreman's markers. */
  commentKey: CommentKey;
}

/** `extra` within the tracker's scope (team and/or project). */
export function scoped(ctx: LinearContext, extra: Record<string, unknown>): Record<string, unknown> {
  const parts: Record<string, unknown> = {};
  if (ctx.teamKey) parts.team = { key: { eqIgnoreCase: ctx.teamKey } };
  if (ctx.project) parts.project = ctx.project.filter;
  return Object.keys(parts).length === 0 ? extra : { and: [parts, extra] };
}

/**
 * Workflow states of the teams matching `teamFilter` (null: the whole workspace), asked once per
 * cache period per `cacheKey`; `fresh` skips the cache.
 */
export function workflowStates(
  ctx: LinearContext,
  teamFilter: Record<string, unknown> | null,
  cacheKey: string,
  fresh = false,
): Promise<WorkflowStateNode[]> {
  const hit = ctx.stateCache.get(cacheKey);
  if (!fresh && hit && Date.now() - hit.at < ctx.stateCacheMs) return hit.states;
  const states = ctx.api
    .paginate('workflowStates', WORKFLOW_STATES_QUERY, 'workflowStates', {
      filter: teamFilter === null ? null : { team: teamFilter },
    })
    .then((nodes) => nodes.map((n) => ctx.api.parse('workflowStates', workflowStateSchema, n)));
  const entry = { at: Date.now(), states };
  ctx.stateCache.set(cacheKey, entry);
  states.catch(() => {
    if (ctx.stateCache.get(cacheKey) === entry) ctx.stateCache.delete(cacheKey);
  });
  return states;
}

/** The API key's user id (asked once; a failure is asked again next time). */
async function viewerId(ctx: LinearContext): Promise<string> {
  ctx.viewer ??= ctx.api.request('viewer', VIEWER_QUERY, {}).then((data) => {
    const v = ctx.api.parse('viewer', viewerSchema, data).viewer;
    return { id: v.id, email: v.email ?? null };
  });
  try {
    return (await ctx.viewer).id;
  } catch (err) {
    ctx.viewer = undefined;
    throw err;
  }
}

/** The routing predicate for `dispatchable`, resolved once per listing. */
async function assigneeRule(ctx: LinearContext): Promise<AssigneeRule> {
  const assignee = ctx.assignee;
  if (assignee === null) return () => true;
  if (assignee.toLowerCase() === 'me') {
    const me = await viewerId(ctx);
    return (a) => a.id === me;
  }
  if (assignee.includes('@')) {
    const email = assignee.toLowerCase();
    return (a) => a.email !== null && a.email.toLowerCase() === email;
  }
  return (a) => a.id === assignee;
}

/** Issues matching `filter` (paged). Malformed records are skipped and logged, or thrown when `strict`. */
export async function listIssues(
  ctx: LinearContext,
  op: string,
  filter: Record<string, unknown>,
  strict: boolean,
): Promise<Issue[]> {
  const { api, log } = ctx;
  const [nodes, rule] = await Promise.all([api.paginate(op, ISSUES_QUERY, 'issues', { filter }), assigneeRule(ctx)]);
  const out: Issue[] = [];
  const ids = new Set<string>();
  for (const node of nodes) {
    const issue = normalizeIssue(node, rule);
    if (typeof issue === 'string') {
      if (strict)
        throw new TrackerError('tracker_payload_invalid', `Linear ${op}: ${api.redact(issue)}`, { retryable: false });
      log?.warn({ op, problem: api.redact(issue) }, 'Linear issue skipped: malformed record');
      continue;
    }
    if (ids.has(issue.id)) continue;
    ids.add(issue.id);
    out.push(issue);
  }
  return out;
}

/**
 * Comments on the issue (created after `sinceIso` when given), oldest first; Foreman's own are told
 * apart by author (the API key's viewer) and the marker's MAC (./normalize.ts `toComment`).
 */
export async function listComments(
  ctx: LinearContext,
  issueId: string,
  sinceIso: string | null,
): Promise<IssueComment[]> {
  const filter: Record<string, unknown> = { issue: { id: { eq: issueId } } };
  if (sinceIso !== null) filter.createdAt = { gt: sinceIso };
  const [nodes, me] = await Promise.all([
    ctx.api.paginate('comments', COMMENTS_QUERY, 'comments', { filter }),
    viewerId(ctx),
  ]);
  const self = { viewerId: me, commentKey: ctx.commentKey };
  const comments = nodes.map((n) => toComment(ctx.api.parse('comments', commentSchema, n), self));
  return comments.sort((a, b) => Date.parse(a.created_at) - Date.parse(b.created_at) || compareStrings(a.id, b.id));
}

/** Issue ids per `commentsOfIssues` query (keeps the filter short). */
const ISSUES_PER_COMMENTS_QUERY = 50;

/**
 * Comments on `issueIds` created after `sinceIso`, keyed by issue id, oldest first: one paginated
 * query per `ISSUES_PER_COMMENTS_QUERY` issues, filtered by issue id.
 */
export async function commentsOfIssues(
  ctx: LinearContext,
  issueIds: string[],
  sinceIso: string,
): Promise<Map<string, IssueComment[]>> {
  const out = new Map<string, IssueComment[]>();
  const self = { viewerId: await viewerId(ctx), commentKey: ctx.commentKey };
  for (let i = 0; i < issueIds.length; i += ISSUES_PER_COMMENTS_QUERY) {
    const ids = issueIds.slice(i, i + ISSUES_PER_COMMENTS_QUERY);
    const filter = { issue: { id: { in: ids } }, createdAt: { gt: sinceIso } };
    const nodes = await ctx.api.paginate('comments', ISSUE_COMMENTS_QUERY, 'comments', { filter });
    for (const n of nodes) {
      const issueId = (n as { issue?: { id?: unknown } } | null)?.issue?.id;
      if (typeof issueId !== 'string' || !ids.includes(issueId)) continue;
      const list = out.get(issueId) ?? [];
      list.push(toComment(ctx.api.parse('comments', commentSchema, n), self));
      out.set(issueId, list);
    }
  }
  for (const list of out.values())
    list.sort((a, b) => Date.parse(a.created_at) - Date.parse(b.created_at) || compareStrings(a.id, b.id));
  return out;
}

/** The team's workflow state named `target` (case-insensitive), asking again once when the cache lacks it. */
/**
 * @throws TrackerError `tracker_state_unknown` (not retryable) when the team has no such state;
 *   `what` names the issue in the message.
 */
export async function findTeamState(
  ctx: LinearContext,
  team: { id: string; key: string },
  target: string,
  what: string,
): Promise<WorkflowStateNode> {
  const find = (states: WorkflowStateNode[]) => states.find((s) => normalizeName(s.name) === normalizeName(target));
  let states = await workflowStates(ctx, { id: { eq: team.id } }, `id:${team.id}`);
  let found = find(states);
  if (!found) {
    // The cache may predate a state someone just added.
    states = await workflowStates(ctx, { id: { eq: team.id } }, `id:${team.id}`, true);
    found = find(states);
  }
  if (found) return found;
  const names = states.map((s) => `"${s.name}"`).join(', ');
  throw new TrackerError(
    'tracker_state_unknown',
    `Linear team ${team.key} has no workflow state "${target}" (${what}); its states are ${names}. ` +
      'Fix the state name in the policy (handoff.*_state, tracker.active_states) or add the state in Linear.',
    { retryable: false },
  );
}

/**
 * The trimmed issue id.
 *
 * @throws TrackerError `tracker_payload_invalid` (not retryable) when it is blank.
 */
export function requireId(what: string, id: string): string {
  const trimmed = typeof id === 'string' ? id.trim() : '';
  if (trimmed === '')
    throw new TrackerError('tracker_payload_invalid', `${what}: the issue id is blank`, { retryable: false });
  return trimmed;
}
