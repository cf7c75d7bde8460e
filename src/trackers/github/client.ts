/**
 * The GitHub tracker's transport: the shared REST client (src/github/client.ts) bound to one
 * repository, and the mapping of GitHub failures to `TrackerError` codes (Symphony SPEC §11.4).
 *
 * Owns error wording and redaction of tracker messages; not the client setup (src/github/) nor
 * the REST calls (./queries.ts).
 */
import { ForemanError, TrackerError } from '../../errors.js';
import {
  GITHUB_SERVER_ERROR_RETRIES,
  classifyGitHubError,
  createGitHubOctokit,
  isHttpError,
  redactToken,
  type GitHubClientOptions,
  type GitHubLog,
  type GitHubOctokit,
} from '../../github/client.js';
import { isRecord } from '../shared.js';

/** One repository's client and the helpers every call uses. */
export interface GitHubContext {
  octokit: GitHubOctokit;
  owner: string;
  repo: string;
  /** `owner/repo`, for messages. */
  slug: string;
  /** `{ owner, repo }`, spread into every request. */
  base: { owner: string; repo: string };
  log: GitHubLog | undefined;
  /** Runs one GitHub call, turning its failure into a `TrackerError` that says what to do. */
  call<T>(what: string, fn: () => Promise<T>): Promise<T>;
  /** The `TrackerError` for a failure while doing `what` (a `ForemanError` passes through). */
  fail(err: unknown, what: string): ForemanError;
}

/**
 * Creates the client for one repository.
 *
 * @param opts Client options (token, base URL, throttle, timeouts) plus `owner` and `repo`.
 */
export function createGitHubContext(opts: GitHubClientOptions & { owner: string; repo: string }): GitHubContext {
  const { owner, repo, token } = opts;
  const slug = `${owner}/${repo}`;
  const fail = (err: unknown, what: string) => toTrackerError(err, what, slug, token);
  return {
    octokit: createGitHubOctokit(opts),
    owner,
    repo,
    slug,
    base: { owner, repo },
    log: opts.log,
    fail,
    async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
      try {
        return await fn();
      } catch (err) {
        throw fail(err, what);
      }
    },
  };
}

/** A malformed GitHub payload (permanent). */
export function payloadInvalid(what: string): TrackerError {
  return new TrackerError('tracker_payload_invalid', `Malformed GitHub payload: ${what}`, { retryable: false });
}

/** An issue id that cannot name an issue of the repository (permanent). */
export function notAnIssue(issueId: string, slug: string): TrackerError {
  return new TrackerError('tracker_not_found', `"${issueId}" is not an issue number of ${slug}`, { retryable: false });
}

/** True for GitHub's 422 `already_exists` validation error (e.g. creating a label twice). */
export function isAlreadyExists(err: unknown): boolean {
  if (!isHttpError(err) || err.status !== 422) return false;
  const data = err.response?.data;
  return (
    isRecord(data) && Array.isArray(data.errors) && data.errors.some((e) => isRecord(e) && e.code === 'already_exists')
  );
}

/** Maps a failed GitHub call to a `TrackerError`; the token never reaches the message. */
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
