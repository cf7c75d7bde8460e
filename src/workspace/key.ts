/**
 * Workspace naming and containment: the workspace key derived from an issue identifier, the
 * per-issue workspace path under the root, the issue branch name, and the check that a path stays
 * inside the root (symlinks included).
 *
 * Owns only the naming rules and the root check; the symlink look-ups and prefix comparison live in
 * ./paths.ts. It does not create, populate or remove workspaces, and does not run hooks or git (see
 * the rest of src/workspace/).
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { WorkspaceError } from '../errors.js';
import { isStrictlyInside, resolveExisting } from './paths.js';

/** Characters a workspace key may contain (Symphony SPEC §4.2, §9.5 invariant 3). */
const DISALLOWED = /[^A-Za-z0-9._-]/g;

/**
 * Longest sanitized part kept before the hash suffix. File systems cap a name at 255 bytes; the
 * suffix adds 17, so long identifiers are cut and made unique by the hash instead of failing mkdir.
 */
const MAX_KEY_PREFIX = 200;

/** Hex characters of sha256 kept as the suffix: 16 hex = 64 bits (Symphony SPEC §4.2 minimum). */
const HASH_HEX_CHARS = 16;

/**
 * Runs of two or more dots (git forbids `..` in a ref) and a leading dot (a hidden directory, and
 * git forbids a ref component starting with `.`).
 */
const REF_UNSAFE_DOTS = /\.{2,}|^\./g;

/**
 * Derives the workspace key from an issue identifier (Symphony SPEC §4.2 "Workspace Key", §9.5
 * invariant 3): every character outside `[A-Za-z0-9._-]` becomes `_`. When that changes anything,
 * `-` plus the first 16 hex characters of sha256(original identifier) is appended, so `A/B` and
 * `A_B` get different keys.
 *
 * The key must also be a valid git ref component, because the branch is `foreman/<key>`
 * (`git check-ref-format`: no `..`, no component starting with `.` or ending with `.` or `.lock`;
 * `@{`, spaces and control characters are already outside the allowed set). So a leading dot and
 * every run of dots become `_` (`..` → `__`, `.hidden` → `_hidden`), and a key that is empty, ends
 * in `.` or `.lock`, or is longer than 200 characters counts as changed too: the hash suffix then
 * ends it (`X.lock` → `X.lock-<hash>`) and keeps it under the 255-byte file-name limit. A key is
 * thus always a single, non-traversing path segment and a valid branch name component; ordinary
 * identifiers such as `DEMO-1` or `fix.v2` are kept as they are.
 *
 * @param identifier The human identifier, e.g. `DEMO-1`.
 * @returns A directory name made only of `[A-Za-z0-9._-]`, at most 217 characters.
 */
export function workspaceKey(identifier: string): string {
  let key = identifier.replace(DISALLOWED, '_').replace(REF_UNSAFE_DOTS, (dots) => '_'.repeat(dots.length));
  let changed = key !== identifier || key === '' || key.endsWith('.') || key.endsWith('.lock');
  if (key.length > MAX_KEY_PREFIX) {
    key = key.slice(0, MAX_KEY_PREFIX);
    changed = true;
  }
  if (!changed) return key;
  const digest = createHash('sha256').update(identifier, 'utf8').digest('hex').slice(0, HASH_HEX_CHARS);
  return `${key}-${digest}`;
}

/**
 * The git branch, `foreman/<workspace_key>` (docs/architecture.md, "CLI contract"); always accepted
 * by `git check-ref-format --branch` (see {@link workspaceKey}).
 *
 * @param identifier The human identifier.
 */
export function branchName(identifier: string): string {
  return `foreman/${workspaceKey(identifier)}`;
}

/**
 * The absolute per-issue workspace path `<root>/<workspace_key>` (Symphony SPEC §9.1).
 *
 * @param root Workspace root; a relative root is resolved against `process.cwd()`.
 * @param identifier The human identifier.
 * @throws WorkspaceError `workspace_outside_root` (not retryable) when the path would not be
 *   strictly inside the root, including through a symlink that already exists at the path.
 */
export function workspacePath(root: string, identifier: string): string {
  const absRoot = path.resolve(root);
  const target = path.join(absRoot, workspaceKey(identifier));
  assertInsideRoot(absRoot, target);
  return target;
}

/**
 * Checks Symphony SPEC §9.5 invariant 2: `target` must be strictly inside `root` (the root itself
 * does not count). Both are normalized to absolute paths and compared by prefix plus separator,
 * so `/ws-other` is not inside `/ws`. Then symlinks are resolved: the deepest existing part of
 * `target` (a dangling link is followed to where it points) must resolve strictly inside
 * realpath(root), so neither an existing link nor a file later created through one can escape.
 *
 * @param root Workspace root (absolute or relative to `process.cwd()`).
 * @param target Path to check (absolute or relative to `process.cwd()`).
 * @throws WorkspaceError `workspace_outside_root` (not retryable) when the check fails.
 */
export function assertInsideRoot(root: string, target: string): void {
  const absRoot = path.resolve(root);
  const absTarget = path.resolve(target);
  if (!isStrictlyInside(absRoot, absTarget)) throw outside(absRoot, absTarget, absTarget);

  const realRoot = resolveExisting(absRoot);
  const realTarget = resolveExisting(absTarget);
  if (!isStrictlyInside(realRoot, realTarget)) throw outside(absRoot, absTarget, realTarget);
}

function outside(root: string, target: string, resolved: string): WorkspaceError {
  const via = resolved === target ? '' : ` (it resolves to ${resolved} through a symlink)`;
  return new WorkspaceError(
    'workspace_outside_root',
    `Workspace path ${target} is not inside the workspace root ${root}${via}; ` +
      'check workspace.root and the issue identifier, and remove symlinks that leave the root',
    { retryable: false },
  );
}
