/**
 * The `linear` tracker: Linear's GraphQL API through `@linear/sdk` (profile in
 * specs/trackers/linear.md; Symphony SPEC §11).
 *
 * Owns: slim GraphQL queries sent with `LinearClient.client.rawRequest` (the SDK's model classes
 * dereference nested data and load relations lazily, one request each), scope selection (team key
 * and/or project), pagination, normalization to `Issue`, the idempotent writes Foreman needs
 * (comment with a hidden `<!-- foreman:key=… -->` marker, state move by name, PR link as an
 * attachment), and the mapping of transport/auth/rate-limit/payload failures to `TrackerError`
 * codes. Reading the policy's `tracker` section into options lives here too
 * (`linearTrackerFromPolicy`).
 *
 * Does not own: eligibility (src/dispatch/), choosing the adapter (src/trackers/index.ts) or
 * webhooks (src/server/): Linear pushes changes, so `watch` is a no-op.
 */
import { LinearClient, LinearError } from '@linear/sdk';
import { z } from 'zod';
import { resolveVar } from '../config/load.js';
import { PolicyError, TrackerError } from '../errors.js';
import { createSerializer } from './serialize.js';
import type { BlockerRef, Issue, IssueComment, PostedComment, Tracker } from './types.js';

/** Linear's public GraphQL endpoint. */
export const LINEAR_DEFAULT_ENDPOINT = 'https://api.linear.app/graphql';

/** Where a Linear API key comes from when the policy has none. */
export const LINEAR_API_KEY_ENV = 'LINEAR_API_KEY';

/** The subset of a logger the adapter uses (pino's `Logger` fits). */
export interface LinearTrackerLog {
  warn(obj: object, msg: string): void;
  debug?(obj: object, msg: string): void;
}

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
}

/** Result of `linkPullRequest`. */
export interface LinkedAttachment {
  /** Linear attachment id. */
  id: string;
  /** False when the issue already had an attachment with this URL (nothing was written). */
  created: boolean;
}

/** A `TrackerError` with code `tracker_rate_limited` carries how long to wait, when Linear said. */
export type LinearRateLimitedError = TrackerError & { retryAfterMs?: number };

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
/** Sub-connections (labels, relations) are fetched in one page of this size. */
const NESTED_PAGE_SIZE = 50;
/** `issues(filter: { id: { in } })` is asked in chunks of this many ids. */
const ID_CHUNK = 50;
/** A listing that pages more than this is broken (a cursor loop), not big. */
const MAX_PAGES = 2000;
const KEY_RE = /^[^\s<>]+$/;
/** Tolerates the marker coming back HTML-escaped or backslash-escaped from Linear's Markdown. */
const MARKER_RE = /(?:<|&lt;|\\<)!--[ \t]*foreman:key=([^\s<>&]+?)[ \t]*--(?:>|&gt;|\\>)[ \t]*(?:\r?\n)?/;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const IDENTIFIER_RE = /^([A-Za-z][A-Za-z0-9_]*)-(\d+)$/;

// ---------------------------------------------------------------------------------------------
// GraphQL documents. Each asks only for what normalization needs.

const ISSUE_FIELDS = `
      id
      identifier
      title
      description
      priority
      branchName
      url
      createdAt
      updatedAt
      state { name }
      team { id key }
      assignee { id email }
      labels(first: ${NESTED_PAGE_SIZE}) { nodes { name } }
      inverseRelations(first: ${NESTED_PAGE_SIZE}) { nodes { type issue { id identifier state { name } } } }`;

const ISSUES_QUERY = `query ForemanIssues($filter: IssueFilter, $first: Int, $after: String) {
  issues(filter: $filter, first: $first, after: $after) {
    nodes {${ISSUE_FIELDS}
    }
    pageInfo { hasNextPage endCursor }
  }
}`;

const WORKFLOW_STATES_QUERY = `query ForemanWorkflowStates($filter: WorkflowStateFilter, $first: Int, $after: String) {
  workflowStates(filter: $filter, first: $first, after: $after) {
    nodes { id name type team { id key } }
    pageInfo { hasNextPage endCursor }
  }
}`;

const VIEWER_QUERY = `query ForemanViewer {
  viewer { id email }
}`;

const COMMENTS_QUERY = `query ForemanComments($filter: CommentFilter, $first: Int, $after: String) {
  comments(filter: $filter, first: $first, after: $after) {
    nodes { id body createdAt user { name displayName } botActor { name } }
    pageInfo { hasNextPage endCursor }
  }
}`;

const ISSUE_STATE_QUERY = `query ForemanIssueState($id: String!) {
  issue(id: $id) { id identifier state { id name } team { id key } }
}`;

const ISSUE_UPDATE_MUTATION = `mutation ForemanIssueUpdate($id: String!, $input: IssueUpdateInput!) {
  issueUpdate(id: $id, input: $input) { success issue { id state { name } } }
}`;

const COMMENT_CREATE_MUTATION = `mutation ForemanCommentCreate($input: CommentCreateInput!) {
  commentCreate(input: $input) { success comment { id } }
}`;

const COMMENT_UPDATE_MUTATION = `mutation ForemanCommentUpdate($id: String!, $input: CommentUpdateInput!) {
  commentUpdate(id: $id, input: $input) { success comment { id } }
}`;

const ATTACHMENTS_QUERY = `query ForemanAttachments($id: String!, $url: String!) {
  issue(id: $id) {
    id
    attachments(filter: { url: { eq: $url } }, first: 10) { nodes { id url title } }
  }
}`;

const ATTACHMENT_LINK_MUTATION = `mutation ForemanAttachmentLinkUrl($issueId: String!, $url: String!, $title: String) {
  attachmentLinkURL(issueId: $issueId, url: $url, title: $title) { success attachment { id url } }
}`;

// ---------------------------------------------------------------------------------------------
// Response shapes (only what we select). Anything else is `tracker_payload_invalid`.

const pageInfoSchema = z.object({ hasNextPage: z.boolean(), endCursor: z.string().nullish() });
const connectionSchema = z.object({ nodes: z.array(z.unknown()), pageInfo: pageInfoSchema });
const workflowStateSchema = z.object({
  id: z.string().min(1),
  name: z.string(),
  type: z.string().nullish(),
  team: z.object({ id: z.string(), key: z.string() }).nullish(),
});
const commentSchema = z.object({
  id: z.string().min(1),
  body: z.string(),
  createdAt: z.string(),
  user: z.object({ name: z.string().nullish(), displayName: z.string().nullish() }).nullish(),
  botActor: z.object({ name: z.string().nullish() }).nullish(),
});
const issueStateSchema = z.object({
  issue: z.object({
    id: z.string().min(1),
    identifier: z.string(),
    state: z.object({ id: z.string(), name: z.string() }),
    team: z.object({ id: z.string().min(1), key: z.string() }),
  }),
});
const mutationResultSchema = (root: string, child: string) =>
  z.object({ [root]: z.object({ success: z.boolean(), [child]: z.object({ id: z.string().min(1) }).nullish() }) });
const attachmentsSchema = z.object({
  issue: z.object({
    id: z.string(),
    attachments: z.object({
      nodes: z.array(z.object({ id: z.string().min(1), url: z.string(), title: z.string().nullish() })),
    }),
  }),
});
const viewerSchema = z.object({ viewer: z.object({ id: z.string().min(1), email: z.string().nullish() }) });

type WorkflowStateNode = z.infer<typeof workflowStateSchema>;

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
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const maxRateLimitWaitMs = opts.maxRateLimitWaitMs ?? 10_000;
  const stateCacheMs = opts.stateCacheMs ?? 300_000;
  const log = opts.log;
  const teamKey = opts.teamKey?.trim() || null;
  const project = parseProjectRef(opts.projectSlug);
  const assignee = opts.assignee?.trim() || null;

  const client = new LinearClient({ apiKey, apiUrl: endpoint });

  // Server text may echo what it was sent; the key must never reach a message or a log line.
  const redact = (text: string): string => text.split(apiKey).join('[redacted]');

  /** One GraphQL request with the time limit, one short rate-limit wait, and error mapping. */
  const request = async (
    op: string,
    query: string,
    variables: Record<string, unknown>,
  ): Promise<Record<string, unknown>> => {
    for (let attempt = 0; ; attempt++) {
      let timer: NodeJS.Timeout | undefined;
      try {
        const timeout = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new RequestTimeout()), timeoutMs);
          timer.unref();
        });
        const res = await Promise.race([
          client.client.rawRequest<unknown, Record<string, unknown>>(query, variables),
          timeout,
        ]);
        if (!isRecord(res.data)) {
          throw new TrackerError('tracker_payload_invalid', `Linear ${op}: the response has no data object`, {
            retryable: true,
          });
        }
        log?.debug?.({ op }, 'linear request ok');
        return res.data;
      } catch (err) {
        const mapped = toTrackerError(err, op, endpoint, redact);
        const wait = (mapped as LinearRateLimitedError).retryAfterMs;
        if (
          mapped.code === 'tracker_rate_limited' &&
          attempt === 0 &&
          wait !== undefined &&
          wait <= maxRateLimitWaitMs
        ) {
          log?.warn({ op, wait_ms: wait }, 'Linear rate limit reached; waiting before one retry');
          await sleep(wait);
          continue;
        }
        throw mapped;
      } finally {
        clearTimeout(timer);
      }
    }
  };

  const parse = <T>(op: string, schema: z.ZodType<T>, data: unknown): T => {
    const result = schema.safeParse(data);
    if (result.success) return result.data;
    throw new TrackerError(
      'tracker_payload_invalid',
      `Linear ${op}: unexpected response shape (${redact(summarizeZod(result.error))})`,
      {
        retryable: false,
      },
    );
  };

  /** Every node of a connection at `data[root]`, following `endCursor` until the last page. */
  const paginate = async (
    op: string,
    query: string,
    root: string,
    variables: Record<string, unknown>,
  ): Promise<unknown[]> => {
    const nodes: unknown[] = [];
    const seen = new Set<string>();
    let after: string | null = null;
    for (let page = 0; page < MAX_PAGES; page++) {
      const data = await request(op, query, { ...variables, first: pageSize, after });
      const conn = parse(op, z.object({ [root]: connectionSchema }), data)[root] as z.infer<typeof connectionSchema>;
      nodes.push(...conn.nodes);
      if (!conn.pageInfo.hasNextPage) return nodes;
      const cursor = conn.pageInfo.endCursor;
      if (!cursor || seen.has(cursor)) {
        throw new TrackerError(
          'tracker_payload_invalid',
          `Linear ${op}: pagination is broken (hasNextPage without a new endCursor)`,
          {
            retryable: false,
          },
        );
      }
      seen.add(cursor);
      after = cursor;
    }
    throw new TrackerError(
      'tracker_payload_invalid',
      `Linear ${op}: more than ${MAX_PAGES} pages; pagination looks broken`,
      { retryable: false },
    );
  };

  const scopeFilter = (): Record<string, unknown> | null => {
    const parts: Record<string, unknown> = {};
    if (teamKey) parts.team = { key: { eqIgnoreCase: teamKey } };
    if (project) parts.project = project.filter;
    return Object.keys(parts).length === 0 ? null : parts;
  };
  const scoped = (extra: Record<string, unknown>): Record<string, unknown> => {
    const scope = scopeFilter();
    return scope === null ? extra : { and: [scope, extra] };
  };

  // Workflow states: asked once per cache period, per team (or the whole workspace without a team).
  type StateCache = { at: number; states: Promise<WorkflowStateNode[]> };
  const stateCache = new Map<string, StateCache>();
  const workflowStates = (
    teamFilter: Record<string, unknown> | null,
    cacheKey: string,
    fresh = false,
  ): Promise<WorkflowStateNode[]> => {
    const hit = stateCache.get(cacheKey);
    if (!fresh && hit && Date.now() - hit.at < stateCacheMs) return hit.states;
    const states = paginate('workflowStates', WORKFLOW_STATES_QUERY, 'workflowStates', {
      filter: teamFilter === null ? null : { team: teamFilter },
    }).then((nodes) => nodes.map((n) => parse('workflowStates', workflowStateSchema, n)));
    const entry = { at: Date.now(), states };
    stateCache.set(cacheKey, entry);
    states.catch(() => {
      if (stateCache.get(cacheKey) === entry) stateCache.delete(cacheKey);
    });
    return states;
  };

  let viewer: Promise<{ id: string; email: string | null }> | undefined;
  const viewerId = async (): Promise<string> => {
    viewer ??= request('viewer', VIEWER_QUERY, {}).then((data) => {
      const v = parse('viewer', viewerSchema, data).viewer;
      return { id: v.id, email: v.email ?? null };
    });
    try {
      return (await viewer).id;
    } catch (err) {
      viewer = undefined;
      throw err;
    }
  };

  /** The routing predicate for `dispatchable`, resolved once per listing. */
  const assigneeRule = async (): Promise<(a: { id: string | null; email: string | null }) => boolean> => {
    if (assignee === null) return () => true;
    if (assignee.toLowerCase() === 'me') {
      const me = await viewerId();
      return (a) => a.id === me;
    }
    if (assignee.includes('@')) {
      const email = assignee.toLowerCase();
      return (a) => a.email !== null && a.email.toLowerCase() === email;
    }
    return (a) => a.id === assignee;
  };

  /** Issues matching `filter` (paged). Malformed records are skipped and logged, or thrown when `strict`. */
  const listIssues = async (op: string, filter: Record<string, unknown>, strict: boolean): Promise<Issue[]> => {
    const [nodes, rule] = await Promise.all([paginate(op, ISSUES_QUERY, 'issues', { filter }), assigneeRule()]);
    const out: Issue[] = [];
    const ids = new Set<string>();
    for (const node of nodes) {
      const issue = normalizeIssue(node, rule);
      if (typeof issue === 'string') {
        if (strict)
          throw new TrackerError('tracker_payload_invalid', `Linear ${op}: ${redact(issue)}`, { retryable: false });
        log?.warn({ op, problem: redact(issue) }, 'Linear issue skipped: malformed record');
        continue;
      }
      if (ids.has(issue.id)) continue;
      ids.add(issue.id);
      out.push(issue);
    }
    return out;
  };

  const requireId = (what: string, id: string): string => {
    const trimmed = typeof id === 'string' ? id.trim() : '';
    if (trimmed === '')
      throw new TrackerError('tracker_payload_invalid', `${what}: the issue id is blank`, { retryable: false });
    return trimmed;
  };

  /** Serializes writes per key within this process, so two retries of one activity never race. */
  const serialized = createSerializer();

  const listComments = async (issueId: string, sinceIso: string | null): Promise<IssueComment[]> => {
    const filter: Record<string, unknown> = { issue: { id: { eq: issueId } } };
    if (sinceIso !== null) filter.createdAt = { gt: sinceIso };
    const nodes = await paginate('comments', COMMENTS_QUERY, 'comments', { filter });
    const comments = nodes.map((n) => toComment(parse('comments', commentSchema, n)));
    return comments.sort((a, b) => Date.parse(a.created_at) - Date.parse(b.created_at) || compareStrings(a.id, b.id));
  };

  const tracker: LinearTracker = {
    kind: 'linear',
    endpoint,
    teamKey,
    projectSlug: project?.raw ?? null,
    activeStates: Object.freeze([...opts.activeStates]),
    terminalStates: Object.freeze([...opts.terminalStates]),

    async fetchIssuesByStates(states) {
      const wanted = new Set(
        states
          .filter((s) => typeof s === 'string')
          .map(normalize)
          .filter((s) => s !== ''),
      );
      if (wanted.size === 0) return [];
      // `state.name.in` is exact; map the wanted names onto Linear's spelling first.
      const known = teamKey
        ? await workflowStates({ key: { eqIgnoreCase: teamKey } }, `team:${teamKey.toLowerCase()}`)
        : await workflowStates(null, '*');
      const names = [...new Set(known.map((s) => s.name).filter((n) => wanted.has(normalize(n))))];
      if (names.length === 0) {
        log?.debug?.({ states: [...wanted] }, 'no Linear workflow state has these names');
        return [];
      }
      const issues = await listIssues('issues', scoped({ state: { name: { in: names } } }), false);
      return issues.filter((i) => wanted.has(normalize(i.state)));
    },

    async fetchIssuesByIds(ids) {
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
        const issues = await listIssues('issues', scoped({ id: { in: chunk } }), true);
        out.push(...issues.filter((issue) => wanted.has(issue.id)));
      }
      return out;
    },

    async fetchIssueByIdentifier(identifier) {
      const match = IDENTIFIER_RE.exec(typeof identifier === 'string' ? identifier.trim() : '');
      if (match === null) return null;
      const [, key, number] = match as unknown as [string, string, string];
      // A filter (not `issue(id:)`) so an unknown identifier is an empty list, and the scope applies.
      const issues = await listIssues(
        'issues',
        scoped({ team: { key: { eqIgnoreCase: key } }, number: { eq: Number(number) } }),
        true,
      );
      return issues.find((i) => i.identifier.toLowerCase() === identifier.trim().toLowerCase()) ?? null;
    },

    async fetchComments(issueId, since) {
      const id = requireId('fetchComments', issueId);
      let sinceIso: string | null = null;
      if (since !== undefined) {
        const ms = Date.parse(since);
        if (Number.isNaN(ms)) {
          throw new TrackerError(
            'tracker_payload_invalid',
            `fetchComments: since "${since}" is not an RFC 3339 timestamp`,
            { retryable: false },
          );
        }
        sinceIso = new Date(ms).toISOString();
      }
      const comments = await listComments(id, sinceIso);
      if (sinceIso === null) return comments;
      const sinceMs = Date.parse(sinceIso);
      return comments.filter((c) => Date.parse(c.created_at) > sinceMs);
    },

    async upsertComment(issueId, key, body) {
      const id = requireId('upsertComment', issueId);
      if (typeof key !== 'string' || !KEY_RE.test(key)) {
        throw new TrackerError(
          'tracker_payload_invalid',
          `Comment key "${String(key)}" must be non-empty without spaces, "<" or ">"`,
          {
            retryable: false,
          },
        );
      }
      const text = renderForemanBody(key, body);
      return serialized(`comment\0${id}\0${key}`, async (): Promise<PostedComment> => {
        const existing = (await listComments(id, null)).find((c) => c.key === key);
        if (existing) {
          if (existing.body === stripMarker(text).body) return { id: existing.id, created: false };
          const data = await request('commentUpdate', COMMENT_UPDATE_MUTATION, {
            id: existing.id,
            input: { body: text },
          });
          const res = parse('commentUpdate', mutationResultSchema('commentUpdate', 'comment'), data)
            .commentUpdate as MutationResult;
          if (!res.success) throw unsuccessful('commentUpdate');
          return { id: existing.id, created: false };
        }
        const data = await request('commentCreate', COMMENT_CREATE_MUTATION, { input: { issueId: id, body: text } });
        const res = parse('commentCreate', mutationResultSchema('commentCreate', 'comment'), data)
          .commentCreate as MutationResult;
        if (!res.success || !res.comment) throw unsuccessful('commentCreate');
        return { id: res.comment.id, created: true };
      });
    },

    async moveIssue(issueId, state) {
      const id = requireId('moveIssue', issueId);
      const target = typeof state === 'string' ? state.trim() : '';
      if (target === '' || /[\r\n]/.test(target)) {
        throw new TrackerError(
          'tracker_payload_invalid',
          `moveIssue: state "${String(state)}" must be one non-empty line`,
          { retryable: false },
        );
      }
      await serialized(`move\0${id}`, async () => {
        const current = parse('issue', issueStateSchema, await request('issue', ISSUE_STATE_QUERY, { id })).issue;
        if (normalize(current.state.name) === normalize(target)) return;
        const teamId = current.team.id;
        const find = (states: WorkflowStateNode[]) => states.find((s) => normalize(s.name) === normalize(target));
        let states = await workflowStates({ id: { eq: teamId } }, `id:${teamId}`);
        let found = find(states);
        if (!found) {
          // The cache may predate a state someone just added.
          states = await workflowStates({ id: { eq: teamId } }, `id:${teamId}`, true);
          found = find(states);
        }
        if (!found) {
          const names = states.map((s) => `"${s.name}"`).join(', ');
          throw new TrackerError(
            'tracker_state_unknown',
            `Linear team ${current.team.key} has no workflow state "${target}" (issue ${current.identifier}); its states are ${names}. ` +
              'Fix the state name in the policy (handoff.*_state, tracker.active_states) or add the state in Linear.',
            { retryable: false },
          );
        }
        const data = await request('issueUpdate', ISSUE_UPDATE_MUTATION, { id, input: { stateId: found.id } });
        const res = parse('issueUpdate', mutationResultSchema('issueUpdate', 'issue'), data)
          .issueUpdate as MutationResult;
        if (!res.success) throw unsuccessful('issueUpdate');
      });
    },

    watch() {
      return () => {};
    },

    async linkPullRequest(issueId, url, title) {
      const id = requireId('linkPullRequest', issueId);
      const link = typeof url === 'string' ? url.trim() : '';
      if (!isHttpUrl(link)) {
        throw new TrackerError('tracker_payload_invalid', `linkPullRequest: "${String(url)}" is not an http(s) URL`, {
          retryable: false,
        });
      }
      const name = typeof title === 'string' && title.trim() !== '' ? title.trim() : link;
      return serialized(`link\0${id}\0${link}`, async (): Promise<LinkedAttachment> => {
        const found = parse('issue', attachmentsSchema, await request('issue', ATTACHMENTS_QUERY, { id, url: link }));
        const existing = found.issue.attachments.nodes.find((a) => a.url === link);
        if (existing) return { id: existing.id, created: false };
        const data = await request('attachmentLinkURL', ATTACHMENT_LINK_MUTATION, {
          issueId: id,
          url: link,
          title: name,
        });
        const res = parse('attachmentLinkURL', mutationResultSchema('attachmentLinkURL', 'attachment'), data)
          .attachmentLinkURL as MutationResult;
        if (!res.success || !res.attachment) throw unsuccessful('attachmentLinkURL');
        return { id: res.attachment.id, created: true };
      });
    },
  };
  return tracker;
}

// ---------------------------------------------------------------------------------------------
// Policy

/** The policy's `tracker` section as the loader leaves it (legacy keys are also copied into `provider`). */
export interface LinearTrackerPolicy {
  kind: string;
  provider?: Record<string, unknown>;
  active_states?: string[];
  terminal_states?: string[];
  [legacy: string]: unknown;
}

/**
 * Reads a policy `tracker` section into `createLinearTracker` options. A Symphony `WORKFLOW.md`
 * loads as-is: `api_key`, `endpoint`, `project_slug`, `assignee` may sit at the tracker level or in
 * `tracker.provider` (which wins); `team_key` scopes by team. `$VAR` values are resolved against
 * `env` (an empty variable counts as unset, SPEC §5.3.1).
 *
 * Keys (all in `tracker.provider`): `api_key` (Default: env `LINEAR_API_KEY`), `endpoint`
 * (Default: `https://api.linear.app/graphql`), `project_slug`, `team_key` (one of the two is
 * required), `assignee`.
 *
 * @param tracker The policy's `tracker` section.
 * @param env Environment for `$VAR` and the `LINEAR_API_KEY` fallback.
 * @throws PolicyError `tracker_token_missing` (no key: `tracker.provider.api_key`),
 *   `invalid_tracker_config` (a key of the wrong type, a bad endpoint, or no scope).
 */
export function linearOptionsFromPolicy(
  tracker: LinearTrackerPolicy,
  env: NodeJS.ProcessEnv = process.env,
): Omit<LinearTrackerOptions, 'log'> {
  const provider = isRecord(tracker.provider) ? tracker.provider : {};
  const read = (key: string): string | undefined => {
    const value = provider[key] ?? tracker[key];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'string')
      throw configError(`tracker.provider.${key}`, `tracker.provider.${key} must be a string`);
    return resolveVar(value, env)?.trim() || undefined;
  };

  const apiKey = read('api_key') ?? (env[LINEAR_API_KEY_ENV]?.trim() || undefined);
  if (apiKey === undefined) throw tokenMissing();
  const endpoint = read('endpoint') ?? LINEAR_DEFAULT_ENDPOINT;
  checkEndpoint(endpoint, 'tracker.provider.endpoint');
  const projectSlug = read('project_slug');
  const teamKey = read('team_key');
  if (projectSlug === undefined && teamKey === undefined) {
    throw configError(
      'tracker.provider.project_slug',
      "The linear tracker needs a scope: set tracker.provider.project_slug (the project's slug from its URL) and/or tracker.provider.team_key (e.g. ENG)",
    );
  }
  const assignee = read('assignee');
  const states = (value: unknown, key: string, fallback: string[]): string[] => {
    if (value === undefined) return fallback;
    if (!Array.isArray(value) || value.some((s) => typeof s !== 'string'))
      throw configError(`tracker.${key}`, `tracker.${key} must be a list of state names`);
    return value as string[];
  };
  return {
    apiKey,
    apiUrl: endpoint,
    ...(teamKey !== undefined ? { teamKey } : {}),
    ...(projectSlug !== undefined ? { projectSlug } : {}),
    ...(assignee !== undefined ? { assignee } : {}),
    activeStates: states(tracker.active_states, 'active_states', ['Todo', 'In Progress']),
    terminalStates: states(tracker.terminal_states, 'terminal_states', [
      'Done',
      'Closed',
      'Cancelled',
      'Canceled',
      'Duplicate',
    ]),
  };
}

/**
 * Builds the Linear tracker from a policy `tracker` section (see `linearOptionsFromPolicy` for the
 * keys). Makes no request.
 *
 * @param tracker The policy's `tracker` section (`kind: linear`).
 * @param env Environment for `$VAR` and the `LINEAR_API_KEY` fallback. (Default: `process.env`)
 * @param opts Logger and transport overrides passed to `createLinearTracker`.
 * @throws PolicyError `tracker_token_missing`, `invalid_tracker_config`.
 */
export function linearTrackerFromPolicy(
  tracker: LinearTrackerPolicy,
  env: NodeJS.ProcessEnv = process.env,
  opts: Partial<
    Pick<LinearTrackerOptions, 'log' | 'pageSize' | 'timeoutMs' | 'maxRateLimitWaitMs' | 'stateCacheMs'>
  > = {},
): LinearTracker {
  const kind = String(tracker.kind ?? '')
    .trim()
    .toLowerCase();
  if (kind !== 'linear')
    throw configError('tracker.kind', `linearTrackerFromPolicy needs tracker.kind "linear", got "${tracker.kind}"`);
  return createLinearTracker({ ...linearOptionsFromPolicy(tracker, env), ...opts });
}

// ---------------------------------------------------------------------------------------------
// Normalization (Symphony SPEC §4.1.1, §11.3)

/** Returns the normalized issue, or a sentence saying why the record is unusable. */
function normalizeIssue(
  node: unknown,
  isRouted: (a: { id: string | null; email: string | null }) => boolean,
): Issue | string {
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
    created_at: normalizeTime(node.createdAt),
    updated_at: normalizeTime(node.updatedAt),
    native_ref: { id, identifier, teamId: team ? nonBlank(team.id) : null },
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
    if (!isRecord(n) || typeof n.type !== 'string' || normalize(n.type) !== 'blocks' || !isRecord(n.issue)) continue;
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

function normalizeTime(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : new Date(ms).toISOString();
}

// ---------------------------------------------------------------------------------------------
// Comments

/** Foreman's comment body: the hidden marker line, then the text. */
function renderForemanBody(key: string, body: string): string {
  const text = typeof body === 'string' ? body.trim() : '';
  return `<!-- foreman:key=${key} -->\n${text}`;
}

function stripMarker(text: string): { key: string | null; body: string } {
  const match = MARKER_RE.exec(text);
  if (match === null) return { key: null, body: text.trim() };
  return {
    key: match[1] ?? null,
    body: (text.slice(0, match.index) + text.slice(match.index + match[0].length)).trim(),
  };
}

function toComment(node: z.infer<typeof commentSchema>): IssueComment {
  const { key, body } = stripMarker(node.body);
  const author =
    key !== null ? 'foreman' : node.user?.displayName || node.user?.name || node.botActor?.name || 'unknown';
  return {
    id: node.id,
    author,
    body,
    created_at: normalizeTime(node.createdAt) ?? node.createdAt,
    by_foreman: key !== null,
    key,
  };
}

// ---------------------------------------------------------------------------------------------
// Errors

class RequestTimeout extends Error {}

interface GraphQLErrorLike {
  message?: string;
  extensions?: { code?: string; type?: string; userPresentableMessage?: string };
}

/**
 * Maps what `rawRequest` throws to a `TrackerError`. The SDK's own classification treats any 4xx
 * without a GraphQL error as an authentication error, so the status and `extensions.code` are read
 * here instead.
 */
function toTrackerError(err: unknown, op: string, endpoint: string, redact: (s: string) => string): TrackerError {
  if (err instanceof TrackerError) return err;
  const host = safeHost(endpoint);
  if (err instanceof RequestTimeout) {
    return new TrackerError('tracker_request_failed', `Linear ${op}: no answer from ${host} in time; retrying later`, {
      cause: err,
    });
  }
  if (err instanceof LinearError) {
    const raw = (err.raw ?? {}) as {
      response?: { errors?: GraphQLErrorLike[]; headers?: Headers; error?: string; status?: number };
    };
    const response = raw.response ?? {};
    const status = err.status ?? response.status;
    const errors = Array.isArray(response.errors) ? response.errors : [];
    const codes = new Set(errors.map((e) => String(e?.extensions?.code ?? '').toUpperCase()));
    const types = new Set(errors.map((e) => String(e?.extensions?.type ?? '').toLowerCase()));
    const detail = redact(
      errors
        .map((e) => e?.extensions?.userPresentableMessage ?? e?.message ?? '')
        .filter(Boolean)
        .join('; '),
    );
    const statusText = status === undefined ? '' : ` (HTTP ${status})`;

    if (status === 429 || codes.has('RATELIMITED') || types.has('ratelimited')) {
      const retryAfterMs = retryAfterFrom(response.headers);
      const when = retryAfterMs === undefined ? 'later' : `in ${Math.ceil(retryAfterMs / 1000)} s`;
      const e: LinearRateLimitedError = new TrackerError(
        'tracker_rate_limited',
        `Linear ${op}: rate limited${statusText}; retry ${when}`,
        {
          cause: err,
        },
      );
      if (retryAfterMs !== undefined) e.retryAfterMs = retryAfterMs;
      return e;
    }
    if (status === 401 || codes.has('AUTHENTICATION_ERROR') || types.has('authentication error')) {
      return new TrackerError(
        'tracker_unauthorized',
        `Linear ${op}: the API key was rejected${statusText}. Set LINEAR_API_KEY or tracker.provider.api_key ($VAR allowed) to a valid Linear API key`,
        { cause: err, retryable: false },
      );
    }
    if (status === 403 || codes.has('FORBIDDEN') || types.has('forbidden')) {
      return new TrackerError(
        'tracker_unauthorized',
        `Linear ${op}: the API key may not do this${statusText}${detail ? `: ${detail}` : ''}. Set LINEAR_API_KEY or tracker.provider.api_key to a key with access to the team/project`,
        { cause: err, retryable: false },
      );
    }
    if (status !== undefined && status >= 500) {
      return new TrackerError(
        'tracker_request_failed',
        `Linear ${op}: server error${statusText} from ${host}; retrying later`,
        { cause: err },
      );
    }
    if (errors.length > 0) {
      if (/not found|could not find/i.test(detail)) {
        return new TrackerError('tracker_not_found', `Linear ${op}: ${detail}`, { cause: err, retryable: false });
      }
      const transient =
        codes.has('INTERNAL_SERVER_ERROR') ||
        codes.has('LOCK_TIMEOUT') ||
        types.has('internal error') ||
        types.has('lock timeout');
      return new TrackerError(
        'tracker_payload_invalid',
        `Linear ${op}: GraphQL error${statusText}: ${detail || 'no message'}`,
        {
          cause: err,
          retryable: transient,
        },
      );
    }
    if (status !== undefined && status >= 200 && status < 300) {
      return new TrackerError(
        'tracker_payload_invalid',
        `Linear ${op}: the response${statusText} is not GraphQL JSON`,
        { cause: err },
      );
    }
    const retryable = status === undefined || status === 408 || status === 409 || status === 425;
    return new TrackerError(
      'tracker_request_failed',
      `Linear ${op}: request rejected${statusText} by ${host}; check tracker.provider.endpoint (it must be Linear's GraphQL URL)`,
      { cause: err, retryable },
    );
  }
  if (err instanceof SyntaxError) {
    return new TrackerError(
      'tracker_payload_invalid',
      `Linear ${op}: the response is not valid JSON (${redact(err.message)})`,
      { cause: err },
    );
  }
  const reason = redact(describeNetworkError(err));
  return new TrackerError('tracker_request_failed', `Linear ${op}: cannot reach ${host} (${reason}); retrying later`, {
    cause: err,
  });
}

/** Wait in ms from `Retry-After` (seconds or HTTP date) or `X-RateLimit-Requests-Reset` (epoch ms). */
function retryAfterFrom(headers: Headers | undefined): number | undefined {
  if (!headers || typeof headers.get !== 'function') return undefined;
  const now = Date.now();
  const retryAfter = headers.get('retry-after');
  if (retryAfter !== null && retryAfter.trim() !== '') {
    const seconds = Number(retryAfter);
    if (Number.isFinite(seconds)) return Math.max(0, Math.round(seconds * 1000));
    const at = Date.parse(retryAfter);
    if (!Number.isNaN(at)) return Math.max(0, at - now);
  }
  for (const name of ['x-ratelimit-requests-reset', 'x-ratelimit-complexity-reset']) {
    const value = Number(headers.get(name) ?? Number.NaN);
    if (!Number.isFinite(value) || value <= 0) continue;
    // Linear sends epoch milliseconds; accept epoch seconds and plain seconds too.
    if (value > 1e12) return Math.max(0, Math.round(value - now));
    if (value > 1e9) return Math.max(0, Math.round(value * 1000 - now));
    return Math.round(value * 1000);
  }
  return undefined;
}

function describeNetworkError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as { cause?: unknown }).cause;
  const code = (cause as NodeJS.ErrnoException | undefined)?.code;
  return code ? `${err.message}: ${code}` : err.message;
}

function unsuccessful(op: string): TrackerError {
  return new TrackerError('tracker_payload_invalid', `Linear ${op}: the mutation reported success: false`, {
    retryable: false,
  });
}

function tokenMissing(): PolicyError {
  const message = `The linear tracker needs an API key: set ${LINEAR_API_KEY_ENV} or tracker.provider.api_key ($VAR allowed)`;
  return new PolicyError('tracker_token_missing', message, { issues: [{ path: 'tracker.provider.api_key', message }] });
}

function configError(path: string, message: string): PolicyError {
  return new PolicyError('invalid_tracker_config', message, { issues: [{ path, message }] });
}

function checkEndpoint(endpoint: string, key: string): void {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw configError(key, `${key} "${endpoint}" is not a URL; use ${LINEAR_DEFAULT_ENDPOINT}`);
  }
  const local = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && local)) {
    throw configError(key, `${key} "${endpoint}" must use https (http only for localhost)`);
  }
}

// ---------------------------------------------------------------------------------------------
// Small helpers

type MutationResult = {
  success: boolean;
  comment?: { id: string } | null;
  issue?: { id: string } | null;
  attachment?: { id: string } | null;
};

/** The project scope: a UUID matches `project.id`; anything else matches `slugId` (whole or its hex tail). */
function parseProjectRef(value: string | undefined): { raw: string; filter: Record<string, unknown> } | null {
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

function normalize(s: string): string {
  return s.trim().toLowerCase();
}

function nonBlank(value: unknown): string | null {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : null;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:';
  } catch {
    return false;
  }
}

function safeHost(endpoint: string): string {
  try {
    return new URL(endpoint).host;
  } catch {
    return 'the Linear endpoint';
  }
}

function summarizeZod(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
    .join('; ');
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
