/**
 * The diff a reviewer reads: tracked changes against the base branch plus the names of new
 * (untracked) files, as Markdown. Owns the format and its size bound; not what the reviewer does
 * with it.
 */
import { simpleGit } from 'simple-git';
import type { WorkspaceInfo } from './workspace.js';

/** Longest diff text handed over, in characters; the rest is left for `git diff` in the workspace. */
export const MAX_DIFF_CHARS = 60_000;

/**
 * The change in `ws` against `<remote>/<baseBranch>` (`.foreman/` left out) as a fenced diff, then
 * a list of untracked files to read with `read_file`.
 * @throws the git error when the base ref is missing.
 */
export async function workspaceDiff(ws: Pick<WorkspaceInfo, 'path' | 'baseBranch'>, remote: string): Promise<string> {
  const g = simpleGit({ baseDir: ws.path });
  const base = `${remote}/${ws.baseBranch}`;
  const diff = await g.raw(['diff', base, '--', '.', ':(exclude).foreman']);
  const untracked = (await g.raw(['ls-files', '--others', '--exclude-standard'])).trim();
  const cut =
    diff.length > MAX_DIFF_CHARS
      ? `${diff.slice(0, MAX_DIFF_CHARS)}\n[… diff cut at ${MAX_DIFF_CHARS} characters; use git diff to read the rest …]`
      : diff;
  return [
    '```diff',
    cut.trimEnd() || '(no changes to tracked files)',
    '```',
    untracked
      ? `New files (read them with read_file):\n${untracked
          .split('\n')
          .map((f) => `- ${f}`)
          .join('\n')}`
      : '',
  ]
    .filter(Boolean)
    .join('\n');
}
