/**
 * The GitHub tracker's REST calls: reading issues, comments and labels, and the writes that
 * create things (comments, labels, issues). Each returns GitHub's raw JSON, checked only as far
 * as callers rely on it; ./normalize.ts turns it into `Issue`/`IssueComment`.
 *
 * Creating requests are sent without plugin retries: a retried POST after a lost response would
 * create twice. The caller's retry re-reads first, which is idempotent.
 */
import { TrackerError } from '../../errors.js';
import { classifyGitHubError } from '../../github/client.js';
import { isRecord } from '../shared.js';
import { isAlreadyExists, payloadInvalid, type GitHubContext } from './client.js';
import { isPullRequest, parseIssueNumber } from './normalize.js';

/** Closed issues read by a terminal-state listing: the most recently updated, one page. */
export const GITHUB_CLOSED_ISSUES_LIMIT = 100;

/** Every open issue (and pull request) of the repository, all pages. */
export async function listOpenIssues(ctx: GitHubContext): Promise<unknown[]> {
  const { octokit, base, slug } = ctx;
  const open = await ctx.call(`listing open issues of ${slug}`, () =>
    octokit.paginate(octokit.rest.issues.listForRepo, { ...base, state: 'open', per_page: 100 }),
  );
  if (!Array.isArray(open)) throw payloadInvalid(`open issues of ${slug} are not a list`);
  return open;
}

/** The `GITHUB_CLOSED_ISSUES_LIMIT` most recently updated closed issues. */
export async function listRecentClosedIssues(ctx: GitHubContext): Promise<unknown[]> {
  const { octokit, base, slug } = ctx;
  const { data } = await ctx.call(`listing closed issues of ${slug}`, () =>
    octokit.rest.issues.listForRepo({
      ...base,
      state: 'closed',
      sort: 'updated',
      direction: 'desc',
      per_page: GITHUB_CLOSED_ISSUES_LIMIT,
    }),
  );
  if (!Array.isArray(data)) throw payloadInvalid(`closed issues of ${slug} are not a list`);
  return data;
}

/** Every issue, open or closed, all pages (oldest first): `createIssue`'s search for its key. */
export async function listAllIssues(ctx: GitHubContext): Promise<unknown[]> {
  const { octokit, base, slug } = ctx;
  const all = await ctx.call(`listing issues of ${slug}`, () =>
    octokit.paginate(octokit.rest.issues.listForRepo, {
      ...base,
      state: 'all',
      sort: 'created',
      direction: 'asc',
      per_page: 100,
    }),
  );
  if (!Array.isArray(all)) throw payloadInvalid(`issues of ${slug} are not a list`);
  return all;
}

/** GET one issue; null when missing (404/410), a pull request, or moved to another repository. */
export async function getIssueRaw(ctx: GitHubContext, number: number): Promise<Record<string, unknown> | null> {
  const { octokit, base, slug } = ctx;
  let data: unknown;
  try {
    ({ data } = await octokit.rest.issues.get({ ...base, issue_number: number }));
  } catch (err) {
    const failure = classifyGitHubError(err);
    if (failure?.kind !== 'not_found') throw ctx.fail(err, `reading issue ${slug}#${number}`);
    await requireRepo(ctx);
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
}

/** A 404 on an issue is "no such issue" only if the repository itself is visible. */
async function requireRepo(ctx: GitHubContext): Promise<void> {
  await ctx.call(`reading repository ${ctx.slug}`, () => ctx.octokit.rest.repos.get(ctx.base));
}

/**
 * The raw issue with this id.
 *
 * @throws TrackerError `tracker_not_found` (not retryable) when it is no issue of the repository.
 */
export async function requireIssue(ctx: GitHubContext, issueId: string): Promise<Record<string, unknown>> {
  const number = parseIssueNumber(issueId);
  const raw = number === null ? null : await getIssueRaw(ctx, number);
  if (raw === null) {
    throw new TrackerError(
      'tracker_not_found',
      `Issue "${issueId}" is not an issue of ${ctx.slug} (no such number, a pull request, or moved)`,
      { retryable: false },
    );
  }
  return raw;
}

/** Every comment on the issue (`since`: RFC 3339, GitHub filters on updated_at), each with an id and created_at. */
export async function listComments(
  ctx: GitHubContext,
  number: number,
  since?: string,
): Promise<Record<string, unknown>[]> {
  const { octokit, base, slug } = ctx;
  const raws = await ctx.call(`listing comments of ${slug}#${number}`, () =>
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
}

/**
 * The repository's issue comments updated since `since` (RFC 3339; GitHub filters on updated_at),
 * oldest first: one page loop over `GET /repos/{owner}/{repo}/issues/comments` for every issue.
 */
export async function listRepoComments(ctx: GitHubContext, since: string): Promise<Record<string, unknown>[]> {
  const { octokit, base, slug } = ctx;
  const raws = await ctx.call(`listing comments of ${slug}`, () =>
    octokit.paginate(octokit.rest.issues.listCommentsForRepo, {
      ...base,
      since,
      sort: 'created',
      direction: 'asc',
      per_page: 100,
    }),
  );
  if (!Array.isArray(raws)) throw payloadInvalid(`comments of ${slug} are not a list`);
  return raws.map((c: unknown) => {
    if (
      !isRecord(c) ||
      (typeof c.id !== 'number' && typeof c.id !== 'bigint') ||
      typeof c.created_at !== 'string' ||
      typeof c.issue_url !== 'string'
    ) {
      throw payloadInvalid(`a comment in ${slug} has no id, created_at or issue_url`);
    }
    return c;
  });
}

/** Posts a new comment; returns its id. */
export async function createComment(ctx: GitHubContext, number: number, body: string): Promise<string> {
  const { octokit, base, slug } = ctx;
  const { data } = await ctx.call(`commenting on ${slug}#${number}`, () =>
    octokit.rest.issues.createComment({ ...base, issue_number: number, body, request: { retries: 0 } }),
  );
  if (!isRecord(data) || (typeof data.id !== 'number' && typeof data.id !== 'bigint')) {
    throw payloadInvalid(`creating a comment on ${slug}#${number} returned no id`);
  }
  return String(data.id);
}

/** Replaces a comment's body. */
export async function updateComment(ctx: GitHubContext, number: number, id: string, body: string): Promise<void> {
  const { octokit, base, slug } = ctx;
  await ctx.call(`updating comment ${id} on ${slug}#${number}`, () =>
    octokit.rest.issues.updateComment({ ...base, comment_id: Number(id), body }),
  );
}

/** The label's name as the repository spells it, creating the label when it is missing. */
export async function ensureLabel(ctx: GitHubContext, name: string): Promise<string> {
  const { octokit, base, slug } = ctx;
  try {
    const { data } = await octokit.rest.issues.getLabel({ ...base, name });
    if (isRecord(data) && typeof data.name === 'string') return data.name;
    return name;
  } catch (err) {
    if (classifyGitHubError(err)?.kind !== 'not_found') throw ctx.fail(err, `reading label "${name}" of ${slug}`);
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
    if (!isAlreadyExists(err)) throw ctx.fail(err, `creating label "${name}" in ${slug}`);
  }
  return name;
}

/** Opens or closes an issue (`state_reason`: `completed`, `not_planned`, `reopened`); returns the raw issue. */
export async function setIssueState(
  ctx: GitHubContext,
  number: number,
  state: 'open' | 'closed',
  reason: 'completed' | 'not_planned' | 'reopened',
): Promise<unknown> {
  const { octokit, base, slug } = ctx;
  const what = state === 'closed' ? `closing ${slug}#${number}` : `reopening ${slug}#${number}`;
  const { data } = await ctx.call(what, () =>
    octokit.rest.issues.update({ ...base, issue_number: number, state, state_reason: reason }),
  );
  return data;
}

/** Adds labels to an issue. */
export async function addLabels(ctx: GitHubContext, number: number, labels: string[]): Promise<void> {
  const { octokit, base, slug } = ctx;
  await ctx.call(`labelling ${slug}#${number}`, () =>
    octokit.rest.issues.addLabels({ ...base, issue_number: number, labels }),
  );
}

/** Removes a label from an issue; a label already gone is fine. */
export async function removeLabel(ctx: GitHubContext, number: number, label: string): Promise<void> {
  const { octokit, base, slug } = ctx;
  try {
    await octokit.rest.issues.removeLabel({ ...base, issue_number: number, name: label });
  } catch (err) {
    if (classifyGitHubError(err)?.kind !== 'not_found')
      throw ctx.fail(err, `removing label "${label}" from ${slug}#${number}`);
  }
}

/** `POST /repos/{owner}/{repo}/issues`; returns the raw new issue. */
export async function postIssue(
  ctx: GitHubContext,
  issue: { title: string; body: string; labels: string[] },
): Promise<unknown> {
  const { octokit, base, slug } = ctx;
  const { data } = await ctx.call(`creating an issue in ${slug}`, () =>
    octokit.rest.issues.create({ ...base, ...issue, request: { retries: 0 } }),
  );
  return data;
}

/**
 * The account the token posts as (`GET /user`): its numeric id and login. Null when GitHub answers
 * 403 to a token that is not a user's (an installation token); Foreman then recognizes its
 * comments by the marker's MAC alone (docs/architecture.md, "Foreman's own comments").
 */
export async function getTokenUser(ctx: GitHubContext): Promise<{ id: number; login: string } | null> {
  let data: unknown;
  try {
    ({ data } = await ctx.octokit.rest.users.getAuthenticated());
  } catch (err) {
    if (classifyGitHubError(err)?.kind === 'forbidden') return null;
    throw ctx.fail(err, "reading the token's user (GET /user)");
  }
  if (!isRecord(data) || typeof data.id !== 'number' || typeof data.login !== 'string')
    throw payloadInvalid('GET /user has no numeric "id" and "login"');
  return { id: data.id, login: data.login };
}

/** Permissions that count as write access (GitHub REST "Get repository permissions for a user"). */
const WRITE_PERMISSIONS = new Set(['admin', 'maintain', 'write']);

/**
 * True when `login` has write access to the repository:
 * `GET /repos/{owner}/{repo}/collaborators/{username}/permission` says `admin`, `maintain` or
 * `write`. A 404 (not a collaborator, or no such user) is false.
 */
export async function hasWritePermission(ctx: GitHubContext, login: string): Promise<boolean> {
  const { octokit, base, slug } = ctx;
  try {
    const { data } = await ctx.call(`reading ${login}'s permission on ${slug}`, () =>
      octokit.rest.repos.getCollaboratorPermissionLevel({ ...base, username: login }),
    );
    const d = data as unknown;
    if (!isRecord(d)) return false;
    const role = isRecord(d.user) && typeof d.user.role_name === 'string' ? d.user.role_name : null;
    return WRITE_PERMISSIONS.has(String(d.permission)) || (role !== null && WRITE_PERMISSIONS.has(role));
  } catch (err) {
    if (err instanceof TrackerError && err.code === 'tracker_not_found') return false;
    throw err;
  }
}

/** The `actor` objects of the `labeled` events that applied `label` (case-insensitive) to issue `number`, oldest first. */
export async function labelActors(ctx: GitHubContext, number: number, label: string): Promise<unknown[]> {
  const { octokit, base, slug } = ctx;
  const raws = await ctx.call(`listing events of ${slug}#${number}`, () =>
    octokit.paginate(octokit.rest.issues.listEvents, { ...base, issue_number: number, per_page: 100 }),
  );
  if (!Array.isArray(raws)) throw payloadInvalid(`events of ${slug}#${number} are not a list`);
  const want = label.trim().toLowerCase();
  return (raws as unknown[])
    .filter(
      (e): e is Record<string, unknown> =>
        isRecord(e) &&
        e.event === 'labeled' &&
        isRecord(e.label) &&
        typeof e.label.name === 'string' &&
        e.label.name.trim().toLowerCase() === want,
    )
    .map((e) => e.actor);
}
