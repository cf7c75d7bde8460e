/**
 * Which files a workspace's change touches, against the base branch: committed, staged, unstaged
 * and untracked alike, because the contract is checked before Foreman commits.
 *
 * Owns: the git queries and their parsing. Does not own: what the paths are checked against
 * (./check.ts) or committing and pushing (src/workspace/workspace.ts).
 */
import { WorkspaceError } from '../errors.js';
import { FOREMAN_DIR, gitPlace, runGit, stageWorkTree, type GitPlace } from '../workspace/git.js';

function isForemanFile(file: string): boolean {
  return file === FOREMAN_DIR || file.startsWith(`${FOREMAN_DIR}/`);
}

function gitFailed(what: string, workspace: string, err: unknown): WorkspaceError {
  if (err instanceof WorkspaceError && err.code === 'git_unsafe') return err;
  const detail = err instanceof Error ? err.message.trim() : String(err);
  return new WorkspaceError('git_failed', `${what} in ${workspace} failed: ${detail}`, { cause: err });
}

/**
 * The commit the change started from. `exact`: `baseRef` itself (a sha Foreman recorded; the
 * agent's HEAD plays no part). Otherwise the merge base of `baseRef` and HEAD, so commits that
 * landed on the base branch after the issue branch was cut are not counted as this change; with
 * no common history, `baseRef` itself.
 */
async function changeBase(place: GitPlace, baseRef: string, exact: boolean): Promise<string> {
  let base: string;
  try {
    base = (await runGit(place, ['rev-parse', '--verify', '--end-of-options', `${baseRef}^{commit}`])).trim();
  } catch (err) {
    if (err instanceof WorkspaceError && err.code === 'git_unsafe') throw err;
    throw new WorkspaceError(
      'base_ref_missing',
      `Base ref '${baseRef}' is not a commit in ${place.workTree}; fetch it (git fetch origin) or fix workspace.base_branch in the policy.`,
      { cause: err, retryable: false },
    );
  }
  if (exact) return base;
  try {
    return (await runGit(place, ['merge-base', base, 'HEAD'])).trim() || base;
  } catch {
    // Exit 1: no common ancestor (unrelated histories). Compare with the ref itself.
    return base;
  }
}

/**
 * Splits `git diff --name-status -z` output: `<status>\0<path>\0`, or for renames and copies
 * `R<score>\0<old>\0<new>\0`; the new path is kept. Deleted paths are kept: deleting a protected
 * or out-of-scope file is touching it.
 */
function parseNameStatus(out: string): string[] {
  const tokens = out.split('\0');
  const files: string[] = [];
  for (let i = 0; i < tokens.length;) {
    const status = tokens[i++]!;
    if (status === '') continue;
    if (status.startsWith('R') || status.startsWith('C')) {
      i++; // the old path
    }
    const file = tokens[i++];
    if (file) files.push(file);
  }
  return files;
}

/**
 * Lists the files changed between `baseRef` (e.g. `origin/main`; its merge base with HEAD, see
 * above, unless `exact`) and the tree Foreman would commit (src/workspace/git.ts `stageWorkTree`):
 * committed, staged, unstaged and untracked-but-not-ignored changes alike (deleted ones included;
 * a rename reports its new path), whatever the agent did to the index. `.foreman/` is left out.
 * Paths are relative to the repository root, `/`-separated, unquoted, sorted, unique. Runs
 * Foreman's own git (no hooks, sanitized config).
 *
 * @param workspace - the repository's working tree (absolute path).
 * @throws WorkspaceError `base_ref_missing` (not retryable) when `baseRef` does not resolve to a
 *   commit; `git_unsafe` (not retryable); `git_failed` (retryable) when git fails otherwise.
 */
export async function listChangedFiles(
  workspace: string,
  baseRef: string,
  opts: { exact?: boolean; remote?: string } = {},
): Promise<string[]> {
  const place = await gitPlace(workspace, opts.remote ?? 'origin');
  let tracked: string;
  try {
    const base = await changeBase(place, baseRef, opts.exact ?? false);
    const tree = await stageWorkTree(place, base);
    // -z: raw paths (no C-quoting of unusual names); -M: a rename counts once, under its new name.
    tracked = await runGit(place, [
      'diff',
      '--no-ext-diff',
      '--no-textconv',
      '--name-status',
      '-z',
      '-M',
      base,
      tree,
      '--',
    ]);
  } catch (err) {
    if (err instanceof WorkspaceError && err.code === 'base_ref_missing') throw err;
    throw gitFailed(`Listing changes against ${baseRef}`, workspace, err);
  }
  return [...new Set(parseNameStatus(tracked).filter((f) => !isForemanFile(f)))].sort();
}
