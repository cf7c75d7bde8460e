/**
 * After a rejected push: someone else pushed to the issue branch, so Foreman's head (made on the
 * synced head, ./workspace.ts `commitAndPush`) is not a fast-forward. Foreman never forces over
 * their commits; it rebases its own change onto them (`rebaseOnRemote`), and when that conflicts a
 * human picks: push to a new branch (`pushToNewBranch`), or let the agent resolve the conflict
 * (`checkoutConflict`). All with Foreman's own git (./git.ts: no hooks, sanitized config, its own
 * index, the recorded remote URL; docs/architecture.md, Boundaries, "Foreman owns git").
 *
 * The rebase is a three-way merge of trees (`git merge-tree --write-tree`, no work tree, no
 * hooks, no merge drivers: config is sanitized and attributes files are off): Foreman's commit of
 * the work tree on the old synced head, and the remote head; the merged tree becomes one commit on
 * the remote head (Foreman's commits are one squashed commit, so the rebase is one pick), with
 * `.foreman/` left out as in every tree Foreman commits or checks out (./git.ts `withoutForemanDir`).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { WorkspaceError } from '../errors.js';
import {
  parseMergeTree,
  recordSyncedHead,
  resolveCommit,
  runGit,
  stageWorkTree,
  withoutForemanDir,
  type GitPlace,
} from './git.js';
import {
  commitAndPush,
  commitTree,
  fetchedPlace,
  isAncestor,
  syncedHeadOf,
  treeOf,
  type CommitOptions,
  type PushResult,
} from './workspace.js';

/** What `rebaseOnRemote` did. */
export interface RebaseResult {
  /** `rebased`: the work tree and the synced head are on `head`; `conflict`: nothing changed; `up_to_date`: the remote branch has nothing the synced head lacks. */
  outcome: 'rebased' | 'conflict' | 'up_to_date';
  /** The remote branch head Foreman rebased onto (or tried to); null when the branch is gone. */
  onto: string | null;
  /** Commits on the remote branch that Foreman's synced head lacked. */
  remoteCommits: number;
  /** Foreman's own commit of the work tree on the old synced head (kept: option "push to a new branch"). */
  ours: string;
  /** The rebased commit (its parent is `onto`); null unless `rebased`. */
  head: string | null;
  /** Paths both sides changed so they conflict; empty unless `conflict`. */
  conflicts: string[];
}

/** The remote head, Foreman's commit and the merge of the two, as `rebaseOnRemote` and `checkoutConflict` compute them. */
interface Attempt {
  place: GitPlace;
  /** The tree of the work tree as it is (Foreman's staging over the base). */
  tree: string;
  synced: string;
  ours: string;
  onto: string | null;
}

async function attempt(opts: CommitOptions): Promise<Attempt> {
  const { place, base } = await fetchedPlace(opts);
  const synced = await syncedHeadOf(place, opts.branch, base);
  const tree = await stageWorkTree(place, base);
  const ours = await commitTree(place, tree, synced, opts.message, opts.identity);
  const onto = await resolveCommit(place, `refs/remotes/${place.remote}/${opts.branch}`);
  return { place, tree, synced, ours, onto };
}

/** `git merge-tree` of `onto` and `ours` (merge base: theirs in common, the old synced head). */
async function mergeTrees(place: GitPlace, onto: string, ours: string) {
  const out = await runGit(place, ['merge-tree', '--write-tree', '--name-only', '--no-messages', '-z', onto, ours], {
    okExitCodes: [1],
  });
  return parseMergeTree(out);
}

/**
 * Moves the work tree from tree `from` (what it holds now, as `stageWorkTree` saw it) to tree
 * `to`: changed files are rewritten, files only in `from` removed, files only in `to` written;
 * ignored and untracked files not in either are kept. Uses a Foreman-owned index, then resets
 * `.git/index` to HEAD.
 */
async function switchWorkTree(place: GitPlace, from: string, to: string): Promise<void> {
  if (from === to) return;
  const indexFile = path.join(place.stateDir, `index-switch-${process.pid}-${Date.now()}`);
  try {
    await runGit(place, ['read-tree', from], { indexFile });
    await runGit(place, ['update-index', '-q', '--refresh'], { indexFile, okExitCodes: [1] });
    await runGit(place, ['read-tree', '-m', '-u', from, to], { indexFile });
  } finally {
    await fs.rm(indexFile, { force: true });
    await fs.rm(`${indexFile}.lock`, { force: true });
  }
}

/**
 * Rebases Foreman's change onto the remote issue branch after someone else pushed to it: fetches,
 * commits the work tree on the synced head (`ours`), merges it with the remote head; a clean merge
 * becomes one commit on the remote head, the work tree is moved to it and it becomes the synced
 * head (QA runs on it next, then the push). Nothing is pushed here. A conflict changes nothing.
 * @throws WorkspaceError `git_unsafe`, `workspace_not_git`, `base_ref_missing`, `git_failed`.
 */
export async function rebaseOnRemote(opts: CommitOptions): Promise<RebaseResult> {
  const a = await attempt(opts);
  const { place, onto, ours } = a;
  const none = { onto, remoteCommits: 0, ours, head: null, conflicts: [] };
  if (!onto || (await isAncestor(place, onto, a.synced))) return { outcome: 'up_to_date', ...none };
  const remoteCommits = Number((await runGit(place, ['rev-list', '--count', `${ours}..${onto}`, '--'])).trim());
  const merged = await mergeTrees(place, onto, ours);
  if (merged.conflicts.length) return { ...none, outcome: 'conflict', remoteCommits, conflicts: merged.conflicts };
  const tree = await withoutForemanDir(place, merged.tree);
  const head = await commitTree(place, tree, onto, opts.message, opts.identity);
  await switchWorkTree(place, a.tree, tree);
  await settleOn(place, opts.branch, head);
  return { outcome: 'rebased', onto, remoteCommits, ours, head, conflicts: [] };
}

/**
 * For the agent to resolve a conflict: the work tree gets the merge of Foreman's change and the
 * remote head `onto` (as `rebaseOnRemote` found it), conflicted files with conflict markers, and
 * `onto` becomes the synced head, so the agent's resolution is committed on it and pushed as a
 * fast-forward. Returns the conflicted paths (empty when the merge is clean by now).
 * @throws WorkspaceError `git_failed` (also when `onto` is not on the fetched remote branch's history),
 *   `git_unsafe`, `workspace_not_git`, `base_ref_missing`.
 */
export async function checkoutConflict(opts: CommitOptions & { onto: string }): Promise<string[]> {
  const a = await attempt(opts);
  const onto = await resolveCommit(a.place, opts.onto);
  if (!onto) throw new WorkspaceError('git_failed', `The commit ${opts.onto} is not in ${opts.path}.`);
  const merged = await mergeTrees(a.place, onto, a.ours);
  await switchWorkTree(a.place, a.tree, await withoutForemanDir(a.place, merged.tree));
  await settleOn(a.place, opts.branch, onto);
  return merged.conflicts;
}

/**
 * Pushes Foreman's change to a new branch, `<branch>-2` (or the first of `-3`, `-4`… not on the
 * remote), leaving the commits someone else pushed to `branch` alone. `restore`: Foreman's own
 * commit from before a rebase (`RebaseResult.ours`), put back in the work tree first (QA failed
 * on the rebased tree). Returns the push (its `branch` is the new one).
 * @throws WorkspaceError as `commitAndPush`.
 */
export async function pushToNewBranch(opts: CommitOptions & { restore?: string | null }): Promise<PushResult> {
  const { place, base } = await fetchedPlace(opts);
  if (opts.restore) {
    const restore = await resolveCommit(place, opts.restore);
    if (!restore) throw new WorkspaceError('git_failed', `The commit ${opts.restore} is not in ${opts.path}.`);
    await switchWorkTree(place, await stageWorkTree(place, base), await treeOf(place, restore));
    await recordSyncedHead(place.stateDir, restore);
  }
  const taken = await runGit(place, ['for-each-ref', '--format=%(refname)', `refs/remotes/${place.remote}/`]);
  const names = new Set(taken.split('\n').map((r) => r.slice(`refs/remotes/${place.remote}/`.length)));
  return commitAndPush({ ...opts, branch: newBranchName(opts.branch, names) });
}

/**
 * The first of `<branch>-2`, `<branch>-3`… that is not in `taken` (branch names on the remote).
 * A `branch` that already ends in `-<n>` still gets a suffix (`foreman/x-2` → `foreman/x-2-2`).
 */
export function newBranchName(branch: string, taken: ReadonlySet<string>): string {
  for (let n = 2; ; n++) if (!taken.has(`${branch}-${n}`)) return `${branch}-${n}`;
}

/** The local branch and the index on `head`, the synced head recorded. */
async function settleOn(place: GitPlace, branch: string, head: string): Promise<void> {
  await runGit(place, ['update-ref', `refs/heads/${branch}`, head]);
  await runGit(place, ['symbolic-ref', 'HEAD', `refs/heads/${branch}`]);
  await runGit(place, ['reset', '-q']).catch(() => undefined);
  await recordSyncedHead(place.stateDir, head);
}
