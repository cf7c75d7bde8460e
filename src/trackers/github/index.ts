/**
 * The GitHub tracker's public surface: the adapter, its policy reader, and (re-exported for
 * callers that used to import them from here) the shared REST client of src/github/client.ts.
 */
export { createGitHubTracker, type GitHubTracker, type GitHubTrackerOptions } from './adapter.js';
export { githubTrackerFromPolicy, parseRepoSlug, type GitHubPolicyTracker } from './config.js';
export { GITHUB_DEFAULT_OPEN_STATE } from './normalize.js';
export { GITHUB_CLOSED_ISSUES_LIMIT } from './queries.js';
export {
  DEFAULT_GITHUB_API_URL,
  GITHUB_RATE_LIMIT_MAX_WAIT_S,
  GITHUB_RATE_LIMIT_RETRIES,
  GITHUB_SERVER_ERROR_RETRIES,
  GitHubPayloadError,
  classifyGitHubError,
  createGitHubOctokit,
  redactToken,
  type GitHubClientOptions,
  type GitHubFailure,
  type GitHubFailureKind,
  type GitHubLog,
  type GitHubOctokit,
} from '../../github/client.js';
