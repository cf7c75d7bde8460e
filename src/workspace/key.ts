/**
 * Workspace naming and containment: the workspace key derived from an issue identifier, the
 * per-issue workspace path under the root, the issue branch name, and the check that a path stays
 * inside the root (symlinks included).
 *
 * Owns only pure path rules plus read-only `fs` look-ups for the symlink check. It does not create,
 * populate or remove workspaces, and does not run hooks or git (see the rest of src/workspace/).
 */
import { createHash } from 'node:crypto';
import { lstatSync, readlinkSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { WorkspaceError } from '../errors.js';

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
 * Derives the workspace key from an issue identifier (Symphony SPEC §4.2 "Workspace Key", §9.5
 * invariant 3): every character outside `[A-Za-z0-9._-]` becomes `_`. When that changes anything,
 * `-` plus the first 16 hex characters of sha256(original identifier) is appended, so `A/B` and
 * `A_B` get different keys. `""`, `.` and `..` (which would name the root or its parent) and
 * names longer than 200 characters are treated as changed too, so a key is always a single,
 * non-traversing path segment.
 *
 * @param identifier The human identifier, e.g. `DEMO-1`.
 * @returns A directory name made only of `[A-Za-z0-9._-]`.
 */
export function workspaceKey(identifier: string): string {
  let key = identifier.replace(DISALLOWED, '_');
  let changed = key !== identifier || key === '' || key === '.' || key === '..';
  if (key.length > MAX_KEY_PREFIX) {
    key = key.slice(0, MAX_KEY_PREFIX);
    changed = true;
  }
  if (!changed) return key;
  const digest = createHash('sha256').update(identifier, 'utf8').digest('hex').slice(0, HASH_HEX_CHARS);
  return `${key}-${digest}`;
}

/**
 * The git branch, `foreman/<workspace_key>` (DESIGN.md "Policy spec").
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

function isStrictlyInside(root: string, target: string): boolean {
  if (target === root) return false;
  const prefix = root.endsWith(path.sep) ? root : root + path.sep;
  return target.startsWith(prefix);
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

/** Links followed before giving up, like the kernel's ELOOP limit. */
const MAX_LINKS = 40;

/**
 * Resolves every symlink in `p` that exists on disk; the part that does not exist yet is appended
 * as-is. Unlike realpath, a dangling link is followed to its target, because creating a file
 * through it would land there.
 */
function resolveExisting(p: string, depth = 0): string {
  if (depth > MAX_LINKS) {
    throw new WorkspaceError('workspace_outside_root', `Too many symlinks while resolving ${p}; remove the symlink loop`, {
      retryable: false,
    });
  }
  try {
    return realpathSync.native(p);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') throw err;
  }
  let isLink = false;
  try {
    isLink = lstatSync(p).isSymbolicLink();
  } catch {
    // Does not exist at all: resolve the parent and keep this name.
  }
  if (isLink) return resolveExisting(path.resolve(path.dirname(p), readlinkSync(p)), depth + 1);
  const parent = path.dirname(p);
  if (parent === p) return p;
  return path.join(resolveExisting(parent, depth), path.basename(p));
}
