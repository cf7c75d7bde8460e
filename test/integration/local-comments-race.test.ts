/**
 * Human answers are never lost on the local tracker: a person (or a second process) appends to
 * the comments file without Foreman's lock while Foreman keeps rewriting its own evidence comment
 * and posting new ones. Every appended answer must survive, exactly once.
 */
import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { createLocalTracker } from '../../src/trackers/local/index.js';
import { TEST_COMMENT_KEY } from '../support/comment-key.js';

let dir: string | null = null;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = null;
});

const pause = () => new Promise<void>((r) => setImmediate(r));

it(
  'keeps all 200 answers appended while Foreman rewrites and appends its own comments',
  { timeout: 120_000 },
  async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'foreman-race-'));
    await writeFile(path.join(dir, 'DEMO-1.md'), '---\ntitle: Race\nstate: Todo\n---\nBody\n');
    const tracker = createLocalTracker({ path: dir, commentKey: TEST_COMMENT_KEY });
    const commentsFile = path.join(dir, 'DEMO-1.comments.md');
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
