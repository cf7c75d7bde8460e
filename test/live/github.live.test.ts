/**
 * Live test of the GitHub tracker (src/trackers/github/) and PR client (src/scm/github.ts)
 * against the real REST API and a scratch repository.
 *
 * Runs only with FOREMAN_LIVE=1, GITHUB_TOKEN and FOREMAN_LIVE_GITHUB_REPO (`owner/name` of a
 * repository the token may write issues to); otherwise every test reports "skipped". With
 * FOREMAN_LIVE_GITHUB_ISSUE (a number) that issue is used; else one is created and closed at the
 * end. Everything else the run creates (a comment, state labels) is deleted again.
 * How to run and what the token needs: specs/live-tests.md.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TrackerError } from '../../src/errors.js';
import { createGitHubScm, type GitHubScm } from '../../src/scm/github.js';
import {
  GITHUB_DEFAULT_OPEN_STATE,
  classifyGitHubError,
  createGitHubOctokit,
  createGitHubTracker,
  githubTrackerFromPolicy,
  parseRepoSlug,
  redactToken,
  type GitHubOctokit,
  type GitHubTracker,
} from '../../src/trackers/github/index.js';
import { TEST_COMMENT_KEY } from '../support/comment-key.js';

const token = process.env.GITHUB_TOKEN?.trim() ?? '';
const repoSlug = process.env.FOREMAN_LIVE_GITHUB_REPO?.trim() ?? '';
const issueEnv = process.env.FOREMAN_LIVE_GITHUB_ISSUE?.trim() ?? '';
/** REST root for GitHub Enterprise Server. (Default: https://api.github.com) */
const apiUrl = process.env.FOREMAN_LIVE_GITHUB_API_URL?.trim() || undefined;
const endpoint = apiUrl !== undefined ? { baseUrl: apiUrl } : {};
const enabled = process.env.FOREMAN_LIVE === '1' && token !== '' && repoSlug !== '';

const ACTIVE = ['Todo', 'In Progress'];
const TERMINAL = ['Done', 'Closed', 'Cancelled', 'Canceled', 'Duplicate'];
const STATE_PREFIX = 'state: ';
/** Unique per run, so parallel runs on one scratch repository never share a key or a label. */
const runId = `${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;

describe.skipIf(!enabled)(`live GitHub: ${repoSlug || '(no repository)'}`, () => {
  let owner: string;
  let repo: string;
  let octokit: GitHubOctokit;
  let tracker: GitHubTracker;
  let scm: GitHubScm;
  let defaultBranch: string;
  let issueNumber: number;
  let issueId: string;
  let createdIssue = false;
  /** Label names the scratch issue had before the run. */
  let originalLabels: string[] = [];
  const createdCommentIds: number[] = [];
  /** State labels this run may have created in the repository (deleted afterwards if they did not exist before). */
  const candidateLabels = new Set<string>();
  const preexistingLabels = new Set<string>();

  /** Runs `fn`; turns an Octokit error into one whose message names `what` and never holds the token. */
  const gh = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      const failure = classifyGitHubError(err);
      const said = failure ? `${failure.status} ${failure.detail}` : err instanceof Error ? err.message : String(err);
      // eslint-disable-next-line preserve-caught-error -- the cause would carry request details; the message is redacted instead
      throw new Error(redactToken(`GitHub ${what} failed: ${said}`, token));
    }
  };

  const labelExists = async (name: string): Promise<boolean> => {
    try {
      await octokit.rest.issues.getLabel({ owner, repo, name });
      return true;
    } catch (err) {
      if (classifyGitHubError(err)?.kind === 'not_found') return false;
      // eslint-disable-next-line preserve-caught-error -- the cause would carry request details; the message is redacted instead
      throw new Error(
        redactToken(`GitHub reading label "${name}" failed: ${String(classifyGitHubError(err)?.detail ?? err)}`, token),
      );
    }
  };

  const issueLabels = async (): Promise<string[]> => {
    const { data } = await gh(`reading ${repoSlug}#${issueNumber}`, () =>
      octokit.rest.issues.get({ owner, repo, issue_number: issueNumber }),
    );
    return data.labels.map((l) => (typeof l === 'string' ? l : (l.name ?? ''))).filter((n) => n !== '');
  };

  /** Remembers whether a state label exists before the run may create it. */
  const watchLabel = async (name: string): Promise<void> => {
    if (candidateLabels.has(name)) return;
    candidateLabels.add(name);
    if (await labelExists(name)) preexistingLabels.add(name);
  };

  beforeAll(async () => {
    const parsed = parseRepoSlug(repoSlug);
    if (parsed === null) throw new Error(`FOREMAN_LIVE_GITHUB_REPO "${repoSlug}" must be "owner/name"`);
    ({ owner, repo } = parsed);
    octokit = createGitHubOctokit({ token, ...endpoint });
    const { data: repoData } = await gh(`reading repository ${repoSlug}`, () =>
      octokit.rest.repos.get({ owner, repo }),
    );
    defaultBranch = repoData.default_branch;
    if (repoData.has_issues === false)
      throw new Error(`${repoSlug} has issues turned off; FOREMAN_LIVE_GITHUB_REPO needs a repository with issues`);

    if (issueEnv !== '') {
      const m = /(\d+)$/.exec(issueEnv);
      if (m === null) throw new Error(`FOREMAN_LIVE_GITHUB_ISSUE "${issueEnv}" must be an issue number (e.g. 12)`);
      issueNumber = Number(m[1]);
    } else {
      const { data } = await gh(`creating a scratch issue in ${repoSlug}`, () =>
        octokit.rest.issues.create({
          owner,
          repo,
          title: `Foreman live test ${runId}`,
          body: 'Created by test/live/github.live.test.ts (Foreman). Closed when the run ends; safe to delete.',
        }),
      );
      issueNumber = data.number;
      createdIssue = true;
    }
    issueId = String(issueNumber);
    originalLabels = await issueLabels();

    // The policy path, with the token from the environment as the daemon reads it.
    tracker = githubTrackerFromPolicy(
      { repo: repoSlug, ...(apiUrl !== undefined ? { endpoint: apiUrl } : {}) },
      { active_states: ACTIVE, terminal_states: TERMINAL },
      { GITHUB_TOKEN: token },
      { commentKey: TEST_COMMENT_KEY },
    );
    scm = createGitHubScm({ owner, repo, token, ...endpoint });
  }, 120_000);

  afterAll(async () => {
    // Best effort, newest first; every failure is reported after all steps ran.
    const problems: string[] = [];
    const step = async (what: string, fn: () => Promise<unknown>) => {
      try {
        await fn();
      } catch (err) {
        if (classifyGitHubError(err)?.kind === 'not_found') return;
        problems.push(
          redactToken(`${what}: ${String(classifyGitHubError(err)?.detail ?? (err as Error)?.message ?? err)}`, token),
        );
      }
    };
    if (octokit === undefined || issueNumber === undefined) return;
    for (const id of createdCommentIds) {
      await step(`deleting comment ${id}`, () => octokit.rest.issues.deleteComment({ owner, repo, comment_id: id }));
    }
    await step('restoring the issue labels', async () => {
      const original = new Set(originalLabels.map((l) => l.toLowerCase()));
      for (const name of await issueLabels()) {
        if (original.has(name.toLowerCase())) continue;
        await step(`removing label "${name}"`, () =>
          octokit.rest.issues.removeLabel({ owner, repo, issue_number: issueNumber, name }),
        );
      }
    });
    for (const name of candidateLabels) {
      if (preexistingLabels.has(name)) continue;
      await step(`deleting label "${name}"`, () => octokit.rest.issues.deleteLabel({ owner, repo, name }));
    }
    if (createdIssue) {
      await step(`closing ${repoSlug}#${issueNumber}`, () =>
        octokit.rest.issues.update({
          owner,
          repo,
          issue_number: issueNumber,
          state: 'closed',
          state_reason: 'not_planned',
        }),
      );
    }
    if (problems.length > 0)
      throw new Error(`Live GitHub cleanup left things behind in ${repoSlug}:\n${problems.join('\n')}`);
  }, 120_000);

  it('lists every open issue (all pages) and reads one back by identifier and id', async () => {
    const listed = await tracker.fetchIssuesByStates([GITHUB_DEFAULT_OPEN_STATE]);
    // The same listing straight from the API: an open issue (not a PR) is `Todo` when its first
    // state label says so, or when it has none.
    const raw = await gh(`listing open issues of ${repoSlug}`, () =>
      octokit.paginate(octokit.rest.issues.listForRepo, { owner, repo, state: 'open', per_page: 100 }),
    );
    const todo = GITHUB_DEFAULT_OPEN_STATE.toLowerCase();
    const expected = raw
      .filter((i) => !i.pull_request)
      .filter((i) => {
        const names = i.labels.map((l) => (typeof l === 'string' ? l : (l.name ?? '')).toLowerCase());
        const state = names.find((n) => n.startsWith(STATE_PREFIX) && n.slice(STATE_PREFIX.length).trim() !== '');
        return state === undefined || state.slice(STATE_PREFIX.length).trim() === todo;
      })
      .map((i) => String(i.number));
    expect(new Set(listed.map((i) => i.id))).toEqual(new Set(expected));
    if (createdIssue) expect(listed.map((i) => i.id)).toContain(issueId);
    for (const issue of listed) {
      expect(issue.state.toLowerCase()).toBe(todo);
      expect(issue.identifier).toBe(`${repo}-${issue.id}`);
      expect(issue.url).toMatch(/^https:\/\//);
      expect(issue.native_ref).toMatchObject({ owner, repo, number: Number(issue.id) });
    }

    const byIdentifier = await tracker.fetchIssueByIdentifier(`${repo}-${issueNumber}`);
    expect(byIdentifier).toMatchObject({ id: issueId, identifier: `${repo}-${issueNumber}` });
    const byId = await tracker.fetchIssuesByIds([issueId]);
    expect(byId.map((i) => i.id)).toEqual([issueId]);
    expect(await tracker.fetchIssueByIdentifier(`${repo}-999999999`)).toBeNull();
  });

  it('upserts a keyed comment idempotently: one comment, updated in place, marker kept', async () => {
    const key = `live-test-${runId}`;
    const first = await tracker.upsertComment(issueId, key, `Foreman live test ${runId}: first body`);
    expect(first.created).toBe(true);
    createdCommentIds.push(Number(first.id));

    const second = await tracker.upsertComment(issueId, key, `Foreman live test ${runId}: second body`);
    expect(second).toEqual({ id: first.id, created: false });
    const third = await tracker.upsertComment(issueId, key, `Foreman live test ${runId}: second body`);
    expect(third).toEqual({ id: first.id, created: false });

    const mine = (await tracker.fetchComments(issueId)).filter((c) => c.key === key);
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ id: first.id, by_foreman: true, body: `Foreman live test ${runId}: second body` });

    // GitHub stores the hidden marker verbatim.
    const { data } = await gh(`reading comment ${first.id}`, () =>
      octokit.rest.issues.getComment({ owner, repo, comment_id: Number(first.id) }),
    );
    expect(data.body ?? '').toMatch(new RegExp(`^<!-- foreman:key=${key} -->\\r?\\n`));
  });

  it('moves the issue to a `state: ` label and back', async () => {
    const before = await tracker.fetchIssueByIdentifier(`${repo}-${issueNumber}`);
    expect(before).not.toBeNull();
    const original = before!.state;
    const target = `Live ${runId}`;
    await watchLabel(`${STATE_PREFIX}${target}`);
    if (!TERMINAL.some((t) => t.toLowerCase() === original.toLowerCase()))
      await watchLabel(`${STATE_PREFIX}${original}`);

    await tracker.moveIssue(issueId, target);
    const moved = await tracker.fetchIssuesByIds([issueId]);
    expect(moved[0]?.state).toBe(target);
    expect(moved[0]?.labels).toContain(`${STATE_PREFIX}${target}`.toLowerCase());
    expect((await tracker.fetchIssuesByStates([target])).map((i) => i.id)).toEqual([issueId]);

    await tracker.moveIssue(issueId, target); // already there: a no-op
    expect((await tracker.fetchIssuesByIds([issueId]))[0]?.state).toBe(target);

    await tracker.moveIssue(issueId, original);
    const back = await tracker.fetchIssuesByIds([issueId]);
    expect(back[0]?.state).toBe(original);
    expect(back[0]?.labels).not.toContain(`${STATE_PREFIX}${target}`.toLowerCase());
  });

  it('rolls up CI of the default branch and reads an issue number as "no pull request"', async () => {
    const summary = await scm.checksFor(defaultBranch);
    expect(['pending', 'success', 'failure']).toContain(summary.state);
    for (const check of summary.checks) {
      expect(typeof check.name).toBe('string');
      expect(typeof check.status).toBe('string');
    }
    if (summary.checks.length === 0) expect(summary.state).toBe('pending');
    expect(await scm.getPullRequest(issueNumber)).toBeNull();
  });

  it('maps a rejected token to tracker_unauthorized without echoing it', async () => {
    const bad = `ghp_foremanLiveInvalid${randomBytes(8).toString('hex')}`;
    const badTracker = createGitHubTracker({
      owner,
      repo,
      token: bad,
      ...endpoint,
      activeStates: ACTIVE,
      terminalStates: TERMINAL,
      throttle: false,
      commentKey: TEST_COMMENT_KEY,
    });
    const err = await badTracker.fetchIssuesByStates(['Todo']).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TrackerError);
    expect((err as TrackerError).code).toBe('tracker_unauthorized');
    expect((err as TrackerError).retryable).toBe(false);
    expect((err as TrackerError).message).not.toContain(bad);
  });
});
