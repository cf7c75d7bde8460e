/**
 * The installation's comment key (src/trackers/marker.ts): created once in FOREMAN_HOME with mode
 * 0600, refused when damaged, and never let out: the redactor knows it, so logs and tracker
 * comments carry `[REDACTED]` where a text quoted it.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { TrackerError } from '../../src/errors.js';
import { createLogger } from '../../src/logger.js';
import { redact, REDACTED } from '../../src/redact.js';
import { createTracker } from '../../src/trackers/index.js';
import { commentKeyFile, loadCommentKey, markerFor, readMarker } from '../../src/trackers/marker.js';

let dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.map((d) => fs.rm(d, { recursive: true, force: true })));
  dirs = [];
});
const tempHome = async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'foreman-key-'));
  dirs.push(dir);
  return path.join(dir, 'home');
};

describe('comment key', () => {
  it('is created once with mode 0600 and read back the same', async () => {
    const home = await tempHome();
    const key = loadCommentKey(home);
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    expect((await fs.stat(commentKeyFile(home))).mode & 0o777).toBe(0o600);
    expect(loadCommentKey(home)).toBe(key);
    expect((await fs.readdir(home)).filter((f) => f.startsWith('comment-key'))).toEqual(['comment-key']);
    // Another installation's key differs, so its markers do not verify here.
    const other = loadCommentKey(await tempHome());
    expect(other).not.toBe(key);
    expect(readMarker(`${markerFor('k', other)}\nhi`, key)).toEqual({ key: 'k', signed: false, body: 'hi' });
    expect(readMarker(`${markerFor('k', key)}\nhi`, key)).toEqual({ key: 'k', signed: true, body: 'hi' });
  });

  it('narrows a file others can read to 0600, and refuses a damaged one with comment_key_invalid', async () => {
    const home = await tempHome();
    const key = loadCommentKey(home);
    await fs.chmod(commentKeyFile(home), 0o644);
    expect(loadCommentKey(home)).toBe(key);
    expect((await fs.stat(commentKeyFile(home))).mode & 0o777).toBe(0o600);

    await fs.writeFile(commentKeyFile(home), 'not a key\n');
    let caught: unknown;
    try {
      loadCommentKey(home);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(TrackerError);
    expect(caught).toMatchObject({ code: 'comment_key_invalid', retryable: false });
    expect((caught as Error).message).toContain(commentKeyFile(home));
  });

  it('never reaches logs or tracker comments: the redactor knows it once loaded', async () => {
    const home = await tempHome();
    const key = loadCommentKey(home);
    const b64 = Buffer.from(key, 'utf8').toString('base64');
    const out = redact(`the key is ${key} (${b64})`);
    expect(out).toMatch(/^the key is \[REDACTED\] \(\[REDACTED\]/);
    expect(out).not.toContain(b64.slice(0, 16));

    let logged = '';
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        logged += chunk.toString('utf8');
        done();
      },
    });
    const log = createLogger({ FOREMAN_LOG_LEVEL: 'info' }, sink);
    log.info({ detail: `key=${key}` }, `loaded ${key}`);
    log.error(new Error(`failed with ${key}`));
    expect(logged).toContain(REDACTED);
    expect(logged).not.toContain(key);

    // A tracker built as every Foreman process builds it (key from FOREMAN_HOME, writes redacted).
    const issues = path.join(path.dirname(home), 'issues');
    await fs.mkdir(issues);
    await fs.writeFile(path.join(issues, 'DEMO-1.md'), '---\ntitle: t\nstate: Todo\n---\n');
    const tracker = createTracker(
      { tracker: { kind: 'local', provider: { path: issues } } },
      { env: { FOREMAN_HOME: home } },
    );
    await tracker.upsertComment('DEMO-1', 'evidence-1', `The agent printed ${key} and ${b64}.`);
    const text = await fs.readFile(path.join(issues, 'DEMO-1.comments.md'), 'utf8');
    expect(text).not.toContain(key);
    expect(text).not.toContain(b64);
    const [mine] = await tracker.fetchComments('DEMO-1');
    expect(mine).toMatchObject({ by_foreman: true, key: 'evidence-1' });
    expect(mine?.body).toMatch(/^The agent printed \[REDACTED\] and \[REDACTED\]/);
  });
});
