/**
 * The pull-request client for a workspace under the policy: which GitHub repository (`scm.github.repo`,
 * else the GitHub tracker's repo, else the remote's URL) and which token (`scm.github.token`, the
 * GitHub tracker's, else GITHUB_TOKEN). Owns that resolution and how the pull request refers to the
 * issue; the API calls are ./github.ts.
 */
import type { Policy } from '../config/schema.js';
import type { Logger } from '../logger.js';
import type { Issue } from '../trackers/types.js';
import { recordedRemoteUrl } from '../workspace/git.js';
import { createGitHubScm, parseGitHubRemote, type GitHubScm } from './github.js';

/** A pull-request client bound to one repository. */
export interface RepositoryScm {
  owner: string;
  repo: string;
  scm: GitHubScm;
}

const str = (v: unknown) => (typeof v === 'string' && v.trim() ? v.trim() : undefined);

/**
 * The client for the repository of the workspace at `workspacePath`, or null when pull requests are
 * off (`scm.pull_requests: false`), the repository is not on GitHub, or there is no token.
 */
export async function scmForWorkspace(
  policy: Policy,
  workspacePath: string,
  env: NodeJS.ProcessEnv,
  log: Logger,
): Promise<RepositoryScm | null> {
  if (!policy.scm.pull_requests) return null;
  const provider = policy.tracker.kind === 'github' ? policy.tracker.provider : {};
  const token = policy.scm.github.token ?? str(provider.token) ?? str(provider.api_key) ?? str(env.GITHUB_TOKEN);
  const baseUrl = policy.scm.github.base_url ?? str(provider.endpoint) ?? str(provider.base_url);
  let slug = policy.scm.github.repo ?? str(provider.repo);
  if (!slug) {
    const url =
      // The URL Foreman recorded when it made the workspace, not `.git/config` (the agent can write it).
      (await recordedRemoteUrl(workspacePath)) ?? '';
    const hosts = ['github.com', ...(baseUrl ? [new URL(baseUrl).hostname] : [])];
    const parsed = parseGitHubRemote(url.trim(), hosts);
    slug = parsed ? `${parsed.owner}/${parsed.repo}` : undefined;
  }
  const [owner, repo] = slug?.split('/') ?? [];
  if (!owner || !repo || !token) return null;
  return { owner, repo, scm: createGitHubScm({ owner, repo, token, ...(baseUrl ? { baseUrl } : {}), log }) };
}

/**
 * How the pull request body refers to the issue: `Refs #N` for an issue of the same GitHub
 * repository (GitHub then cross-links them), else the issue's URL or identifier.
 */
export function issueReference(issue: Issue, trackerKind: string, owner: string, repo: string): string {
  const ref = issue.native_ref;
  const sameRepo = trackerKind === 'github' && ref?.owner === owner && ref?.repo === repo;
  if (sameRepo) return `Refs #${String(ref?.number)}`;
  return issue.url ? `Issue: ${issue.url}` : `Issue: ${issue.identifier}`;
}
