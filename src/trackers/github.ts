/**
 * The `github` tracker: the issues of one GitHub repository through the REST API
 * (@octokit/rest with the retry and throttling plugins). Profile: specs/trackers/github.md.
 *
 * Owns the REST client setup shared with src/scm/github.ts (auth, timeout, retries, rate-limit
 * handling), the mapping of GitHub errors to `TrackerError` codes (Symphony SPEC §11.4), the
 * normalization of issues to `Issue` (SPEC §4.1.1, §11.3), the state model on top of open/closed
 * plus `state: X` labels, and idempotent comments (hidden `<!-- foreman:key=… -->` marker, as in
 * the local tracker). It does not receive webhooks (the HTTP server does), open pull requests
 * (src/scm/github.ts) or decide eligibility (src/dispatch/).
 */
import { retry } from '@octokit/plugin-retry';
import { throttling } from '@octokit/plugin-throttling';
import { Octokit } from '@octokit/rest';
import { ForemanError, PolicyError, TrackerError, type PolicyErrorCode } from '../errors.js';
import { createSerializer } from './serialize.js';
import type { Issue, IssueComment, PostedComment, Tracker } from './types.js';

// ---------------------------------------------------------------------------------------------
// REST client (shared with src/scm/github.ts)

/** The public GitHub REST endpoint. */
export const DEFAULT_GITHUB_API_URL = 'https://api.github.com';

/** The subset of a pino logger the GitHub code writes to. */
export interface GitHubLog {
  warn(obj: object, msg: string): void;
}

/** Options of `createGitHubOctokit`. */
export interface GitHubClientOptions {
  /** A GitHub token (classic or fine-grained PAT, or an installation token). Never logged. */
  token: string;
  /** REST API root, e.g. `https://ghe.example.com/api/v3`. (Default: `https://api.github.com`) */
  baseUrl?: string;
  /**
   * Pace requests with @octokit/plugin-throttling (writes 1 s apart, at most 10 requests in
   * flight) and retry rate-limited requests. Tests turn it off. (Default: true)
   */
  throttle?: boolean;
  /** Where rate-limit and deprecation warnings go. (Default: nowhere) */
  log?: GitHubLog;
  /** Time unit of retry waits in ms: one "second" of `retry-after` and of the retry backoff. Tests shrink it. (Default: 1000) */
  retryUnitMs?: number;
  /** Timeout of one HTTP request in ms (a timeout counts as a transport failure and is retried). (Default: 30000) */
  timeoutMs?: number;
}

/** Attempts after a 5xx or transport failure (plugin-retry; waits 1, 4, 9 units). */
export const GITHUB_SERVER_ERROR_RETRIES = 3;
/** Retries of a rate-limited request, each after the wait GitHub advises. */
export const GITHUB_RATE_LIMIT_RETRIES = 2;
/** A rate limit advising a longer wait (in s) than this fails at once (`…_rate_limited`, retryable) instead of blocking. */
export const GITHUB_RATE_LIMIT_MAX_WAIT_S = 60;

const GitHubOctokit = Octokit.plugin(retry, throttling);
/** The Octokit class Foreman uses: @octokit/rest + retry + throttling. */
export type GitHubOctokit = InstanceType<typeof GitHubOctokit>;

/**
 * Creates the REST client for the tracker and the PR client. 5xx responses and transport
 * failures (including timeouts) are retried by @octokit/plugin-retry; 429 is left to the
 * rate-limit handling, so a rate limit is never retried by two layers. With `throttle`, a
 * primary or secondary rate limit (GitHub's 403/429 with `x-ratelimit-remaining: 0` or a
 * "secondary rate limit" message) is retried after the advised wait, at most
 * `GITHUB_RATE_LIMIT_RETRIES` times and only when that wait is at most
 * `GITHUB_RATE_LIMIT_MAX_WAIT_S`; after that the error surfaces (see `classifyGitHubError`).
 *
 * Octokit's own debug/info/error logging is dropped: its debug output carries the
 * `authorization` header. Warnings go to `opts.log`.
 */
export function createGitHubOctokit(opts: GitHubClientOptions): GitHubOctokit {
  const unit = opts.retryUnitMs ?? 1000;
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const warn = (msg: string, extra: object = {}) => opts.log?.warn({ component: 'github', ...extra }, msg);
  const onLimit =
    (kind: 'primary' | 'secondary') =>
    (
      retryAfter: number,
      options: { method?: string; url?: string },
      _octokit: unknown,
      retryCount: number,
    ): boolean => {
      const again = retryCount < GITHUB_RATE_LIMIT_RETRIES && retryAfter <= GITHUB_RATE_LIMIT_MAX_WAIT_S;
      warn(
        again
          ? 'GitHub rate limit hit; retrying after the advised wait'
          : 'GitHub rate limit hit; giving up on this request',
        {
          kind,
          method: options.method,
          route: options.url,
          retry_after_s: retryAfter,
          retry_count: retryCount,
        },
      );
      return again;
    };
  const timedFetch: typeof fetch = (input, init) => {
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = init?.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
    return fetch(input, { ...init, signal });
  };
  const octokit = new GitHubOctokit({
    auth: opts.token,
    baseUrl: (opts.baseUrl ?? DEFAULT_GITHUB_API_URL).replace(/\/+$/, ''),
    userAgent: 'foreman',
    log: { debug: () => {}, info: () => {}, warn: (msg: string) => warn(String(msg)), error: () => {} },
    request: { fetch: timedFetch },
    retry: {
      retries: GITHUB_SERVER_ERROR_RETRIES,
      retryAfterBaseValue: unit,
      doNotRetry: [400, 401, 403, 404, 409, 410, 422, 429, 451],
    },
    throttle:
      opts.throttle === false
        ? { enabled: false }
        : {
            enabled: true,
            retryAfterBaseValue: unit,
            onRateLimit: onLimit('primary'),
            onSecondaryRateLimit: onLimit('secondary'),
          },
  });
  // A JSON response that does not parse reaches callers as a string; stop it here, before
  // pagination or a caller trips over it with a TypeError.
  octokit.hook.after('request', (response, options) => {
    const type = String(response.headers['content-type'] ?? '');
    if (/json/i.test(type) && typeof response.data === 'string' && response.status !== 204 && response.status !== 205) {
      throw new GitHubPayloadError(
        `${String(options.method)} ${String(options.url)} answered ${response.status} with a body that is not JSON`,
      );
    }
  });
  return octokit;
}

/** A GitHub response whose body cannot be used (e.g. JSON that does not parse). */
export class GitHubPayloadError extends Error {
  override name = 'GitHubPayloadError';
}

/**
 * Portable failure classes of a GitHub call (Symphony SPEC §11.4): `unauthorized` (401),
 * `forbidden` (403 that is not a rate limit), `not_found` (404, 410), `rate_limited` (429, or
 * 403 with `x-ratelimit-remaining: 0` or a rate-limit message), `rejected` (other 4xx, e.g. 422
 * validation), `transient` (5xx, timeouts, network), `malformed` (a body that is not JSON).
 */
export type GitHubFailureKind =
  'unauthorized' | 'forbidden' | 'not_found' | 'rate_limited' | 'rejected' | 'transient' | 'malformed';

/** A classified GitHub failure; `message` never contains the token. */
export interface GitHubFailure {
  kind: GitHubFailureKind;
  /** HTTP status, or 0 when no response arrived. */
  status: number;
  /** GitHub's own message (e.g. `Bad credentials`), without the documentation link. */
  detail: string;
  /** Advised wait in ms for rate limits (`retry-after` or `x-ratelimit-reset`), when known. */
  retryAfterMs: number | null;
}

interface HttpErrorLike {
  status: number;
  message: string;
  response?: { headers?: Record<string, string | number | undefined>; data?: unknown };
}

function isHttpError(err: unknown): err is HttpErrorLike {
  return (
    err instanceof Error && typeof (err as { status?: unknown }).status === 'number' && !(err instanceof ForemanError)
  );
}

/**
 * Classifies an error thrown by Octokit, or returns null when `err` is not an HTTP/transport
 * error from it (e.g. a `ForemanError` thrown by our own code, which callers rethrow as is).
 */
export function classifyGitHubError(err: unknown): GitHubFailure | null {
  if (err instanceof GitHubPayloadError)
    return { kind: 'malformed', status: 0, detail: err.message, retryAfterMs: null };
  if (!isHttpError(err)) {
    // A timeout or abort that never became a RequestError.
    if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) {
      return { kind: 'transient', status: 0, detail: err.message, retryAfterMs: null };
    }
    return null;
  }
  const status = err.status;
  const headers = err.response?.headers ?? {};
  const data = err.response?.data;
  const apiMessage =
    isRecord(data) && typeof data.message === 'string' ? data.message : err.message.replace(/ - https?:\/\/\S+$/, '');
  const detail = apiMessage.slice(0, 300);
  const header = (name: string) => {
    const v = headers[name];
    return v === undefined ? undefined : String(v);
  };
  let retryAfterMs: number | null = null;
  const retryAfter = Number(header('retry-after'));
  if (header('retry-after') !== undefined && Number.isFinite(retryAfter)) retryAfterMs = Math.max(0, retryAfter * 1000);
  else if (header('x-ratelimit-remaining') === '0' && Number.isFinite(Number(header('x-ratelimit-reset')))) {
    retryAfterMs = Math.max(0, Number(header('x-ratelimit-reset')) * 1000 - Date.now());
  }
  const rateLimited =
    status === 429 || (status === 403 && (header('x-ratelimit-remaining') === '0' || /rate limit/i.test(detail)));
  let kind: GitHubFailureKind;
  if (rateLimited) kind = 'rate_limited';
  else if (status === 401) kind = 'unauthorized';
  else if (status === 403) kind = 'forbidden';
  else if (status === 404 || status === 410) kind = 'not_found';
  else if (status >= 500 || status === 0) kind = 'transient';
  else kind = 'rejected';
  return { kind, status, detail, retryAfterMs: rateLimited ? retryAfterMs : null };
}

/** Replaces every occurrence of the token in `text` (belt and braces: GitHub never echoes it). */
export function redactToken(text: string, token: string): string {
  return token.length >= 4 ? text.split(token).join('[REDACTED]') : text;
}

// ---------------------------------------------------------------------------------------------
// Tracker

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
}

/** A `Tracker` over the issues of one GitHub repository. */
export type GitHubTracker = Tracker & { readonly owner: string; readonly repo: string };

/** State of an open issue without a state label. */
export const GITHUB_DEFAULT_OPEN_STATE = 'Todo';
/** Closed issues: `state_reason` → state name. Anything else closed (`completed`, null) is `Done`. */
const CLOSED_STATES: Record<string, string> = { not_planned: 'Cancelled', duplicate: 'Duplicate' };
const CLOSED_DONE = 'Done';
/** Terminal targets that close as "not planned" rather than "completed". */
const NOT_PLANNED_TARGETS = new Set(['cancelled', 'canceled', 'duplicate', 'not planned', "won't do", 'wontfix']);
/** Closed issues read by a terminal-state listing: the most recently updated, one page. */
export const GITHUB_CLOSED_ISSUES_LIMIT = 100;
/** GitHub rejects comment bodies over 65536 characters. */
const MAX_BODY = 65_536;
/** Parallel GETs of `fetchIssuesByIds`. */
const ID_FETCH_CONCURRENCY = 6;
const MARKER_RE = /<!--[ \t]*foreman:key=([^\s<>]+?)[ \t]*-->[ \t]*(?:\r?\n)?/;
const KEY_RE = /^[^\s<>]+$/;
const PRIORITY_RE = /^priority\s*:\s*(-?\d+)$/;

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
  const { owner, repo, token } = opts;
  const slug = `${owner}/${repo}`;
  const prefix = opts.stateLabelPrefix ?? 'state: ';
  const prefixNorm = prefix.toLowerCase();
  const terminal = new Set(opts.terminalStates.map(normalize));
  const closedNames = new Set([CLOSED_DONE, ...Object.values(CLOSED_STATES)].map(normalize));
  const octokit = createGitHubOctokit(opts);
  const base = { owner, repo };

  /** Runs one GitHub call, turning its failure into a `TrackerError` that says what to do. */
  const call = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      throw toTrackerError(err, what, slug, token);
    }
  };

  const stateLabelOf = (name: string): string | null =>
    name.toLowerCase().startsWith(prefixNorm) && name.slice(prefix.length).trim() !== ''
      ? name.slice(prefix.length).trim()
      : null;

  const stateOf = (raw: Record<string, unknown>): string => {
    if (raw.state === 'closed') return CLOSED_STATES[String(raw.state_reason)] ?? CLOSED_DONE;
    for (const name of labelNames(raw.labels)) {
      const s = stateLabelOf(name);
      if (s !== null) return s;
    }
    return GITHUB_DEFAULT_OPEN_STATE;
  };

  const toIssue = (raw: unknown): Issue => {
    if (!isRecord(raw)) throw payloadInvalid(`an issue of ${slug} is not an object`);
    const number = raw.number;
    if (typeof number !== 'number' || !Number.isSafeInteger(number) || number <= 0) {
      throw payloadInvalid(`an issue of ${slug} has no valid "number"`);
    }
    if (typeof raw.title !== 'string' || raw.title.trim() === '')
      throw payloadInvalid(`issue ${slug}#${number} has no "title"`);
    if (raw.state !== 'open' && raw.state !== 'closed')
      throw payloadInvalid(`issue ${slug}#${number} has state ${JSON.stringify(raw.state)}, not open/closed`);
    const names = labelNames(raw.labels);
    const labels = [...new Set(names.map(normalize).filter((l) => l !== ''))];
    let priority: number | null = null;
    for (const l of labels) {
      const m = PRIORITY_RE.exec(l);
      if (m) {
        priority = Number(m[1]);
        break;
      }
    }
    const htmlUrl = typeof raw.html_url === 'string' ? raw.html_url : null;
    const body = typeof raw.body === 'string' ? raw.body.trim() : '';
    const assignee = isRecord(raw.assignee) && typeof raw.assignee.login === 'string' ? raw.assignee.login : null;
    return {
      id: String(number),
      identifier: `${repo}-${number}`,
      title: raw.title.trim(),
      description: body === '' ? null : body,
      priority,
      state: stateOf(raw),
      branch_name: null,
      url: htmlUrl,
      assignee_id: assignee,
      labels,
      blocked_by: [],
      dispatchable: true,
      created_at: timestamp(raw.created_at),
      updated_at: timestamp(raw.updated_at),
      native_ref: {
        owner,
        repo,
        number,
        node_id: typeof raw.node_id === 'string' ? raw.node_id : null,
        html_url: htmlUrl,
      },
    };
  };

  /**
   * Normalizes a listing: pull requests are skipped; a malformed record is skipped and logged, as
   * Symphony SPEC §11.1 allows for state listings (it was never safe to dispatch).
   */
  const toIssues = (raws: unknown[]): Issue[] => {
    const out: Issue[] = [];
    for (const raw of raws) {
      if (isPullRequest(raw)) continue;
      try {
        out.push(toIssue(raw));
      } catch (err) {
        if (!(err instanceof TrackerError)) throw err;
        opts.log?.warn({ component: 'github', repo: slug, code: err.code }, `Skipping an issue: ${err.message}`);
      }
    }
    return out;
  };

  /** GET one issue; null when missing (404/410), a pull request, or moved to another repository. */
  const getIssueRaw = async (number: number): Promise<Record<string, unknown> | null> => {
    let data: unknown;
    try {
      ({ data } = await octokit.rest.issues.get({ ...base, issue_number: number }));
    } catch (err) {
      const failure = classifyGitHubError(err);
      if (failure?.kind !== 'not_found') throw toTrackerError(err, `reading issue ${slug}#${number}`, slug, token);
      await requireRepo();
      return null;
    }
    if (!isRecord(data)) throw payloadInvalid(`GET issue ${slug}#${number} did not return an object`);
    if (isPullRequest(data)) return null;
    // A transferred issue redirects to its new repository: it is no longer in scope.
    if (
      typeof data.repository_url === 'string' &&
      !data.repository_url.toLowerCase().endsWith(`/repos/${slug}`.toLowerCase())
    )
      return null;
    return data;
  };

  /** A 404 on an issue is "no such issue" only if the repository itself is visible. */
  const requireRepo = async (): Promise<void> => {
    await call(`reading repository ${slug}`, () => octokit.rest.repos.get(base));
  };

  const requireIssue = async (issueId: string): Promise<Record<string, unknown>> => {
    const number = parseIssueNumber(issueId);
    const raw = number === null ? null : await getIssueRaw(number);
    if (raw === null) {
      throw new TrackerError(
        'tracker_not_found',
        `Issue "${issueId}" is not an issue of ${slug} (no such number, a pull request, or moved)`,
        {
          retryable: false,
        },
      );
    }
    return raw;
  };

  const listComments = async (number: number, since?: string): Promise<Record<string, unknown>[]> => {
    const raws = await call(`listing comments of ${slug}#${number}`, () =>
      octokit.paginate(octokit.rest.issues.listComments, {
        ...base,
        issue_number: number,
        per_page: 100,
        ...(since ? { since } : {}),
      }),
    );
    if (!Array.isArray(raws)) throw payloadInvalid(`comments of ${slug}#${number} are not a list`);
    return raws.map((c: unknown) => {
      if (!isRecord(c) || (typeof c.id !== 'number' && typeof c.id !== 'bigint') || typeof c.created_at !== 'string') {
        throw payloadInvalid(`a comment on ${slug}#${number} has no id or created_at`);
      }
      return c;
    });
  };

  // Writes to one issue are serialized within this process: two upserts never both create, two
  // moves never interleave their label changes.
  const serialized = createSerializer();

  /** The label's name as the repository spells it, creating the label when it is missing. */
  const ensureLabel = async (name: string): Promise<string> => {
    try {
      const { data } = await octokit.rest.issues.getLabel({ ...base, name });
      if (isRecord(data) && typeof data.name === 'string') return data.name;
      return name;
    } catch (err) {
      if (classifyGitHubError(err)?.kind !== 'not_found')
        throw toTrackerError(err, `reading label "${name}" of ${slug}`, slug, token);
    }
    try {
      await octokit.rest.issues.createLabel({
        ...base,
        name,
        color: 'ededed',
        description: 'Foreman state',
        request: { retries: 0 },
      });
    } catch (err) {
      if (!isAlreadyExists(err)) throw toTrackerError(err, `creating label "${name}" in ${slug}`, slug, token);
    }
    return name;
  };

  /** `moveIssue` after argument checks (state model: see the file header and the profile). */
  const move = async (issueId: string, target: string): Promise<void> => {
    const raw = await requireIssue(issueId);
    const number = raw.number as number;
    const targetNorm = normalize(target);
    if (terminal.has(targetNorm)) {
      const reason = NOT_PLANNED_TARGETS.has(targetNorm) ? 'not_planned' : 'completed';
      const current =
        raw.state_reason === 'not_planned' || raw.state_reason === 'duplicate' ? 'not_planned' : 'completed';
      if (raw.state === 'closed' && current === reason) return;
      await call(`closing ${slug}#${number}`, () =>
        octokit.rest.issues.update({ ...base, issue_number: number, state: 'closed', state_reason: reason }),
      );
      return;
    }
    const stateLabels = labelNames(raw.labels).filter((l) => stateLabelOf(l) !== null);
    const keep = stateLabels.find((l) => normalize(stateLabelOf(l) ?? '') === targetNorm);
    const open = raw.state === 'open';
    if (
      open &&
      ((keep !== undefined && stateLabels.length === 1) ||
        (stateLabels.length === 0 && targetNorm === normalize(GITHUB_DEFAULT_OPEN_STATE)))
    ) {
      return;
    }
    // Add the new label before removing old ones: in between, the issue never reads as `Todo`
    // (an active state) when it is moving elsewhere.
    if (keep === undefined) {
      const name = await ensureLabel(prefix + target);
      await call(`labelling ${slug}#${number}`, () =>
        octokit.rest.issues.addLabels({ ...base, issue_number: number, labels: [name] }),
      );
    }
    for (const label of stateLabels) {
      if (label === keep) continue;
      try {
        await octokit.rest.issues.removeLabel({ ...base, issue_number: number, name: label });
      } catch (err) {
        if (classifyGitHubError(err)?.kind !== 'not_found')
          throw toTrackerError(err, `removing label "${label}" from ${slug}#${number}`, slug, token);
      }
    }
    if (!open) {
      await call(`reopening ${slug}#${number}`, () =>
        octokit.rest.issues.update({ ...base, issue_number: number, state: 'open', state_reason: 'reopened' }),
      );
    }
  };

  const tracker: GitHubTracker = {
    kind: 'github',
    owner,
    repo,

    async fetchIssuesByStates(states) {
      const wanted = new Set(states.map(normalize).filter((s) => s !== ''));
      if (wanted.size === 0) return [];
      const wantsOpen = [...wanted].some((s) => !terminal.has(s));
      const wantsClosed = [...wanted].some((s) => terminal.has(s) || closedNames.has(s));
      const raws: unknown[] = [];
      if (wantsOpen) {
        const open = await call(`listing open issues of ${slug}`, () =>
          octokit.paginate(octokit.rest.issues.listForRepo, { ...base, state: 'open', per_page: 100 }),
        );
        if (!Array.isArray(open)) throw payloadInvalid(`open issues of ${slug} are not a list`);
        raws.push(...open);
      }
      if (wantsClosed) {
        const { data } = await call(`listing closed issues of ${slug}`, () =>
          octokit.rest.issues.listForRepo({
            ...base,
            state: 'closed',
            sort: 'updated',
            direction: 'desc',
            per_page: GITHUB_CLOSED_ISSUES_LIMIT,
          }),
        );
        if (!Array.isArray(data)) throw payloadInvalid(`closed issues of ${slug} are not a list`);
        raws.push(...data);
      }
      const seen = new Set<string>();
      return toIssues(raws).filter((i) => {
        if (seen.has(i.id) || !wanted.has(normalize(i.state))) return false;
        seen.add(i.id);
        return true;
      });
    },

    async fetchIssuesByIds(ids) {
      const numbers = [...new Set(ids.map(parseIssueNumber).filter((n): n is number => n !== null))];
      if (numbers.length === 0) return [];
      const raws = await mapLimit(numbers, ID_FETCH_CONCURRENCY, getIssueRaw);
      // An id refresh must fail rather than omit a malformed record (Symphony SPEC §11.1).
      return raws.filter((r): r is Record<string, unknown> => r !== null).map(toIssue);
    },

    async fetchIssueByIdentifier(identifier) {
      const number = parseIdentifier(identifier, owner, repo);
      if (number === null) return null;
      const raw = await getIssueRaw(number);
      return raw === null ? null : toIssue(raw);
    },

    async fetchComments(issueId, since) {
      let sinceMs = Number.NEGATIVE_INFINITY;
      if (since !== undefined) {
        sinceMs = Date.parse(since);
        if (Number.isNaN(sinceMs)) {
          throw new TrackerError(
            'tracker_payload_invalid',
            `fetchComments: since "${since}" is not an RFC 3339 timestamp`,
            { retryable: false },
          );
        }
      }
      const number = parseIssueNumber(issueId);
      if (number === null) throw notAnIssue(issueId, slug);
      // GitHub's `since` filters on updated_at; created_at is filtered here.
      const raws = await listComments(number, since === undefined ? undefined : new Date(sinceMs).toISOString());
      return raws
        .map(toComment)
        .filter((c) => Date.parse(c.created_at) > sinceMs)
        .sort((a, b) => Date.parse(a.created_at) - Date.parse(b.created_at));
    },

    async upsertComment(issueId, key, body) {
      if (!KEY_RE.test(key)) {
        throw new TrackerError(
          'tracker_payload_invalid',
          `Comment key "${key}" must be non-empty without spaces, "<" or ">"`,
          { retryable: false },
        );
      }
      const number = parseIssueNumber(issueId);
      if (number === null) throw notAnIssue(issueId, slug);
      return serialized(`comment\0${number}`, async (): Promise<PostedComment> => {
        const text = renderBody(key, body);
        const existing = (await listComments(number)).find(
          (c) => typeof c.body === 'string' && markerKey(c.body) === key,
        );
        if (existing !== undefined) {
          const id = String(existing.id);
          if (existing.body !== text) {
            await call(`updating comment ${id} on ${slug}#${number}`, () =>
              octokit.rest.issues.updateComment({ ...base, comment_id: Number(existing.id), body: text }),
            );
          }
          return { id, created: false };
        }
        // No plugin retry of the create: a retried POST after a lost response would post twice.
        // The caller's retry re-lists first, which is idempotent.
        const { data } = await call(`commenting on ${slug}#${number}`, () =>
          octokit.rest.issues.createComment({ ...base, issue_number: number, body: text, request: { retries: 0 } }),
        );
        if (!isRecord(data) || (typeof data.id !== 'number' && typeof data.id !== 'bigint')) {
          throw payloadInvalid(`creating a comment on ${slug}#${number} returned no id`);
        }
        return { id: String(data.id), created: true };
      });
    },

    async moveIssue(issueId, state) {
      const target = state.trim();
      if (target === '' || /[\r\n]/.test(target)) {
        throw new TrackerError('tracker_payload_invalid', `moveIssue: state "${state}" must be one non-empty line`, {
          retryable: false,
        });
      }
      await serialized(`move\0${issueId.trim()}`, () => move(issueId, target));
    },

    watch() {
      // GitHub pushes changes via webhooks (the HTTP server); polling remains the safety net.
      return () => {};
    },
  };

  return tracker;
}

// ---------------------------------------------------------------------------------------------
// From the policy

/** The policy fields `githubTrackerFromPolicy` reads beside `tracker.provider`. */
export interface GitHubPolicyTracker {
  active_states: string[];
  terminal_states: string[];
}

/**
 * Builds the GitHub tracker from the policy's `tracker.provider` map (keys: specs/trackers/github.md).
 * `repo: "owner/name"` (or `owner` + `repo`, or a github.com URL), `token` (`$VAR` already
 * resolved by the policy loader; legacy `api_key` accepted) falling back to `env.GITHUB_TOKEN`,
 * `endpoint` or `base_url` (REST root), `state_label_prefix`.
 *
 * @throws PolicyError `tracker_repo_invalid` (repo missing or not `owner/name`),
 *   `tracker_token_missing` (no token anywhere), `tracker_endpoint_invalid` (not an http(s) URL),
 *   `policy_invalid` (a key of the wrong type).
 */
export function githubTrackerFromPolicy(
  provider: Record<string, unknown>,
  policy: GitHubPolicyTracker,
  env: NodeJS.ProcessEnv = process.env,
  extra: Pick<GitHubTrackerOptions, 'log' | 'throttle' | 'retryUnitMs' | 'timeoutMs'> = {},
): GitHubTracker {
  const str = (key: string): string | undefined => {
    const v = provider[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') {
      const message = `tracker.provider.${key} must be a string`;
      throw new PolicyError('policy_invalid', message, { issues: [{ path: `tracker.provider.${key}`, message }] });
    }
    return v.trim() === '' ? undefined : v.trim();
  };
  const policyError = (code: PolicyErrorCode, key: string, message: string) =>
    new PolicyError(code, message, { issues: [{ path: `tracker.provider.${key}`, message }] });

  let owner = str('owner');
  let repo = str('repo');
  if (repo !== undefined && (repo.includes('/') || repo.includes(':'))) {
    const parsed = parseRepoSlug(repo);
    if (parsed === null) {
      throw policyError(
        'tracker_repo_invalid',
        'repo',
        `tracker.provider.repo "${repo}" must be "owner/name" (e.g. "acme/app")`,
      );
    }
    ({ owner, repo } = parsed);
  }
  if (owner === undefined || repo === undefined || !OWNER_RE.test(owner) || !REPO_RE.test(repo)) {
    throw policyError(
      'tracker_repo_invalid',
      'repo',
      'Set tracker.provider.repo to the repository as "owner/name" (e.g. "acme/app")',
    );
  }
  const token = str('token') ?? str('api_key') ?? (env.GITHUB_TOKEN?.trim() || undefined);
  if (token === undefined || /^\$\{?[A-Za-z_]\w*\}?$/.test(token)) {
    throw policyError(
      'tracker_token_missing',
      'token',
      'No GitHub token. Set GITHUB_TOKEN or tracker.provider.token ($VAR allowed)',
    );
  }
  const endpoint = str('endpoint') ?? str('base_url');
  if (endpoint !== undefined) {
    if (!isHttpUrl(endpoint)) {
      throw policyError(
        'tracker_endpoint_invalid',
        'endpoint',
        `tracker.provider.endpoint "${endpoint}" must be an http(s) URL such as https://api.github.com`,
      );
    }
  }
  const rawPrefix = provider.state_label_prefix;
  if (rawPrefix !== undefined && (typeof rawPrefix !== 'string' || rawPrefix.trim() === '')) {
    throw policyError(
      'policy_invalid',
      'state_label_prefix',
      'tracker.provider.state_label_prefix must be a non-empty string such as "state: "',
    );
  }
  return createGitHubTracker({
    owner,
    repo,
    token,
    activeStates: policy.active_states,
    terminalStates: policy.terminal_states,
    ...(endpoint !== undefined ? { baseUrl: endpoint } : {}),
    ...(typeof rawPrefix === 'string' ? { stateLabelPrefix: rawPrefix } : {}),
    ...extra,
  });
}

// ---------------------------------------------------------------------------------------------
// Helpers

const OWNER_RE = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$/;
const REPO_RE = /^(?!\.\.?$)[A-Za-z0-9._-]{1,100}$/;

/**
 * Parses `owner/name`, `https://github.com/owner/name(.git)` or `git@github.com:owner/name.git`
 * into its parts; null when it is none of those.
 */
export function parseRepoSlug(value: string): { owner: string; repo: string } | null {
  let v = value.trim();
  const scp = /^[^@/\s]+@[^:/\s]+:(.+)$/.exec(v);
  if (scp) v = scp[1] as string;
  else if (/^[a-z+]+:\/\//i.test(v)) {
    try {
      v = new URL(v).pathname;
    } catch {
      return null;
    }
  }
  const parts = v
    .replace(/^\/+/, '')
    .replace(/\/+$/, '')
    .replace(/\.git$/, '')
    .split('/');
  if (parts.length !== 2) return null;
  const [owner, repo] = parts as [string, string];
  return OWNER_RE.test(owner) && REPO_RE.test(repo) ? { owner, repo } : null;
}

function toTrackerError(err: unknown, what: string, slug: string, token: string): ForemanError {
  if (err instanceof ForemanError) return err;
  const failure = classifyGitHubError(err);
  if (failure === null) {
    const text = err instanceof Error ? err.message : String(err);
    return new TrackerError(
      'tracker_request_failed',
      redactToken(`GitHub request failed while ${what}: ${text}`, token),
      { cause: err },
    );
  }
  const said = failure.status === 0 ? failure.detail : `${failure.status} ${failure.detail}`;
  let error: TrackerError;
  switch (failure.kind) {
    case 'unauthorized':
      error = new TrackerError(
        'tracker_unauthorized',
        `GitHub rejected the token while ${what} (${said}). Set GITHUB_TOKEN or tracker.provider.token to a valid token`,
        {
          cause: err,
          retryable: false,
        },
      );
      break;
    case 'forbidden':
      error = new TrackerError(
        'tracker_unauthorized',
        `The GitHub token may not do this while ${what} (${said}); it needs Issues read/write on ${slug}. Set GITHUB_TOKEN or tracker.provider.token`,
        { cause: err, retryable: false },
      );
      break;
    case 'not_found':
      error = new TrackerError(
        'tracker_not_found',
        `Not found while ${what} (${said}); check tracker.provider.repo ("${slug}") and that the token can see that repository`,
        { cause: err, retryable: false },
      );
      break;
    case 'rate_limited': {
      const wait =
        failure.retryAfterMs === null ? '' : `; GitHub asks to wait ${Math.ceil(failure.retryAfterMs / 1000)} s`;
      error = new TrackerError('tracker_rate_limited', `GitHub rate limit hit while ${what} (${said})${wait}`, {
        cause: err,
      });
      break;
    }
    case 'rejected':
      error = new TrackerError('tracker_request_failed', `GitHub refused the request while ${what} (${said})`, {
        cause: err,
        retryable: false,
      });
      break;
    case 'malformed':
      error = new TrackerError('tracker_payload_invalid', `Malformed GitHub payload while ${what}: ${failure.detail}`, {
        cause: err,
        retryable: false,
      });
      break;
    case 'transient':
      error = new TrackerError(
        'tracker_request_failed',
        `GitHub failed while ${what} (${said}) after ${GITHUB_SERVER_ERROR_RETRIES} retries; try again later`,
        {
          cause: err,
        },
      );
      break;
  }
  if (error.message.includes(token))
    return new TrackerError(error.code, redactToken(error.message, token), { retryable: error.retryable });
  return error;
}

function isHttpUrl(value: string): boolean {
  try {
    return /^https?:$/.test(new URL(value).protocol);
  } catch {
    return false;
  }
}

function payloadInvalid(what: string): TrackerError {
  return new TrackerError('tracker_payload_invalid', `Malformed GitHub payload: ${what}`, { retryable: false });
}

function notAnIssue(issueId: string, slug: string): TrackerError {
  return new TrackerError('tracker_not_found', `"${issueId}" is not an issue number of ${slug}`, { retryable: false });
}

function isAlreadyExists(err: unknown): boolean {
  if (!isHttpError(err) || err.status !== 422) return false;
  const data = err.response?.data;
  return (
    isRecord(data) && Array.isArray(data.errors) && data.errors.some((e) => isRecord(e) && e.code === 'already_exists')
  );
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The issues API lists pull requests too; they carry a `pull_request` key. */
function isPullRequest(raw: unknown): boolean {
  return isRecord(raw) && raw.pull_request !== undefined && raw.pull_request !== null;
}

/** Label names from GitHub's `labels` (objects with `name`, or plain strings). */
function labelNames(labels: unknown): string[] {
  if (!Array.isArray(labels)) return [];
  const out: string[] = [];
  for (const l of labels) {
    const name = typeof l === 'string' ? l : isRecord(l) && typeof l.name === 'string' ? l.name : null;
    if (name !== null && name.trim() !== '') out.push(name);
  }
  return out;
}

function normalize(s: string): string {
  return s.trim().toLowerCase();
}

function timestamp(v: unknown): string | null {
  if (typeof v !== 'string') return null;
  const ms = Date.parse(v);
  return Number.isNaN(ms) ? null : new Date(ms).toISOString();
}

/** Issue ids are the issue numbers as decimal strings. */
function parseIssueNumber(id: string): number | null {
  const t = id.trim();
  if (!/^[1-9]\d{0,15}$/.test(t)) return null;
  const n = Number(t);
  return Number.isSafeInteger(n) ? n : null;
}

/**
 * `app-42`, `app#42`, `acme/app#42`, `#42` or `42` → 42, when the repository (if named) is
 * this one (case-insensitive); else null.
 */
function parseIdentifier(identifier: string, owner: string, repo: string): number | null {
  const t = identifier.trim();
  const m = /^(?:(?:([^/\s#]+)\/)?([^/\s#]+?)(?:-|#)|#)?(\d+)$/.exec(t);
  if (!m) return null;
  const [, o, r, n] = m;
  if (o !== undefined && o.toLowerCase() !== owner.toLowerCase()) return null;
  if (r !== undefined && r.toLowerCase() !== repo.toLowerCase()) return null;
  return parseIssueNumber(n as string);
}

function markerKey(body: string): string | null {
  return MARKER_RE.exec(body)?.[1] ?? null;
}

/** The comment text Foreman posts: the hidden marker line, then the body (cut to GitHub's limit). */
function renderBody(key: string, body: string): string {
  const head = `<!-- foreman:key=${key} -->\n`;
  const text = head + body.trim();
  if (text.length <= MAX_BODY) return text;
  const note = '\n\n…(truncated)';
  return text.slice(0, MAX_BODY - note.length) + note;
}

function toComment(raw: Record<string, unknown>): IssueComment {
  const text = typeof raw.body === 'string' ? raw.body : '';
  const key = markerKey(text);
  const user = isRecord(raw.user) && typeof raw.user.login === 'string' ? raw.user.login : 'ghost';
  return {
    id: String(raw.id),
    author: user,
    body: (key === null ? text : text.replace(MARKER_RE, '')).trim(),
    created_at: timestamp(raw.created_at) ?? String(raw.created_at),
    by_foreman: key !== null,
    key,
  };
}

/** Maps with at most `limit` calls in flight; order preserved; the first failure rejects. */
async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
