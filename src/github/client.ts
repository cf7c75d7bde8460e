/**
 * The GitHub REST client every GitHub caller shares (the tracker, src/trackers/github/, and the
 * pull-request client, src/scm/github.ts): @octokit/rest with the retry and throttling plugins,
 * base URL, auth, per-request timeout, the rate-limit policy, and the portable classification of
 * GitHub failures (Symphony SPEC §11.4).
 *
 * Owns transport only: callers map a `GitHubFailure` onto their own error codes
 * (`tracker_*`, `scm_*`) and decide what to retry beyond the plugins.
 */
import { retry } from '@octokit/plugin-retry';
import { throttling } from '@octokit/plugin-throttling';
import { Octokit } from '@octokit/rest';
import { ForemanError } from '../errors.js';
import { createRedactor } from '../redact.js';

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

/** The parts of an Octokit `RequestError` the classification reads. */
export interface HttpErrorLike {
  status: number;
  message: string;
  response?: { headers?: Record<string, string | number | undefined>; data?: unknown };
}

/** True when `err` is an HTTP error from Octokit (a `RequestError`-like object with `status`), not ours. */
export function isHttpError(err: unknown): err is HttpErrorLike {
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
    typeof data === 'object' && data !== null && typeof (data as { message?: unknown }).message === 'string'
      ? (data as { message: string }).message
      : err.message.replace(/ - https?:\/\/\S+$/, '');
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

const OWNER_RE = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$/;
const REPO_RE = /^(?!\.\.?$)[A-Za-z0-9._-]{1,100}$/;

/** True when `owner` and `repo` are valid GitHub account and repository names. */
export function isOwnerRepo(owner: string, repo: string): boolean {
  return OWNER_RE.test(owner) && REPO_RE.test(repo);
}

/**
 * `owner/name` from a repository path (`/owner/name.git/`, `owner/name`): leading and trailing
 * slashes and a `.git` suffix are dropped; null unless exactly two valid parts remain.
 */
export function ownerRepoFromPath(pathPart: string): { owner: string; repo: string } | null {
  const parts = pathPart
    .replace(/^\/+/, '')
    .replace(/\/+$/, '')
    .replace(/\.git$/, '')
    .split('/');
  if (parts.length !== 2) return null;
  const [owner, repo] = parts as [string, string];
  return isOwnerRepo(owner, repo) ? { owner, repo } : null;
}

/**
 * Replaces every occurrence of the token in `text` (belt and braces: GitHub never echoes it) and
 * credentials in URLs, through the shared redactor (src/redact.ts). Tokens under 4 characters are
 * left alone (too likely to be ordinary text).
 */
export function redactToken(text: string, token: string): string {
  return createRedactor({ secrets: [token], minLength: 4 })(text);
}
