/**
 * The git workspace: create or reuse `<workspace.root>/<key>`, populate it (clone
 * `workspace.repo`, or the `after_create` hook), put it on the issue branch `foreman/<key>`, and
 * later commit and push that branch to `origin`. Also runs the lifecycle hooks (Symphony SPEC §9.4).
 *
 * The branch on the remote is the durable copy of the code: a workspace re-created on any worker
 * resumes from `origin/foreman/<key>` when it exists. Path rules live in key.ts, the shell in shell.ts.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { WorkspaceError, type WorkspaceErrorCode } from '../errors.js';
import type { Logger } from '../logger.js';
import { branchName, workspaceKey, workspacePath } from './key.js';
import { runShell } from './shell.js';
import { DEFAULT_SANDBOX, type SandboxPolicy } from '../sandbox/policy.js';
import { redactUrls } from '../redact.js';
import { cloneFromCache } from './cache.js';
import {
  gitPlace,
  gitStateDir,
  isNonFastForward,
  recordedRemoteUrl,
  recordedSyncedHead,
  recordSyncedHead,
  recordRemoteUrl,
  resolveCommit,
  runGit,
  sanitizeRepoConfig,
  stageWorkTree,
  urlScheme,
  type GitAuth,
  type GitPlace,
} from './git.js';

/** The git workspace. */
export interface WorkspaceInfo {
  /** Absolute path. */
  path: string;
  /** Sanitized workspace key (Symphony SPEC §4.2). */
  key: string;
  /** `foreman/<key>`. */
  branch: string;
  baseBranch: string;
  /**
   * Full sha of the commit the change is measured from, recorded by Foreman from what it fetched
   * when it prepared the workspace (not a ref the agent can move). Empty or missing in runs
   * started by older code: readers then compute it (./workspace.ts `commitAndPush`).
   */
  baseCommit: string;
  /** Absolute path of the agent's copy of the per-issue spec (`.foreman/spec.md`); the authoritative copy is under FOREMAN_HOME (src/home.ts `specFile`). */
  specPath: string;
  /**
   * The workspace task queue of the worker that holds it (`<task queue>@<worker id>`), where the
   * steps on it run (docs/architecture.md, "Scale"); absent in runs from before workspace affinity.
   */
  queue?: string;
  /** The id of the worker that holds it (src/temporal/worker-id.ts); absent with `queue`. */
  workerId?: string;
}

/** Result of `commitAndPush`. */
export interface PushResult {
  branch: string;
  /** Full sha of the pushed head, or null when there was nothing to push. */
  commit: string | null;
  pushed: boolean;
  /** `git diff --stat` of base...head. */
  diffStat: string;
  filesChanged: number;
  insertions: number;
  deletions: number;
  /** Set when the push followed a rebase onto commits someone else pushed: the remote head it was rebased onto, and how many commits it had that Foreman's lacked. */
  rebasedOnto?: { commit: string; commits: number } | null;
}

/** Lifecycle hooks (Symphony SPEC §5.3.4): shell scripts run in the workspace. */
export interface Hooks {
  after_create?: string | null | undefined;
  before_run?: string | null | undefined;
  after_run?: string | null | undefined;
  before_remove?: string | null | undefined;
  /** Per hook, ms. (Default: 60000) */
  timeout_ms: number;
}

/** Identity and remote used for commits and pushes. */
export interface GitIdentity {
  /** Remote name. (Default: `origin`) */
  remote: string;
  authorName: string;
  authorEmail: string;
}

/** A prepared workspace. */
export interface PreparedWorkspace {
  path: string;
  key: string;
  branch: string;
  baseBranch: string;
  /** See WorkspaceInfo. */
  baseCommit: string;
  createdNow: boolean;
}

type HookName = 'after_create' | 'before_run' | 'after_run' | 'before_remove';

/** Where and how a hook runs: the policy's hooks, the workspace, its environment, log and sandbox. */
export interface HookPlace {
  hooks: Hooks;
  /** The workspace directory (the hook's cwd). */
  cwd: string;
  /** The environment (the agents' scrubbed one). */
  env: Record<string, string>;
  log?: Logger | undefined;
  /** The sandbox of agent-facing hooks. (Default: bwrap, no network) */
  sandbox?: SandboxPolicy | undefined;
}

/**
 * Runs one hook with the workspace as cwd. Returns quietly when the hook is unset. `before_run` and
 * `after_run` (agent-facing) run in `sandbox` (default: bwrap, no network); `after_create` and
 * `before_remove` (Foreman's own setup) run on the host.
 * @throws WorkspaceError `hook_failed` (non-zero exit), `hook_timeout` or `sandbox_unavailable`.
 */
export async function runHook(name: HookName, where: HookPlace): Promise<void> {
  const { hooks, cwd, env, log, sandbox } = where;
  const script = hooks[name];
  if (!script || !script.trim()) return;
  log?.info({ hook: name, cwd }, 'hook starting');
  const agentFacing = name === 'before_run' || name === 'after_run';
  const r = await runShell({
    command: script,
    cwd,
    env,
    timeoutMs: hooks.timeout_ms,
    maxOutputBytes: 8000,
    ...(agentFacing ? { sandbox: { policy: sandbox ?? DEFAULT_SANDBOX, workspace: cwd } } : {}),
    onDenied: (destination) => log?.warn({ hook: name, destination }, 'sandbox refused a connection'),
  });
  if (r.timedOut) {
    throw new WorkspaceError('hook_timeout', `hooks.${name} timed out after ${hooks.timeout_ms} ms in ${cwd}`);
  }
  if (r.exitCode !== 0) {
    throw new WorkspaceError(
      'hook_failed',
      `hooks.${name} exited with ${r.exitCode ?? r.signal} in ${cwd}:\n${r.output.slice(-2000)}`,
    );
  }
}

/** Runs a hook whose failure is logged and ignored (after_run, before_remove; SPEC §9.4). */
export async function runHookBestEffort(name: 'after_run' | 'before_remove', where: HookPlace): Promise<void> {
  try {
    await runHook(name, where);
  } catch (err) {
    where.log?.warn({ hook: name, err: (err as Error).message }, 'hook failed (ignored)');
  }
}

async function exists(p: string): Promise<boolean> {
  return fs.stat(p).then(
    () => true,
    () => false,
  );
}

/** A git failure as a WorkspaceError; the message never carries credentials from a remote URL. */
function gitError(what: string, err: unknown, code: WorkspaceErrorCode = 'git_failed'): WorkspaceError {
  if (err instanceof WorkspaceError && err.code === 'git_unsafe') return err;
  const msg = err instanceof Error ? err.message : String(err);
  return new WorkspaceError(code, redactUrls(`${what}: ${msg.trim()}`), { cause: err });
}

/** A local path URL made absolute against `dir` (git resolved it against its cwd); other URLs as they are. */
function absoluteUrl(url: string, dir: string): string {
  return urlScheme(url) === 'file' && !url.startsWith('file:') ? path.resolve(dir, url) : url;
}

/**
 * Clones `repo` into `dir` through a temp sibling (a crash mid-clone never leaves a half checkout):
 * from the repository's cache when `opts.cacheRoot` is set (./cache.ts; any cache problem falls
 * back to the remote), else from the remote. Returns where from: a clone from the remote has
 * every branch as of now, one from the cache needs a fetch.
 */
async function cloneInto(opts: PrepareOptions, root: string, dir: string, repo: string): Promise<'remote' | 'cache'> {
  const { remote } = opts.identity;
  const tmp = `${dir}.cloning-${process.pid}`;
  await fs.rm(tmp, { recursive: true, force: true });
  let from: 'remote' | 'cache' = 'remote';
  if (
    opts.cacheRoot &&
    (await cloneFromCache({
      cacheRoot: opts.cacheRoot,
      url: repo,
      target: tmp,
      remote,
      auth: opts.auth,
      log: opts.log,
    }))
  ) {
    from = 'cache';
  } else {
    const place: GitPlace = { workTree: tmp, stateDir: gitStateDir(dir), remote, url: repo };
    try {
      // `--no-hardlinks`: a local repository's object files are copied, never shared with the workspace.
      await runGit(place, ['clone', '--no-hardlinks', '--origin', remote, '--', repo, tmp], {
        cwd: root,
        network: true,
        auth: opts.auth,
      });
    } catch (err) {
      await fs.rm(tmp, { recursive: true, force: true });
      throw gitError(`Cloning workspace.repo ${repo} failed`, err);
    }
  }
  await fs.rename(tmp, dir);
  return from;
}

/**
 * The remote URL of the workspace at `dir`: `workspace.repo` when set (the policy is authoritative),
 * else the one recorded when Foreman made the workspace, else (first sight of a workspace made by
 * `after_create`, before any agent ran in it) `remote.<remote>.url` from its config. Recorded.
 */
async function remoteUrlOf(place: GitPlace, repo: string | undefined, root: string): Promise<string | null> {
  let url = repo ? absoluteUrl(repo, root) : await recordedRemoteUrl(place.workTree);
  if (!url) {
    const out = await runGit(
      place,
      ['config', '--file', path.join(place.workTree, '.git', 'config'), '--get', `remote.${place.remote}.url`],
      {
        cwd: place.stateDir,
      },
    ).catch(() => '');
    url = out.trim() ? absoluteUrl(out.trim(), place.workTree) : null;
  }
  if (url) await recordRemoteUrl(place.stateDir, url);
  return url;
}

/** Fetches every branch of the recorded remote into `refs/remotes/<remote>/` (forced, pruned). */
export async function fetchRemote(place: GitPlace, auth?: GitAuth): Promise<void> {
  const refspec = `+refs/heads/*:refs/remotes/${place.remote}/*`;
  await runGit(place, ['fetch', '--prune', '--no-tags', '--no-write-fetch-head', '--', place.url, refspec], {
    network: true,
    auth,
  });
}

/**
 * The commit the change is measured from, on refs Foreman has just fetched: the merge base of the
 * remote issue branch (when it exists) and the remote base branch, else the base branch's tip.
 */
async function baseCommitOf(
  place: GitPlace,
  baseBranch: string,
  branch: string,
  refs?: BranchRefs,
): Promise<string | null> {
  const base = refs ? refs.remoteBase : await resolveCommit(place, `refs/remotes/${place.remote}/${baseBranch}`);
  const onRemote = refs ? refs.remoteBranch : await resolveCommit(place, `refs/remotes/${place.remote}/${branch}`);
  if (!base || !onRemote) return base;
  const mb = await runGit(place, ['merge-base', base, onRemote]).catch(() => '');
  return mb.trim() || base;
}

/**
 * Creates the directory (clone, `after_create`) when missing or half-made. Returns null when it
 * was there, else how it was made: `remote` (cloned from the remote just now), `cache` (./cache.ts)
 * or `hook` (made by `after_create`).
 */
async function ensureDirectory(
  opts: PrepareOptions,
  root: string,
  dir: string,
  key: string,
): Promise<'remote' | 'cache' | 'hook' | null> {
  // A marker beside the directory while it is being made: a crash during the clone or
  // `after_create` leaves it, and the next attempt starts the directory over instead of
  // mistaking a half-made workspace for a ready one.
  const creating = path.join(root, `.${key}.creating`);
  if ((await exists(creating)) && (await exists(dir))) {
    opts.log?.warn({ dir }, 'removing a workspace whose creation was interrupted');
    await fs.rm(dir, { recursive: true, force: true });
  }
  if ((await exists(dir)) && !(await fs.lstat(path.join(dir, '.git')).catch(() => null))) {
    // Not a checkout (e.g. files written after a stop removed it): kept aside, never deleted.
    const aside = path.join(root, `.${key}.not-a-checkout-${Date.now()}`);
    opts.log?.warn({ dir, aside }, 'the workspace is not a git checkout; moving it aside and creating it again');
    await fs.rename(dir, aside);
  }
  if (await exists(dir)) return null;
  await fs.writeFile(creating, `${process.pid}\n`);
  let made: 'remote' | 'cache' | 'hook' = 'hook';
  try {
    if (opts.repo) made = await cloneInto(opts, root, dir, absoluteUrl(opts.repo, root));
    else await fs.mkdir(dir);
    await runHook('after_create', { hooks: opts.hooks, cwd: dir, env: opts.env, log: opts.log });
  } catch (err) {
    await fs.rm(dir, { recursive: true, force: true });
    throw err;
  }
  await fs.rm(creating, { force: true });
  return made;
}

/** What `prepareWorkspace` needs. */
export interface PrepareOptions {
  root: string;
  identifier: string;
  repo?: string | undefined;
  baseBranch?: string | undefined;
  hooks: Hooks;
  identity: GitIdentity;
  /** The environment hooks run with (the agents' scrubbed one). */
  env: Record<string, string>;
  /** The credential for clone and fetch. */
  auth?: GitAuth | undefined;
  /** Directory of the per-repository caches new workspaces are cloned from (./cache.ts); none: clone from the remote. */
  cacheRoot?: string | undefined;
  log?: Logger;
}

/**
 * Creates or reuses the workspace and checks out its branch, with Foreman's own git
 * (./git.ts: no hooks, sanitized config, the recorded remote URL).
 *
 * New directory: clone `repo` into it (when set), then run `after_create` (a failure removes the
 * half-made directory). The result must be a git checkout with a remote named `identity.remote`.
 * The branch `foreman/<key>` is taken, in order, from the local branch, the remote branch, or
 * made from `origin/<baseBranch>` (base: `baseBranch`, else the remote's default branch). Records
 * `baseCommit` from what it fetched. `.foreman/` is excluded from git for the agent's view.
 *
 * @throws WorkspaceError `workspace_outside_root` (permanent), `workspace_not_git` (permanent),
 *   `git_unsafe` (permanent), `hook_failed`/`hook_timeout`, `git_failed` (transient).
 */
export async function prepareWorkspace(opts: PrepareOptions): Promise<PreparedWorkspace> {
  const root = path.resolve(opts.root);
  await fs.mkdir(root, { recursive: true });
  const dir = workspacePath(root, opts.identifier);
  const key = workspaceKey(opts.identifier);
  const branch = branchName(opts.identifier);
  const remote = opts.identity.remote;
  const made = await ensureDirectory(opts, root, dir, key);

  const place: GitPlace = { workTree: dir, stateDir: gitStateDir(dir), remote, url: '' };
  if (!(await fs.lstat(path.join(dir, '.git')).catch(() => null))) {
    throw new WorkspaceError(
      'workspace_not_git',
      `${dir} is not a git checkout after it was created: workspace.repo is not set and hooks.after_create ` +
        'did not clone one. Set workspace.repo in the policy, or make hooks.after_create clone the repository.',
      { retryable: false },
    );
  }
  await sanitizeRepoConfig(place);
  const url = await remoteUrlOf(place, opts.repo, root);
  if (!url) {
    throw new WorkspaceError('workspace_not_git', `${dir} has no git remote named "${remote}" to push to.`, {
      retryable: false,
    });
  }
  place.url = url;
  // A clone from the remote just now (with no `after_create` running for minutes after it) has
  // fetched every branch already; anything else fetches.
  const clonedNow = made === 'remote' && !opts.hooks.after_create?.trim() && url === absoluteUrl(opts.repo ?? '', root);
  if (!clonedNow) {
    try {
      await fetchRemote(place, opts.auth);
    } catch (err) {
      throw gitError(`git fetch ${remote} failed in ${dir}`, err);
    }
  }
  const baseBranch =
    opts.baseBranch ||
    (clonedNow && (await clonedDefaultBranch(place))) ||
    (await remoteDefaultBranch(place, opts.auth));
  const refs = await branchRefs(place, branch, baseBranch);
  const { switched, head } = await checkoutBranch(place, branch, baseBranch, refs);
  // The work tree now starts from the branch's head: Foreman's next commit goes on it. A reused
  // workspace keeps its record (its work tree may hold work on top of the head it last pushed).
  if (head && (switched || !(await recordedSyncedHead(place.stateDir)))) await recordSyncedHead(place.stateDir, head);
  const baseCommit = await baseCommitOf(place, baseBranch, branch, refs);
  if (!baseCommit) throw new WorkspaceError('base_branch_missing', `No ${remote}/${baseBranch}.`, { retryable: false });
  await excludeForemanDir(dir);
  return { path: dir, key, branch, baseBranch, baseCommit, createdNow: made !== null };
}

/** The commits of the refs `prepareWorkspace` looks at, read in one git run; null for a missing ref. */
interface BranchRefs {
  /** `refs/heads/<branch>`, and whether HEAD is on it. */
  local: string | null;
  onBranch: boolean;
  /** `refs/remotes/<remote>/<branch>`. */
  remoteBranch: string | null;
  /** `refs/remotes/<remote>/<baseBranch>`. */
  remoteBase: string | null;
}

/**
 * Reads the issue branch, its remote-tracking ref and the remote base branch with one
 * `for-each-ref` (a ref naming something other than a commit is peeled as `resolveCommit` does).
 */
async function branchRefs(place: GitPlace, branch: string, baseBranch: string): Promise<BranchRefs> {
  const names = [
    `refs/heads/${branch}`,
    `refs/remotes/${place.remote}/${branch}`,
    `refs/remotes/${place.remote}/${baseBranch}`,
  ];
  const out = await runGit(place, [
    'for-each-ref',
    '--format=%(HEAD) %(objecttype) %(objectname) %(refname)',
    '--',
    ...names,
  ]);
  const found = new Map<string, { head: boolean; type: string; sha: string }>();
  for (const line of out.split('\n')) {
    const m = /^([* ]) (\S+) ([0-9a-f]{40,64}) (.+)$/.exec(line);
    if (m) found.set(m[4]!, { head: m[1] === '*', type: m[2]!, sha: m[3]! });
  }
  const commit = async (name: string) => {
    const ref = found.get(name);
    if (!ref) return null;
    return ref.type === 'commit' ? ref.sha : resolveCommit(place, name);
  };
  return {
    local: await commit(names[0]!),
    onBranch: found.get(names[0]!)?.head ?? false,
    remoteBranch: await commit(names[1]!),
    remoteBase: await commit(names[2]!),
  };
}

/**
 * Puts the workspace on `branch`: local, else tracking the remote one, else new from the base.
 * Returns `switched` false when it was on `branch` already (a reused workspace), true when it
 * switched, and the commit the work tree is now on.
 */
async function checkoutBranch(
  place: GitPlace,
  branch: string,
  baseBranch: string,
  refs: BranchRefs,
): Promise<{ switched: boolean; head: string | null }> {
  const remote = place.remote;
  // A reused workspace: keep local commits and uncommitted work.
  if (refs.onBranch) return { switched: false, head: refs.local };
  try {
    if (refs.local) {
      await runGit(place, ['checkout', branch, '--']);
      return { switched: true, head: refs.local };
    }
    if (refs.remoteBranch) {
      await runGit(place, ['checkout', '-b', branch, '--track', `${remote}/${branch}`]);
      return { switched: true, head: refs.remoteBranch };
    }
    if (!refs.remoteBase) {
      throw new WorkspaceError(
        'base_branch_missing',
        `The base branch "${baseBranch}" does not exist on ${remote}. Set workspace.base_branch.`,
        { retryable: false },
      );
    }
    await runGit(place, ['checkout', '--no-track', '-b', branch, refs.remoteBase]);
    return { switched: true, head: refs.remoteBase };
  } catch (err) {
    if (err instanceof WorkspaceError && err.code !== 'git_failed') throw err;
    throw gitError(`Checking out ${branch} failed in ${place.workTree}`, err);
  }
}

/** The remote's default branch as a clone from it just now recorded it (`refs/remotes/<remote>/HEAD`), or null. */
async function clonedDefaultBranch(place: GitPlace): Promise<string | null> {
  const prefix = `refs/remotes/${place.remote}/`;
  const out = await runGit(place, ['symbolic-ref', '-q', `${prefix}HEAD`]).catch(() => '');
  const ref = out.trim();
  return ref.startsWith(prefix) && ref.length > prefix.length ? ref.slice(prefix.length) : null;
}

/** The remote's default branch (its `HEAD`), falling back to main/master. */
async function remoteDefaultBranch(place: GitPlace, auth?: GitAuth): Promise<string> {
  try {
    const out = await runGit(place, ['ls-remote', '--symref', '--', place.url, 'HEAD'], { network: true, auth });
    const m = /^ref: refs\/heads\/(\S+)\s+HEAD/m.exec(out);
    if (m?.[1]) return m[1];
  } catch {
    // fall through to the local view of the remote
  }
  for (const candidate of ['main', 'master']) {
    if (await resolveCommit(place, `refs/remotes/${place.remote}/${candidate}`)) return candidate;
  }
  throw new WorkspaceError(
    'base_branch_missing',
    `Cannot tell the default branch of ${place.remote}. Set workspace.base_branch.`,
    {
      retryable: false,
    },
  );
}

async function excludeForemanDir(dir: string): Promise<void> {
  const exclude = path.join(dir, '.git', 'info', 'exclude');
  await fs.mkdir(path.dirname(exclude), { recursive: true });
  const current = await fs.readFile(exclude, 'utf8').catch(() => '');
  if (!current.split('\n').includes('/.foreman/')) {
    await fs.appendFile(exclude, `${current && !current.endsWith('\n') ? '\n' : ''}/.foreman/\n`);
  }
}

/**
 * The commit message of Foreman's commit on the issue branch: `<identifier>: <title>` (subject cut
 * at 72 characters), a line saying whether the work is partial (a run waiting for a human) or ready
 * for review, and an `Issue:` trailer.
 */
export function commitMessage(identifier: string, title: string, partial: boolean): string {
  const subject = `${identifier}: ${title}`.slice(0, 72);
  const body = partial
    ? 'Partial work: the run needs a human decision. See the issue for the evidence.'
    : 'Ready for review. See the issue for the evidence.';
  return `${subject}\n\n${body}\n\nIssue: ${identifier}`;
}

/** What `commitAndPush` needs. */
export interface CommitOptions {
  path: string;
  branch: string;
  baseBranch: string;
  /** The base commit recorded by `prepareWorkspace`; when absent (a run from older code), the merge base Foreman computes from a fresh fetch. */
  baseCommit?: string | null | undefined;
  message: string;
  identity: GitIdentity;
  /** The credential for fetch and push. */
  auth?: GitAuth | undefined;
}

/**
 * The workspace's git place, its config sanitized and the recorded remote freshly fetched, and the
 * base commit of the change (the recorded one, else the merge base computed from the fetch).
 * @throws WorkspaceError `workspace_not_git` (no recorded remote), `base_ref_missing`, `git_unsafe`,
 *   `git_failed`.
 */
export async function fetchedPlace(opts: CommitOptions): Promise<{ place: GitPlace; base: string }> {
  const place = await gitPlace(opts.path, opts.identity.remote);
  if (!place.url) {
    throw new WorkspaceError('workspace_not_git', `No remote URL recorded for ${opts.path}; prepare it first.`, {
      retryable: false,
    });
  }
  try {
    await sanitizeRepoConfig(place);
    await fetchRemote(place, opts.auth);
    const recorded = opts.baseCommit ? await resolveCommit(place, opts.baseCommit) : null;
    const base = recorded ?? (await baseCommitOf(place, opts.baseBranch, opts.branch));
    if (!base) throw new WorkspaceError('base_ref_missing', `No base commit for ${opts.branch}.`, { retryable: false });
    return { place, base };
  } catch (err) {
    if (err instanceof WorkspaceError && err.code !== 'git_failed') throw err;
    throw gitError(`Fetching ${place.remote} in ${opts.path} failed`, err);
  }
}

/**
 * The commit Foreman's next commit is made on: the synced head Foreman recorded (./git.ts
 * `recordSyncedHead`) when it names a commit here; else, for a workspace made by older code, the
 * remote issue branch as fetched, else `base`.
 */
export async function syncedHeadOf(place: GitPlace, branch: string, base: string): Promise<string> {
  const recorded = await recordedSyncedHead(place.stateDir);
  return (
    (recorded ? await resolveCommit(place, recorded) : null) ??
    (await resolveCommit(place, `refs/remotes/${place.remote}/${branch}`)) ??
    base
  );
}

/** The tree sha of `commit`. */
export async function treeOf(place: GitPlace, commit: string): Promise<string> {
  return (await runGit(place, ['rev-parse', '--verify', '--end-of-options', `${commit}^{tree}`])).trim();
}

/** True when `ancestor` is `commit` or one of its ancestors. */
export async function isAncestor(place: GitPlace, ancestor: string, commit: string): Promise<boolean> {
  const out = await runGit(place, ['rev-list', '--count', `${commit}..${ancestor}`, '--']).catch(() => '');
  return out.trim() === '0';
}

/** Foreman's commit of `tree` on `parent` with its own identity; `parent` itself when the trees are equal. */
export async function commitTree(
  place: GitPlace,
  tree: string,
  parent: string,
  message: string,
  identity: GitIdentity,
): Promise<string> {
  if ((await treeOf(place, parent)) === tree) return parent;
  const out = await runGit(place, ['commit-tree', tree, '-p', parent, '-m', message], {
    identity: { name: identity.authorName, email: identity.authorEmail },
  });
  return out.trim();
}

/**
 * The place for a commit and what it is made on, fetching only when needed: with the base commit
 * and the synced head recorded (every workspace `prepareWorkspace` made), nothing before the push
 * reads the remote, so nothing is fetched (`fetched` false); else `fetchedPlace` and
 * `syncedHeadOf` as for older runs. The config is sanitized either way, with the branch's tracking
 * keys set.
 */
async function commitPlace(
  opts: CommitOptions,
): Promise<{ place: GitPlace; base: string; parent: string; fetched: boolean }> {
  const place = await gitPlace(opts.path, opts.identity.remote);
  if (opts.baseCommit && place.url) {
    try {
      await sanitizeRepoConfig(place, { branch: opts.branch });
      const base = await resolveCommit(place, opts.baseCommit);
      const recorded = base ? await recordedSyncedHead(place.stateDir) : null;
      const parent = recorded ? await resolveCommit(place, recorded) : null;
      if (base && parent) return { place, base, parent, fetched: false };
    } catch (err) {
      if (err instanceof WorkspaceError && err.code !== 'git_failed') throw err;
      throw gitError(`Reading ${opts.path} failed`, err);
    }
  }
  const fetched = await fetchedPlace(opts);
  await sanitizeRepoConfig(fetched.place, { branch: opts.branch });
  const parent = await syncedHeadOf(fetched.place, opts.branch, fetched.base);
  return { ...fetched, parent, fetched: true };
}

/**
 * The commit of the remote issue branch as last fetched when it is Foreman's own earlier push of
 * `tree` on `parent` (a retry after a crash between the push and its record), else null.
 */
async function pushedBefore(place: GitPlace, branch: string, parent: string, tree: string): Promise<string | null> {
  const onRemote = await resolveCommit(place, `refs/remotes/${place.remote}/${branch}`);
  const ours =
    onRemote !== null &&
    onRemote !== parent &&
    (await treeOf(place, onRemote)) === tree &&
    (await isAncestor(place, parent, onRemote));
  return ours ? onRemote : null;
}

/**
 * Commits the work tree and pushes the branch, with Foreman's own git (./git.ts). Foreman builds
 * the commit itself: the tree is `stageWorkTree(base)` (the work tree, `.foreman/` left out, the
 * agent's index and commits ignored), its parent is the synced head (`syncedHeadOf`: the branch
 * head the work tree was last checked out, rebased or pushed at), its author and committer are
 * `identity`. Agent-made commits are squashed into it; the local branch is moved to it and it
 * becomes the synced head. Pushes to the recorded remote URL, never with force: when someone else
 * pushed to the branch meanwhile, the push is refused as non-fast-forward and their commits stay
 * (./rebase.ts takes it from there).
 * Idempotent: a retry after a crash builds the same tree; when the push is refused, the remote
 * is fetched and a head on it that is Foreman's own earlier push of that tree on the same parent is
 * taken as pushed (no new commit). Nothing is pushed when the head is the base. The remote is
 * fetched before the push only for a workspace without recorded base and synced head (`commitPlace`).
 *
 * @throws WorkspaceError `push_rejected` (permanent: the remote branch has commits the head lacks),
 *   `git_unsafe`, `workspace_not_git` (no recorded remote), `base_ref_missing` or `git_failed`.
 */
export async function commitAndPush(opts: CommitOptions): Promise<PushResult> {
  const { place, base, parent, fetched } = await commitPlace(opts);
  let head: string;
  let tree: string;
  try {
    tree = await stageWorkTree(place, base, { sanitized: true });
    const earlier = fetched ? await pushedBefore(place, opts.branch, parent, tree) : null;
    head = earlier ?? (await commitTree(place, tree, parent, opts.message, opts.identity));
  } catch (err) {
    if (err instanceof WorkspaceError && err.code !== 'git_failed') throw err;
    throw gitError(`Committing in ${opts.path} failed`, err);
  }
  if (head === base)
    return { branch: opts.branch, commit: null, pushed: false, ...(await diffStat(place, base, head)) };
  try {
    await pushHead(place, head, opts.branch, opts.auth);
  } catch (err) {
    if (fetched || !(err instanceof WorkspaceError && err.code === 'push_rejected')) throw err;
    // Refused: someone else's commits, or this activity's own push before a crash. Look.
    try {
      await fetchRemote(place, opts.auth);
    } catch (fetchErr) {
      throw gitError(`Fetching ${place.remote} in ${opts.path} failed`, fetchErr);
    }
    const earlier = await pushedBefore(place, opts.branch, parent, tree);
    if (!earlier) throw err;
    head = earlier;
  }
  const stat = await diffStat(place, base, head);
  await moveLocalBranch(place, opts.branch, head);
  await recordSyncedHead(place.stateDir, head);
  return { branch: opts.branch, commit: head, pushed: true, ...stat };
}

/**
 * Pushes `head` to `refs/heads/<branch>` on the recorded remote, without force.
 * @throws WorkspaceError `push_rejected` (permanent) when the remote refuses it as non-fast-forward
 *   (./git.ts `isNonFastForward`), else `git_failed` (transient: network, a hook that declined).
 */
export async function pushHead(place: GitPlace, head: string, branch: string, auth?: GitAuth): Promise<void> {
  try {
    await runGit(place, ['push', '--no-verify', '--', place.url, `${head}:refs/heads/${branch}`], {
      network: true,
      auth,
    });
  } catch (err) {
    if (err instanceof Error && isNonFastForward(err.message)) {
      throw new WorkspaceError(
        'push_rejected',
        redactUrls(`git push ${place.remote} ${branch} was rejected: the branch has commits Foreman's head lacks.`),
        { retryable: false, cause: err },
      );
    }
    throw gitError(`git push ${place.remote} ${branch} failed`, err);
  }
}

/**
 * Puts the workspace's branch, its remote-tracking ref and the index on `head` (the work tree is
 * kept), the two refs in one transaction. The branch's tracking config was set when the config was
 * sanitized (`commitPlace`).
 */
async function moveLocalBranch(place: GitPlace, branch: string, head: string): Promise<void> {
  const updates = `update refs/heads/${branch} ${head}\nupdate refs/remotes/${place.remote}/${branch} ${head}\n`;
  await runGit(place, ['update-ref', '--stdin'], { input: updates });
  await runGit(place, ['symbolic-ref', 'HEAD', `refs/heads/${branch}`]);
  await runGit(place, ['reset', '-q']).catch(() => undefined);
}

/** `git diff --numstat --stat` of base..head in one run: the numstat lines come first, then the stat. */
async function diffStat(place: GitPlace, base: string, head: string) {
  const out = await runGit(place, ['diff', '--no-ext-diff', '--no-textconv', '--numstat', '--stat', base, head, '--']);
  let filesChanged = 0;
  let insertions = 0;
  let deletions = 0;
  const lines = out.split('\n');
  let i = 0;
  for (; i < lines.length; i++) {
    const m = /^(\d+|-)\t(\d+|-)\t/.exec(lines[i]!);
    if (!m) break;
    filesChanged++;
    insertions += m[1] === '-' ? 0 : Number(m[1]);
    deletions += m[2] === '-' ? 0 : Number(m[2]);
  }
  return { diffStat: lines.slice(i).join('\n').trimEnd(), filesChanged, insertions, deletions };
}

/**
 * Removes the workspace after running `before_remove` (failure ignored, SPEC §9.4).
 * @throws WorkspaceError `workspace_outside_root`.
 */
export async function removeWorkspace(opts: {
  root: string;
  identifier: string;
  hooks: Hooks;
  env: Record<string, string>;
  log?: Logger;
}): Promise<boolean> {
  const dir = workspacePath(path.resolve(opts.root), opts.identifier);
  if (!(await exists(dir))) return false;
  await runHookBestEffort('before_remove', { hooks: opts.hooks, cwd: dir, env: opts.env, log: opts.log });
  await fs.rm(dir, { recursive: true, force: true });
  await fs.rm(gitStateDir(dir), { recursive: true, force: true }); // Foreman's git state beside it
  return true;
}
