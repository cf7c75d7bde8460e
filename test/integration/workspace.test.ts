/**
 * The git workspace on real repositories: clone, branch, reuse, resume from the remote branch,
 * recovery of a half-made workspace, hook failures, idempotent commit + push, a rejected push,
 * and credentials kept out of error messages.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { WorkspaceError } from '../../src/errors.js';
import { redactUrls } from '../../src/redact.js';
import { commitAndPush, prepareWorkspace, type Hooks } from '../../src/workspace/workspace.js';
import { git, makeOrigin, pushAsSomeoneElse, WORKSPACE_DEFAULTS } from '../support/fixtures.js';
import { testDir } from '../support/test-dir.js';

const { identity, hooks: noHooks, env } = WORKSPACE_DEFAULTS;

async function setup() {
  const dir = await testDir();
  const origin = await makeOrigin(dir);
  const root = path.join(dir, 'ws');
  /** `repo: null` prepares without workspace.repo. */
  const prepare = (hooks: Hooks = noHooks, repo: string | null = origin) =>
    prepareWorkspace({ root, identifier: 'DEMO-1', repo: repo ?? undefined, hooks, identity, env });
  return { dir, origin, root, prepare };
}

describe('prepareWorkspace', () => {
  it('clones, branches from the default branch, keeps .foreman/ out of git, and reuses on the next call', async () => {
    const s = await setup();
    const ws = await s.prepare();
    expect(ws).toMatchObject({ key: 'DEMO-1', branch: 'foreman/DEMO-1', baseBranch: 'main', createdNow: true });
    expect(git(ws.path, 'rev-parse', '--abbrev-ref', 'HEAD').trim()).toBe('foreman/DEMO-1');
    await fs.mkdir(path.join(ws.path, '.foreman'));
    await fs.writeFile(path.join(ws.path, '.foreman', 'spec.md'), 'spec');
    expect(git(ws.path, 'status', '--porcelain')).toBe('');

    await fs.writeFile(path.join(ws.path, 'wip.txt'), 'uncommitted work');
    const again = await s.prepare();
    expect(again.createdNow).toBe(false);
    expect(await fs.readFile(path.join(ws.path, 'wip.txt'), 'utf8')).toBe('uncommitted work');
  });

  it('resumes from the branch on the remote when the workspace is gone (another worker, a new host)', async () => {
    const s = await setup();
    const ws = await s.prepare();
    await fs.writeFile(path.join(ws.path, 'add.js'), 'module.exports = { add: (a, b) => a + b };\n');
    const pushed = await commitAndPush({
      path: ws.path,
      branch: ws.branch,
      baseBranch: 'main',
      message: 'wip',
      identity,
    });
    await fs.rm(ws.path, { recursive: true, force: true });

    const fresh = await s.prepare();
    expect(fresh.createdNow).toBe(true);
    expect(git(fresh.path, 'rev-parse', 'HEAD').trim()).toBe(pushed.commit);
  });

  it('starts over a workspace whose creation was interrupted', async () => {
    const s = await setup();
    // What a crash during after_create leaves behind: the directory and the marker beside it.
    await fs.mkdir(path.join(s.root, 'DEMO-1'), { recursive: true });
    await fs.writeFile(path.join(s.root, '.DEMO-1.creating'), '1\n');
    const ws = await s.prepare();
    expect(ws.createdNow).toBe(true);
    expect(git(ws.path, 'rev-parse', '--abbrev-ref', 'HEAD').trim()).toBe('foreman/DEMO-1');
    await expect(fs.stat(path.join(s.root, '.DEMO-1.creating'))).rejects.toThrow();
  });

  it('moves aside a workspace folder that is not a checkout (files written after a stop) and clones again', async () => {
    const s = await setup();
    await fs.mkdir(path.join(s.root, 'DEMO-1', 'notes'), { recursive: true });
    await fs.writeFile(path.join(s.root, 'DEMO-1', 'notes', 'late.txt'), 'written after the workspace was removed');
    const ws = await s.prepare();
    expect(ws.createdNow).toBe(true);
    expect(git(ws.path, 'rev-parse', '--abbrev-ref', 'HEAD').trim()).toBe('foreman/DEMO-1');
    const aside = (await fs.readdir(s.root)).filter((n) => n.startsWith('.DEMO-1.not-a-checkout-'));
    expect(aside).toHaveLength(1);
    expect(await fs.readFile(path.join(s.root, aside[0]!, 'notes', 'late.txt'), 'utf8')).toContain('after');
  });

  it('lets after_create make the checkout when workspace.repo is unset, and removes the directory when it fails', async () => {
    const s = await setup();
    const failing = await s
      .prepare({ ...noHooks, after_create: 'echo nope >&2; exit 3' }, null)
      .catch((e: unknown) => e);
    expect(failing).toBeInstanceOf(WorkspaceError);
    expect((failing as WorkspaceError).code).toBe('hook_failed');
    expect((failing as Error).message).toContain('nope');
    await expect(fs.stat(path.join(s.root, 'DEMO-1'))).rejects.toThrow();

    const ws = await s.prepare({ ...noHooks, after_create: `git clone -q ${JSON.stringify(s.origin)} .` }, null);
    expect(ws.createdNow).toBe(true);
    expect(await fs.readFile(path.join(ws.path, 'add.js'), 'utf8')).toContain('a - b');
  });

  it('refuses a directory that is not a git checkout, permanently', async () => {
    const s = await setup();
    const err = (await s.prepare(noHooks, null).catch((e: unknown) => e)) as WorkspaceError;
    expect(err.code).toBe('workspace_not_git');
    expect(err.retryable).toBe(false);
    expect(err.message).toContain('workspace.repo');
  });
});

describe('commitAndPush', () => {
  it('commits and pushes once; a retry pushes the same head and makes no new commit', async () => {
    const s = await setup();
    const ws = await s.prepare();
    const nothing = await commitAndPush({
      path: ws.path,
      branch: ws.branch,
      baseBranch: 'main',
      message: 'm',
      identity,
    });
    expect(nothing).toMatchObject({ pushed: false, commit: null, filesChanged: 0 });

    await fs.writeFile(path.join(ws.path, 'add.js'), 'fixed\n');
    const first = await commitAndPush({
      path: ws.path,
      branch: ws.branch,
      baseBranch: 'main',
      message: 'Fix',
      identity,
    });
    const second = await commitAndPush({
      path: ws.path,
      branch: ws.branch,
      baseBranch: 'main',
      message: 'Fix',
      identity,
    });
    expect(first.pushed).toBe(true);
    expect(second.commit).toBe(first.commit);
    expect(git(s.origin, 'rev-parse', 'foreman/DEMO-1').trim()).toBe(first.commit);
    expect(git(s.origin, 'rev-list', '--count', 'main..foreman/DEMO-1').trim()).toBe('1');
    expect(first.diffStat).toContain('add.js');
    expect(git(s.origin, 'log', '-1', '--format=%an <%ae>', 'foreman/DEMO-1').trim()).toBe(
      'Foreman <foreman@localhost>',
    );
  });

  it("with the recorded base: a retry after a crash between the push and its record takes the pushed head; someone else's push is push_rejected", async () => {
    const s = await setup();
    const ws = await s.prepare();
    const opts = {
      path: ws.path,
      branch: ws.branch,
      baseBranch: 'main',
      baseCommit: ws.baseCommit,
      message: 'Fix',
      identity,
    };
    const record = path.join(path.dirname(ws.path), '.foreman-git', ws.key, 'synced-head.json');
    const before = await fs.readFile(record, 'utf8');
    await fs.writeFile(path.join(ws.path, 'add.js'), 'fixed\n');
    await fs.writeFile(path.join(ws.path, 'new.txt'), 'a\nb\n');
    const first = await commitAndPush(opts);
    expect(first).toMatchObject({ pushed: true, filesChanged: 2, insertions: 3 });
    expect(first.diffStat).toBe(
      ' add.js  | 6 +-----\n new.txt | 2 ++\n 2 files changed, 3 insertions(+), 5 deletions(-)',
    );
    // The crash: the push landed, its record did not (and the local branch was not moved).
    await fs.writeFile(record, before);
    git(ws.path, 'update-ref', 'refs/heads/foreman/DEMO-1', ws.baseCommit);
    git(ws.path, 'update-ref', 'refs/remotes/origin/foreman/DEMO-1', ws.baseCommit);
    // A second later the retry's own commit differs (commit times have one-second resolution), so
    // its push is refused and the pushed head is found on the remote.
    await new Promise((r) => setTimeout(r, 1100));
    const retry = await commitAndPush(opts);
    expect(retry.commit).toBe(first.commit);
    expect(git(s.origin, 'rev-list', '--count', 'main..foreman/DEMO-1').trim()).toBe('1');
    expect(git(ws.path, 'config', '--get', 'branch.foreman/DEMO-1.merge').trim()).toBe('refs/heads/foreman/DEMO-1');

    const theirs = await pushAsSomeoneElse(s.dir, s.origin, 'foreman/DEMO-1', { 'theirs.txt': 'x\n' });
    await fs.writeFile(path.join(ws.path, 'add.js'), 'fixed again\n');
    await expect(commitAndPush(opts)).rejects.toMatchObject({ code: 'push_rejected' });
    expect(git(s.origin, 'rev-parse', 'foreman/DEMO-1').trim()).toBe(theirs);
  });

  it('a push a hook declines is git_failed (retryable); a non-fast-forward push is push_rejected (not retryable), never forced', async () => {
    const s = await setup();
    const ws = await s.prepare();
    const opts = { path: ws.path, branch: ws.branch, baseBranch: 'main', message: 'm', identity };
    const hook = path.join(s.origin, 'hooks', 'pre-receive');
    await fs.writeFile(hook, '#!/bin/sh\necho "rejected by policy" >&2\nexit 1\n', { mode: 0o755 });
    await fs.writeFile(path.join(ws.path, 'add.js'), 'fixed\n');
    const declined = (await commitAndPush(opts).catch((e: unknown) => e)) as WorkspaceError;
    expect(declined.code).toBe('git_failed');
    expect(declined.retryable).toBe(true);
    await fs.rm(hook);

    // Someone else pushes to the issue branch first: Foreman's head (made on what it checked out)
    // is refused, and their commit stays on the branch.
    const theirs = await pushAsSomeoneElse(s.dir, s.origin, 'foreman/DEMO-1', { 'NOTES.md': 'theirs\n' });
    const rejected = (await commitAndPush(opts).catch((e: unknown) => e)) as WorkspaceError;
    expect(rejected).toBeInstanceOf(WorkspaceError);
    expect(rejected.code).toBe('push_rejected');
    expect(rejected.retryable).toBe(false);
    expect(git(s.origin, 'rev-parse', 'foreman/DEMO-1').trim()).toBe(theirs);
  });
});

describe('redactUrls', () => {
  it('removes credentials from remote URLs in messages', () => {
    expect(redactUrls('fatal: unable to access https://x-access-token:ghp_abc123@github.com/a/b.git/')).toBe(
      'fatal: unable to access https://***@github.com/a/b.git/',
    );
    expect(redactUrls('git@github.com:a/b.git and /srv/repo.git')).toBe('git@github.com:a/b.git and /srv/repo.git');
  });
});
