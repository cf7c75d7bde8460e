/**
 * Human answers are never lost on the local tracker: a person (or a second process) appends to
 * the comments file without Foreman's lock while Foreman keeps rewriting its own evidence comment
 * and posting new ones. Every appended answer must survive, exactly once. Two Foreman processes
 * writing one folder take turns through the per-file lock (src/trackers/local/files.ts).
 */
import { appendFile, mkdtemp, open, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import path from 'node:path';
import { afterEach, expect, it, vi } from 'vitest';
import { createLocalTracker } from '../../src/trackers/local/index.js';
import { LATE_APPEND_WINDOW_MS } from '../../src/trackers/local/files.js';
import { TEST_COMMENT_KEY } from '../support/comment-key.js';

let dir: string | null = null;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = null;
});

const WRITER = fileURLToPath(new URL('../support/local-writer.ts', import.meta.url));

/** A fresh issues folder holding DEMO-1, with a local tracker over it and its comments file's path. */
async function demoFolder() {
  const folder = await mkdtemp(path.join(tmpdir(), 'foreman-race-'));
  dir = folder;
  await writeFile(path.join(folder, 'DEMO-1.md'), '---\ntitle: Race\nstate: Todo\n---\nBody\n');
  return {
    dir: folder,
    tracker: createLocalTracker({ path: folder, commentKey: TEST_COMMENT_KEY }),
    commentsFile: path.join(folder, 'DEMO-1.comments.md'),
  };
}

const pause = () => new Promise<void>((r) => setImmediate(r));

it(
  'keeps all 200 answers appended while Foreman rewrites and appends its own comments',
  { timeout: 120_000 },
  async () => {
    const { tracker, commentsFile } = await demoFolder();
    const ANSWERS = 200;

    const human = (async () => {
      for (let i = 0; i < ANSWERS; i++) {
        await appendFile(commentsFile, `\n--- comment by ana at ${new Date().toISOString()} ---\nanswer ${i}\n`);
        if (i % 3 === 0) await pause();
      }
    })();
    const foreman = (async () => {
      for (let i = 0; i < ANSWERS; i++) {
        await tracker.upsertComment('DEMO-1', 'evidence', `Evidence revision ${i}\n\n| check | ok |`);
        if (i % 20 === 0) await tracker.upsertComment('DEMO-1', `reminder-${i}`, `Reminder ${i}`);
      }
    })();
    await Promise.all([human, foreman]);

    // An answer written into a file just replaced is forwarded within LATE_APPEND_WINDOW_MS.
    const answersNow = async () =>
      (await tracker.fetchComments('DEMO-1')).filter((c) => !c.by_foreman && /^answer \d+$/.test(c.body)).length;
    await vi.waitFor(async () => expect(await answersNow()).toBe(ANSWERS), { timeout: LATE_APPEND_WINDOW_MS + 5_000 });
    const comments = await tracker.fetchComments('DEMO-1');
    const answers = comments.filter((c) => !c.by_foreman).map((c) => c.body);
    expect(answers.filter((b) => /^answer \d+$/.test(b))).toHaveLength(ANSWERS);
    expect(new Set(answers).size).toBe(ANSWERS);
    const evidence = comments.filter((c) => c.key === 'evidence');
    expect(evidence).toHaveLength(1);
    expect(evidence[0]!.body).toContain(`Evidence revision ${ANSWERS - 1}`);
    expect(comments.filter((c) => c.key?.startsWith('reminder-'))).toHaveLength(ANSWERS / 20);
    expect(await readFile(commentsFile, 'utf8')).not.toContain('.tmp');
  },
);

it('an answer written through a handle opened before Foreman replaced the file still lands (late append)', async () => {
  const { tracker, commentsFile } = await demoFolder();
  await tracker.upsertComment('DEMO-1', 'evidence', 'Evidence revision 1');
  // A shell's `>>`: opened now, written after Foreman has renamed a new file over this one.
  const late = await open(commentsFile, 'a');
  const before = (await stat(commentsFile)).ino;
  await tracker.upsertComment('DEMO-1', 'evidence', 'Evidence revision 2');
  expect((await stat(commentsFile)).ino).not.toBe(before); // the revision replaced the file
  await late.write('\n--- comment by ana at 2026-01-01T00:00:00Z ---\nlate answer\n');
  await late.close();
  await vi.waitFor(
    async () => expect((await tracker.fetchComments('DEMO-1')).map((c) => c.body)).toContain('late answer'),
    { timeout: LATE_APPEND_WINDOW_MS },
  );
  const comments = await tracker.fetchComments('DEMO-1');
  expect(comments.filter((c) => c.body === 'late answer')).toHaveLength(1);
  expect(comments.filter((c) => c.key === 'evidence').map((c) => c.body)).toEqual(['Evidence revision 2']);
});

it('a new Foreman comment is appended, not renamed over the file, and its id is where it landed', async () => {
  const { tracker, commentsFile } = await demoFolder();
  await tracker.upsertComment('DEMO-1', 'question', 'Which database?');
  const ino = (await stat(commentsFile)).ino;
  // An answer without a final newline must not swallow the next header.
  await appendFile(commentsFile, '\n--- comment by ana at 2026-01-01T00:00:00Z ---\nSQLite');
  const posted = await tracker.upsertComment('DEMO-1', 'reminder', 'Still waiting');
  expect((await stat(commentsFile)).ino).toBe(ino);
  const comments = await tracker.fetchComments('DEMO-1');
  expect(comments.map((c) => [c.author, c.body])).toEqual([
    ['foreman', 'Which database?'],
    ['ana', 'SQLite'],
    ['foreman', 'Still waiting'],
  ]);
  expect(posted).toEqual({ id: comments[2]!.id, created: true });
});

it(
  'two Foreman processes writing one issue lose nothing: every keyed comment of both lands once',
  {
    timeout: 120_000,
  },
  async () => {
    const { dir: folder, tracker } = await demoFolder();
    const N = 40;
    const writer = (prefix: string) =>
      execa(process.execPath, ['--import', 'tsx', WRITER, folder, prefix, String(N)], { reject: false });
    const [a, b] = await Promise.all([writer('alpha'), writer('beta')]);
    expect(a.stderr).toBe('');
    expect(b.stderr).toBe('');
    expect([a.exitCode, b.exitCode]).toEqual([0, 0]);
    const keys = (await tracker.fetchComments('DEMO-1')).map((c) => c.key);
    for (const prefix of ['alpha', 'beta'])
      for (let i = 0; i < N; i++) expect(keys.filter((k) => k === `${prefix}-${i}`)).toHaveLength(1);
    expect((await readdir(folder)).filter((f) => f.includes('.lock') || f.includes('.tmp'))).toEqual([]);
  },
);

it('a write waits while another live process holds the file lock, and proceeds when it is released', async () => {
  const { dir: folder, tracker } = await demoFolder();
  const holder = execa('sleep', ['30'], { reject: false });
  try {
    const lock = path.join(folder, 'DEMO-1.md.lock');
    await writeFile(lock, JSON.stringify({ pid: holder.pid, host: hostname(), createdAt: Date.now() }));
    let moved = false;
    const move = tracker.moveIssue('DEMO-1', 'In Progress').then(() => (moved = true));
    await new Promise((r) => setTimeout(r, 500));
    expect(moved).toBe(false);
    expect(await readFile(path.join(folder, 'DEMO-1.md'), 'utf8')).toContain('state: Todo');
    await rm(lock);
    await move;
    expect(await readFile(path.join(folder, 'DEMO-1.md'), 'utf8')).toContain('state: In Progress');
  } finally {
    holder.kill();
  }
});

it('a lock left by a dead process is broken, not waited on', async () => {
  const { dir: folder, tracker } = await demoFolder();
  const child = execa('true');
  const pid = child.pid!;
  await child;
  await writeFile(
    path.join(folder, 'DEMO-1.md.lock'),
    JSON.stringify({ pid, host: hostname(), createdAt: Date.now() }),
  );
  await tracker.moveIssue('DEMO-1', 'In Progress');
  expect(await readFile(path.join(folder, 'DEMO-1.md'), 'utf8')).toContain('state: In Progress');
});
