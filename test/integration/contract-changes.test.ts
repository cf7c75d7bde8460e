/**
 * listChangedFiles on a real clone: committed, staged, unstaged, untracked, deleted and renamed
 * files against origin/main, ignored files and `.foreman/` left out, and a missing base ref.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { listChangedFiles } from '../../src/contract/changes.js';
import { hasCode } from '../../src/errors.js';
import { git, makeOrigin } from '../support/fixtures.js';
import { testDir } from '../support/test-dir.js';

const PROJECT: Record<string, string> = {
  'README.md': '# tiny\n',
  '.gitignore': 'build/\n',
  'src/keep.js': 'keep\n',
  'src/committed.js': 'v1\n',
  'src/staged.js': 'v1\n',
  'src/unstaged.js': 'v1\n',
  'src/deleted.js': 'gone soon\n',
  'src/old-name.js': 'a file long enough that git recognises it after a rename\n'.repeat(5),
};

/** A clone of a fresh origin on branch foreman/DEMO-1. */
async function clone(): Promise<{ dir: string; origin: string; ws: string }> {
  const dir = await testDir();
  const origin = await makeOrigin(dir, PROJECT);
  const ws = path.join(dir, 'ws');
  git(dir, 'clone', '-q', origin, ws);
  git(ws, 'checkout', '-q', '-b', 'foreman/DEMO-1');
  return { dir, origin, ws };
}

async function write(ws: string, file: string, text: string): Promise<void> {
  await fs.mkdir(path.dirname(path.join(ws, file)), { recursive: true });
  await fs.writeFile(path.join(ws, file), text);
}

describe('listChangedFiles', () => {
  it('is empty for a fresh branch', async () => {
    const { ws } = await clone();
    expect(await listChangedFiles(ws, 'origin/main')).toEqual([]);
  });

  it('lists committed, staged, unstaged, untracked, deleted and renamed files; not ignored ones or .foreman/', async () => {
    const { ws } = await clone();
    await write(ws, 'src/committed.js', 'v2\n');
    await write(ws, 'src/new-committed.js', 'new\n');
    git(ws, 'add', '-A');
    git(ws, 'commit', '-q', '-m', 'work');

    await write(ws, 'src/staged.js', 'v2\n');
    await write(ws, 'src/new-staged.js', 'new\n');
    git(ws, 'add', 'src/staged.js', 'src/new-staged.js');
    await write(ws, 'src/unstaged.js', 'v2\n');
    await fs.rm(path.join(ws, 'src/deleted.js'));
    git(ws, 'mv', 'src/old-name.js', 'src/new-name.js');
    await write(ws, 'docs/untracked file.md', 'notes\n');
    await write(ws, 'build/out.js', 'ignored\n');
    await write(ws, '.foreman/spec.md', '# Spec\n');
    await write(ws, '.foreman/transcripts/1.jsonl', '{}\n');

    expect(await listChangedFiles(ws, 'origin/main')).toEqual([
      'docs/untracked file.md',
      'src/committed.js',
      'src/deleted.js',
      'src/new-committed.js',
      'src/new-name.js',
      'src/new-staged.js',
      'src/staged.js',
      'src/unstaged.js',
    ]);
  });

  it('leaves out .foreman/ even when it was committed, and reports a committed deletion and rename', async () => {
    const { ws } = await clone();
    await write(ws, '.foreman/spec.md', '# Spec\n');
    git(ws, 'rm', '-q', 'src/deleted.js');
    await fs.mkdir(path.join(ws, 'lib'));
    git(ws, 'mv', 'src/old-name.js', 'lib/moved.js');
    git(ws, 'add', '-A', '-f');
    git(ws, 'commit', '-q', '-m', 'work');
    expect(await listChangedFiles(ws, 'origin/main')).toEqual(['lib/moved.js', 'src/deleted.js']);
  });

  it('does not count commits that landed on the base branch after the issue branch was cut', async () => {
    const { dir, origin, ws } = await clone();
    const other = path.join(dir, 'other');
    git(dir, 'clone', '-q', origin, other);
    await write(other, 'src/keep.js', 'changed upstream\n');
    git(other, 'commit', '-q', '-am', 'upstream');
    git(other, 'push', '-q', 'origin', 'main');
    git(ws, 'fetch', '-q', 'origin');
    await write(ws, 'src/committed.js', 'v2\n');
    expect(await listChangedFiles(ws, 'origin/main')).toEqual(['src/committed.js']);
  });

  it('reports unusual file names unquoted', async () => {
    const { ws } = await clone();
    await write(ws, 'src/naïve "quoted".js', 'x\n');
    expect(await listChangedFiles(ws, 'origin/main')).toEqual(['src/naïve "quoted".js']);
  });

  it('throws WorkspaceError base_ref_missing for a base ref that does not exist', async () => {
    const { ws } = await clone();
    const err = await listChangedFiles(ws, 'origin/nope').catch((e: unknown) => e);
    expect(hasCode(err, 'base_ref_missing')).toBe(true);
    expect((err as Error).message).toContain("'origin/nope'");
  });
});
