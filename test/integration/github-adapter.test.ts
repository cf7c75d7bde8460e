import { inspect } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ForemanError, PolicyError, TrackerError } from '../../src/errors.js';
import { ScmError } from '../../src/errors.js';
import { createGitHubScm, parseGitHubRemote, type GitHubScm } from '../../src/scm/github.js';
import {
  createGitHubTracker,
  githubTrackerFromPolicy,
  type GitHubTracker,
  type GitHubTrackerOptions,
} from '../../src/trackers/github/index.js';
import { startFakeGitHub, type FakeGitHub } from '../support/fake-github.js';
import { TEST_COMMENT_KEY } from '../support/comment-key.js';
import { markerFor } from '../../src/trackers/marker.js';

const TERMINAL = ['Done', 'Closed', 'Cancelled', 'Canceled', 'Duplicate'];
const ISSUES = '/repos/acme/app/issues';
const keyed = { commentKey: TEST_COMMENT_KEY };

let fake: FakeGitHub;
let warnings: { obj: object; msg: string }[];

beforeEach(async () => {
  fake = await startFakeGitHub({ owner: 'acme', repo: 'app', token: 'ghp_secret_token_123' });
  warnings = [];
});

afterEach(async () => {
  await fake.close();
});

function tracker(over: Partial<GitHubTrackerOptions> = {}): GitHubTracker {
  return createGitHubTracker({
    owner: 'acme',
    repo: 'app',
    token: fake.token,
    baseUrl: fake.url,
    activeStates: ['Todo', 'In Progress'],
    terminalStates: TERMINAL,
    throttle: false,
    retryUnitMs: 1,
    log: { warn: (obj, msg) => warnings.push({ obj, msg }) },
    commentKey: TEST_COMMENT_KEY,
    ...over,
  });
}

function scm(over: Partial<Parameters<typeof createGitHubScm>[0]> = {}): GitHubScm {
  return createGitHubScm({
    owner: 'acme',
    repo: 'app',
    token: fake.token,
    baseUrl: fake.url,
    throttle: false,
    retryUnitMs: 1,
    ...over,
  });
}

/** Resolves to the thrown error (fails the test if the promise resolves). */
async function failure(p: Promise<unknown>): Promise<ForemanError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(ForemanError);
    return err as ForemanError;
  }
  throw new Error('expected a rejection');
}

const writes = () => fake.requests.filter((r) => r.method !== 'GET').length;

describe('github tracker: reading issues', () => {
  it('pages through every open issue, 100 per page (250 issues → 3 requests)', async () => {
    for (let i = 0; i < 250; i++) fake.addIssue({ title: `Issue ${i}` });
    const issues = await tracker().fetchIssuesByStates(['Todo']);
    expect(issues).toHaveLength(250);
    expect(new Set(issues.map((i) => i.id)).size).toBe(250);
    const pages = fake.requests.filter((r) => r.path === ISSUES);
    expect(pages.map((r) => [r.query.state, r.query.per_page, r.query.page ?? '1'])).toEqual([
      ['open', '100', '1'],
      ['open', '100', '2'],
      ['open', '100', '3'],
    ]);
    expect(pages.every((r) => r.authorization === `token ${fake.token}`)).toBe(true);
  });

  it('normalizes issues: state from closed/labels, labels lowercased, priority label, pull requests skipped', async () => {
    fake.addIssue({
      title: '  Add a health endpoint ',
      body: 'Expose GET /healthz.\n',
      labels: ['Backend', 'state: In Progress', 'Priority: 2', 'AGENT'],
      assignee: 'jane',
      created_at: '2026-01-05T10:00:00Z',
      updated_at: '2026-01-06T11:30:00Z',
    });
    fake.addIssue({ title: 'No labels' });
    fake.addIssue({ title: 'Shipped', state: 'closed', state_reason: 'completed' });
    fake.addIssue({ title: 'Dropped', state: 'closed', state_reason: 'not_planned' });
    fake.addIssue({ title: 'Twin', state: 'closed', state_reason: 'duplicate' });
    fake.addIssue({ title: 'Odd priority', labels: ['priority: high', 'priority: 7'] });
    fake.addPull({ head: 'feature', title: 'A pull request' });

    const t = tracker();
    const open = await t.fetchIssuesByStates(['todo', 'IN PROGRESS']);
    expect(open.map((i) => i.title).sort()).toEqual(['Add a health endpoint', 'No labels', 'Odd priority']);
    const first = open.find((i) => i.id === '1');
    expect(first).toEqual({
      id: '1',
      identifier: 'app-1',
      title: 'Add a health endpoint',
      description: 'Expose GET /healthz.',
      priority: 2,
      state: 'In Progress',
      branch_name: null,
      url: 'https://github.com/acme/app/issues/1',
      assignee_id: 'jane',
      labels: ['backend', 'state: in progress', 'priority: 2', 'agent'],
      blocked_by: [],
      dispatchable: true,
      created_at: '2026-01-05T10:00:00.000Z',
      updated_at: '2026-01-06T11:30:00.000Z',
      native_ref: {
        owner: 'acme',
        repo: 'app',
        number: 1,
        node_id: 'I_1',
        html_url: 'https://github.com/acme/app/issues/1',
      },
      // The author as the trust rules see them (specs/trust.md): octocat is a collaborator.
      author: { id: 'octocat', name: 'octocat', role: 'COLLABORATOR', bot: false },
    });
    const two = open.find((i) => i.id === '2');
    expect(two).toMatchObject({ state: 'Todo', description: null, priority: null, labels: [], assignee_id: null });
    expect(open.find((i) => i.id === '6')?.priority).toBe(7);

    const closed = await t.fetchIssuesByStates(['Done', 'Cancelled', 'Duplicate']);
    expect(closed.map((i) => [i.title, i.state]).sort()).toEqual([
      ['Dropped', 'Cancelled'],
      ['Shipped', 'Done'],
      ['Twin', 'Duplicate'],
    ]);
    // The pull request (#7) never shows up, not even by id.
    expect(await t.fetchIssuesByIds(['7'])).toEqual([]);
  });

  it('asks for open issues only for non-terminal states, and for one page of recently updated closed issues for terminal ones', async () => {
    for (let i = 0; i < 150; i++) fake.addIssue({ title: `Old ${i}`, state: 'closed', state_reason: 'completed' });
    fake.addIssue({ title: 'Open one' });
    const t = tracker();

    expect(await t.fetchIssuesByStates([])).toEqual([]);
    expect(await t.fetchIssuesByStates(['  '])).toEqual([]);
    expect(fake.requests).toHaveLength(0);

    const done = await t.fetchIssuesByStates(['Done']);
    expect(done).toHaveLength(100);
    expect(fake.requests.map((r) => r.query)).toEqual([
      { state: 'closed', sort: 'updated', direction: 'desc', per_page: '100' },
    ]);

    fake.requests.length = 0;
    const todo = await t.fetchIssuesByStates(['Todo']);
    expect(todo.map((i) => i.title)).toEqual(['Open one']);
    expect(fake.requests.map((r) => r.query.state)).toEqual(['open']);
  });

  it('fetches by ids and by identifier; unknown, malformed or foreign ids are left out', async () => {
    fake.addIssue({ title: 'One', labels: ['state: In Progress'] });
    fake.addIssue({ title: 'Two', state: 'closed' });
    const t = tracker();
    const byIds = await t.fetchIssuesByIds(['1', '1', ' 2 ', '999', 'x', '-1', '']);
    expect(byIds.map((i) => [i.id, i.state])).toEqual([
      ['1', 'In Progress'],
      ['2', 'Done'],
    ]);
    expect(await t.fetchIssuesByIds([])).toEqual([]);

    for (const id of ['app-1', 'APP-1', 'app#1', 'acme/app#1', '#1', '1']) {
      expect((await t.fetchIssueByIdentifier(id))?.identifier).toBe('app-1');
    }
    for (const id of ['other-1', 'someone/app#1', 'app-999', 'app-', 'nonsense']) {
      expect(await t.fetchIssueByIdentifier(id)).toBeNull();
    }
    expect(t.watch(() => {})).toBeTypeOf('function');
  });

  it('skips (and logs) a malformed issue in a listing, but fails an id refresh on it', async () => {
    fake.addIssue({ title: 'Good' });
    fake.addIssue({ title: 'Bad' });
    fake.fault({
      path: ISSUES,
      transform: (body) =>
        (body as Record<string, unknown>[]).map((i) => (i.number === 2 ? { ...i, title: undefined } : i)),
    });
    const t = tracker();
    const listed = await t.fetchIssuesByStates(['Todo']);
    expect(listed.map((i) => i.title)).toEqual(['Good']);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.msg).toMatch(/Skipping an issue: Malformed GitHub payload: issue acme\/app#2 has no "title"/);

    fake.fault({ path: `${ISSUES}/2`, transform: (body) => ({ ...(body as object), number: 'two' }) });
    const err = await failure(t.fetchIssuesByIds(['1', '2']));
    expect(err).toMatchObject({ code: 'tracker_payload_invalid', retryable: false });

    fake.fault({ path: ISSUES, raw: '{"not json' });
    expect(await failure(t.fetchIssuesByStates(['Todo']))).toMatchObject({ code: 'tracker_payload_invalid' });
  });
});

describe('github tracker: moving issues', () => {
  it('swaps the state label, creating it when missing, and does nothing when already there', async () => {
    fake.addIssue({ title: 'One', labels: ['bug', 'state: Todo'] });
    const t = tracker();
    await t.moveIssue('1', 'In Progress');
    expect(fake.issues.get(1)?.labels).toEqual(['bug', 'state: In Progress']);
    expect(fake.labels.get('state: in progress')).toMatchObject({
      name: 'state: In Progress',
      description: 'Foreman state',
    });
    expect((await t.fetchIssuesByIds(['1']))[0]?.state).toBe('In Progress');

    const before = writes();
    await t.moveIssue('1', 'in progress');
    expect(writes()).toBe(before);

    // An unlabelled open issue already reads as Todo.
    fake.addIssue({ title: 'Two' });
    const beforeTwo = writes();
    await t.moveIssue('2', 'Todo');
    expect(writes()).toBe(beforeTwo);
  });

  it("uses the repository's spelling of an existing label and tolerates a label created meanwhile", async () => {
    fake.addLabel('State: Human Review', 'fbca04');
    fake.addIssue({ title: 'One', labels: ['state: In Progress', 'state: Todo'] });
    const t = tracker();
    await t.moveIssue('1', 'human review');
    expect(fake.issues.get(1)?.labels).toEqual(['State: Human Review']);
    expect(fake.count('/repos/acme/app/labels', 'POST')).toBe(0);

    fake.fault({
      method: 'POST',
      path: '/repos/acme/app/labels',
      status: 422,
      body: {
        message: 'Validation Failed',
        errors: [{ resource: 'Label', code: 'already_exists', field: 'name' }],
        documentation_url: 'x',
      },
    });
    await t.moveIssue('1', 'Rework');
    expect(fake.issues.get(1)?.labels).toEqual(['state: Rework']);
    expect((await t.fetchIssueByIdentifier('app-1'))?.state).toBe('Rework');
  });

  it('closes for terminal states (cancel-like ones as not planned) and reopens for others', async () => {
    fake.addIssue({ title: 'One', labels: ['state: In Progress'] });
    const t = tracker();
    await t.moveIssue('1', 'Done');
    expect(fake.issues.get(1)).toMatchObject({ state: 'closed', state_reason: 'completed' });
    expect((await t.fetchIssuesByIds(['1']))[0]?.state).toBe('Done');

    const before = writes();
    await t.moveIssue('1', 'closed'); // also "completed": already there
    expect(writes()).toBe(before);

    await t.moveIssue('1', 'Cancelled');
    expect(fake.issues.get(1)).toMatchObject({ state: 'closed', state_reason: 'not_planned' });
    expect((await t.fetchIssuesByIds(['1']))[0]?.state).toBe('Cancelled');
    await t.moveIssue('1', 'Duplicate');
    expect(fake.issues.get(1)?.state_reason).toBe('not_planned');

    await t.moveIssue('1', 'Todo');
    expect(fake.issues.get(1)).toMatchObject({ state: 'open', state_reason: 'reopened', labels: ['state: Todo'] });
    expect((await t.fetchIssuesByIds(['1']))[0]?.state).toBe('Todo');
    // The label went on before the reopen, so the issue never read as an old state while open.
    const order = fake.requests
      .filter((r) => r.method !== 'GET')
      .slice(-3)
      .map((r) => `${r.method} ${r.path}`);
    expect(order).toEqual([
      'POST /repos/acme/app/issues/1/labels',
      'DELETE /repos/acme/app/issues/1/labels/state: In Progress',
      'PATCH /repos/acme/app/issues/1',
    ]);
  });

  it('serializes concurrent moves of one issue: exactly one state label remains', async () => {
    fake.addIssue({ title: 'One', labels: ['state: Todo'] });
    const t = tracker();
    await Promise.all([t.moveIssue('1', 'In Progress'), t.moveIssue('1', 'Human Review')]);
    expect(fake.issues.get(1)?.labels).toEqual(['state: Human Review']);
  });

  it('rejects unknown issues, pull requests and blank states', async () => {
    fake.addPull({ head: 'feature', title: 'PR' });
    const t = tracker();
    expect(await failure(t.moveIssue('99', 'Done'))).toMatchObject({ code: 'tracker_not_found', retryable: false });
    expect(await failure(t.moveIssue('1', 'Done'))).toMatchObject({ code: 'tracker_not_found' });
    expect(await failure(t.moveIssue('abc', 'Done'))).toMatchObject({ code: 'tracker_not_found' });
    expect(await failure(t.moveIssue('1', '  '))).toMatchObject({ code: 'tracker_payload_invalid' });
    expect(fake.pulls()[0]?.state).toBe('open');
  });
});

describe('github tracker: comments', () => {
  it('lists comments oldest first with author, marker key and since, across pages', async () => {
    fake.addIssue({ title: 'One' });
    fake.addComment(1, { body: 'Please use SQLite.', user: 'jane', created_at: '2026-01-05T10:00:00Z' });
    fake.addComment(1, {
      body: `${markerFor('escalation-1', TEST_COMMENT_KEY)}\n**Question:** PostgreSQL or SQLite?`,
      user: 'foreman-bot',
      created_at: '2026-01-05T11:00:00Z',
    });
    // Neither an unsigned marker from the token's user (written before MACs) nor Foreman's signed
    // marker copied by someone else makes a comment Foreman's.
    fake.addComment(1, {
      body: '<!-- foreman:key=escalation-0 -->\nOld question',
      user: 'foreman-bot',
      created_at: '2026-01-05T11:10:00Z',
    });
    fake.addComment(1, {
      body: `${markerFor('escalation-1', TEST_COMMENT_KEY)}\nCopied`,
      user: 'mallory',
      created_at: '2026-01-05T11:20:00Z',
    });
    fake.addComment(1, { body: 'SQLite is fine.', user: 'bob', created_at: '2026-01-05T12:00:00Z' });
    const t = tracker();
    const all = await t.fetchComments('1');
    expect(all.map((c) => ({ ...c, id: typeof c.id }))).toEqual([
      {
        id: 'string',
        author: 'jane',
        body: 'Please use SQLite.',
        created_at: '2026-01-05T10:00:00.000Z',
        by_foreman: false,
        key: null,
        author_user: { id: 'jane', name: 'jane', role: 'NONE', bot: false },
      },
      {
        id: 'string',
        author: 'foreman-bot',
        body: '**Question:** PostgreSQL or SQLite?',
        created_at: '2026-01-05T11:00:00.000Z',
        by_foreman: true,
        key: 'escalation-1',
        author_user: { id: 'foreman-bot', name: 'foreman-bot', role: 'COLLABORATOR', bot: false },
      },
      {
        id: 'string',
        author: 'foreman-bot',
        body: 'Old question',
        created_at: '2026-01-05T11:10:00.000Z',
        by_foreman: false,
        key: null,
        author_user: { id: 'foreman-bot', name: 'foreman-bot', role: 'COLLABORATOR', bot: false },
      },
      {
        id: 'string',
        author: 'mallory',
        body: 'Copied',
        created_at: '2026-01-05T11:20:00.000Z',
        by_foreman: false,
        key: null,
        author_user: { id: 'mallory', name: 'mallory', role: 'NONE', bot: false },
      },
      {
        id: 'string',
        author: 'bob',
        body: 'SQLite is fine.',
        created_at: '2026-01-05T12:00:00.000Z',
        by_foreman: false,
        key: null,
        author_user: { id: 'bob', name: 'bob', role: 'NONE', bot: false },
      },
    ]);
    const later = await t.fetchComments('1', '2026-01-05T11:30:00Z');
    expect(later.map((c) => c.author)).toEqual(['bob']);
    expect(fake.requests.filter((r) => r.path.endsWith('/comments')).at(-1)?.query).toMatchObject({
      since: '2026-01-05T11:30:00.000Z',
      per_page: '100',
    });

    for (let i = 0; i < 120; i++) fake.addComment(1, { body: `c${i}`, created_at: '2026-01-06T00:00:00Z' });
    fake.requests.length = 0;
    expect(await t.fetchComments('1')).toHaveLength(125);
    expect(fake.requests).toHaveLength(2);

    expect(await failure(t.fetchComments('1', 'yesterday'))).toMatchObject({ code: 'tracker_payload_invalid' });
    expect(await failure(t.fetchComments('99'))).toMatchObject({ code: 'tracker_not_found' });
  });

  it('upserts by key: the second post updates the first comment, an identical one writes nothing', async () => {
    fake.addIssue({ title: 'One' });
    fake.addComment(1, { body: 'unrelated' });
    const t = tracker();
    const first = await t.upsertComment('1', 'evidence-1', 'Attempt 1 failed.');
    expect(first.created).toBe(true);
    const second = await t.upsertComment('1', 'evidence-1', 'Attempt 2 passed.');
    expect(second).toEqual({ id: first.id, created: false });
    const mine = fake.commentsOn(1).filter((c) => c.body.includes('foreman:key=evidence-1'));
    expect(mine).toHaveLength(1);
    expect(mine[0]?.body).toBe(`${markerFor('evidence-1', TEST_COMMENT_KEY)}\nAttempt 2 passed.`);
    expect(mine[0]?.user).toBe('foreman-bot');

    const before = writes();
    expect(await t.upsertComment('1', 'evidence-1', 'Attempt 2 passed.')).toEqual({ id: first.id, created: false });
    expect(writes()).toBe(before);

    const read = (await t.fetchComments('1')).find((c) => c.key === 'evidence-1');
    expect(read).toMatchObject({ by_foreman: true, body: 'Attempt 2 passed.', id: first.id });

    // Concurrent upserts of one key in one process still make one comment.
    const results = await Promise.all([1, 2, 3].map((n) => t.upsertComment('1', 'race', `try ${n}`)));
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(fake.commentsOn(1).filter((c) => c.body.includes('foreman:key=race'))).toHaveLength(1);

    expect(await failure(t.upsertComment('1', 'has space', 'x'))).toMatchObject({ code: 'tracker_payload_invalid' });
    expect(await failure(t.upsertComment('99', 'k', 'x'))).toMatchObject({ code: 'tracker_not_found' });
  });

  it('does not let the retry plugin repeat a comment create', async () => {
    fake.addIssue({ title: 'One' });
    fake.fault({ method: 'POST', path: `${ISSUES}/1/comments`, status: 502 });
    const err = await failure(tracker().upsertComment('1', 'k', 'body'));
    expect(err).toMatchObject({ code: 'tracker_request_failed', retryable: true });
    expect(fake.count(`${ISSUES}/1/comments`, 'POST')).toBe(1);
    // The caller's retry is idempotent.
    expect((await tracker().upsertComment('1', 'k', 'body')).created).toBe(true);
    expect(fake.commentsOn(1)).toHaveLength(1);
  });
});

describe('github tracker: errors', () => {
  it('401 → tracker_unauthorized, not retried, naming the keys to fix and never the token', async () => {
    const t = tracker({ token: 'ghp_wrong_token_456' });
    const err = await failure(t.fetchIssuesByStates(['Todo']));
    expect(err).toBeInstanceOf(TrackerError);
    expect(err).toMatchObject({ code: 'tracker_unauthorized', retryable: false });
    expect(err.message).toMatch(/Set GITHUB_TOKEN or tracker\.provider\.token/);
    expect(err.message).toMatch(/401 Bad credentials/);
    expect(inspect(err, { depth: 10 })).not.toContain('ghp_wrong_token_456');
    expect(fake.requests).toHaveLength(1);
  });

  it('403 without a rate limit → tracker_unauthorized', async () => {
    fake.fault({ path: ISSUES, status: 403 });
    const err = await failure(tracker().fetchIssuesByStates(['Todo']));
    expect(err).toMatchObject({ code: 'tracker_unauthorized', retryable: false });
    expect(err.message).toMatch(/Resource not accessible by personal access token/);
    expect(fake.requests).toHaveLength(1);
  });

  it('404 on the repository → tracker_not_found, for listings and id refreshes alike', async () => {
    const t = tracker({ repo: 'missing' });
    const err = await failure(t.fetchIssuesByStates(['Todo']));
    expect(err).toMatchObject({ code: 'tracker_not_found', retryable: false });
    expect(err.message).toMatch(/tracker\.provider\.repo \("acme\/missing"\)/);
    expect(await failure(t.fetchIssuesByIds(['1']))).toMatchObject({ code: 'tracker_not_found' });
    expect(await failure(t.fetchIssueByIdentifier('missing-1'))).toMatchObject({ code: 'tracker_not_found' });
  });

  it('secondary rate limit (429 + retry-after) is retried after the wait, then succeeds', async () => {
    fake.addIssue({ title: 'One' });
    fake.rateLimit({ path: ISSUES, kind: 'secondary', times: 2, retryAfterS: 3 });
    const t = tracker({ throttle: true, retryUnitMs: 10 });
    const started = Date.now();
    expect(await t.fetchIssuesByStates(['Todo'])).toHaveLength(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(2 * 3 * 10 - 5);
    expect(fake.count(ISSUES)).toBe(3);
    expect(warnings.map((w) => w.msg)).toEqual([
      'GitHub rate limit hit; retrying after the advised wait',
      'GitHub rate limit hit; retrying after the advised wait',
    ]);
  });

  it('rate limit retries are bounded (2), then tracker_rate_limited (retryable)', async () => {
    fake.rateLimit({ path: ISSUES, kind: 'secondary', times: 5, retryAfterS: 1 });
    const err = await failure(tracker({ throttle: true, retryUnitMs: 1 }).fetchIssuesByStates(['Todo']));
    expect(err).toMatchObject({ code: 'tracker_rate_limited', retryable: true });
    expect(err.message).toMatch(/secondary rate limit/);
    expect(err.message).toMatch(/wait 1 s/);
    expect(fake.count(ISSUES)).toBe(3);
  });

  it('primary rate limit (403, x-ratelimit-remaining: 0) is retried after the reset', async () => {
    fake.addIssue({ title: 'One' });
    fake.rateLimit({ path: ISSUES, kind: 'primary', times: 1, retryAfterS: 1 });
    expect(await tracker({ throttle: true, retryUnitMs: 1 }).fetchIssuesByStates(['Todo'])).toHaveLength(1);
    expect(fake.count(ISSUES)).toBe(2);

    // A reset far away is not waited for: fail now, the caller retries later.
    fake.rateLimit({ path: ISSUES, kind: 'primary', times: 1, retryAfterS: 3600 });
    const err = await failure(tracker({ throttle: true, retryUnitMs: 1 }).fetchIssuesByStates(['Todo']));
    expect(err).toMatchObject({ code: 'tracker_rate_limited', retryable: true });
    expect(fake.count(ISSUES)).toBe(3);
  });

  it('without throttling a 429 fails at once as tracker_rate_limited', async () => {
    fake.rateLimit({ path: ISSUES, kind: 'secondary', times: 1 });
    expect(await failure(tracker().fetchIssuesByStates(['Todo']))).toMatchObject({
      code: 'tracker_rate_limited',
      retryable: true,
    });
    expect(fake.count(ISSUES)).toBe(1);
  });

  it('5xx is retried by the plugin (3 retries), then tracker_request_failed (retryable)', async () => {
    fake.addIssue({ title: 'One' });
    fake.fault({ path: ISSUES, status: 500, times: 2 });
    expect(await tracker().fetchIssuesByStates(['Todo'])).toHaveLength(1);
    expect(fake.count(ISSUES)).toBe(3);

    fake.requests.length = 0;
    fake.fault({ path: ISSUES, status: 502, times: 10 });
    const err = await failure(tracker().fetchIssuesByStates(['Todo']));
    expect(err).toMatchObject({ code: 'tracker_request_failed', retryable: true });
    expect(err.message).toMatch(/502 Server Error/);
    expect(fake.count(ISSUES)).toBe(4);
    expect(inspect(err, { depth: 10 })).not.toContain(fake.token);
  });

  it('dropped connections and timeouts are transport failures: retried, then tracker_request_failed', async () => {
    fake.addIssue({ title: 'One' });
    fake.fault({ path: ISSUES, drop: true, times: 1 });
    expect(await tracker().fetchIssuesByStates(['Todo'])).toHaveLength(1);

    fake.fault({ path: ISSUES, drop: true, times: 10 });
    expect(await failure(tracker().fetchIssuesByStates(['Todo']))).toMatchObject({
      code: 'tracker_request_failed',
      retryable: true,
    });

    fake.requests.length = 0;
    fake.fault({ path: ISSUES, delayMs: 300, times: 10 });
    const err = await failure(tracker({ timeoutMs: 50 }).fetchIssuesByStates(['Todo']));
    expect(err).toMatchObject({ code: 'tracker_request_failed', retryable: true });
    expect(fake.count(ISSUES)).toBe(4);
  });

  it('422 on a write is a permanent tracker_request_failed', async () => {
    fake.addIssue({ title: 'One' });
    fake.fault({ method: 'PATCH', path: `${ISSUES}/1`, status: 422 });
    expect(await failure(tracker().moveIssue('1', 'Done'))).toMatchObject({
      code: 'tracker_request_failed',
      retryable: false,
    });
  });
});

describe('github tracker: from the policy', () => {
  const policy = { active_states: ['Todo'], terminal_states: TERMINAL };

  it('reads repo, token, endpoint and state_label_prefix', async () => {
    fake.addIssue({ title: 'One', labels: ['status/Review'] });
    const t = githubTrackerFromPolicy(
      { repo: 'acme/app', token: fake.token, endpoint: fake.url, state_label_prefix: 'status/' },
      policy,
      {},
      { throttle: false, commentKey: TEST_COMMENT_KEY },
    );
    expect(t).toMatchObject({ kind: 'github', owner: 'acme', repo: 'app' });
    expect((await t.fetchIssuesByStates(['review']))[0]?.state).toBe('Review');

    const viaEnv = githubTrackerFromPolicy(
      { owner: 'acme', repo: 'app', base_url: fake.url },
      policy,
      { GITHUB_TOKEN: fake.token },
      { throttle: false, commentKey: TEST_COMMENT_KEY },
    );
    expect(await viaEnv.fetchIssuesByIds(['1'])).toHaveLength(1);
    expect(
      githubTrackerFromPolicy({ repo: 'https://github.com/acme/app.git' }, policy, { GITHUB_TOKEN: 't' }, keyed).repo,
    ).toBe('app');
  });

  it('names the key to fix when something is missing', () => {
    const cases: [Record<string, unknown>, NodeJS.ProcessEnv, string, string][] = [
      [{ repo: 'acme/app' }, {}, 'tracker_token_missing', 'tracker.provider.token'],
      [{ repo: 'acme/app', token: '$GITHUB_TOKEN' }, {}, 'tracker_token_missing', 'tracker.provider.token'],
      [{ token: 't' }, {}, 'tracker_repo_invalid', 'tracker.provider.repo'],
      [{ repo: 'acme/app/extra', token: 't' }, {}, 'tracker_repo_invalid', 'tracker.provider.repo'],
      [
        { repo: 'acme/app', token: 't', endpoint: 'ftp://x' },
        {},
        'tracker_endpoint_invalid',
        'tracker.provider.endpoint',
      ],
      [{ repo: 42, token: 't' }, {}, 'policy_invalid', 'tracker.provider.repo'],
    ];
    for (const [provider, env, code, path] of cases) {
      let caught: unknown;
      try {
        githubTrackerFromPolicy(provider, policy, env, keyed);
      } catch (err) {
        caught = err;
      }
      expect(caught, JSON.stringify(provider)).toBeInstanceOf(PolicyError);
      expect(caught).toMatchObject({ code, issues: [{ path }] });
    }
    expect(() => githubTrackerFromPolicy({ repo: 'acme/app' }, policy, {}, keyed)).toThrow(
      /Set GITHUB_TOKEN or tracker\.provider\.token/,
    );
  });
});

describe('github pull requests', () => {
  it('creates a draft PR once, then updates it for the same head', async () => {
    const s = scm();
    const first = await s.openOrUpdatePullRequest({
      head: 'foreman/app-1',
      base: 'main',
      title: 'Add health endpoint',
      body: 'v1',
      draft: true,
    });
    expect(first).toMatchObject({ number: 1, created: true, url: 'https://github.com/acme/app/pull/1' });
    const create = fake.requests.find((r) => r.method === 'POST' && r.path === '/repos/acme/app/pulls');
    expect(create?.body).toEqual({
      head: 'foreman/app-1',
      base: 'main',
      title: 'Add health endpoint',
      body: 'v1',
      draft: true,
    });
    expect(fake.requests[0]?.query).toMatchObject({ state: 'open', head: 'acme:foreman/app-1' });

    const second = await s.openOrUpdatePullRequest({
      head: 'foreman/app-1',
      base: 'main',
      title: 'Add /healthz',
      body: 'v2',
      draft: true,
    });
    expect(second).toEqual({ number: 1, url: first.url, created: false });
    expect(fake.pulls()).toHaveLength(1);
    expect(fake.pulls()[0]).toMatchObject({ title: 'Add /healthz', body: 'v2', draft: true });

    const before = writes();
    await s.openOrUpdatePullRequest({
      head: 'foreman/app-1',
      base: 'main',
      title: 'Add /healthz',
      body: 'v2',
      draft: false,
    });
    expect(writes()).toBe(before);

    const other = await s.openOrUpdatePullRequest({
      head: 'foreman/app-2',
      base: 'main',
      title: 'Other',
      body: '',
      draft: false,
    });
    expect(other).toMatchObject({ number: 2, created: true });
    expect(fake.pulls(true).map((p) => [p.number, p.draft])).toEqual([
      [1, true],
      [2, false],
    ]);

    expect(await s.getPullRequest(1)).toEqual({
      number: 1,
      url: first.url,
      state: 'open',
      draft: true,
      title: 'Add /healthz',
      body: 'v2',
      head: { ref: 'foreman/app-1', sha: expect.stringMatching(/^[0-9a-f]{40}$/) as unknown as string },
      base: { ref: 'main' },
      mergeable: true,
    });
    expect(await s.getPullRequest(99)).toBeNull();
  });

  it('recovers when the PR appeared between the look-up and the create', async () => {
    fake.addPull({ head: 'foreman/app-1', title: 'Made elsewhere', base: 'main' });
    fake.fault({ method: 'GET', path: '/repos/acme/app/pulls', transform: () => [] });
    const ref = await scm().openOrUpdatePullRequest({
      head: 'foreman/app-1',
      base: 'main',
      title: 'Mine',
      body: 'b',
      draft: false,
    });
    expect(ref).toMatchObject({ number: 1, created: false });
    expect(fake.pulls()).toHaveLength(1);
    expect(fake.pulls()[0]?.title).toBe('Mine');
  });

  it('maps refusals and auth failures to ScmError codes', async () => {
    const refused = await failure(
      scm().openOrUpdatePullRequest({ head: 'main', base: 'main', title: 't', body: '', draft: false }),
    );
    expect(refused).toBeInstanceOf(ScmError);
    expect(refused).toMatchObject({ code: 'scm_pr_rejected', retryable: false });
    expect(refused.message).toMatch(/No commits between main and main/);

    const denied = await failure(scm({ token: 'nope' }).getPullRequest(1));
    expect(denied).toMatchObject({ code: 'scm_unauthorized', retryable: false });

    fake.fault({ path: '/repos/acme/app/pulls', status: 503, times: 10 });
    const down = await failure(
      scm().openOrUpdatePullRequest({ head: 'x', base: 'main', title: 't', body: '', draft: false }),
    );
    expect(down).toMatchObject({ code: 'scm_request_failed', retryable: true });
  });

  it('rolls check runs and commit statuses up into one CI state', async () => {
    const s = scm();
    expect(await s.checksFor('foreman/app-1')).toEqual({ state: 'pending', checks: [] });

    fake.addCheckRun({
      ref: 'foreman/app-1',
      name: 'test',
      status: 'completed',
      conclusion: 'success',
      html_url: 'https://ci/1',
    });
    fake.addCheckRun({
      ref: 'foreman/app-1',
      name: 'lint',
      status: 'in_progress',
      conclusion: null,
      details_url: 'https://ci/2',
    });
    fake.addStatus({ ref: 'foreman/app-1', context: 'ci/legacy', state: 'success', target_url: 'https://legacy/1' });
    let summary = await s.checksFor('foreman/app-1');
    expect(summary).toEqual({
      state: 'pending',
      checks: [
        { name: 'test', status: 'completed', conclusion: 'success', url: 'https://ci/1' },
        { name: 'lint', status: 'in_progress', conclusion: null, url: 'https://ci/2' },
        { name: 'ci/legacy', status: 'completed', conclusion: 'success', url: 'https://legacy/1' },
      ],
    });

    const lint = fake.checkRuns.find((r) => r.name === 'lint');
    if (lint) Object.assign(lint, { status: 'completed', conclusion: 'neutral' });
    expect((await s.checksFor('foreman/app-1')).state).toBe('success');

    fake.addStatus({ ref: 'foreman/app-1', context: 'ci/legacy', state: 'error' });
    summary = await s.checksFor('foreman/app-1');
    expect(summary.state).toBe('failure');
    expect(summary.checks.find((c) => c.name === 'ci/legacy')).toEqual({
      name: 'ci/legacy',
      status: 'completed',
      conclusion: 'error',
      url: null,
    });

    fake.addStatus({ ref: 'foreman/app-1', context: 'ci/legacy', state: 'pending' });
    fake.addCheckRun({ ref: 'foreman/app-1', name: 'e2e', status: 'completed', conclusion: 'timed_out' });
    expect((await s.checksFor('foreman/app-1')).state).toBe('failure');

    for (let i = 0; i < 150; i++) fake.addCheckRun({ ref: 'many', name: `job ${i}` });
    fake.requests.length = 0;
    const many = await s.checksFor('many');
    expect(many).toMatchObject({ state: 'success' });
    expect(many.checks).toHaveLength(150);
    expect(fake.count('/repos/acme/app/commits/many/check-runs')).toBe(2);
  });

  it('parses GitHub remotes', () => {
    const s = scm();
    const ok = { owner: 'acme', repo: 'app' };
    for (const url of [
      'https://github.com/acme/app.git',
      'https://github.com/acme/app',
      'https://github.com/acme/app/',
      'https://x-access-token:secret@github.com/acme/app.git',
      'http://github.com/acme/app.git',
      'git@github.com:acme/app.git',
      'git@github.com:acme/app',
      'github.com:acme/app.git',
      'ssh://git@github.com/acme/app.git',
      'ssh://git@github.com:22/acme/app.git',
      'git+ssh://git@github.com/acme/app.git',
      'git://github.com/acme/app.git',
      '  https://GitHub.com/acme/app.git  ',
    ]) {
      expect(parseGitHubRemote(url), url).toEqual(ok);
    }
    expect(parseGitHubRemote('https://github.com/acme/my.repo.git')).toEqual({ owner: 'acme', repo: 'my.repo' });
    for (const url of [
      'https://gitlab.com/acme/app.git',
      'https://github.com/acme',
      'https://github.com/acme/app/tree/main',
      'git@gitlab.com:acme/app.git',
      '/srv/git/app.git',
      './app',
      'file:///srv/git/acme/app.git',
      'https://github.com/-acme/app',
      'https://github.com/acme/..',
      '',
    ]) {
      expect(parseGitHubRemote(url), url).toBeNull();
    }
    // The instance knows its own host: the fake's, and an enterprise one's.
    expect(s.parseRemote(`${fake.url}/acme/app.git`)).toEqual(ok);
    expect(
      createGitHubScm({ owner: 'a', repo: 'b', token: 't', baseUrl: 'https://ghe.example.com/api/v3' }).parseRemote(
        'git@ghe.example.com:acme/app.git',
      ),
    ).toEqual(ok);
  });
});
