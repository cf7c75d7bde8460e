/**
 * The local tracker's cache of parsed issue files (src/trackers/local/issue-cache.ts): a listing
 * re-reads only the files that changed, and never misses an edit, including one that keeps the
 * size and puts the mtime back, and one made within the timestamp granularity of the last.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createIssueCache } from '../../src/trackers/local/issue-cache.js';
import { createLocalTracker } from '../../src/trackers/local/index.js';
import { tempDir, writeIssue } from '../support/fixtures.js';

let cleanup: (() => Promise<void>) | null = null;
afterEach(async () => {
  await cleanup?.();
  cleanup = null;
});

async function folder() {
  const tmp = await tempDir();
  cleanup = tmp.cleanup;
  return tmp.dir;
}

const stateOf = (loaded: Awaited<ReturnType<ReturnType<typeof createIssueCache>['load']>>) =>
  loaded.kind === 'ok' ? loaded.parsed.state : loaded.kind;

describe('the parsed issue cache', () => {
  it('reads a settled file once across loads, and again once it changes', async () => {
    const dir = await folder();
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
    const dir = await folder();
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
    const dir = await folder();
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
    const dir = await folder();
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
    const dir = await folder();
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
