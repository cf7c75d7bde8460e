/**
 * The GitHub pull-request client: open (or update) the PR for a work branch, read it back, and
 * summarize its CI (check runs + commit statuses). Uses the same REST client setup as the
 * tracker (src/github/client.ts: auth, timeouts, retries, rate limits).
 *
 * Owns PR idempotency (one open PR per head branch) and the CI roll-up. It does not push
 * branches (src/workspace/), comment on or move issues (the tracker does that, including the
 * "PR opened" comment that links an issue), or decide when CI is good enough (the workflow).
 */
import { ForemanError, ScmError, type ScmErrorCode } from '../errors.js';
import {
  DEFAULT_GITHUB_API_URL,
  GITHUB_SERVER_ERROR_RETRIES,
  classifyGitHubError,
  createGitHubOctokit,
  ownerRepoFromPath,
  redactToken,
  type GitHubClientOptions,
} from '../github/client.js';
import type { PullRequestRef } from './types.js';
import { redact } from '../redact.js';

/** Options of `createGitHubScm`. */
export interface GitHubScmOptions extends GitHubClientOptions {
  owner: string;
  repo: string;
}

/** What `openOrUpdatePullRequest` needs. */
export interface PullRequestInput {
  /** The work branch (`foreman/app-42`), or `owner:branch` for a fork. */
  head: string;
  /** The branch to merge into (`main`). */
  base: string;
  title: string;
  /** Markdown; cut to GitHub's 65536-character limit. */
  body: string;
  /** Open as a draft. Only applies when the PR is created: REST cannot toggle draft later. */
  draft: boolean;
}

/** A pull request as `getPullRequest` returns it. */
export interface PullRequestInfo {
  number: number;
  url: string;
  /** `merged` when merged, else GitHub's `open`/`closed`. */
  state: 'open' | 'closed' | 'merged';
  draft: boolean;
  title: string;
  body: string | null;
  /** Head branch name and commit sha. */
  head: { ref: string; sha: string };
  base: { ref: string };
  /** GitHub's `mergeable`; null while GitHub computes it or when unknown. */
  mergeable: boolean | null;
}

/** One CI signal on a commit: a check run, or a commit status (`name` = its context). */
export interface CheckInfo {
  name: string;
  /** Check runs: `queued`, `in_progress`, `completed`, …; statuses: `pending` or `completed`. */
  status: string;
  /** Check runs: `success`, `failure`, `neutral`, `skipped`, `cancelled`, `timed_out`, …; statuses: `success`, `failure`, `error`; null while pending. */
  conclusion: string | null;
  url: string | null;
}

/** The CI roll-up of a commit. */
export interface ChecksSummary {
  /**
   * `failure` if any check failed (conclusion `failure`, `timed_out`, `cancelled`,
   * `action_required`, `startup_failure`, `stale`; status `failure`/`error`), else `pending` if
   * any is not finished or there are none at all, else `success` (`neutral`/`skipped` count as
   * success).
   */
  state: 'pending' | 'success' | 'failure';
  checks: CheckInfo[];
}

/** The PR client for one repository. */
export interface GitHubScm {
  readonly owner: string;
  readonly repo: string;
  /** `parseGitHubRemote` for this client's host (github.com, or the enterprise host of `baseUrl`). */
  parseRemote(url: string): { owner: string; repo: string } | null;
  /** Creates the PR for `head`, or updates title/body (and base) of the open one: never a second PR. */
  openOrUpdatePullRequest(input: PullRequestInput): Promise<PullRequestRef>;
  /** The PR with this number, or null when there is none (or it is an issue). */
  getPullRequest(number: number): Promise<PullRequestInfo | null>;
  /** CI roll-up of a commit sha or branch (check runs + combined commit status). */
  checksFor(ref: string): Promise<ChecksSummary>;
  /** The inline review comments on a pull request, oldest first (all pages). */
  reviewComments(number: number): Promise<ReviewComment[]>;
}

/** One inline review comment on a pull request. */
export interface ReviewComment {
  author: string;
  path: string;
  /** Line in the new file; null for outdated or file-level comments. */
  line: number | null;
  body: string;
  createdAt: string;
}

const MAX_BODY = 65_536;
const FAILED_CONCLUSIONS = new Set([
  'failure',
  'timed_out',
  'cancelled',
  'action_required',
  'startup_failure',
  'stale',
]);

/**
 * Creates the PR client. Errors are `ScmError` (codes on the class). Linking the issue is the
 * tracker's comment, not done here. A PR's title and body leave Foreman here, so they pass
 * through the redactor (src/redact.ts), whoever built them.
 */
export function createGitHubScm(opts: GitHubScmOptions): GitHubScm {
  const { owner, repo, token } = opts;
  const slug = `${owner}/${repo}`;
  const base = { owner, repo };
  const octokit = createGitHubOctokit(opts);
  const hosts = remoteHosts(opts.baseUrl ?? DEFAULT_GITHUB_API_URL);

  const call = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      throw toScmError(err, what, slug, token);
    }
  };

  const findOpen = async (head: string): Promise<Record<string, unknown> | null> => {
    const qualified = head.includes(':') ? head : `${owner}:${head}`;
    const { data } = await call(`listing pull requests of ${slug} for ${qualified}`, () =>
      octokit.rest.pulls.list({ ...base, state: 'open', head: qualified, per_page: 100 }),
    );
    if (!Array.isArray(data)) throw payloadInvalid(`pull requests of ${slug} are not a list`);
    const found = (data as unknown[]).find(isRecord);
    return found ?? null;
  };

  const update = async (pr: Record<string, unknown>, input: PullRequestInput): Promise<PullRequestRef> => {
    const { number, url } = prRef(pr, slug);
    const baseRef = isRecord(pr.base) ? pr.base.ref : undefined;
    const changes = {
      ...(pr.title !== input.title ? { title: input.title } : {}),
      ...(pr.body !== clip(input.body) ? { body: clip(input.body) } : {}),
      ...(baseRef !== input.base ? { base: input.base } : {}),
    };
    if (Object.keys(changes).length > 0) {
      try {
        await octokit.rest.pulls.update({ ...base, pull_number: number, ...changes });
      } catch (err) {
        throw toScmError(err, `updating pull request ${slug}#${number}`, slug, token, 'scm_pr_rejected');
      }
    }
    return { number, url, created: false };
  };

  return {
    owner,
    repo,
    parseRemote: (url) => parseGitHubRemote(url, hosts),

    async openOrUpdatePullRequest(given) {
      const input = { ...given, title: redact(given.title), body: redact(given.body) };
      const existing = await findOpen(input.head);
      if (existing !== null) return update(existing, input);
      let data: unknown;
      try {
        // Not retried by the plugin: a retried create after a lost response would fail with
        // "already exists" at best; the re-list below handles that case instead.
        ({ data } = await octokit.rest.pulls.create({
          ...base,
          head: input.head,
          base: input.base,
          title: input.title,
          body: clip(input.body),
          draft: input.draft,
          request: { retries: 0 },
        }));
      } catch (err) {
        if (isValidation(err, /already exists/i)) {
          const raced = await findOpen(input.head);
          if (raced !== null) return update(raced, input);
        }
        throw toScmError(
          err,
          `opening a pull request ${input.head} → ${input.base} in ${slug}`,
          slug,
          token,
          'scm_pr_rejected',
        );
      }
      if (!isRecord(data)) throw payloadInvalid(`creating a pull request in ${slug} returned no object`);
      return { ...prRef(data, slug), created: true };
    },

    async getPullRequest(number) {
      let data: unknown;
      try {
        ({ data } = await octokit.rest.pulls.get({ ...base, pull_number: number }));
      } catch (err) {
        if (classifyGitHubError(err)?.kind === 'not_found') return null;
        throw toScmError(err, `reading pull request ${slug}#${number}`, slug, token);
      }
      if (!isRecord(data)) throw payloadInvalid(`pull request ${slug}#${number} is not an object`);
      return toPullRequestInfo(data, prRef(data, slug));
    },

    async reviewComments(number) {
      const list: unknown = await call(`listing review comments of ${slug}#${number}`, () =>
        octokit.paginate(octokit.rest.pulls.listReviewComments, { ...base, pull_number: number, per_page: 100 }),
      );
      if (!Array.isArray(list)) throw payloadInvalid(`review comments of ${slug}#${number} are not a list`);
      return list.filter(isRecord).map(toReviewComment);
    },

    async checksFor(ref) {
      const [runs, combined] = await Promise.all([
        call(`listing check runs of ${ref} in ${slug}`, () =>
          octokit.paginate(octokit.rest.checks.listForRef, { ...base, ref, per_page: 100 }),
        ),
        call(`reading the commit status of ${ref} in ${slug}`, () =>
          octokit.rest.repos.getCombinedStatusForRef({ ...base, ref, per_page: 100 }),
        ),
      ]);
      if (!Array.isArray(runs)) throw payloadInvalid(`check runs of ${ref} are not a list`);
      const statusData: unknown = combined.data;
      if (!isRecord(statusData) || !Array.isArray(statusData.statuses))
        throw payloadInvalid(`the combined status of ${ref} has no "statuses" list`);
      const checks = toChecks(runs as unknown[], statusData.statuses as unknown[], ref);
      return { state: rollUp(checks), checks };
    },
  };
}

/** A review comment from GitHub's payload. */
function toReviewComment(c: Record<string, unknown>): ReviewComment {
  return {
    author: isRecord(c.user) && typeof c.user.login === 'string' ? c.user.login : 'unknown',
    path: typeof c.path === 'string' ? c.path : '',
    line: typeof c.line === 'number' ? c.line : null,
    body: typeof c.body === 'string' ? c.body : '',
    createdAt: typeof c.created_at === 'string' ? c.created_at : '',
  };
}

/** A pull request from GitHub's payload (merged wins over closed). */
function toPullRequestInfo(data: Record<string, unknown>, ref: { number: number; url: string }): PullRequestInfo {
  const head = isRecord(data.head) ? data.head : {};
  const baseInfo = isRecord(data.base) ? data.base : {};
  const merged = data.merged === true || (typeof data.merged_at === 'string' && data.merged_at !== '');
  return {
    number: ref.number,
    url: ref.url,
    state: merged ? 'merged' : data.state === 'closed' ? 'closed' : 'open',
    draft: data.draft === true,
    title: typeof data.title === 'string' ? data.title : '',
    body: typeof data.body === 'string' ? data.body : null,
    head: { ref: String(head.ref ?? ''), sha: String(head.sha ?? '') },
    base: { ref: String(baseInfo.ref ?? '') },
    mergeable: typeof data.mergeable === 'boolean' ? data.mergeable : null,
  };
}

/**
 * Check runs and commit statuses of `ref` as one list of checks.
 * @throws ScmError `scm_payload_invalid` when an entry has no name/context or status/state.
 */
function toChecks(runs: unknown[], statuses: unknown[], ref: string): CheckInfo[] {
  const checks: CheckInfo[] = [];
  for (const run of runs) {
    if (!isRecord(run) || typeof run.name !== 'string' || typeof run.status !== 'string') {
      throw payloadInvalid(`a check run of ${ref} has no name or status`);
    }
    const url =
      typeof run.html_url === 'string' ? run.html_url : typeof run.details_url === 'string' ? run.details_url : null;
    checks.push({
      name: run.name,
      status: run.status,
      conclusion: typeof run.conclusion === 'string' ? run.conclusion : null,
      url,
    });
  }
  for (const st of statuses) {
    if (!isRecord(st) || typeof st.context !== 'string' || typeof st.state !== 'string') {
      throw payloadInvalid(`a commit status of ${ref} has no context or state`);
    }
    checks.push({
      name: st.context,
      status: st.state === 'pending' ? 'pending' : 'completed',
      conclusion: st.state === 'pending' ? null : st.state,
      url: typeof st.target_url === 'string' ? st.target_url : null,
    });
  }
  return checks;
}

/** CI roll-up rule (see `ChecksSummary.state`). */
function rollUp(checks: CheckInfo[]): ChecksSummary['state'] {
  if (checks.length === 0) return 'pending';
  if (checks.some((c) => c.conclusion !== null && (FAILED_CONCLUSIONS.has(c.conclusion) || c.conclusion === 'error')))
    return 'failure';
  if (checks.some((c) => c.status !== 'completed' || c.conclusion === null)) return 'pending';
  return 'success';
}

/**
 * Parses a git remote URL of a GitHub repository: `https://github.com/o/r(.git)`,
 * `https://user:token@github.com/o/r.git` (credentials dropped), `git@github.com:o/r.git`,
 * `ssh://git@github.com(:22)/o/r.git`, `git://github.com/o/r.git`. Returns null for other hosts
 * (`hosts`, lowercased, default `['github.com']`), other shapes, or invalid names.
 */
export function parseGitHubRemote(
  url: string,
  hosts: string[] = ['github.com'],
): { owner: string; repo: string } | null {
  const value = url.trim();
  let host: string;
  let pathPart: string;
  const scp = /^(?:[^@/\s]+@)?([^:/\s]+):(?!\/)(.+)$/.exec(value);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
    let parsed: URL;
    try {
      parsed = new URL(value);
    } catch {
      return null;
    }
    if (!/^(?:https?|ssh|git|git\+ssh|ssh\+git):$/.test(parsed.protocol)) return null;
    host = parsed.hostname.toLowerCase();
    pathPart = decodeURIComponent(parsed.pathname);
  } else if (scp) {
    host = (scp[1] as string).toLowerCase();
    pathPart = scp[2] as string;
  } else {
    return null;
  }
  if (!hosts.map((h) => h.toLowerCase()).includes(host)) return null;
  return ownerRepoFromPath(pathPart);
}

/** Hosts whose remotes belong to the API at `baseUrl`: api.github.com → github.com; GHES `https://h/api/v3` → h. */
function remoteHosts(baseUrl: string): string[] {
  try {
    const host = new URL(baseUrl).hostname.toLowerCase();
    if (host === 'api.github.com') return ['github.com'];
    return [host.replace(/^api\./, ''), host];
  } catch {
    return ['github.com'];
  }
}

function prRef(pr: Record<string, unknown>, slug: string): { number: number; url: string } {
  if (typeof pr.number !== 'number' || !Number.isSafeInteger(pr.number) || typeof pr.html_url !== 'string') {
    throw payloadInvalid(`a pull request of ${slug} has no number or html_url`);
  }
  return { number: pr.number, url: pr.html_url };
}

function clip(body: string): string {
  if (body.length <= MAX_BODY) return body;
  const note = '\n\n…(truncated)';
  return body.slice(0, MAX_BODY - note.length) + note;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isValidation(err: unknown, re: RegExp): boolean {
  const data = (err as { status?: unknown; response?: { data?: unknown } } | null)?.response?.data;
  if ((err as { status?: unknown } | null)?.status !== 422 || !isRecord(data)) return false;
  const texts = [
    String(data.message ?? ''),
    ...(Array.isArray(data.errors) ? data.errors.map((e) => (isRecord(e) ? String(e.message ?? '') : String(e))) : []),
  ];
  return texts.some((t) => re.test(t));
}

function payloadInvalid(what: string): ScmError {
  return new ScmError('scm_payload_invalid', `Malformed GitHub payload: ${what}`, { retryable: false });
}

function toScmError(
  err: unknown,
  what: string,
  slug: string,
  token: string,
  rejectedCode: ScmErrorCode = 'scm_request_failed',
): ForemanError {
  if (err instanceof ForemanError) return err;
  const failure = classifyGitHubError(err);
  const redact = (m: string) => redactToken(m, token);
  if (failure === null) {
    return new ScmError(
      'scm_request_failed',
      redact(`GitHub request failed while ${what}: ${err instanceof Error ? err.message : String(err)}`),
      { cause: err },
    );
  }
  const said = redact(failure.status === 0 ? failure.detail : `${failure.status} ${failure.detail}`);
  const validation = (err as { response?: { data?: unknown } }).response?.data;
  const errors =
    isRecord(validation) && Array.isArray(validation.errors)
      ? redact(
          validation.errors
            .map((e) => (isRecord(e) ? String(e.message ?? e.code ?? '') : String(e)))
            .filter((t) => t !== '')
            .join('; '),
        )
      : '';
  switch (failure.kind) {
    case 'unauthorized':
      return new ScmError(
        'scm_unauthorized',
        `GitHub rejected the token while ${what} (${said}). Set GITHUB_TOKEN or tracker.provider.token to a valid token`,
        {
          cause: err,
          retryable: false,
        },
      );
    case 'forbidden':
      return new ScmError(
        'scm_unauthorized',
        `The GitHub token may not do this while ${what} (${said}); it needs Pull requests read/write and Checks read on ${slug}. Set GITHUB_TOKEN or tracker.provider.token`,
        { cause: err, retryable: false },
      );
    case 'not_found':
      return new ScmError(
        'scm_not_found',
        `Not found while ${what} (${said}); check the repository "${slug}", the branch names, and the token's access`,
        {
          cause: err,
          retryable: false,
        },
      );
    case 'rate_limited': {
      const wait =
        failure.retryAfterMs === null ? '' : `; GitHub asks to wait ${Math.ceil(failure.retryAfterMs / 1000)} s`;
      return new ScmError('scm_rate_limited', `GitHub rate limit hit while ${what} (${said})${wait}`, { cause: err });
    }
    case 'rejected':
      return new ScmError(
        rejectedCode,
        `GitHub refused the request while ${what} (${said}${errors ? `: ${errors}` : ''})`,
        {
          cause: err,
          retryable: false,
        },
      );
    case 'malformed':
      return new ScmError('scm_payload_invalid', `Malformed GitHub payload while ${what}: ${failure.detail}`, {
        cause: err,
        retryable: false,
      });
    case 'transient':
      return new ScmError(
        'scm_request_failed',
        `GitHub failed while ${what} (${said}) after ${GITHUB_SERVER_ERROR_RETRIES} retries; try again later`,
        { cause: err },
      );
  }
}
