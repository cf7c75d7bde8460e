/**
 * The diff a reviewer reads: the change Foreman would commit against the recorded base commit, as
 * Markdown. Owns the format and its size bound; not what the reviewer does
 * with it.
 */
import { WorkspaceError } from '../errors.js';
import { gitPlace, resolveCommit, runGit, stageWorkTree } from './git.js';
import type { WorkspaceInfo } from './workspace.js';

/** Longest diff text handed over, in characters; the rest is left for `git diff` in the workspace. */
export const MAX_DIFF_CHARS = 60_000;

/**
 * The change in `ws` against its recorded base commit (else `<remote>/<baseBranch>`, for a run
 * from older code), as a fenced diff: the tree Foreman would commit (./git.ts `stageWorkTree`:
 * new files included, `.foreman/` left out), with Foreman's own git (no external diff, no
 * textconv).
 * @throws WorkspaceError `base_ref_missing` when the base does not resolve; `git_failed`, `git_unsafe`.
 */
export async function workspaceDiff(
  ws: Pick<WorkspaceInfo, 'path' | 'baseBranch'> & { baseCommit?: string | undefined },
  remote: string,
): Promise<string> {
  const place = await gitPlace(ws.path, remote);
  const ref = ws.baseCommit || `refs/remotes/${remote}/${ws.baseBranch}`;
  const base = await resolveCommit(place, ref);
  if (!base)
    throw new WorkspaceError('base_ref_missing', `The base ${ref} is not a commit in ${ws.path}.`, {
      retryable: false,
    });
  const tree = await stageWorkTree(place, base);
  const diff = await runGit(place, [
    'diff',
    '--no-ext-diff',
    '--no-textconv',
    '--ignore-submodules=dirty',
    base,
    tree,
    '--',
  ]);
  const cut =
    diff.length > MAX_DIFF_CHARS
      ? `${diff.slice(0, MAX_DIFF_CHARS)}\n[… diff cut at ${MAX_DIFF_CHARS} characters; use git diff to read the rest …]`
      : diff;
  return ['```diff', cut.trimEnd() || '(no changes)', '```'].join('\n');
}
