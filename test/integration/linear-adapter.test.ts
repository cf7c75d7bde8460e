/**
 * The Linear tracker adapter (src/trackers/linear.ts) against a local server that speaks Linear's
 * GraphQL wire format (test/support/fake-linear.ts), through the real `@linear/sdk` client.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parsePolicyText } from '../../src/config/load.js';
import { PolicyError, TrackerError } from '../../src/errors.js';
import {
  LINEAR_DEFAULT_ENDPOINT,
  createLinearTracker,
  linearTrackerFromPolicy,
  type LinearRateLimitedError,
  type LinearTracker,
  type LinearTrackerOptions,
} from '../../src/trackers/linear/index.js';
import { startFakeLinear, type FakeLinear } from '../support/fake-linear.js';
import { TEST_COMMENT_KEY } from '../support/comment-key.js';
import { markerFor } from '../../src/trackers/marker.js';

const here = path.dirname(fileURLToPath(import.meta.url));

let fake: FakeLinear;
let warnings: { obj: object; msg: string }[];

beforeEach(async () => {
  fake = await startFakeLinear();
  warnings = [];
});

afterEach(async () => {
  await fake.close();
});

const log = { warn: (obj: object, msg: string) => warnings.push({ obj, msg }) };
const keyed = { commentKey: TEST_COMMENT_KEY };

function make(opts: Partial<LinearTrackerOptions> = {}): LinearTracker {
  return createLinearTracker({
    apiKey: fake.apiKey,
    apiUrl: fake.url,
    teamKey: 'ENG',
    activeStates: ['Todo', 'In Progress'],
    terminalStates: ['Done', 'Canceled'],
    log,
    commentKey: TEST_COMMENT_KEY,
    ...opts,
  });
}

/** Requests whose root field is `root`. */
const calls = (root: string) => fake.requests.filter((r) => r.rootFields.includes(root));

async function failure(p: Promise<unknown>): Promise<TrackerError> {
  const err = await p.then(
    () => {
      throw new Error('expected a failure');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TrackerError);
  return err as TrackerError;
}

describe('linear adapter: listing issues', () => {
  it('pages through 120 issues in 3 requests of 50', async () => {
    for (let i = 0; i < 120; i++) fake.addIssue({ title: `Issue ${i + 1}` });
    fake.addIssue({ title: 'Finished', state: 'Done' });
    const tracker = make();
    const issues = await tracker.fetchIssuesByStates(['Todo']);
    expect(issues).toHaveLength(120);
    expect(new Set(issues.map((i) => i.id)).size).toBe(120);
    const pages = calls('issues');
    expect(pages).toHaveLength(3);
    expect(pages.map((r) => r.variables.first)).toEqual([50, 50, 50]);
    expect(pages[0]?.variables.after).toBeNull();
    expect(pages[1]?.variables.after).toBe(issues[49]?.id);
    expect(pages[2]?.variables.after).toBe(issues[99]?.id);
    // The SDK sends the key raw, and no operationName: the fake reads the name from the text.
    expect(pages[0]?.authorization).toBe(fake.apiKey);
    expect(pages[0]?.name).toBe('ForemanIssues');
  });

  it('matches state names case-insensitively and keeps Linear spelling', async () => {
    fake.addIssue({ title: 'A', state: 'Todo' });
    fake.addIssue({ title: 'B', state: 'In Progress' });
    fake.addIssue({ title: 'C', state: 'Done' });
    const tracker = make();
    const issues = await tracker.fetchIssuesByStates(['  todo ', 'IN PROGRESS']);
    expect(issues.map((i) => [i.title, i.state])).toEqual([
      ['A', 'Todo'],
      ['B', 'In Progress'],
    ]);
    // The filter sent to Linear carries Linear's spelling.
    const filter = calls('issues')[0]?.variables.filter as { and: [unknown, { state: { name: { in: string[] } } }] };
    expect(filter.and[1].state.name.in.sort()).toEqual(['In Progress', 'Todo']);
    // Workflow states are cached between polls.
    await tracker.fetchIssuesByStates(['todo']);
    expect(calls('workflowStates')).toHaveLength(1);
  });

  it('makes no request for an empty state list or an unknown state name', async () => {
    const tracker = make();
    expect(await tracker.fetchIssuesByStates([])).toEqual([]);
    expect(await tracker.fetchIssuesByStates(['  '])).toEqual([]);
    expect(fake.requests).toHaveLength(0);
    expect(await tracker.fetchIssuesByStates(['Shipping'])).toEqual([]);
    expect(calls('issues')).toHaveLength(0);
  });

  it('normalizes labels, priority, blockers, branch, url, times and native_ref', async () => {
    const blocker = fake.addIssue({ title: 'Groundwork', state: 'In Progress' });
    const related = fake.addIssue({ title: 'Related', state: 'Backlog' });
    const issue = fake.addIssue({
      title: 'Add a health endpoint',
      description: 'Expose GET /healthz.',
      priority: 2,
      labels: ['Backend', '  Agent ', 'backend', ' '],
      branchName: 'eng-3-add-a-health-endpoint',
      createdAt: '2026-01-05T10:00:00+01:00',
    });
    fake.addBlocker(blocker.id, issue.id);
    fake.addRelation('related', related.id, issue.id);
    const none = fake.addIssue({ title: 'No priority', priority: 0 });
    const urgent = fake.addIssue({ title: 'Urgent', priority: 1 });
    const low = fake.addIssue({ title: 'Low', priority: 4 });

    const tracker = make();
    const issues = await tracker.fetchIssuesByStates(['Todo']);
    const got = issues.find((i) => i.id === issue.id);
    expect(got).toEqual({
      id: issue.id,
      identifier: 'ENG-3',
      title: 'Add a health endpoint',
      description: 'Expose GET /healthz.',
      priority: 2,
      state: 'Todo',
      branch_name: 'eng-3-add-a-health-endpoint',
      url: `https://linear.app/acme/issue/ENG-3/add-a-health-endpoint`,
      assignee_id: null,
      labels: ['backend', 'agent'],
      blocked_by: [{ id: blocker.id, identifier: 'ENG-1', state: 'In Progress' }],
      dispatchable: true,
      created_at: '2026-01-05T09:00:00.000Z',
      updated_at: '2026-01-05T09:00:00.000Z',
      native_ref: { id: issue.id, identifier: 'ENG-3', teamId: fake.teams[0]?.id },
      // The creator as the trust rules see them (specs/trust.md): the fake's default, its viewer.
      author: { id: fake.viewer.id, name: fake.viewer.displayName, role: 'MEMBER', bot: false },
    });
    const priorities = Object.fromEntries(issues.map((i) => [i.id, i.priority]));
    expect([priorities[none.id], priorities[urgent.id], priorities[low.id]]).toEqual([null, 1, 4]);
    expect(issues.find((i) => i.id === none.id)?.description).toBeNull();
    expect(issues.find((i) => i.id === none.id)?.blocked_by).toEqual([]);
  });

  it('derives dispatchable from the assignee rule: me, an email, or unset', async () => {
    const jane = fake.addUser({ name: 'Jane Doe', email: 'Jane@Acme.test' });
    const mine = fake.addIssue({ title: 'Mine', assignee: 'viewer' });
    const janes = fake.addIssue({ title: 'Janes', assignee: jane.id });
    const nobody = fake.addIssue({ title: 'Nobody' });
    const dispatchable = async (assignee?: string) => {
      const issues = await make(assignee === undefined ? {} : { assignee }).fetchIssuesByStates(['Todo']);
      return Object.fromEntries(issues.map((i) => [i.title, i.dispatchable]));
    };
    expect(await dispatchable('me')).toEqual({ Mine: true, Janes: false, Nobody: false });
    expect(calls('viewer')).toHaveLength(1);
    expect(await dispatchable('jane@acme.TEST')).toEqual({ Mine: false, Janes: true, Nobody: false });
    expect(await dispatchable(jane.id)).toEqual({ Mine: false, Janes: true, Nobody: false });
    expect(await dispatchable()).toEqual({ Mine: true, Janes: true, Nobody: true });
    const [byMe] = await make({ assignee: 'me' }).fetchIssuesByIds([mine.id]);
    expect(byMe?.assignee_id).toBe(fake.viewer.id);
    expect((await make({ assignee: 'me' }).fetchIssuesByIds([janes.id, nobody.id])).map((i) => i.dispatchable)).toEqual(
      [false, false],
    );
  });

  it('scopes by team key', async () => {
    fake.addTeam({ key: 'OPS', name: 'Operations' });
    fake.addIssue({ title: 'Eng work', team: 'ENG' });
    const ops = fake.addIssue({ title: 'Ops work', team: 'OPS' });
    expect((await make({ teamKey: 'eng' }).fetchIssuesByStates(['Todo'])).map((i) => i.title)).toEqual(['Eng work']);
    expect((await make({ teamKey: 'OPS' }).fetchIssuesByStates(['Todo'])).map((i) => i.identifier)).toEqual(['OPS-1']);
    // Out of scope is "no longer visible": left out, not an error.
    expect(await make({ teamKey: 'ENG' }).fetchIssuesByIds([ops.id])).toEqual([]);
  });

  it('scopes by project slug (Symphony project_slug), its hex tail, UUID or URL', async () => {
    const project = fake.addProject({ name: 'Acme App', slugId: '1234abcd5678' });
    fake.addTeam({ key: 'OPS' });
    fake.addIssue({ title: 'In project', project: project.id });
    fake.addIssue({ title: 'Ops in project', team: 'OPS', project: project.id });
    fake.addIssue({ title: 'Outside' });
    const titles = async (projectSlug: string, teamKey?: string) =>
      (await make({ teamKey, projectSlug }).fetchIssuesByStates(['Todo'])).map((i) => i.title).sort();
    expect(await titles('acme-app-1234abcd5678')).toEqual(['In project', 'Ops in project']);
    expect(await titles('1234abcd5678')).toEqual(['In project', 'Ops in project']);
    expect(await titles(project.id)).toEqual(['In project', 'Ops in project']);
    expect(await titles('https://linear.app/acme/project/acme-app-1234abcd5678/overview')).toEqual([
      'In project',
      'Ops in project',
    ]);
    expect(await titles('acme-app-1234abcd5678', 'ENG')).toEqual(['In project']);
    expect(await titles('no-such-project-ffffffff')).toEqual([]);
  });

  it('skips (and logs) a malformed record in a listing but fails an id refresh', async () => {
    const good = fake.addIssue({ title: 'Good' });
    const broken = fake.addIssue({ title: '   ' });
    const tracker = make();
    expect((await tracker.fetchIssuesByStates(['Todo'])).map((i) => i.id)).toEqual([good.id]);
    expect(warnings.map((w) => w.msg)).toContain('Linear issue skipped: malformed record');
    const err = await failure(tracker.fetchIssuesByIds([good.id, broken.id]));
    expect(err.code).toBe('tracker_payload_invalid');
    expect(err.message).toContain('has no title');
  });
});

describe('linear adapter: fetch by ids and identifier', () => {
  it('returns known in-scope ids once each, in chunks of 50, without a request for none', async () => {
    const created = Array.from({ length: 60 }, (_, i) =>
      fake.addIssue({ title: `Issue ${i}`, state: i % 2 ? 'Done' : 'Todo' }),
    );
    const tracker = make();
    expect(await tracker.fetchIssuesByIds([])).toEqual([]);
    expect(fake.requests).toHaveLength(0);
    const ids = [...created.map((i) => i.id), created[0]?.id as string, '00000000-0000-4000-8000-000000000000'];
    const issues = await tracker.fetchIssuesByIds(ids);
    expect(issues).toHaveLength(60);
    expect(new Set(issues.map((i) => i.id))).toEqual(new Set(created.map((i) => i.id)));
    expect(calls('issues')).toHaveLength(2);
  });

  it('finds an issue by identifier, case-insensitively, and returns null otherwise', async () => {
    fake.addIssue({ title: 'First' });
    const second = fake.addIssue({ title: 'Second' });
    fake.addTeam({ key: 'OPS' });
    fake.addIssue({ title: 'Ops', team: 'OPS' });
    const tracker = make();
    expect((await tracker.fetchIssueByIdentifier('ENG-2'))?.id).toBe(second.id);
    expect((await tracker.fetchIssueByIdentifier('eng-2'))?.title).toBe('Second');
    expect(await tracker.fetchIssueByIdentifier('ENG-99')).toBeNull();
    expect(await tracker.fetchIssueByIdentifier('not an identifier')).toBeNull();
    expect(await tracker.fetchIssueByIdentifier('OPS-1')).toBeNull();
    expect((await make({ teamKey: undefined, projectSlug: undefined }).fetchIssueByIdentifier('OPS-1'))?.title).toBe(
      'Ops',
    );
  });
});

describe('linear adapter: comments', () => {
  it('lists comments oldest first, since a time, with by_foreman from the hidden marker', async () => {
    const issue = fake.addIssue({ title: 'Discuss' });
    const jane = fake.addUser({ name: 'Jane Doe', email: 'jane@acme.test', displayName: 'jane' });
    fake.addComment(issue.id, 'Which database?', { user: jane.id, createdAt: '2026-01-05T11:00:00.000Z' });
    fake.addComment(issue.id, `${markerFor('escalation-1', TEST_COMMENT_KEY)}\n**Question:** SQLite or PostgreSQL?`, {
      createdAt: '2026-01-05T11:05:00.000Z',
    });
    fake.addComment(issue.id, 'SQLite is fine.', { user: jane.id, createdAt: '2026-01-05T11:30:00.000Z' });
    const escaped = markerFor('status', TEST_COMMENT_KEY).replace('<', '&lt;').replace('>', '&gt;');
    fake.addComment(issue.id, `Escaped marker ${escaped}\nAll good`, {
      createdAt: '2026-01-05T11:40:00.000Z',
    });
    // Jane's comment with a marker (unsigned, or Foreman's signed one copied) is still Jane's.
    fake.addComment(issue.id, '<!-- foreman:key=escalation-2 -->\nForged', {
      user: jane.id,
      createdAt: '2026-01-05T11:50:00.000Z',
    });
    fake.addComment(issue.id, `${markerFor('escalation-1', TEST_COMMENT_KEY)}\nCopied`, {
      user: jane.id,
      createdAt: '2026-01-05T11:55:00.000Z',
    });
    const other = fake.addIssue({ title: 'Other' });
    fake.addComment(other.id, 'elsewhere');

    const tracker = make();
    const all = await tracker.fetchComments(issue.id);
    expect(all.map((c) => [c.author, c.by_foreman, c.key, c.body])).toEqual([
      ['jane', false, null, 'Which database?'],
      ['foreman', true, 'escalation-1', '**Question:** SQLite or PostgreSQL?'],
      ['jane', false, null, 'SQLite is fine.'],
      ['foreman', true, 'status', 'Escaped marker All good'],
      ['jane', false, null, 'Forged'],
      ['jane', false, null, 'Copied'],
    ]);
    expect(all[0]?.created_at).toBe('2026-01-05T11:00:00.000Z');
    const later = await tracker.fetchComments(issue.id, '2026-01-05T11:05:00Z');
    expect(later.map((c) => c.body)).toEqual(['SQLite is fine.', 'Escaped marker All good', 'Forged', 'Copied']);
    expect(await tracker.fetchComments(issue.id, '2026-01-05T12:10:00+01:00')).toHaveLength(4);
    expect((await failure(tracker.fetchComments(issue.id, 'yesterday'))).code).toBe('tracker_payload_invalid');
  });

  it('pages through many comments', async () => {
    const issue = fake.addIssue({ title: 'Busy' });
    for (let i = 0; i < 75; i++) fake.addComment(issue.id, `comment ${i}`);
    const comments = await make().fetchComments(issue.id);
    expect(comments).toHaveLength(75);
    expect(comments[74]?.body).toBe('comment 74');
    expect(calls('comments')).toHaveLength(2);
  });

  it('upserts a comment by key: creates once, skips an identical body, updates in place', async () => {
    const issue = fake.addIssue({ title: 'Escalate' });
    const tracker = make();
    const first = await tracker.upsertComment(issue.id, 'escalation-1', 'Which database?');
    expect(first.created).toBe(true);
    expect(fake.comments).toHaveLength(1);
    expect(fake.comments[0]?.body).toBe(`${markerFor('escalation-1', TEST_COMMENT_KEY)}\nWhich database?`);
    expect(fake.comments[0]?.userId).toBe(fake.viewer.id);

    const again = await tracker.upsertComment(issue.id, 'escalation-1', 'Which database?\n');
    expect(again).toEqual({ id: first.id, created: false });
    expect(calls('commentUpdate')).toHaveLength(0);

    const edited = await tracker.upsertComment(issue.id, 'escalation-1', 'Which database? (re-ping)');
    expect(edited).toEqual({ id: first.id, created: false });
    expect(fake.comments).toHaveLength(1);
    expect(fake.comments[0]?.body).toContain('(re-ping)');
    expect(calls('commentCreate')).toHaveLength(1);

    const other = await tracker.upsertComment(issue.id, 'evidence', 'Evidence packet');
    expect(other.created).toBe(true);
    expect(fake.comments).toHaveLength(2);
    const read = await tracker.fetchComments(issue.id);
    expect(read.map((c) => [c.key, c.by_foreman, c.body])).toEqual([
      ['escalation-1', true, 'Which database? (re-ping)'],
      ['evidence', true, 'Evidence packet'],
    ]);
  });

  it('never posts twice when the same upsert runs concurrently', async () => {
    const issue = fake.addIssue({ title: 'Race' });
    const tracker = make();
    const results = await Promise.all([1, 2, 3].map(() => tracker.upsertComment(issue.id, 'status', 'Working on it')));
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(new Set(results.map((r) => r.id)).size).toBe(1);
    expect(fake.comments).toHaveLength(1);
  });

  it('rejects a bad key and reports an unknown issue as not found', async () => {
    const tracker = make();
    const bad = await failure(tracker.upsertComment('x', 'two words', 'hi'));
    expect([bad.code, bad.retryable]).toEqual(['tracker_payload_invalid', false]);
    expect(fake.requests).toHaveLength(0);
    const missing = await failure(tracker.upsertComment('00000000-0000-4000-8000-000000000000', 'k', 'hi'));
    expect([missing.code, missing.retryable]).toEqual(['tracker_not_found', false]);
  });
});

describe('linear adapter: moving issues and linking PRs', () => {
  it('moves an issue by state name, case-insensitively; a second move is a no-op', async () => {
    const issue = fake.addIssue({ title: 'Move me' });
    const tracker = make();
    await tracker.moveIssue(issue.id, 'in progress');
    expect(fake.stateName(issue)).toBe('In Progress');
    const update = calls('issueUpdate')[0];
    expect(update?.variables).toEqual({ id: issue.id, input: { stateId: issue.stateId } });
    await tracker.moveIssue(issue.id, ' In Progress ');
    expect(calls('issueUpdate')).toHaveLength(1);
    await tracker.moveIssue(issue.id, 'HUMAN REVIEW');
    expect(fake.stateName(issue)).toBe('Human Review');
    expect(calls('workflowStates')).toHaveLength(1);
  });

  it('fails an unknown state with tracker_state_unknown listing the team states', async () => {
    const issue = fake.addIssue({ title: 'Move me' });
    const err = await failure(make().moveIssue(issue.id, 'Shipping'));
    expect(err.code).toBe('tracker_state_unknown');
    expect(err.retryable).toBe(false);
    expect(err.message).toContain('"Shipping"');
    expect(err.message).toContain('"Todo", "In Progress", "Human Review"');
    expect(fake.stateName(issue)).toBe('Todo');
    // The cached list was refreshed once before giving up.
    expect(calls('workflowStates')).toHaveLength(2);
    const missing = await failure(make().moveIssue('00000000-0000-4000-8000-000000000000', 'Done'));
    expect(missing.code).toBe('tracker_not_found');
  });

  it('picks up a state added after the list was cached', async () => {
    const issue = fake.addIssue({ title: 'Move me' });
    const tracker = make();
    await tracker.moveIssue(issue.id, 'In Progress');
    fake.states.push({
      id: '11111111-2222-4333-8444-555555555555',
      teamId: issue.teamId,
      name: 'QA',
      type: 'started',
      position: 99,
    });
    await tracker.moveIssue(issue.id, 'qa');
    expect(fake.stateName(issue)).toBe('QA');
  });

  it('links a pull request once (attachmentLinkURL), reusing an existing attachment', async () => {
    const issue = fake.addIssue({ title: 'Ship it' });
    const tracker = make();
    const url = 'https://github.com/acme/app/pull/7';
    const first = await tracker.linkPullRequest(issue.id, url, 'PR #7: health endpoint');
    expect(first.created).toBe(true);
    expect(fake.attachments).toEqual([
      expect.objectContaining({ issueId: issue.id, url, title: 'PR #7: health endpoint' }),
    ]);
    const again = await tracker.linkPullRequest(issue.id, url, 'PR #7: health endpoint');
    expect(again).toEqual({ id: first.id, created: false });
    expect(calls('attachmentLinkURL')).toHaveLength(1);
    expect(fake.attachments).toHaveLength(1);
    expect((await failure(tracker.linkPullRequest(issue.id, 'not a url', 'x'))).code).toBe('tracker_payload_invalid');
  });

  it('watch is a no-op (Linear pushes through webhooks)', () => {
    const stop = make().watch(() => {
      throw new Error('never called');
    });
    expect(typeof stop).toBe('function');
    stop();
  });
});

describe('linear adapter: errors', () => {
  it('maps a rejected key (HTTP 400 or 401, AUTHENTICATION_ERROR) to tracker_unauthorized without leaking the key', async () => {
    const wrongKey = 'lin_api_wrong0123456789';
    const err = await failure(make({ apiKey: wrongKey }).fetchIssuesByStates(['Todo']));
    expect(err.code).toBe('tracker_unauthorized');
    expect(err.retryable).toBe(false);
    expect(err.message).toContain('Set LINEAR_API_KEY or tracker.provider.api_key');
    expect(err.message).not.toContain(wrongKey);

    fake.injectFault({ kind: 'unauthorized', status: 401 });
    const tracker = make();
    const err401 = await failure(tracker.fetchIssuesByIds(['x']));
    expect([err401.code, err401.retryable]).toEqual(['tracker_unauthorized', false]);
    expect(err401.message).toContain('HTTP 401');

    fake.injectFault({ kind: 'forbidden' });
    expect((await failure(tracker.fetchIssuesByIds(['x']))).code).toBe('tracker_unauthorized');
  });

  it('waits out a short Retry-After once, then succeeds', async () => {
    fake.addIssue({ title: 'A' });
    fake.injectFault({ kind: 'rate_limited', retryAfterS: 1 }, { rootField: 'issues' });
    const started = Date.now();
    const issues = await make().fetchIssuesByStates(['Todo']);
    expect(issues).toHaveLength(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(warnings.some((w) => w.msg.includes('rate limit'))).toBe(true);
  });

  it('fails a long rate limit at once with tracker_rate_limited and retryAfterMs', async () => {
    fake.injectFault({ kind: 'rate_limited', retryAfterS: 120 });
    const err = (await failure(make().fetchIssuesByIds(['x']))) as LinearRateLimitedError;
    expect([err.code, err.retryable, err.retryAfterMs]).toEqual(['tracker_rate_limited', true, 120_000]);
    expect(err.message).toContain('retry in 120 s');

    // Linear's own header (epoch ms), on an HTTP 400 carrying the RATELIMITED code.
    fake.injectFault({ kind: 'rate_limited', status: 400, resetAtMs: Date.now() + 60_000 });
    const reset = (await failure(make().fetchIssuesByIds(['x']))) as LinearRateLimitedError;
    expect(reset.code).toBe('tracker_rate_limited');
    expect(reset.retryAfterMs).toBeGreaterThan(55_000);
    expect(reset.retryAfterMs).toBeLessThanOrEqual(60_000);

    // A second rate limit right after the wait is not waited out again.
    fake.injectFault({ kind: 'rate_limited', retryAfterS: 0 }, { times: 2 });
    expect((await failure(make().fetchIssuesByIds(['x']))).code).toBe('tracker_rate_limited');
  });

  it('maps 5xx, a dropped connection, a timeout and an unreachable host to retryable tracker_request_failed', async () => {
    const tracker = make({ timeoutMs: 300 });
    fake.injectFault({ kind: 'server_error', status: 502 });
    const e502 = await failure(tracker.fetchIssuesByIds(['x']));
    expect([e502.code, e502.retryable]).toEqual(['tracker_request_failed', true]);
    expect(e502.message).toContain('HTTP 502');

    fake.injectFault({ kind: 'server_error' });
    expect((await failure(tracker.fetchIssuesByIds(['x']))).code).toBe('tracker_request_failed');

    fake.injectFault({ kind: 'drop' });
    const dropped = await failure(tracker.fetchIssuesByIds(['x']));
    expect([dropped.code, dropped.retryable]).toEqual(['tracker_request_failed', true]);

    fake.injectFault({ kind: 'hang' });
    const slow = await failure(tracker.fetchIssuesByIds(['x']));
    expect([slow.code, slow.retryable]).toEqual(['tracker_request_failed', true]);
    expect(slow.message).toContain('in time');

    const url = fake.url;
    await fake.close();
    const down = await failure(
      createLinearTracker({
        apiKey: 'k',
        apiUrl: url,
        teamKey: 'ENG',
        commentKey: TEST_COMMENT_KEY,
        activeStates: [],
        terminalStates: [],
      }).fetchIssuesByIds(['x']),
    );
    expect([down.code, down.retryable]).toEqual(['tracker_request_failed', true]);
    fake = await startFakeLinear();
  });

  it('maps malformed JSON, a bad shape and GraphQL errors to tracker_payload_invalid', async () => {
    const tracker = make();
    fake.injectFault({ kind: 'malformed_json' });
    const malformed = await failure(tracker.fetchIssuesByIds(['x']));
    expect(malformed.code).toBe('tracker_payload_invalid');
    expect(malformed.retryable).toBe(true);

    fake.injectFault({ kind: 'bad_shape' });
    const shape = await failure(tracker.fetchIssuesByIds(['x']));
    expect([shape.code, shape.retryable]).toEqual(['tracker_payload_invalid', false]);
    expect(shape.message).toContain('unexpected response shape');

    fake.injectFault({
      kind: 'graphql_error',
      message: 'Variable "$filter" got invalid value',
      code: 'GRAPHQL_VALIDATION_FAILED',
    });
    const gql = await failure(tracker.fetchIssuesByIds(['x']));
    expect([gql.code, gql.retryable]).toEqual(['tracker_payload_invalid', false]);
    expect(gql.message).toContain('Variable "$filter" got invalid value');
  });

  it('never writes the API key into messages or logs, even when the server echoes it', async () => {
    const messages: string[] = [];
    const tracker = make({
      log: {
        warn: (obj, msg) => messages.push(msg, JSON.stringify(obj)),
        debug: (obj, msg) => messages.push(msg, JSON.stringify(obj)),
      },
    });
    fake.injectFault({ kind: 'graphql_error', message: `Bad key ${fake.apiKey} in request` });
    const err = await failure(tracker.fetchIssuesByIds(['x']));
    messages.push(err.message, String(err));
    fake.injectFault({ kind: 'rate_limited', retryAfterS: 0 });
    fake.addIssue({ title: 'A' });
    await tracker.fetchIssuesByStates(['Todo']);
    expect(messages.length).toBeGreaterThan(2);
    for (const m of messages) expect(m).not.toContain(fake.apiKey);
    expect(err.message).toContain('[redacted]');
  });
});

describe('linear adapter: policy (Symphony WORKFLOW.md)', () => {
  const workflow = (tracker: string) => `---
tracker:
${tracker}
  active_states: [Todo, In Progress]
  terminal_states: [Done, Canceled]
codex:
  command: codex app-server
---
Work on {{ issue.identifier }}.
`;

  it('loads Symphony front matter as-is (kind, api_key: $LINEAR_API_KEY, project_slug, endpoint)', async () => {
    const project = fake.addProject({ name: 'Acme App', slugId: '1234abcd5678' });
    fake.addIssue({ title: 'In project', project: project.id, state: 'In Progress' });
    fake.addIssue({ title: 'Outside' });
    const text = workflow(`  kind: linear
  api_key: $LINEAR_API_KEY
  project_slug: "acme-app-1234abcd5678"
  endpoint: ${fake.url}`);
    const env = { LINEAR_API_KEY: fake.apiKey, HOME: '/tmp' };
    const loaded = parsePolicyText(text, { file: '/tmp/WORKFLOW.md', env });
    const tracker = linearTrackerFromPolicy(loaded.policy.tracker, env, keyed);
    expect(tracker.kind).toBe('linear');
    expect(tracker.endpoint).toBe(fake.url);
    expect(tracker.projectSlug).toBe('acme-app-1234abcd5678');
    expect(tracker.activeStates).toEqual(['Todo', 'In Progress']);
    const issues = await tracker.fetchIssuesByStates([...tracker.activeStates]);
    expect(issues.map((i) => i.title)).toEqual(['In project']);
  });

  it('builds the tracker from the Symphony fixture unchanged, with the default endpoint', async () => {
    const text = await readFile(path.join(here, '../fixtures/policies/symphony-linear.md'), 'utf8');
    const env = { LINEAR_API_KEY: 'lin_api_fixture', HOME: '/tmp' };
    const loaded = parsePolicyText(text, { file: '/tmp/WORKFLOW.md', env });
    const tracker = linearTrackerFromPolicy(loaded.policy.tracker, env, keyed);
    expect(tracker.endpoint).toBe(LINEAR_DEFAULT_ENDPOINT);
    expect(tracker.projectSlug).toBe('acme-app-1234abcd');
    expect(tracker.teamKey).toBeNull();
    expect(tracker.terminalStates).toEqual(['Closed', 'Cancelled', 'Done']);
  });

  it('reads provider keys (team_key, assignee) and falls back to LINEAR_API_KEY', async () => {
    fake.addIssue({ title: 'Mine', assignee: 'viewer' });
    fake.addIssue({ title: 'Not mine' });
    const text = workflow(`  kind: linear
  provider:
    team_key: ENG
    assignee: me
    endpoint: ${fake.url}`);
    const env = { LINEAR_API_KEY: fake.apiKey, HOME: '/tmp' };
    const tracker = linearTrackerFromPolicy(
      parsePolicyText(text, { file: '/tmp/WORKFLOW.md', env }).policy.tracker,
      env,
      keyed,
    );
    expect(tracker.teamKey).toBe('ENG');
    const issues = await tracker.fetchIssuesByStates(['Todo']);
    expect(Object.fromEntries(issues.map((i) => [i.title, i.dispatchable]))).toEqual({ Mine: true, 'Not mine': false });
  });

  it('names tracker.provider.api_key when no key is set, and asks for a scope', () => {
    const env = { HOME: '/tmp' };
    const noKey = parsePolicyText(workflow('  kind: linear\n  api_key: $LINEAR_API_KEY\n  project_slug: acme'), {
      file: '/tmp/W.md',
      env,
    });
    let err: unknown;
    try {
      linearTrackerFromPolicy(noKey.policy.tracker, env, keyed);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PolicyError);
    expect((err as PolicyError).code).toBe('tracker_token_missing');
    expect((err as PolicyError).issues[0]?.path).toBe('tracker.provider.api_key');
    expect((err as PolicyError).message).toContain('LINEAR_API_KEY');

    const envWithKey = { HOME: '/tmp', LINEAR_API_KEY: 'lin_api_x' };
    const noScope = parsePolicyText(workflow('  kind: linear'), { file: '/tmp/W.md', env: envWithKey });
    expect(() => linearTrackerFromPolicy(noScope.policy.tracker, envWithKey, keyed)).toThrow(
      expect.objectContaining({
        code: 'invalid_tracker_config',
        message: expect.stringContaining('tracker.provider.project_slug'),
      }),
    );
    const plainHttp = parsePolicyText(
      workflow('  kind: linear\n  project_slug: acme\n  endpoint: http://linear.example.com/graphql'),
      {
        file: '/tmp/W.md',
        env: envWithKey,
      },
    );
    expect(() => linearTrackerFromPolicy(plainHttp.policy.tracker, envWithKey, keyed)).toThrow(
      expect.objectContaining({ code: 'invalid_tracker_config' }),
    );
  });
});
