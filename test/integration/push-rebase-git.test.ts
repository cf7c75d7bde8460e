/**
 * After a rejected push, on real repositories (src/workspace/rebase.ts): rebasing Foreman's change
 * onto commits someone else pushed to the issue branch, a conflicting rebase left alone, the
 * conflict checked out for the agent, a push to a new branch, and an agent's hooks and merge
 * drivers never run.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { WorkspaceError } from '../../src/errors.js';
import { checkoutConflict, pushToNewBranch, rebaseOnRemote } from '../../src/workspace/rebase.js';
import { commitAndPush, prepareWorkspace } from '../../src/workspace/workspace.js';
import { git, makeOrigin, pushAsSomeoneElse, WORKSPACE_DEFAULTS } from '../support/fixtures.js';
import { testDir } from '../support/test-dir.js';

const { identity, hooks: noHooks, env } = WORKSPACE_DEFAULTS;
const FIXED = 'function add(a, b) {\n  return a + b;\n}\n\nmodule.exports = { add };\n';

/** A prepared workspace with Foreman's fix of add.js in the work tree, not pushed yet. */
async function setup() {
  const dir = await testDir();
  const origin = await makeOrigin(dir);
  const ws = await prepareWorkspace({
    root: path.join(dir, 'ws'),
    identifier: 'DEMO-1',
    repo: origin,
    hooks: noHooks,
    identity,
    env,
  });
  await fs.writeFile(path.join(ws.path, 'add.js'), FIXED);
  const opts = {
    path: ws.path,
    branch: ws.branch,
    baseBranch: 'main',
    baseCommit: ws.baseCommit,
    message: 'Fix',
    identity,
  };
  const read = (name: string) => fs.readFile(path.join(ws.path, name), 'utf8');
  const onOrigin = (ref: string, name: string) => git(origin, 'show', `${ref}:${name}`);
  return { dir, origin, ws, opts, read, onOrigin };
}

describe('rebaseOnRemote', () => {
  it('rebases onto a commit someone else pushed, the work tree holds both, and the next push is a fast-forward', async () => {
    const s = await setup();
    const theirs = await pushAsSomeoneElse(s.dir, s.origin, 'foreman/DEMO-1', { 'NOTES.md': 'theirs\n' });
    const err = (await commitAndPush(s.opts).catch((e: unknown) => e)) as WorkspaceError;
    expect(err.code).toBe('push_rejected');

    const r = await rebaseOnRemote(s.opts);
    expect(r).toMatchObject({ outcome: 'rebased', onto: theirs, remoteCommits: 1, conflicts: [] });
    expect(git(s.ws.path, 'rev-parse', `${r.head}^`).trim()).toBe(theirs);
    expect(await s.read('NOTES.md')).toBe('theirs\n');
    expect(await s.read('add.js')).toBe(FIXED);
    expect(git(s.ws.path, 'status', '--porcelain')).toBe(''); // index, HEAD and work tree agree

    const pushed = await commitAndPush(s.opts);
    expect(pushed).toMatchObject({ pushed: true, commit: r.head });
    expect(git(s.origin, 'rev-parse', 'foreman/DEMO-1^').trim()).toBe(theirs);
    expect(s.onOrigin('foreman/DEMO-1', 'NOTES.md')).toBe('theirs\n');
    expect(s.onOrigin('foreman/DEMO-1', 'add.js')).toBe(FIXED);
  });

  it('leaves the work tree alone on a conflict and names the paths; a push to a new branch keeps their branch', async () => {
    const s = await setup();
    const theirs = await pushAsSomeoneElse(s.dir, s.origin, 'foreman/DEMO-1', {
      'add.js': 'function add(a, b) {\n  return b + a + 0;\n}\n\nmodule.exports = { add };\n',
    });
    const r = await rebaseOnRemote(s.opts);
    expect(r).toMatchObject({ outcome: 'conflict', onto: theirs, remoteCommits: 1, head: null, conflicts: ['add.js'] });
    expect(await s.read('add.js')).toBe(FIXED);

    const pushed = await pushToNewBranch({ ...s.opts, restore: null });
    expect(pushed).toMatchObject({ branch: 'foreman/DEMO-1-2', pushed: true });
    expect(s.onOrigin('foreman/DEMO-1-2', 'add.js')).toBe(FIXED);
    expect(git(s.origin, 'rev-parse', 'foreman/DEMO-1').trim()).toBe(theirs);
    expect(git(s.ws.path, 'symbolic-ref', '--short', 'HEAD').trim()).toBe('foreman/DEMO-1-2');
  });

  it('checks out the conflict with markers for the agent; its resolution pushes on top of their commit', async () => {
    const s = await setup();
    const theirs = await pushAsSomeoneElse(s.dir, s.origin, 'foreman/DEMO-1', {
      'add.js': 'function add(a, b) {\n  return b + a + 0;\n}\n\nmodule.exports = { add };\n',
    });
    expect(await checkoutConflict({ ...s.opts, onto: theirs })).toEqual(['add.js']);
    const marked = await s.read('add.js');
    expect(marked).toMatch(/^<<<<<<< [^\n]*\n {2}return b \+ a \+ 0;\n=======\n {2}return a \+ b;\n>>>>>>> /m);
    await fs.writeFile(path.join(s.ws.path, 'add.js'), FIXED);
    const pushed = await commitAndPush(s.opts);
    expect(pushed.pushed).toBe(true);
    expect(git(s.origin, 'rev-parse', 'foreman/DEMO-1^').trim()).toBe(theirs);
    expect(s.onOrigin('foreman/DEMO-1', 'add.js')).toBe(FIXED);
  });

  it('puts Foreman’s own commit back before pushing to a new branch (QA failed on the rebased tree)', async () => {
    const s = await setup();
    await pushAsSomeoneElse(s.dir, s.origin, 'foreman/DEMO-1', { 'NOTES.md': 'theirs\n' });
    const r = await rebaseOnRemote(s.opts);
    expect(r.outcome).toBe('rebased');
    const pushed = await pushToNewBranch({ ...s.opts, restore: r.ours });
    expect(pushed).toMatchObject({ branch: 'foreman/DEMO-1-2', commit: r.ours });
    await expect(fs.stat(path.join(s.ws.path, 'NOTES.md'))).rejects.toThrow();
    expect(s.onOrigin('foreman/DEMO-1-2', 'add.js')).toBe(FIXED);
  });

  it('is up to date when nobody else pushed, and runs no hook or merge driver the agent planted', async () => {
    const s = await setup();
    expect((await rebaseOnRemote(s.opts)).outcome).toBe('up_to_date');
    await commitAndPush(s.opts);
    // The agent plants hooks, a merge driver in .git/config and an attribute naming it.
    const pwned = path.join(s.dir, 'pwned');
    const gitDir = path.join(s.ws.path, '.git');
    for (const hook of ['post-checkout', 'post-merge', 'post-rewrite', 'reference-transaction', 'pre-push']) {
      await fs.writeFile(path.join(gitDir, 'hooks', hook), `#!/bin/sh\necho ${hook} >> ${pwned}\n`, { mode: 0o755 });
    }
    await fs.appendFile(path.join(gitDir, 'config'), `[merge "evil"]\n\tdriver = echo driver >> ${pwned}\n`);
    await fs.writeFile(path.join(s.ws.path, '.gitattributes'), '* merge=evil\n');
    await fs.writeFile(path.join(s.ws.path, 'add.js'), FIXED.replace('a + b', 'b + a'));
    await pushAsSomeoneElse(s.dir, s.origin, 'foreman/DEMO-1', {
      'add.js': FIXED.replace('a + b', 'a + b + 0'),
      '.gitattributes': '* merge=evil\n',
    });
    const r = await rebaseOnRemote(s.opts);
    expect(r.outcome).toBe('conflict');
    await checkoutConflict({ ...s.opts, onto: r.onto! });
    await fs.writeFile(path.join(s.ws.path, 'add.js'), FIXED);
    await commitAndPush(s.opts);
    await expect(fs.readFile(pwned, 'utf8')).rejects.toThrow();
  });

  it('never writes a .foreman/ someone committed into the workspace (the spec copy, the QA checks)', async () => {
    const s = await setup();
    await fs.mkdir(path.join(s.ws.path, '.foreman', 'qa', 'checks'), { recursive: true });
    await fs.writeFile(path.join(s.ws.path, '.foreman', 'spec.md'), 'the real spec\n');
    await pushAsSomeoneElse(s.dir, s.origin, 'foreman/DEMO-1', {
      'NOTES.md': 'theirs\n',
      '.foreman/spec.md': 'a planted spec\n',
      '.foreman/qa/checks/planted.sh': 'echo planted\n',
    });
    const r = await rebaseOnRemote(s.opts);
    expect(r.outcome).toBe('rebased');
    expect(await s.read('NOTES.md')).toBe('theirs\n');
    expect(await s.read('.foreman/spec.md')).toBe('the real spec\n');
    await expect(fs.stat(path.join(s.ws.path, '.foreman', 'qa', 'checks', 'planted.sh'))).rejects.toThrow();
    await commitAndPush(s.opts);
    expect(() => s.onOrigin('foreman/DEMO-1', '.foreman/spec.md')).toThrow(); // Foreman's commit never carries it
  });
});
