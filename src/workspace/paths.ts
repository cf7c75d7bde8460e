/**
 * Path containment shared by the workspace root check (src/workspace/key.ts) and the agent tools
 * (src/agents/tools.ts): resolve a path that may not exist yet through every symlink on disk, and
 * compare paths by prefix plus separator.
 *
 * Owns only these read-only look-ups and comparisons. It does not decide what happens when a path
 * is outside (each caller throws its own error) and never creates, reads or writes files.
 */
import { lstatSync, readlinkSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { WorkspaceError } from '../errors.js';

/** Links followed before giving up, like the kernel's ELOOP limit. */
const MAX_LINKS = 40;

/**
 * Resolves every symlink in `p` that exists on disk; the part that does not exist yet is appended
 * as-is. Unlike realpath, a dangling link is followed to its target, because creating a file
 * through it would land there. Synchronous on purpose: it is a handful of local syscalls, and the
 * workspace path rules that call it (`workspacePath`) are synchronous.
 *
 * @param p Absolute path.
 * @returns The absolute resolved path.
 * @throws WorkspaceError `workspace_outside_root` (not retryable) after 40 links (a symlink loop):
 *   such a path cannot be shown to stay inside anything. Other fs errors than ENOENT/ENOTDIR
 *   (e.g. EACCES) are rethrown as they are.
 */
export function resolveExisting(p: string): string {
  return resolve(p, 0);
}

function resolve(p: string, depth: number): string {
  if (depth > MAX_LINKS) {
    throw new WorkspaceError(
      'workspace_outside_root',
      `Too many symlinks while resolving ${p}; remove the symlink loop`,
      {
        retryable: false,
      },
    );
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
  if (isLink) return resolve(path.resolve(path.dirname(p), readlinkSync(p)), depth + 1);
  const parent = path.dirname(p);
  if (parent === p) return p;
  return path.join(resolve(parent, depth), path.basename(p));
}

/**
 * True when `target` is `root` or below it. Compares normalized absolute paths by prefix plus
 * separator, so `/ws-other` is not inside `/ws`; symlinks are not resolved here (use
 * {@link resolveExisting} on both sides first).
 *
 * @param root Absolute, normalized path.
 * @param target Absolute, normalized path.
 */
export function isWithin(root: string, target: string): boolean {
  return target === root || target.startsWith(root.endsWith(path.sep) ? root : root + path.sep);
}

/**
 * True when `target` is below `root`, the root itself excluded (Symphony SPEC §9.5 invariant 2).
 * Same comparison as {@link isWithin}.
 *
 * @param root Absolute, normalized path.
 * @param target Absolute, normalized path.
 */
export function isStrictlyInside(root: string, target: string): boolean {
  return target !== root && isWithin(root, target);
}
