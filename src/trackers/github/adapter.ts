/**
 * The `github` tracker: the issues of one GitHub repository through the REST API (profile:
 * specs/trackers/github.md). Wires the client (./client.ts), the REST calls (./queries.ts) and
 * normalization (./normalize.ts) into the `Tracker` contract: listings, the state model on top of
 * open/closed plus `state: X` labels, idempotent comments and issue creation (hidden
 * `<!-- foreman:key=… -->` marker, src/trackers/marker.ts).
 *
 * It does not receive webhooks (the HTTP server does), open pull requests (src/scm/github.ts) or
 * decide eligibility (src/dispatch/).
 */
import { TrackerError } from '../../errors.js';
import type { GitHubClientOptions } from '../../github/client.js';
import type { CommentKey } from '../marker.js';
import { createSerializer, type Serializer } from '../serialize.js';
import {
  checkNewIssue,
  isRecord,
  mapLimit,
  normalizeName,
  parseSince,
  requireKey,
  requireStateName,
} from '../shared.js';
import type { CreatedIssue, Issue, IssueComment, NewIssue, PostedComment, Tracker } from '../types.js';
import { createGitHubContext, notAnIssue, type GitHubContext } from './client.js';
import {
  CLOSED_NAMES,
  GITHUB_DEFAULT_OPEN_STATE,
  isPullRequest,
  labelNames,
  markerKey,
  parseIdentifier,
  parseIssueNumber,
  renderComment,
  renderIssueBody,
  stateLabelOf,
  toComment,
  toIssue,
  userOf,
  type GitHubScope,
  type GitHubSelf,
} from './normalize.js';
import {
  addLabels,
  createComment,
  ensureLabel,
  getIssueRaw,
  getTokenUser,
  hasWritePermission,
  labelActors,
  listAllIssues,
  listComments,
  listRepoComments,
  listOpenIssues,
  listRecentClosedIssues,
  postIssue,
  removeLabel,
  requireIssue,
  setIssueState,
  updateComment,
} from './queries.js';

/** Options of `createGitHubTracker`. */
export interface GitHubTrackerOptions extends GitHubClientOptions {
  /** Repository owner (user or organization), e.g. `acme`. */
  owner: string;
  /** Repository name, e.g. `app`; also the identifier prefix (`app-42`). */
  repo: string;
  /**
   * `tracker.active_states`. Accepted like every adapter's; reads do not need it (every open issue
   * is listed and filtered by its mapped state).
   */
  activeStates: string[];
  /** `tracker.terminal_states`: moving an issue to one of these closes it (case-insensitive). */
  terminalStates: string[];
  /** Prefix of the labels that carry an open issue's state. (Default: `state: `) */
  stateLabelPrefix?: string;
  /** The installation's comment key (src/trackers/marker.ts `loadCommentKey`): signs and checks Foreman's markers. */
  commentKey: CommentKey;
}

/** A `Tracker` over the issues of one GitHub repository. */
export type GitHubTracker = Tracker & { readonly owner: string; readonly repo: string };

/** Terminal targets that close as "not planned" rather than "completed". */
const NOT_PLANNED_TARGETS = new Set(['cancelled', 'canceled', 'duplicate', 'not planned', "won't do", 'wontfix']);
/** Parallel GETs of `fetchIssuesByIds`. */
const ID_FETCH_CONCURRENCY = 6;

/** What every method of one tracker shares. */
interface GitHubInner {
  ctx: GitHubContext;
  scope: GitHubScope;
  /** Normalized terminal state names. */
  terminal: Set<string>;
  /**
   * Writes to one issue are serialized within this process: two upserts never both create, two
   * moves never interleave their label changes.
   */
  serialized: Serializer;
  commentKey: CommentKey;
  /** The token's user, asked once (`GET /user`); a failed ask is asked again next time. */
  self: Promise<GitHubSelf> | undefined;
}

/**
 * Creates the GitHub tracker for one repository (profile: specs/trackers/github.md).
 *
 * - id: the issue number as a string (`"42"`); identifier: `<repo>-<number>` (`app-42`);
 *   native_ref: `{ owner, repo, number, node_id, html_url }`.
 * - state: closed → `Done` (`state_reason` `not_planned` → `Cancelled`, `duplicate` →
 *   `Duplicate`); open → the rest of its first label starting with `stateLabelPrefix`
 *   (`state: In Progress` → `In Progress`), else `Todo`.
 * - Pull requests returned by the issues API are skipped.
 *
 * Errors are `TrackerError` (Symphony SPEC §11.4): `tracker_unauthorized` (401/403, permanent),
 * `tracker_not_found` (repository or issue missing, permanent), `tracker_rate_limited`
 * (retryable), `tracker_request_failed` (5xx/transport after retries: retryable; other 4xx:
 * permanent), `tracker_payload_invalid` (malformed GitHub payload or bad argument, permanent).
 */
export function createGitHubTracker(opts: GitHubTrackerOptions): GitHubTracker {
  const ctx = createGitHubContext(opts);
  const t: GitHubInner = {
    ctx,
    scope: { owner: opts.owner, repo: opts.repo, slug: ctx.slug, prefix: opts.stateLabelPrefix ?? 'state: ' },
    terminal: new Set(opts.terminalStates.map(normalizeName)),
    serialized: createSerializer(),
    commentKey: opts.commentKey,
    self: undefined,
  };
  return {
    kind: 'github',
    owner: opts.owner,
    repo: opts.repo,
    fetchIssuesByStates: (states) => fetchIssuesByStates(t, states),
    async fetchIssuesByIds(ids) {
      const numbers = [...new Set(ids.map(parseIssueNumber).filter((n): n is number => n !== null))];
      if (numbers.length === 0) return [];
      const raws = await mapLimit(numbers, ID_FETCH_CONCURRENCY, (n) => getIssueRaw(ctx, n));
      // An id refresh must fail rather than omit a malformed record (Symphony SPEC §11.1).
      return raws.filter((r): r is Record<string, unknown> => r !== null).map((r) => toIssue(t.scope, r));
    },
    async fetchIssueByIdentifier(identifier) {
      const number = parseIdentifier(identifier, opts.owner, opts.repo);
      if (number === null) return null;
      const raw = await getIssueRaw(ctx, number);
      return raw === null ? null : toIssue(t.scope, raw);
    },
    fetchComments: (issueId, since) => fetchComments(t, issueId, since),
    fetchCommentsSince: (issueIds, since) => fetchCommentsSince(t, issueIds, since),
    upsertComment: (issueId, key, body) => upsertComment(t, issueId, key, body),
    async moveIssue(issueId, state) {
      const target = requireStateName(state);
      await t.serialized(`move\0${issueId.trim()}`, () => move(t, issueId, target));
    },
    createIssue: (issue) => createIssue(t, issue),
    writeAccess: (user) => hasWritePermission(ctx, user.id),
    async labelAppliers(issue, label) {
      const number = parseIssueNumber(issue.id);
      if (number === null) return [];
      const actors = await labelActors(ctx, number, label);
      return actors.map((a) => userOf(a, null)).filter((u): u is NonNullable<typeof u> => u !== null);
    },
    watch() {
      // GitHub pushes changes via webhooks (the HTTP server); polling remains the safety net.
      return () => {};
    },
  };
}

/**
 * Normalizes a listing: pull requests are skipped; a malformed record is skipped and logged, as
 * Symphony SPEC §11.1 allows for state listings (it was never safe to dispatch).
 */
function toIssues(t: GitHubInner, raws: unknown[]): Issue[] {
  const out: Issue[] = [];
  for (const raw of raws) {
    if (isPullRequest(raw)) continue;
    try {
      out.push(toIssue(t.scope, raw));
    } catch (err) {
      if (!(err instanceof TrackerError)) throw err;
      t.ctx.log?.warn({ component: 'github', repo: t.scope.slug, code: err.code }, `Skipping an issue: ${err.message}`);
    }
  }
  return out;
}

async function fetchIssuesByStates(t: GitHubInner, states: string[]): Promise<Issue[]> {
  const wanted = new Set(states.map(normalizeName).filter((s) => s !== ''));
  if (wanted.size === 0) return [];
  const wantsOpen = [...wanted].some((s) => !t.terminal.has(s));
  const wantsClosed = [...wanted].some((s) => t.terminal.has(s) || CLOSED_NAMES.has(s));
  const raws: unknown[] = [];
  if (wantsOpen) raws.push(...(await listOpenIssues(t.ctx)));
  if (wantsClosed) raws.push(...(await listRecentClosedIssues(t.ctx)));
  const seen = new Set<string>();
  return toIssues(t, raws).filter((i) => {
    if (seen.has(i.id) || !wanted.has(normalizeName(i.state))) return false;
    seen.add(i.id);
    return true;
  });
}

/** Who Foreman is here (the token's user and the comment key), asked once per tracker. */
async function selfOf(t: GitHubInner): Promise<GitHubSelf> {
  t.self ??= getTokenUser(t.ctx).then((user) => {
    if (user === null)
      t.ctx.log?.warn(
        { component: 'github', repo: t.scope.slug },
        "GET /user is forbidden to this token; Foreman's comments are recognized by their marker's MAC alone",
      );
    return { userId: user?.id ?? null, commentKey: t.commentKey };
  });
  try {
    return await t.self;
  } catch (err) {
    t.self = undefined;
    throw err;
  }
}

async function fetchComments(t: GitHubInner, issueId: string, since: string | undefined): Promise<IssueComment[]> {
  const sinceMs = parseSince(since);
  const number = parseIssueNumber(issueId);
  if (number === null) throw notAnIssue(issueId, t.scope.slug);
  // GitHub's `since` filters on updated_at; created_at is filtered here.
  const [raws, self] = await Promise.all([
    listComments(t.ctx, number, since === undefined ? undefined : new Date(sinceMs).toISOString()),
    selfOf(t),
  ]);
  return raws
    .map((raw) => toComment(raw, self))
    .filter((c) => Date.parse(c.created_at) > sinceMs)
    .sort((a, b) => Date.parse(a.created_at) - Date.parse(b.created_at));
}

/** The repository's comments since `since` (one page loop), keyed by the issue ids asked for. */
async function fetchCommentsSince(
  t: GitHubInner,
  issueIds: string[],
  since: string,
): Promise<Map<string, IssueComment[]>> {
  const sinceMs = parseSince(since);
  const wanted = new Map<number, string>();
  for (const id of issueIds) {
    const n = parseIssueNumber(id);
    if (n !== null) wanted.set(n, id);
  }
  const out = new Map<string, IssueComment[]>();
  if (wanted.size === 0) return out;
  const [raws, self] = await Promise.all([listRepoComments(t.ctx, new Date(sinceMs).toISOString()), selfOf(t)]);
  for (const raw of raws) {
    const number = Number(/\/issues\/(\d+)$/.exec(raw.issue_url as string)?.[1]);
    const id = wanted.get(number);
    if (id === undefined) continue;
    const c = toComment(raw, self);
    if (!(Date.parse(c.created_at) > sinceMs)) continue;
    const list = out.get(id) ?? [];
    list.push(c);
    out.set(id, list);
  }
  for (const list of out.values()) list.sort((a, b) => Date.parse(a.created_at) - Date.parse(b.created_at));
  return out;
}

async function upsertComment(t: GitHubInner, issueId: string, key: string, body: string): Promise<PostedComment> {
  requireKey(key);
  const number = parseIssueNumber(issueId);
  if (number === null) throw notAnIssue(issueId, t.scope.slug);
  return t.serialized(`comment\0${number}`, async (): Promise<PostedComment> => {
    const text = renderComment(key, body, t.commentKey);
    // Only Foreman's own comment with this key is edited; one carrying a forged marker is left alone.
    const [raws, self] = await Promise.all([listComments(t.ctx, number), selfOf(t)]);
    const existing = raws.find((c) => toComment(c, self).key === key);
    if (existing !== undefined) {
      const id = String(existing.id);
      if (existing.body !== text) await updateComment(t.ctx, number, id, text);
      return { id, created: false };
    }
    return { id: await createComment(t.ctx, number, text), created: true };
  });
}

/** `moveIssue` after argument checks (state model: see the file header and the profile). */
async function move(t: GitHubInner, issueId: string, target: string): Promise<void> {
  const { ctx, scope } = t;
  const raw = await requireIssue(ctx, issueId);
  const number = raw.number as number;
  const targetNorm = normalizeName(target);
  if (t.terminal.has(targetNorm)) {
    const reason = NOT_PLANNED_TARGETS.has(targetNorm) ? 'not_planned' : 'completed';
    const current =
      raw.state_reason === 'not_planned' || raw.state_reason === 'duplicate' ? 'not_planned' : 'completed';
    if (raw.state === 'closed' && current === reason) return;
    await setIssueState(ctx, number, 'closed', reason);
    return;
  }
  const stateLabels = labelNames(raw.labels).filter((l) => stateLabelOf(scope, l) !== null);
  const keep = stateLabels.find((l) => normalizeName(stateLabelOf(scope, l) ?? '') === targetNorm);
  const open = raw.state === 'open';
  if (
    open &&
    ((keep !== undefined && stateLabels.length === 1) ||
      (stateLabels.length === 0 && targetNorm === normalizeName(GITHUB_DEFAULT_OPEN_STATE)))
  ) {
    return;
  }
  // Add the new label before removing old ones: in between, the issue never reads as `Todo`
  // (an active state) when it is moving elsewhere.
  if (keep === undefined) await addLabels(ctx, number, [await ensureLabel(ctx, scope.prefix + target)]);
  for (const label of stateLabels) {
    if (label !== keep) await removeLabel(ctx, number, label);
  }
  if (!open) await setIssueState(ctx, number, 'open', 'reopened');
}

/**
 * `createIssue`: looks for an issue whose body carries the key's marker (every issue, open or
 * closed); else posts one with the marker in its body, labels for priority (`priority: N`) and a
 * non-default open state (`state: X`), and closes it at once when `state` is terminal.
 */
async function createIssue(t: GitHubInner, input: NewIssue): Promise<CreatedIssue> {
  const { key, title, state } = checkNewIssue(input);
  return t.serialized(`create\0${key}`, async (): Promise<CreatedIssue> => {
    const existing = (await listAllIssues(t.ctx)).find(
      (r) => !isPullRequest(r) && isRecord(r) && markerKey(r.body) === key,
    );
    if (existing !== undefined) return { issue: toIssue(t.scope, existing), created: false };
    const stateNorm = normalizeName(state);
    const closing = t.terminal.has(stateNorm);
    const labels = [...(input.labels ?? []).map((l) => l.trim()).filter((l) => l !== '')];
    if (input.priority !== undefined) labels.push(`priority: ${input.priority}`);
    if (!closing && stateNorm !== normalizeName(GITHUB_DEFAULT_OPEN_STATE)) {
      labels.push(await ensureLabel(t.ctx, t.scope.prefix + state));
    }
    let issue = toIssue(
      t.scope,
      await postIssue(t.ctx, {
        title,
        body: renderIssueBody(key, input.description ?? ''),
        labels: [...new Set(labels)],
      }),
    );
    if (closing) {
      const reason = NOT_PLANNED_TARGETS.has(stateNorm) ? 'not_planned' : 'completed';
      issue = toIssue(t.scope, await setIssueState(t.ctx, Number(issue.id), 'closed', reason));
    }
    return { issue, created: true };
  });
}
