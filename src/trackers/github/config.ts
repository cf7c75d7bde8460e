/**
 * The GitHub tracker from the policy: reads `tracker.provider` (keys: specs/trackers/github.md)
 * into `createGitHubTracker` options, and parses repository slugs.
 */
import { PolicyError, type PolicyErrorCode } from '../../errors.js';
import { isOwnerRepo, ownerRepoFromPath } from '../../github/client.js';
import { isHttpUrl } from '../shared.js';
import { createGitHubTracker, type GitHubTracker, type GitHubTrackerOptions } from './adapter.js';

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
  extra: Pick<GitHubTrackerOptions, 'log' | 'throttle' | 'retryUnitMs' | 'timeoutMs' | 'commentKey'>,
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
  if (owner === undefined || repo === undefined || !isOwnerRepo(owner, repo)) {
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
  return ownerRepoFromPath(v);
}
