/**
 * The `linear` tracker: Linear's GraphQL API through `@linear/sdk` (profile in
 * specs/trackers/linear.md; Symphony SPEC §11). Wires the transport (./client.ts), the documents
 * (./queries.ts), normalization (./normalize.ts) and the shared reads (./context.ts) into the
 * `Tracker` contract: scoped listings, the idempotent writes Foreman needs (comment with a hidden
 * `<!-- foreman:key=… -->` marker, state move by name, PR link as an attachment, issue creation in
 * ./create.ts).
 *
 * Does not own: eligibility (src/dispatch/), choosing the adapter (src/trackers/index.ts) or
 * webhooks (src/server/): Linear pushes changes, so `watch` is a no-op.
 */
import { linearLabelAppliers, linearWriteAccess } from './trust.js';
import { TrackerError } from '../../errors.js';
import { withMarker, type CommentKey } from '../marker.js';
import { createSerializer } from '../serialize.js';
import { isHttpUrl, normalizeName, parseSince, requireKey, requireStateName } from '../shared.js';
import type { Issue, PostedComment, Tracker } from '../types.js';
import { createLinearClient, unsuccessful, type LinearTrackerLog } from './client.js';
import {
  findTeamState,
  commentsOfIssues,
  listComments,
  listIssues,
  requireId,
  scoped,
  workflowStates,
  type LinearContext,
} from './context.js';
import { createIssue } from './create.js';
import { parseProjectRef } from './normalize.js';
import {
  checkEndpoint,
  configError,
  linearOptionsFromPolicy,
  tokenMissing,
  LINEAR_DEFAULT_ENDPOINT,
  type LinearTrackerPolicy,
} from './policy.js';
import {
  ATTACHMENTS_QUERY,
  ATTACHMENT_LINK_MUTATION,
  COMMENT_CREATE_MUTATION,
  COMMENT_UPDATE_MUTATION,
  ISSUE_STATE_QUERY,
  ISSUE_UPDATE_MUTATION,
  attachmentsSchema,
  issueStateSchema,
  mutationResultSchema,
  type MutationResult,
} from './queries.js';

/** Options of `createLinearTracker`. */
export interface LinearTrackerOptions {
  /** Personal API key (sent raw in `Authorization`). Never logged nor put in messages. */
  apiKey: string;
  /** GraphQL endpoint; http only for localhost. (Default: `https://api.linear.app/graphql`) */
  apiUrl?: string;
  /** Scope: only issues of this team (its key, e.g. `ENG`; compared case-insensitively). */
  teamKey?: string;
  /**
   * Scope: only issues of this project: its `slugId` (Symphony's `project_slug`, e.g.
   * `acme-app-1234abcd5678`; the trailing hex part alone also matches), its UUID, or its URL.
   */
  projectSlug?: string;
  /** The policy's active states (provider spelling). Kept for callers; reads take explicit states. */
  activeStates: string[];
  /** The policy's terminal states (provider spelling). Kept for callers. */
  terminalStates: string[];
  /**
   * Routing rule: when set, an issue is `dispatchable` only when assigned to this user: `me` (the
   * API key's user), an email (case-insensitive) or a Linear user id. (Default: every issue)
   */
  assignee?: string;
  /** Warnings (skipped malformed issues, rate-limit waits). (Default: none) */
  log?: LinearTrackerLog;
  /** Page size of list queries, 1..250 (Linear's maximum). (Default: 50) */
  pageSize?: number;
  /** Time limit of one HTTP request in ms. (Default: 30000) */
  timeoutMs?: number;
  /**
   * A rate-limited request whose reset is at most this many ms away is retried once after the
   * wait; a longer wait fails at once with `tracker_rate_limited` and `retryAfterMs`. (Default: 10000)
   */
  maxRateLimitWaitMs?: number;
  /** How long the team's workflow-state list is reused, in ms. (Default: 300000) */
  stateCacheMs?: number;
  /** The installation's comment key (src/trackers/marker.ts `loadCommentKey`): signs and checks Foreman's markers. */
  commentKey: CommentKey;
}

/** Result of `linkPullRequest`. */
export interface LinkedAttachment {
  /** Linear attachment id. */
  id: string;
  /** False when the issue already had an attachment with this URL (nothing was written). */
  created: boolean;
}

/** The Linear tracker: the common `Tracker` plus Linear-only extras. */
export interface LinearTracker extends Tracker {
  readonly kind: 'linear';
  /** The GraphQL endpoint in use. */
  readonly endpoint: string;
  readonly teamKey: string | null;
  readonly projectSlug: string | null;
  readonly activeStates: readonly string[];
  readonly terminalStates: readonly string[];
  /**
   * Links a pull request (any URL) to the issue as an attachment via Linear's `attachmentLinkURL`.
   * Idempotent: an existing attachment with the same URL is reused (Linear also dedups by URL per
   * issue).
   *
   * @param issueId Linear issue id (UUID).
   * @param url http(s) URL of the pull request.
   * @param title Attachment title shown in Linear.
   * @throws TrackerError `tracker_payload_invalid` (bad URL or title), `tracker_not_found`, and the
   *   transport codes of every request.
   */
  linkPullRequest(issueId: string, url: string, title: string): Promise<LinkedAttachment>;
}

const DEFAULT_PAGE_SIZE = 50;
/** `issues(filter: { id: { in } })` is asked in chunks of this many ids. */
const ID_CHUNK = 50;
const IDENTIFIER_RE = /^([A-Za-z][A-Za-z0-9_]*)-(\d+)$/;

/**
 * Creates the Linear tracker over `@linear/sdk`'s `LinearClient({ apiKey, apiUrl })`. No request is
 * made until the first call. Issue ids are Linear issue UUIDs; identifiers are `ENG-123`.
 *
 * Every method throws `TrackerError` (profile: specs/trackers/linear.md, Symphony SPEC §11.4):
 * `tracker_unauthorized` (401 / `AUTHENTICATION_ERROR` / forbidden; not retryable),
 * `tracker_rate_limited` (429 / `RATELIMITED`; retryable, `retryAfterMs` when known),
 * `tracker_request_failed` (network, timeout, 5xx; retryable), `tracker_payload_invalid` (GraphQL
 * errors, malformed responses, bad arguments), `tracker_not_found`, `tracker_state_unknown`.
 *
 * @param opts Key, endpoint, scope, routing rule and transport limits.
 * @throws PolicyError `tracker_token_missing` (blank key), `invalid_tracker_config` (endpoint not
 *   https (http only for localhost), bad page size).
 */
export function createLinearTracker(opts: LinearTrackerOptions): LinearTracker {
  const apiKey = opts.apiKey?.trim() ?? '';
  if (apiKey === '') throw tokenMissing();
  const endpoint = opts.apiUrl?.trim() || LINEAR_DEFAULT_ENDPOINT;
  checkEndpoint(endpoint, 'apiUrl');
  const pageSize = opts.pageSize ?? DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 250) {
    throw configError('pageSize', `pageSize ${pageSize} must be an integer from 1 to 250 (Linear's page limit)`);
  }
  const project = parseProjectRef(opts.projectSlug);
  const ctx: LinearContext = {
    api: createLinearClient({
      apiKey,
      endpoint,
      pageSize,
      timeoutMs: opts.timeoutMs ?? 30_000,
      maxRateLimitWaitMs: opts.maxRateLimitWaitMs ?? 10_000,
      log: opts.log,
    }),
    log: opts.log,
    teamKey: opts.teamKey?.trim() || null,
    project,
    assignee: opts.assignee?.trim() || null,
    stateCacheMs: opts.stateCacheMs ?? 300_000,
    stateCache: new Map(),
    viewer: undefined,
    serialized: createSerializer(),
    commentKey: opts.commentKey,
  };
  return {
    kind: 'linear',
    endpoint,
    teamKey: ctx.teamKey,
    projectSlug: project?.raw ?? null,
    activeStates: Object.freeze([...opts.activeStates]),
    terminalStates: Object.freeze([...opts.terminalStates]),
    fetchIssuesByStates: (states) => fetchIssuesByStates(ctx, states),
    fetchIssuesByIds: (ids) => fetchIssuesByIds(ctx, ids),
    fetchIssueByIdentifier: (identifier) => fetchIssueByIdentifier(ctx, identifier),
    async fetchComments(issueId, since) {
      const id = requireId('fetchComments', issueId);
      const sinceIso = since === undefined ? null : new Date(parseSince(since)).toISOString();
      const comments = await listComments(ctx, id, sinceIso);
      if (sinceIso === null) return comments;
      const sinceMs = Date.parse(sinceIso);
      return comments.filter((c) => Date.parse(c.created_at) > sinceMs);
    },
    async fetchCommentsSince(issueIds, since) {
      const ids = issueIds.map((id) => requireId('fetchCommentsSince', id));
      return commentsOfIssues(ctx, ids, new Date(parseSince(since)).toISOString());
    },
    upsertComment: (issueId, key, body) => upsertComment(ctx, issueId, key, body),
    moveIssue: (issueId, state) => moveIssue(ctx, issueId, state),
    createIssue: (issue) => createIssue(ctx, issue),
    writeAccess: (user) => linearWriteAccess(ctx, user),
    labelAppliers: (issue, label) => linearLabelAppliers(ctx, issue, label),
    watch() {
      return () => {};
    },
    linkPullRequest: (issueId, url, title) => linkPullRequest(ctx, issueId, url, title),
  };
}

async function fetchIssuesByStates(ctx: LinearContext, states: string[]): Promise<Issue[]> {
  const wanted = new Set(
    states
      .filter((s) => typeof s === 'string')
      .map(normalizeName)
      .filter((s) => s !== ''),
  );
  if (wanted.size === 0) return [];
  // `state.name.in` is exact; map the wanted names onto Linear's spelling first.
  const { teamKey } = ctx;
  const known = teamKey
    ? await workflowStates(ctx, { key: { eqIgnoreCase: teamKey } }, `team:${teamKey.toLowerCase()}`)
    : await workflowStates(ctx, null, '*');
  const names = [...new Set(known.map((s) => s.name).filter((n) => wanted.has(normalizeName(n))))];
  if (names.length === 0) {
    ctx.log?.debug?.({ states: [...wanted] }, 'no Linear workflow state has these names');
    return [];
  }
  const issues = await listIssues(ctx, 'issues', scoped(ctx, { state: { name: { in: names } } }), false);
  return issues.filter((i) => wanted.has(normalizeName(i.state)));
}

async function fetchIssuesByIds(ctx: LinearContext, ids: string[]): Promise<Issue[]> {
  const unique = [
    ...new Set(
      ids
        .filter((id) => typeof id === 'string')
        .map((id) => id.trim())
        .filter((id) => id !== ''),
    ),
  ];
  if (unique.length === 0) return [];
  const out: Issue[] = [];
  for (let i = 0; i < unique.length; i += ID_CHUNK) {
    const chunk = unique.slice(i, i + ID_CHUNK);
    const wanted = new Set(chunk);
    const issues = await listIssues(ctx, 'issues', scoped(ctx, { id: { in: chunk } }), true);
    out.push(...issues.filter((issue) => wanted.has(issue.id)));
  }
  return out;
}

async function fetchIssueByIdentifier(ctx: LinearContext, identifier: string): Promise<Issue | null> {
  const match = IDENTIFIER_RE.exec(typeof identifier === 'string' ? identifier.trim() : '');
  if (match === null) return null;
  const [, key, number] = match as unknown as [string, string, string];
  // A filter (not `issue(id:)`) so an unknown identifier is an empty list, and the scope applies.
  const issues = await listIssues(
    ctx,
    'issues',
    scoped(ctx, { team: { key: { eqIgnoreCase: key } }, number: { eq: Number(number) } }),
    true,
  );
  return issues.find((i) => i.identifier.toLowerCase() === identifier.trim().toLowerCase()) ?? null;
}

async function upsertComment(ctx: LinearContext, issueId: string, key: string, body: string): Promise<PostedComment> {
  const id = requireId('upsertComment', issueId);
  requireKey(key);
  const { api } = ctx;
  const trimmed = typeof body === 'string' ? body.trim() : '';
  const text = withMarker(key, trimmed, ctx.commentKey);
  return ctx.serialized(`comment\0${id}\0${key}`, async (): Promise<PostedComment> => {
    // `key` is set only on Foreman's own comments: one carrying a forged marker is left alone.
    const existing = (await listComments(ctx, id, null)).find((c) => c.key === key);
    if (existing) {
      if (existing.body === trimmed) return { id: existing.id, created: false };
      const data = await api.request('commentUpdate', COMMENT_UPDATE_MUTATION, {
        id: existing.id,
        input: { body: text },
      });
      const res = api.parse('commentUpdate', mutationResultSchema('commentUpdate', 'comment'), data)
        .commentUpdate as MutationResult;
      if (!res.success) throw unsuccessful('commentUpdate');
      return { id: existing.id, created: false };
    }
    const data = await api.request('commentCreate', COMMENT_CREATE_MUTATION, { input: { issueId: id, body: text } });
    const res = api.parse('commentCreate', mutationResultSchema('commentCreate', 'comment'), data)
      .commentCreate as MutationResult;
    if (!res.success || !res.comment) throw unsuccessful('commentCreate');
    return { id: res.comment.id, created: true };
  });
}

async function moveIssue(ctx: LinearContext, issueId: string, state: string): Promise<void> {
  const id = requireId('moveIssue', issueId);
  const target = requireStateName(state);
  const { api } = ctx;
  await ctx.serialized(`move\0${id}`, async () => {
    const current = api.parse('issue', issueStateSchema, await api.request('issue', ISSUE_STATE_QUERY, { id })).issue;
    if (normalizeName(current.state.name) === normalizeName(target)) return;
    const found = await findTeamState(ctx, current.team, target, `issue ${current.identifier}`);
    const data = await api.request('issueUpdate', ISSUE_UPDATE_MUTATION, { id, input: { stateId: found.id } });
    const res = api.parse('issueUpdate', mutationResultSchema('issueUpdate', 'issue'), data)
      .issueUpdate as MutationResult;
    if (!res.success) throw unsuccessful('issueUpdate');
  });
}

async function linkPullRequest(
  ctx: LinearContext,
  issueId: string,
  url: string,
  title: string,
): Promise<LinkedAttachment> {
  const id = requireId('linkPullRequest', issueId);
  const link = typeof url === 'string' ? url.trim() : '';
  if (!isHttpUrl(link)) {
    throw new TrackerError('tracker_payload_invalid', `linkPullRequest: "${String(url)}" is not an http(s) URL`, {
      retryable: false,
    });
  }
  const name = typeof title === 'string' && title.trim() !== '' ? title.trim() : link;
  const { api } = ctx;
  return ctx.serialized(`link\0${id}\0${link}`, async (): Promise<LinkedAttachment> => {
    const found = api.parse(
      'issue',
      attachmentsSchema,
      await api.request('issue', ATTACHMENTS_QUERY, { id, url: link }),
    );
    const existing = found.issue.attachments.nodes.find((a) => a.url === link);
    if (existing) return { id: existing.id, created: false };
    const data = await api.request('attachmentLinkURL', ATTACHMENT_LINK_MUTATION, {
      issueId: id,
      url: link,
      title: name,
    });
    const res = api.parse('attachmentLinkURL', mutationResultSchema('attachmentLinkURL', 'attachment'), data)
      .attachmentLinkURL as MutationResult;
    if (!res.success || !res.attachment) throw unsuccessful('attachmentLinkURL');
    return { id: res.attachment.id, created: true };
  });
}

/**
 * Builds the Linear tracker from a policy `tracker` section (see `linearOptionsFromPolicy` for the
 * keys). Makes no request.
 *
 * @param tracker The policy's `tracker` section (`kind: linear`).
 * @param env Environment for `$VAR` and the `LINEAR_API_KEY` fallback. (Default: `process.env`)
 * @param opts The comment key, and logger and transport overrides passed to `createLinearTracker`.
 * @throws PolicyError `tracker_token_missing`, `invalid_tracker_config`.
 */
export function linearTrackerFromPolicy(
  tracker: LinearTrackerPolicy,
  env: NodeJS.ProcessEnv = process.env,
  opts: Partial<Pick<LinearTrackerOptions, 'log' | 'pageSize' | 'timeoutMs' | 'maxRateLimitWaitMs' | 'stateCacheMs'>> &
    Pick<LinearTrackerOptions, 'commentKey'>,
): LinearTracker {
  const kind = String(tracker.kind ?? '')
    .trim()
    .toLowerCase();
  if (kind !== 'linear')
    throw configError('tracker.kind', `linearTrackerFromPolicy needs tracker.kind "linear", got "${tracker.kind}"`);
  return createLinearTracker({ ...linearOptionsFromPolicy(tracker, env), ...opts });
}
