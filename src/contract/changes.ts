/**
 * Which files a workspace's change touches, against the base branch: committed, staged, unstaged
 * and untracked alike, because the contract is checked before Foreman commits.
 *
 * Owns: the git queries and their parsing. Does not own: what the paths are checked against
 * (./check.ts) or committing and pushing (src/workspace/workspace.ts).
 */
import { simpleGit, type SimpleGit } from 'simple-git';
import { WorkspaceError } from '../errors.js';

/** Foreman's own per-issue files (spec, notes) are never part of the change. */
const FOREMAN_DIR = '.foreman';

function isForemanFile(file: string): boolean {
  return file === FOREMAN_DIR || file.startsWith(`${FOREMAN_DIR}/`);
}

function gitFailed(what: string, workspace: string, err: unknown): WorkspaceError {
  const detail = err instanceof Error ? err.message.trim() : String(err);
  return new WorkspaceError('git_failed', `${what} in ${workspace} failed: ${detail}`, { cause: err });
}

/**
 * The commit the change started from: the merge base of `baseRef` and HEAD, so commits that
 * landed on the base branch after the issue branch was cut are not counted as this change. With
 * no common history, `baseRef` itself.
 */
async function changeBase(git: SimpleGit, workspace: string, baseRef: string): Promise<string> {
  try {
    await git.raw(['rev-parse', '--verify', `${baseRef}^{commit}`]);
  } catch (err) {
    throw new WorkspaceError(
      'base_ref_missing',
      `Base ref '${baseRef}' is not a commit in ${workspace}; fetch it (git fetch origin) or fix workspace.base_branch in the policy.`,
      { cause: err, retryable: false },
    );
  }
  try {
    return (await git.raw(['merge-base', baseRef, 'HEAD'])).trim() || baseRef;
  } catch {
    // Exit 1: no common ancestor (unrelated histories). Compare with the ref itself.
    return baseRef;
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
 * above) and the working tree: committed, staged and unstaged changes to tracked files (deleted
 * ones included; a rename reports its new path) plus untracked files that are not ignored.
 * `.foreman/` is left out. Paths are relative to the repository root, `/`-separated, unquoted,
 * sorted, unique.
 *
 * @param workspace - the repository's working tree (absolute path).
 * @throws WorkspaceError `base_ref_missing` (not retryable) when `baseRef` does not resolve to a
 *   commit; `git_failed` (retryable) when git fails otherwise (e.g. not a repository).
 */
export async function listChangedFiles(workspace: string, baseRef: string): Promise<string[]> {
  const git = simpleGit({ baseDir: workspace });
  const base = await changeBase(git, workspace, baseRef);
  let tracked: string;
  let untracked: string;
  try {
    // -z: raw paths (no C-quoting of unusual names); -M: a rename counts once, under its new name.
    tracked = await git.raw(['diff', '--name-status', '-z', '-M', base, '--']);
    untracked = await git.raw(['ls-files', '--others', '--exclude-standard', '-z']);
  } catch (err) {
    throw gitFailed(`Listing changes against ${baseRef}`, workspace, err);
  }
  const files = [...parseNameStatus(tracked), ...untracked.split('\0').filter((f) => f !== '')];
  return [...new Set(files.filter((f) => !isForemanFile(f)))].sort();
}
