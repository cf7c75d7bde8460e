import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hasCode, WorkspaceError } from '../../src/errors.js';
import { assertInsideRoot, branchName, workspaceKey, workspacePath } from '../../src/workspace/key.js';

const KEY_CHARS = /^[A-Za-z0-9._-]+$/;

describe('workspaceKey', () => {
  it('keeps identifiers made only of allowed characters', () => {
    expect(workspaceKey('DEMO-1')).toBe('DEMO-1');
    expect(workspaceKey('a.b_c-9')).toBe('a.b_c-9');
  });

  it('replaces other characters and appends a 16-hex hash of the original', () => {
    const key = workspaceKey('owner/repo#12');
    expect(key).toMatch(/^owner_repo_12-[0-9a-f]{16}$/);
    expect(key).toMatch(KEY_CHARS);
  });

  it('is stable across calls', () => {
    expect(workspaceKey('A/B')).toBe(workspaceKey('A/B'));
  });

  it('keeps identifiers that sanitize alike apart', () => {
    const keys = new Set(['A/B', 'A_B', 'A B', 'A:B', 'A\\B', 'A/B '].map(workspaceKey));
    expect(keys.size).toBe(6);
    expect(workspaceKey('A_B')).toBe('A_B');
    expect(workspaceKey('A/B')).not.toBe('A_B');
  });

  it('never yields ".", ".." or an empty name', () => {
    for (const id of ['', '.', '..', '../..', '/', '../etc']) {
      const key = workspaceKey(id);
      expect(key).toMatch(KEY_CHARS);
      expect(['', '.', '..']).not.toContain(key);
      expect(key).not.toContain('/');
    }
    expect(workspaceKey('..')).toMatch(/^__-[0-9a-f]{16}$/);
    expect(workspaceKey('.')).toMatch(/^_-[0-9a-f]{16}$/);
  });

  it('keeps ordinary identifiers with dots as they are', () => {
    for (const id of ['DEMO-1', 'ABC-123', 'fix.v2', 'v1.2.3', 'a-.b', 'x.lockfile']) expect(workspaceKey(id)).toBe(id);
  });

  it('treats what git refuses in a ref as changed: "..", a leading dot, a trailing "." or ".lock"', () => {
    expect(workspaceKey('A..B')).toMatch(/^A__B-[0-9a-f]{16}$/);
    expect(workspaceKey('A...B')).toMatch(/^A___B-[0-9a-f]{16}$/);
    expect(workspaceKey('.hidden')).toMatch(/^_hidden-[0-9a-f]{16}$/);
    expect(workspaceKey('trailing.')).toMatch(/^trailing\.-[0-9a-f]{16}$/);
    expect(workspaceKey('X.lock')).toMatch(/^X\.lock-[0-9a-f]{16}$/);
    expect(workspaceKey('a@{b')).toMatch(/^a__b-[0-9a-f]{16}$/);
    // Still apart from the identifiers they now resemble.
    expect(workspaceKey('A..B')).not.toBe(workspaceKey('A__B'));
    expect(workspaceKey('.hidden')).not.toBe(workspaceKey('_hidden'));
  });

  it('replaces non-ASCII characters', () => {
    expect(workspaceKey('tâche-1')).toMatch(/^t_che-1-[0-9a-f]{16}$/);
  });

  it('keeps very long identifiers under the file-name limit, still distinct', () => {
    const a = workspaceKey('x'.repeat(300));
    const b = workspaceKey('x'.repeat(301));
    expect(a.length).toBeLessThan(255);
    expect(a).not.toBe(b);
  });
});

describe('branchName', () => {
  it('is foreman/<workspace_key>', () => {
    expect(branchName('DEMO-1')).toBe('foreman/DEMO-1');
    expect(branchName('A/B')).toBe(`foreman/${workspaceKey('A/B')}`);
  });

  it('is a valid git branch name for nasty identifiers (real git check-ref-format)', () => {
    const nasty = [
      'A..B',
      'X.lock',
      'X.LOCK',
      '.hidden',
      'trailing.',
      'a@{b',
      '@',
      '..',
      '.',
      '...',
      '',
      'a b',
      'ü',
      '🙂',
      'a/b/../c',
      'refs/heads/main',
      '-leading-dash',
      'HEAD',
      'a~1^2:3?*[\\',
      'x'.repeat(300),
      `${'x'.repeat(199)}..y`,
      `${'x'.repeat(198)}.lock`,
      `.${'.'.repeat(299)}`,
      'DEMO-1',
      'fix.v2',
    ];
    for (const id of nasty) {
      const branch = branchName(id);
      const key = workspaceKey(id);
      expect(key, id).toMatch(KEY_CHARS);
      expect(key.length, id).toBeLessThan(255);
      // Exits non-zero (and execFileSync throws) when git refuses the name; prints it normalized.
      const out = execFileSync('git', ['check-ref-format', '--branch', branch], { encoding: 'utf8' });
      expect(out.trim(), id).toBe(branch);
    }
  });
});

describe('workspacePath and assertInsideRoot', () => {
  let base: string;
  let root: string;

  beforeEach(() => {
    base = realpathSync(mkdtempSync(path.join(tmpdir(), 'foreman-wskey-')));
    root = path.join(base, 'root');
    mkdirSync(root);
  });
  afterEach(() => {
    rmSync(base, { recursive: true, force: true });
  });

  it('returns <root>/<key> as an absolute path', () => {
    expect(workspacePath(root, 'DEMO-1')).toBe(path.join(root, 'DEMO-1'));
    expect(workspacePath(root, '../escape')).toBe(path.join(root, workspaceKey('../escape')));
    expect(path.isAbsolute(workspacePath(path.relative(process.cwd(), root), 'X'))).toBe(true);
  });

  it('rejects the root itself, a sibling with the same prefix and a parent', () => {
    const expectOutside = (target: string) => {
      try {
        assertInsideRoot(root, target);
        expect.unreachable(`${target} passed`);
      } catch (err) {
        expect(err).toBeInstanceOf(WorkspaceError);
        expect(hasCode(err, 'workspace_outside_root')).toBe(true);
        expect((err as WorkspaceError).retryable).toBe(false);
      }
    };
    expectOutside(root);
    expectOutside(root + '/');
    expectOutside(root + '-other/x');
    expectOutside(path.join(root, '..', 'x'));
    expectOutside(base);
  });

  it('accepts paths inside the root, existing or not', () => {
    expect(() => assertInsideRoot(root, path.join(root, 'a'))).not.toThrow();
    expect(() => assertInsideRoot(root, path.join(root, 'a', 'b', 'c.txt'))).not.toThrow();
    mkdirSync(path.join(root, 'real'));
    expect(() => assertInsideRoot(root, path.join(root, 'real'))).not.toThrow();
  });

  it('rejects a symlink that leaves the root, existing target or not', () => {
    const outside = path.join(base, 'outside');
    mkdirSync(outside);
    symlinkSync(outside, path.join(root, 'DEMO-1'));
    expect(() => workspacePath(root, 'DEMO-1')).toThrow(/through a symlink/);
    // A file not created yet, through the escaping link.
    expect(() => assertInsideRoot(root, path.join(root, 'DEMO-1', 'new.txt'))).toThrow(WorkspaceError);
    // A dangling link pointing outside: writing through it would land outside.
    symlinkSync(path.join(outside, 'missing'), path.join(root, 'dangling'));
    expect(() => assertInsideRoot(root, path.join(root, 'dangling'))).toThrow(WorkspaceError);
  });

  it('accepts a symlink that stays inside, and a root that is itself a symlink', () => {
    mkdirSync(path.join(root, 'target'));
    symlinkSync(path.join(root, 'target'), path.join(root, 'link'));
    expect(() => assertInsideRoot(root, path.join(root, 'link'))).not.toThrow();
    const linkedRoot = path.join(base, 'linked-root');
    symlinkSync(root, linkedRoot);
    expect(workspacePath(linkedRoot, 'DEMO-2')).toBe(path.join(linkedRoot, 'DEMO-2'));
    expect(() => assertInsideRoot(linkedRoot, path.join(linkedRoot, 'link'))).not.toThrow();
  });

  it('rejects a symlink that points at the root itself', () => {
    symlinkSync(root, path.join(root, 'self'));
    expect(() => assertInsideRoot(root, path.join(root, 'self'))).toThrow(WorkspaceError);
  });
});
