import { mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PolicyError, TrackerError, hasCode } from '../../src/errors.js';
import { createTracker } from '../../src/trackers/index.js';
import { createLocalTracker, type LocalTracker } from '../../src/trackers/local/index.js';
import { TEST_COMMENT_KEY } from '../support/comment-key.js';

let dir: string;
let invalid: { file: string; error: TrackerError }[];
let tracker: LocalTracker;
const stops: (() => void)[] = [];

beforeEach(async () => {
  dir = path.join(await mkdtemp(path.join(tmpdir(), 'foreman-local-')), 'issues');
  invalid = [];
  tracker = createLocalTracker({
    path: dir,
    onInvalid: (file, error) => invalid.push({ file, error }),
    debounceMs: 50,
    commentKey: TEST_COMMENT_KEY,
  });
});

afterEach(async () => {
  for (const stop of stops.splice(0)) stop();
  await rm(path.dirname(dir), { recursive: true, force: true });
});

const put = (name: string, text: string) => writeFile(path.join(dir, name), text);
const read = (name: string) => readFile(path.join(dir, name), 'utf8');

const DEMO_1 = `---
# Owner: platform team
title: Add a health endpoint
state: Todo   # moved by Foreman
priority: 2
labels: [Backend, AGENT]
created_at: 2026-01-05T10:00:00+01:00
blocked_by:
  - DEMO-0
  - DEMO-404
extra: kept
---

Expose \`GET /healthz\` returning 200.

--- not a header ---
`;

describe('local tracker: reading issues', () => {
  it('treats identifiers that differ only in case as one issue: the first counts, the other is reported', async () => {
    await put('CASE-1.md', '---\ntitle: Upper\nstate: Todo\n---\n');
    await put('case-1.md', '---\ntitle: Lower\nstate: Todo\n---\n');
    const issues = await tracker.fetchIssuesByStates(['Todo']);
    expect(issues.map((i) => [i.identifier, i.title])).toEqual([['CASE-1', 'Upper']]);
    expect(invalid.map((x) => path.basename(x.file))).toEqual(['case-1.md']);
    expect(invalid[0]!.error.code).toBe('issue_file_invalid');
    expect((await tracker.fetchIssueByIdentifier('case-1'))?.identifier).toBe('CASE-1');
  });

  it('creates the folder and normalizes an issue file', async () => {
    expect(existsSync(dir)).toBe(true);
    await put('DEMO-1.md', DEMO_1);
    await put('DEMO-0.md', '---\ntitle: Groundwork\nstate: In Progress\n---\n');
    const issue = await tracker.fetchIssueByIdentifier('DEMO-1');
    expect(issue).toMatchObject({
      id: 'DEMO-1',
      identifier: 'DEMO-1',
      title: 'Add a health endpoint',
      state: 'Todo',
      priority: 2,
      labels: ['backend', 'agent'],
      dispatchable: true,
      created_at: '2026-01-05T09:00:00.000Z',
      native_ref: { path: path.join(dir, 'DEMO-1.md') },
      url: `file://${path.join(dir, 'DEMO-1.md')}`,
      blocked_by: [
        { id: 'DEMO-0', identifier: 'DEMO-0', state: 'In Progress' },
        { id: null, identifier: 'DEMO-404', state: null },
      ],
    });
    expect(issue?.description).toBe('Expose `GET /healthz` returning 200.\n\n--- not a header ---');
    expect(Date.parse(issue?.updated_at ?? '')).not.toBeNaN();
  });

  it('falls back to the file time for created_at, null priority, empty lists and description', async () => {
    await put('DEMO-2.md', '---\ntitle: Minimal\nstate: Todo\n---\n');
    const issue = await tracker.fetchIssueByIdentifier('DEMO-2');
    expect(issue).toMatchObject({ priority: null, labels: [], blocked_by: [], description: null });
    expect(Date.parse(issue?.created_at ?? '')).not.toBeNaN();
  });

  it('lists by state (trimmed, case-insensitive), ignoring comments, dot and other files', async () => {
    await put('A-1.md', '---\ntitle: a\nstate: todo\n---\n');
    await put('A-2.md', '---\ntitle: b\nstate: " In Progress "\n---\n');
    await put('A-3.md', '---\ntitle: c\nstate: Done\n---\n');
    await put('A-1.comments.md', '--- comment by ann ---\nhi\n');
    await put('.hidden.md', '---\ntitle: h\nstate: Todo\n---\n');
    await put('notes.txt', 'x');
    const issues = await tracker.fetchIssuesByStates([' TODO', 'in progress']);
    expect(issues.map((i) => i.identifier)).toEqual(['A-1', 'A-2']);
    expect(await tracker.fetchIssuesByStates([])).toEqual([]);
    expect(invalid).toEqual([]);
  });

  it('fetches by ids, leaving unknown ids out', async () => {
    await put('A-1.md', '---\ntitle: a\nstate: Todo\n---\n');
    const issues = await tracker.fetchIssuesByIds(['A-1', 'A-9', '../A-1', 'A-1']);
    expect(issues.map((i) => i.id)).toEqual(['A-1']);
    expect(await tracker.fetchIssueByIdentifier('A-9')).toBeNull();
    expect(await tracker.fetchIssueByIdentifier('../issues/A-1')).toBeNull();
  });
});

describe('local tracker: broken files', () => {
  const broken: Record<string, [string, RegExp]> = {
    'B-1.md': ['---\ntitle: [unclosed\nstate: Todo\n---\n', /not valid YAML/],
    'B-2.md': ['---\nstate: Todo\n---\nbody', /missing `title`/],
    'B-3.md': ['---\ntitle: No state\n---\n', /missing `state`/],
    'B-4.md': ['just text, no front matter\n', /no YAML front matter/],
    'B-5.md': ['---\ntitle: t\nstate: Todo\npriority: high\n---\n', /priority: high/],
    'B-6.md': ['---\ntitle: t\nstate: Todo\ncreated_at: yesterday\n---\n', /created_at: yesterday/],
    'B-7.md': ['---\n- a list\n---\n', /not a map/],
    'B-8.md': ['---\ntitle: t\nstate: Todo\n', /no YAML front matter/],
  };

  it('skips and reports broken files without failing the listing', async () => {
    await put('OK-1.md', '---\ntitle: fine\nstate: Todo\n---\n');
    for (const [name, [text]] of Object.entries(broken)) await put(name, text);
    const issues = await tracker.fetchIssuesByStates(['Todo']);
    expect(issues.map((i) => i.identifier)).toEqual(['OK-1']);
    expect(invalid.map((i) => path.basename(i.file)).sort()).toEqual(Object.keys(broken).sort());
    for (const { file, error } of invalid) {
      const [, pattern] = broken[path.basename(file)] ?? ['', /never/];
      expect(error).toBeInstanceOf(TrackerError);
      expect(error.code).toBe('issue_file_invalid');
      expect(error.retryable).toBe(false);
      expect(error.message).toContain(file);
      expect(error.message).toMatch(pattern);
    }
  });

  it('throws the TrackerError from fetchIssueByIdentifier', async () => {
    await put('B-2.md', broken['B-2.md']?.[0] ?? '');
    await expect(tracker.fetchIssueByIdentifier('B-2')).rejects.toSatisfy(
      (e: unknown) => hasCode(e, 'issue_file_invalid') && (e as TrackerError).retryable === false,
    );
    await expect(tracker.moveIssue('B-2', 'Done')).rejects.toSatisfy((e: unknown) => hasCode(e, 'issue_file_invalid'));
  });

  it('gives a broken blocker a null state', async () => {
    await put('B-3.md', broken['B-3.md']?.[0] ?? '');
    await put('C-1.md', '---\ntitle: c\nstate: Todo\nblocked_by: B-3\n---\n');
    const issue = await tracker.fetchIssueByIdentifier('C-1');
    expect(issue?.blocked_by).toEqual([{ id: 'B-3', identifier: 'B-3', state: null }]);
  });
});

describe('local tracker: moving state', () => {
  it('rewrites only the state value, byte-for-byte elsewhere', async () => {
    await put('DEMO-1.md', DEMO_1);
    await tracker.moveIssue('DEMO-1', 'In Progress');
    const after = await read('DEMO-1.md');
    expect(after).toBe(DEMO_1.replace('state: Todo   #', 'state: In Progress   #'));
    expect((await tracker.fetchIssueByIdentifier('DEMO-1'))?.state).toBe('In Progress');
  });

  it('keeps the quoting style and CRLF line endings, and quotes values YAML would misread', async () => {
    const text = '---\r\ntitle: t\r\nstate: "Todo"\r\n---\r\nBody\r\n';
    await put('Q-1.md', text);
    await tracker.moveIssue('Q-1', 'Human Review');
    expect(await read('Q-1.md')).toBe(text.replace('"Todo"', '"Human Review"'));
    await put('Q-2.md', '---\ntitle: t\nstate: Todo\n---\n');
    await tracker.moveIssue('Q-2', 'null');
    expect((await tracker.fetchIssueByIdentifier('Q-2'))?.state).toBe('null');
    await tracker.moveIssue('Q-2', 'Review: #2');
    expect((await tracker.fetchIssueByIdentifier('Q-2'))?.state).toBe('Review: #2');
  });

  it('is a no-op when already in that state', async () => {
    const text = '---\ntitle: t\nstate: in progress\n---\n';
    await put('N-1.md', text);
    const past = new Date('2020-01-01T00:00:00Z');
    await utimes(path.join(dir, 'N-1.md'), past, past);
    await tracker.moveIssue('N-1', ' In Progress ');
    expect(await read('N-1.md')).toBe(text);
    expect((await tracker.fetchIssueByIdentifier('N-1'))?.updated_at).toBe(past.toISOString());
  });

  it('fails for unknown issues and leaves no temp files behind', async () => {
    await expect(tracker.moveIssue('NOPE-1', 'Done')).rejects.toSatisfy(
      (e: unknown) => hasCode(e, 'tracker_not_found') && (e as TrackerError).retryable === false,
    );
    await expect(tracker.moveIssue('NOPE-1', ' ')).rejects.toSatisfy((e: unknown) =>
      hasCode(e, 'tracker_payload_invalid'),
    );
    await put('M-1.md', '---\ntitle: t\nstate: Todo\n---\n');
    await Promise.all([tracker.moveIssue('M-1', 'In Progress'), tracker.moveIssue('M-1', 'Done')]);
    expect((await tracker.fetchIssueByIdentifier('M-1'))?.state).toBe('Done');
    expect((await readdir(dir)).sort()).toEqual(['M-1.md']);
  });
});

describe('local tracker: comments', () => {
  beforeEach(async () => {
    await put('DEMO-1.md', '---\ntitle: t\nstate: Todo\n---\n');
  });

  it('appends a Foreman comment, then updates it in place for the same key', async () => {
    expect(await tracker.fetchComments('DEMO-1')).toEqual([]);
    const first = await tracker.upsertComment('DEMO-1', 'escalation-1', 'Which database?\n\n- A\n- B');
    expect(first).toEqual({ id: 'DEMO-1#1', created: true });
    const text = await read('DEMO-1.comments.md');
    expect(text).toMatch(
      /^--- comment by foreman at \d{4}-\d\d-\d\dT[\d:.]+Z ---\n<!-- foreman:key=escalation-1 mac=[0-9a-f]{64} -->\nWhich database\?\n\n- A\n- B\n<!-- \/foreman -->\n$/,
    );

    const again = await tracker.upsertComment('DEMO-1', 'escalation-1', 'Which database? (updated)');
    expect(again).toEqual({ id: 'DEMO-1#1', created: false });
    const same = await tracker.upsertComment('DEMO-1', 'escalation-1', 'Which database? (updated)');
    expect(same).toEqual({ id: 'DEMO-1#1', created: false });

    const comments = await tracker.fetchComments('DEMO-1');
    expect(comments).toHaveLength(1);
    expect(comments[0]).toMatchObject({
      id: 'DEMO-1#1',
      author: 'foreman',
      body: 'Which database? (updated)',
      by_foreman: true,
      key: 'escalation-1',
    });
    // The header (and so created_at) is kept across the update.
    expect((await read('DEMO-1.comments.md')).split('\n')[0]).toBe(text.split('\n')[0]);
  });

  it('reads human blocks with and without a timestamp, and bare text', async () => {
    const file = path.join(dir, 'DEMO-1.comments.md');
    await writeFile(
      file,
      [
        'I started on this before the header.',
        '',
        '--- comment by Jane Doe at 2026-02-01T12:00:00Z ---',
        'Use PostgreSQL.',
        '',
        '--- comment by bob ---',
        '  Agreed.  ',
        '',
      ].join('\n'),
    );
    const mtime = new Date('2026-02-02T08:00:00Z');
    await utimes(file, mtime, mtime);
    const comments = await tracker.fetchComments('DEMO-1');
    expect(comments).toEqual([
      {
        id: 'DEMO-1#1',
        author: 'human',
        body: 'I started on this before the header.',
        created_at: mtime.toISOString(),
        by_foreman: false,
        key: null,
      },
      {
        id: 'DEMO-1#2',
        author: 'Jane Doe',
        body: 'Use PostgreSQL.',
        created_at: '2026-02-01T12:00:00.000Z',
        by_foreman: false,
        key: null,
      },
      { id: 'DEMO-1#3', author: 'bob', body: 'Agreed.', created_at: mtime.toISOString(), by_foreman: false, key: null },
    ]);
    expect((await tracker.fetchComments('DEMO-1', '2026-02-01T12:00:00Z')).map((c) => c.id)).toEqual([
      'DEMO-1#1',
      'DEMO-1#3',
    ]);
  });

  it('treats text typed after a Foreman block as a human reply, kept through updates', async () => {
    await tracker.upsertComment('DEMO-1', 'q1', 'Question?');
    const file = path.join(dir, 'DEMO-1.comments.md');
    await writeFile(file, (await read('DEMO-1.comments.md')) + '\nOption B, please.\n');
    const answeredAt = new Date('2026-03-01T00:00:00Z');
    await utimes(file, answeredAt, answeredAt);

    let comments = await tracker.fetchComments('DEMO-1');
    expect(comments.map((c) => [c.id, c.author, c.body, c.by_foreman])).toEqual([
      ['DEMO-1#1', 'foreman', 'Question?', true],
      ['DEMO-1#2', 'human', 'Option B, please.', false],
    ]);
    expect(comments[1]?.created_at).toBe(answeredAt.toISOString());

    // Foreman writing again neither swallows nor re-dates the answer.
    await tracker.upsertComment('DEMO-1', 'q1', 'Question? (edited)');
    const posted = await tracker.upsertComment('DEMO-1', 'resumed', 'Resuming with B.');
    expect(posted).toEqual({ id: 'DEMO-1#3', created: true });
    comments = await tracker.fetchComments('DEMO-1');
    expect(comments.map((c) => [c.id, c.author, c.body, c.created_at === answeredAt.toISOString()])).toEqual([
      ['DEMO-1#1', 'foreman', 'Question? (edited)', false],
      ['DEMO-1#2', 'human', 'Option B, please.', true],
      ['DEMO-1#3', 'foreman', 'Resuming with B.', false],
    ]);
    expect(await read('DEMO-1.comments.md')).toContain(
      `--- comment by human at ${answeredAt.toISOString()} ---\nOption B, please.`,
    );
  });

  it('keeps a body that contains header-like lines intact', async () => {
    const body = 'Before\n--- comment by mallory ---\n<!-- /foreman -->\nAfter';
    await tracker.upsertComment('DEMO-1', 'k', body);
    const comments = await tracker.fetchComments('DEMO-1');
    expect(comments).toHaveLength(1);
    expect(comments[0]?.body).toBe(body);
  });

  it('does not lose concurrent upserts of different keys', async () => {
    const keys = Array.from({ length: 12 }, (_, i) => `k${i}`);
    const results = await Promise.all(keys.map((k) => tracker.upsertComment('DEMO-1', k, `body ${k}`)));
    expect(results.every((r) => r.created)).toBe(true);
    expect(new Set(results.map((r) => r.id)).size).toBe(keys.length);
    const comments = await tracker.fetchComments('DEMO-1');
    expect(comments.map((c) => c.key).sort()).toEqual([...keys].sort());
    // A second tracker on the same folder shares the per-file queue.
    const other = createLocalTracker({ path: dir, commentKey: TEST_COMMENT_KEY });
    await Promise.all([tracker.upsertComment('DEMO-1', 'x', 'one'), other.upsertComment('DEMO-1', 'y', 'two')]);
    expect((await tracker.fetchComments('DEMO-1')).length).toBe(keys.length + 2);
  });

  it('rejects unknown issues and bad keys', async () => {
    await expect(tracker.upsertComment('NOPE-1', 'k', 'b')).rejects.toSatisfy((e: unknown) =>
      hasCode(e, 'tracker_not_found'),
    );
    await expect(tracker.fetchComments('NOPE-1')).rejects.toSatisfy((e: unknown) => hasCode(e, 'tracker_not_found'));
    await expect(tracker.upsertComment('DEMO-1', 'has space', 'b')).rejects.toSatisfy((e: unknown) =>
      hasCode(e, 'tracker_payload_invalid'),
    );
    await expect(tracker.fetchComments('DEMO-1', 'soon')).rejects.toSatisfy((e: unknown) =>
      hasCode(e, 'tracker_payload_invalid'),
    );
  });
});

describe('local tracker: watch', () => {
  it('fires (debounced) when an issue file appears, not for temp files, and stops', async () => {
    let calls = 0;
    const stop = tracker.watch(() => {
      calls += 1;
    });
    stops.push(stop);
    await put('.DEMO-9.md.tmp', 'x');
    await new Promise((r) => setTimeout(r, 200));
    expect(calls).toBe(0);

    // Two writes in one burst: one callback.
    writeFileSync(path.join(dir, 'DEMO-9.md'), '---\ntitle: new\nstate: Todo\n---\n');
    writeFileSync(path.join(dir, 'DEMO-9.md'), '---\ntitle: new!\nstate: Todo\n---\n');
    await expect.poll(() => calls, { timeout: 3000 }).toBe(1);

    stop();
    await put('DEMO-10.md', '---\ntitle: late\nstate: Todo\n---\n');
    await new Promise((r) => setTimeout(r, 200));
    expect(calls).toBe(1);
  });

  it('keeps watching a folder that is removed and re-created', async () => {
    let calls = 0;
    stops.push(tracker.watch(() => (calls += 1)));
    await rm(dir, { recursive: true, force: true });
    await expect.poll(() => existsSync(dir), { timeout: 5000, interval: 100 }).toBe(true);
    const before = calls;
    await put('R-1.md', '---\ntitle: r\nstate: Todo\n---\n');
    await expect.poll(() => calls > before, { timeout: 5000 }).toBe(true);
  });
});

describe('createTracker', () => {
  it('creates the local tracker from the policy, default path ./issues', () => {
    const t = createTracker({ tracker: { kind: 'local', provider: { path: dir } } });
    expect(t.kind).toBe('local');
    expect((t as LocalTracker).path).toBe(dir);
    const rel = createTracker({
      tracker: { kind: ' Local ', provider: { path: path.relative(process.cwd(), dir) } },
    }) as LocalTracker;
    expect(rel.path).toBe(dir);
    const b = createTracker(
      { tracker: { kind: 'local', provider: {} } },
      { baseDir: path.dirname(dir) },
    ) as LocalTracker;
    expect(b.path).toBe(path.join(path.dirname(dir), 'issues'));
  });

  it('passes onInvalid through', async () => {
    const seen: string[] = [];
    const t = createTracker(
      { tracker: { kind: 'local', provider: { path: dir } } },
      { onInvalid: (f) => seen.push(f) },
    );
    await put('X-1.md', 'broken');
    await t.fetchIssuesByStates(['Todo']);
    expect(seen).toEqual([path.join(dir, 'X-1.md')]);
  });

  it('builds Linear and GitHub trackers (secrets from the env), and rejects unknown kinds', () => {
    const linear = createTracker(
      { tracker: { kind: 'linear', provider: { project_slug: 'app-1234' } } },
      { env: { LINEAR_API_KEY: 'lin_test' } },
    );
    expect(linear.kind).toBe('linear');
    expect(() =>
      createTracker({ tracker: { kind: 'linear', provider: { project_slug: 'app' } } }, { env: {} }),
    ).toThrow(/tracker\.provider\.api_key/);
    const github = createTracker(
      { tracker: { kind: 'github', provider: { repo: 'acme/app' } } },
      { env: { GITHUB_TOKEN: 'ghp_test' } },
    );
    expect(github.kind).toBe('github');
    expect(() => createTracker({ tracker: { kind: 'github', provider: { repo: 'acme/app' } } }, { env: {} })).toThrow(
      /GITHUB_TOKEN/,
    );
    try {
      createTracker({ tracker: { kind: 'jira', provider: {} } });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(PolicyError);
      expect(hasCode(err, 'tracker_kind_unsupported')).toBe(true);
      expect((err as PolicyError).message).toContain('local');
      expect((err as PolicyError).issues[0]?.path).toBe('tracker.kind');
    }
  });
});
