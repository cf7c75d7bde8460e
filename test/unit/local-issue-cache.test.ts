/**
 * The local tracker's cache of parsed issue files (src/trackers/local/issue-cache.ts): a listing
 * re-reads only the files that changed, and never misses an edit, including one that keeps the
 * size and puts the mtime back, and one made within the timestamp granularity of the last. The same
 * cache serves the comments files, which the dispatcher reads for every parked run each tick.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createCommentsCache, createIssueCache } from '../../src/trackers/local/issue-cache.js';
import { createLocalTracker } from '../../src/trackers/local/index.js';
import { writeIssue } from '../support/fixtures.js';
import { testDir } from '../support/test-dir.js';

const stateOf = (loaded: Awaited<ReturnType<ReturnType<typeof createIssueCache>['load']>>) =>
  loaded.kind === 'ok' ? loaded.parsed.state : loaded.kind;

describe('the parsed issue cache', () => {
  it('reads a settled file once across loads, and again once it changes', async () => {
    const dir = await testDir();
    await writeIssue(dir, 'A-1', { title: 'One', state: 'Todo' });
    const file = path.join(dir, 'A-1.md');
    // The clock says the file was written long ago (it has settled).
    const cache = createIssueCache({ now: () => Date.now() + 60_000 });
    expect(stateOf(await cache.load(file))).toBe('Todo');
    expect(stateOf(await cache.load(file))).toBe('Todo');
    expect(cache.reads()).toBe(1);

    await writeIssue(dir, 'A-1', { title: 'One', state: 'Done' });
    expect(stateOf(await cache.load(file))).toBe('Done');
    expect(cache.reads()).toBe(2);
  });

  it('sees an edit that keeps the size and puts the mtime back (ctime moves)', async () => {
    const dir = await testDir();
    await writeIssue(dir, 'A-1', { title: 'One', state: 'Todo' });
    const file = path.join(dir, 'A-1.md');
    const cache = createIssueCache({ now: () => Date.now() + 60_000 });
    const mtime = Math.floor(Date.now() / 1000) - 3600; // whole seconds: restored exactly below
    await fs.utimes(file, mtime, mtime);
    const { size } = await fs.stat(file);
    expect(stateOf(await cache.load(file))).toBe('Todo');

    // In place (same inode), same size, the mtime restored: only ctime tells.
    await new Promise((r) => setTimeout(r, 20));
    const text = await fs.readFile(file, 'utf8');
    expect(text).toContain('state: "Todo"');
    const handle = await fs.open(file, 'r+');
    await handle.write(text.replace('state: "Todo"', 'state: "Done"'), 0);
    await handle.close();
    await fs.utimes(file, mtime, mtime);
    expect((await fs.stat(file)).size).toBe(size);
    expect((await fs.stat(file)).mtimeMs).toBe(mtime * 1000);
    expect(stateOf(await cache.load(file))).toBe('Done');
  });

  it('keeps no parse of a file changed within the settle time: a same-tick edit is never missed', async () => {
    const dir = await testDir();
    await writeIssue(dir, 'A-1', { title: 'One', state: 'Todo' });
    const file = path.join(dir, 'A-1.md');
    // The real clock: the file was written just now, so each load reads it again, even when the
    // stat is the same (as a second write in one timestamp tick would leave it).
    const cache = createIssueCache();
    await cache.load(file);
    await cache.load(file);
    expect(cache.reads()).toBe(2);
    // Once the settle time has passed since the last change, the parse is kept.
    const later = createIssueCache({ now: () => Date.now() + 3001 });
    await later.load(file);
    await later.load(file);
    expect(later.reads()).toBe(1);
  });

  it('a deleted file is missing, a broken one is invalid, and neither hides a later fix', async () => {
    const dir = await testDir();
    const file = path.join(dir, 'A-1.md');
    const cache = createIssueCache({ now: () => Date.now() + 60_000 });
    await fs.writeFile(file, 'no front matter\n');
    expect((await cache.load(file)).kind).toBe('invalid');
    await writeIssue(dir, 'A-1', { title: 'One', state: 'Todo' });
    expect(stateOf(await cache.load(file))).toBe('Todo');
    await fs.rm(file);
    expect((await cache.load(file)).kind).toBe('missing');
  });

  it('through the tracker: listings see edits and deletions, and the issues they return are copies', async () => {
    const dir = await testDir();
    for (let i = 1; i <= 20; i++) await writeIssue(dir, `A-${i}`, { title: `Issue ${i}`, state: 'Todo' });
    const tracker = createLocalTracker({ path: dir, commentKey: 'a'.repeat(64) });
    const first = await tracker.fetchIssuesByStates(['Todo']);
    expect(first).toHaveLength(20);
    first[0]!.labels.push('mutated');
    await writeIssue(dir, 'A-3', { title: 'Issue 3', state: 'In Progress' });
    const second = await tracker.fetchIssuesByStates(['Todo', 'In Progress']);
    expect(second.find((i) => i.identifier === 'A-3')?.state).toBe('In Progress');
    expect(second.find((i) => i.identifier === first[0]!.identifier)?.labels).not.toContain('mutated');
    await fs.rm(path.join(dir, 'A-5.md'));
    expect((await tracker.fetchIssuesByStates(['Todo', 'In Progress'])).map((i) => i.identifier)).not.toContain('A-5');
  });
});

describe('the parsed comments cache', () => {
  const key = 'b'.repeat(64);
  const cacheOf = (dir: string, now?: () => number) =>
    createCommentsCache((file) => path.basename(file, '.comments.md'), key, now ? { now } : {});

  it("reads an unchanged file once, and again after a person's append", async () => {
    const dir = await testDir();
    const file = path.join(dir, 'A-1.comments.md');
    await fs.writeFile(file, '--- comment by ana at 2026-01-01T00:00:00Z ---\nWhich way?\n');
    const cache = cacheOf(dir, () => Date.now() + 60_000);
    expect((await cache.load(file)).map((c) => c.body)).toEqual(['Which way?']);
    expect((await cache.load(file)).map((c) => c.body)).toEqual(['Which way?']);
    expect(cache.reads()).toBe(1);

    await fs.appendFile(file, '\n--- comment by bob at 2026-01-02T00:00:00Z ---\nLeft.\n');
    const after = await cache.load(file);
    expect(after.map((c) => [c.id, c.author, c.body])).toEqual([
      ['A-1#1', 'ana', 'Which way?'],
      ['A-1#2', 'bob', 'Left.'],
    ]);
    expect(cache.reads()).toBe(2);
    await cache.load(file);
    expect(cache.reads()).toBe(2);
  });

  it('re-reads an in-place edit that keeps the size and puts the mtime back (ctime moves)', async () => {
    const dir = await testDir();
    const file = path.join(dir, 'A-1.comments.md');
    await fs.writeFile(file, '--- comment by ana at 2026-01-01T00:00:00Z ---\nGo left\n');
    const mtime = Math.floor(Date.now() / 1000) - 3600;
    await fs.utimes(file, mtime, mtime);
    const cache = cacheOf(dir, () => Date.now() + 60_000);
    expect((await cache.load(file))[0]?.body).toBe('Go left');

    await new Promise((r) => setTimeout(r, 20));
    const handle = await fs.open(file, 'r+');
    await handle.write('Go west', (await fs.readFile(file, 'utf8')).indexOf('Go left'));
    await handle.close();
    await fs.utimes(file, mtime, mtime);
    expect((await cache.load(file))[0]?.body).toBe('Go west');
    expect(cache.reads()).toBe(2);
  });

  it('keeps nothing for a missing file or one changed within the settle time', async () => {
    const dir = await testDir();
    const file = path.join(dir, 'A-1.comments.md');
    const cache = cacheOf(dir);
    expect(await cache.load(file)).toEqual([]);
    await fs.writeFile(file, '--- comment by ana ---\nHello\n');
    expect((await cache.load(file))[0]?.body).toBe('Hello');
    // Written just now (real clock): read again at every load until it settles.
    await cache.load(file);
    expect(cache.reads()).toBe(3);
  });

  it("through the tracker: fetchCommentsSince finds a person's answer appended after an earlier read", async () => {
    const dir = await testDir();
    for (const id of ['A-1', 'A-2']) await writeIssue(dir, id, { title: id, state: 'Todo' });
    const tracker = createLocalTracker({ path: dir, commentKey: key });
    await tracker.upsertComment('A-1', 'question', 'Which way?');
    const since = '2000-01-01T00:00:00Z';
    const first = await tracker.fetchCommentsSince!(['A-1', 'A-2', 'A-1'], since);
    expect([...first.keys()]).toEqual(['A-1']);
    expect(first.get('A-1')!.map((c) => c.by_foreman)).toEqual([true]);
    expect(Object.isFrozen(first.get('A-1')![0])).toBe(true);

    await fs.appendFile(path.join(dir, 'A-1.comments.md'), '\n--- comment by ana ---\nLeft.\n');
    await fs.writeFile(path.join(dir, 'A-2.comments.md'), '--- comment by bob ---\nHi\n');
    const second = await tracker.fetchCommentsSince!(['A-1', 'A-2'], since);
    expect(second.get('A-1')!.map((c) => c.body)).toEqual(['Which way?', 'Left.']);
    expect(second.get('A-2')!.map((c) => c.body)).toEqual(['Hi']);
    expect(await tracker.fetchCommentsSince!(['NOPE-1'], since)).toEqual(new Map()); // gone: left out
  });
});
