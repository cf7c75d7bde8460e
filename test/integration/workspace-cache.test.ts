/**
 * The per-repository cache new workspaces are cloned from (src/workspace/cache.ts), on real git
 * repositories: the workspace's remote is still the real one, a stale cache never gives a stale
 * workspace, an agent writing into its own `.git` (objects, alternates) changes neither the cache
 * nor another workspace, a corrupt or missing cache falls back to cloning the remote and says so,
 * and concurrent prepares of one repository share one cache.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { cacheDirFor } from '../../src/workspace/cache.js';
import { recordedRemoteUrl } from '../../src/workspace/git.js';
import { prepareWorkspace } from '../../src/workspace/workspace.js';
import { git, makeOrigin, WORKSPACE_DEFAULTS } from '../support/fixtures.js';
import { testDir } from '../support/test-dir.js';

const { identity, hooks: noHooks, env } = WORKSPACE_DEFAULTS;

async function setup() {
  const dir = await testDir();
  const origin = await makeOrigin(dir);
  const root = path.join(dir, 'ws');
  const cacheRoot = path.join(dir, 'home', 'repo-cache');
  const logs: { msg: string; level: number }[] = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line)) });
  const prepare = (identifier: string) =>
    prepareWorkspace({ root, identifier, repo: origin, hooks: noHooks, identity, env, cacheRoot, log });
  return { dir, origin, root, cacheRoot, cache: cacheDirFor(cacheRoot, origin), logs, prepare };
}

/** Every regular file under `dir`, relative path → sha256 of its bytes. */
async function fileHashes(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const entry of await fs.readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const full = path.join(entry.parentPath, entry.name);
    out.set(
      path.relative(dir, full),
      createHash('sha256')
        .update(await fs.readFile(full))
        .digest('hex'),
    );
  }
  return out;
}

/** The inode numbers of every regular file under `dir`. */
async function inodes(dir: string): Promise<Set<number>> {
  const out = new Set<number>();
  for (const entry of await fs.readdir(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) out.add((await fs.stat(path.join(entry.parentPath, entry.name))).ino);
  }
  return out;
}

describe('the repository cache', () => {
  it('clones new workspaces from one cache, with the real remote recorded, and fetches what the cache lacks', async () => {
    const s = await setup();
    const a = await s.prepare('DEMO-1');
    expect(a.createdNow).toBe(true);
    expect((await fs.stat(path.join(s.cache, 'HEAD'))).isFile()).toBe(true);
    expect(await recordedRemoteUrl(a.path)).toBe(s.origin);
    expect(git(a.path, 'config', '--get', 'remote.origin.url').trim()).toBe(s.origin);
    expect(s.logs.some((l) => l.msg === 'repository cache made')).toBe(true);

    // Someone pushes to main after the cache was made (and within its refresh interval): the
    // next workspace still starts from the remote's main, not the cache's.
    const clone = path.join(s.dir, 'someone');
    git(s.dir, 'clone', '-q', s.origin, clone);
    await fs.writeFile(path.join(clone, 'NEW.md'), 'new\n');
    git(clone, 'add', '-A');
    git(clone, 'commit', '-q', '-m', 'new on main');
    git(clone, 'push', '-q', 'origin', 'main');
    const head = git(clone, 'rev-parse', 'HEAD').trim();
    const b = await s.prepare('DEMO-2');
    expect(b.baseCommit).toBe(head);
    expect(await fs.readFile(path.join(b.path, 'NEW.md'), 'utf8')).toBe('new\n');
    expect(git(s.cache, 'rev-parse', 'refs/heads/main').trim()).not.toBe(head); // the cache was not refreshed yet
    expect(s.logs.filter((l) => l.msg === 'repository cache made')).toHaveLength(1);
  });

  it('an agent writing into its .git (objects, alternates) changes neither the cache nor another workspace', async () => {
    const s = await setup();
    const a = await s.prepare('DEMO-1');
    const b = await s.prepare('DEMO-2');
    const cacheBefore = await fileHashes(s.cache);
    const bBefore = await fileHashes(path.join(b.path, '.git', 'objects'));
    // No file of a workspace is a hard link to the cache's or the other's (shared inodes).
    const cacheInodes = await inodes(s.cache);
    const bInodes = await inodes(b.path);
    for (const ino of await inodes(a.path)) {
      expect(cacheInodes.has(ino)).toBe(false);
      expect(bInodes.has(ino)).toBe(false);
    }
    expect(await fs.stat(path.join(a.path, '.git', 'objects', 'info', 'alternates')).catch(() => null)).toBeNull();

    // The attack: make every object file writable and overwrite it in place, and point alternates
    // at the cache and at the other workspace's objects.
    const objects = path.join(a.path, '.git', 'objects');
    for (const entry of await fs.readdir(objects, { recursive: true, withFileTypes: true })) {
      if (!entry.isFile()) continue;
      const file = path.join(entry.parentPath, entry.name);
      await fs.chmod(file, 0o644);
      const handle = await fs.open(file, 'r+');
      await handle.write(Buffer.from('corrupted by the agent'), 0, 22, 0);
      await handle.close();
    }
    await fs.mkdir(path.join(objects, 'info'), { recursive: true });
    await fs.writeFile(
      path.join(objects, 'info', 'alternates'),
      `${path.join(s.cache, 'objects')}\n${path.join(b.path, '.git', 'objects')}\n`,
    );

    expect(await fileHashes(s.cache)).toEqual(cacheBefore);
    expect(await fileHashes(path.join(b.path, '.git', 'objects'))).toEqual(bBefore);
    git(b.path, 'fsck', '--no-progress');
    const c = await s.prepare('DEMO-3');
    git(c.path, 'fsck', '--no-progress');
    expect(await fs.stat(path.join(c.path, '.git', 'objects', 'info', 'alternates')).catch(() => null)).toBeNull();
  });

  it('a workspace cloned from a local repository without the cache shares no file with it or with another workspace', async () => {
    const s = await setup();
    const local = (identifier: string) =>
      prepareWorkspace({ root: s.root, identifier, repo: s.origin, hooks: noHooks, identity, env });
    const a = await local('L-1');
    const b = await local('L-2');
    const originInodes = await inodes(s.origin);
    const bInodes = await inodes(b.path);
    for (const ino of await inodes(a.path)) {
      expect(originInodes.has(ino)).toBe(false);
      expect(bInodes.has(ino)).toBe(false);
    }
    expect(await fs.stat(s.cacheRoot).catch(() => null)).toBeNull();
  });

  it('a corrupt cache falls back to cloning the remote, says so, and is made again at the next prepare', async () => {
    const s = await setup();
    await s.prepare('DEMO-1');
    // Corrupt it: every object file emptied (refs still name commits it no longer holds).
    for (const entry of await fs.readdir(path.join(s.cache, 'objects'), { recursive: true, withFileTypes: true })) {
      if (!entry.isFile()) continue;
      const file = path.join(entry.parentPath, entry.name);
      await fs.chmod(file, 0o644);
      await fs.writeFile(file, '');
    }
    const b = await s.prepare('DEMO-2');
    expect(await fs.readFile(path.join(b.path, 'add.js'), 'utf8')).toContain('return a - b');
    git(b.path, 'fsck', '--no-progress');
    expect(s.logs.some((l) => l.level === 40 && /cloning from the remote/.test(l.msg))).toBe(true);
    expect(await fs.stat(s.cache).catch(() => null)).toBeNull(); // removed

    const c = await s.prepare('DEMO-3');
    git(c.path, 'fsck', '--no-progress');
    expect(s.logs.filter((l) => l.msg === 'repository cache made')).toHaveLength(2);
  });

  it('a refresh that fails (the remote unreachable) keeps the cache; the prepare fails retryably', async () => {
    const s = await setup();
    await s.prepare('DEMO-1');
    const old = Date.now() / 1000 - 3600;
    await fs.utimes(`${s.cache}.state/fetched`, old, old); // due for a refresh
    await fs.rename(s.origin, `${s.origin}.gone`);
    await expect(s.prepare('DEMO-2')).rejects.toMatchObject({ code: 'git_failed', retryable: true });
    expect(s.logs.some((l) => l.msg === 'refreshing the repository cache failed; cloning from it as it is')).toBe(true);
    expect((await fs.stat(path.join(s.cache, 'HEAD'))).isFile()).toBe(true);
    await fs.rename(`${s.origin}.gone`, s.origin);
    const b = await s.prepare('DEMO-2');
    git(b.path, 'fsck', '--no-progress');
  });

  it('a cache directory that is not a repository is made again; concurrent prepares of one repository share one cache', async () => {
    const s = await setup();
    await fs.mkdir(s.cache, { recursive: true });
    await fs.writeFile(path.join(s.cache, 'HEAD'), 'garbage');
    const all = await Promise.all(['C-1', 'C-2', 'C-3', 'C-4', 'C-5'].map((id) => s.prepare(id)));
    for (const ws of all) {
      expect(ws.createdNow).toBe(true);
      git(ws.path, 'fsck', '--no-progress');
      expect(await recordedRemoteUrl(ws.path)).toBe(s.origin);
    }
    expect((await fs.readdir(s.cacheRoot)).filter((n) => n.endsWith('.git'))).toEqual([path.basename(s.cache)]);
    expect(s.logs.filter((l) => l.msg === 'repository cache made')).toHaveLength(1);
    expect(s.logs.filter((l) => l.level >= 40)).toEqual([]);
  });
});
