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
import { simpleGit, type SimpleGit } from 'simple-git';
import { WorkspaceError, type WorkspaceErrorCode } from '../errors.js';
import type { Logger } from '../logger.js';
import { branchName, workspaceKey, workspacePath } from './key.js';
import { runShell } from './shell.js';
import { DEFAULT_SANDBOX, type SandboxPolicy } from '../sandbox/policy.js';
import { redactUrls } from '../redact.js';

/** The git workspace. */
export interface WorkspaceInfo {
  /** Absolute path. */
  path: string;
  /** Sanitized workspace key (Symphony SPEC §4.2). */
  key: string;
  /** `foreman/<key>`. */
  branch: string;
  baseBranch: string;
  /** Absolute path of the per-issue spec file (`.foreman/spec.md`). */
  specPath: string;
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
  createdNow: boolean;
}

type HookName = 'after_create' | 'before_run' | 'after_run' | 'before_remove';

/**
 * Runs one hook with the workspace as cwd. Returns quietly when the hook is unset. `before_run` and
 * `after_run` (agent-facing) run in `sandbox` (default: bwrap, no network); `after_create` and
 * `before_remove` (Foreman's own setup) run on the host.
 * @throws WorkspaceError `hook_failed` (non-zero exit), `hook_timeout` or `sandbox_unavailable`.
 */
export async function runHook(
  name: HookName,
  hooks: Hooks,
  cwd: string,
  env: Record<string, string>,
  log?: Logger,
  sandbox?: SandboxPolicy,
): Promise<void> {
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
export async function runHookBestEffort(
  name: 'after_run' | 'before_remove',
  hooks: Hooks,
  cwd: string,
  env: Record<string, string>,
  log?: Logger,
  sandbox?: SandboxPolicy,
): Promise<void> {
  try {
    await runHook(name, hooks, cwd, env, log, sandbox);
  } catch (err) {
    log?.warn({ hook: name, err: (err as Error).message }, 'hook failed (ignored)');
  }
}

function git(cwd: string, identity?: GitIdentity): SimpleGit {
  const config = identity ? [`user.name=${identity.authorName}`, `user.email=${identity.authorEmail}`] : [];
  return simpleGit({ baseDir: cwd, config });
}

async function exists(p: string): Promise<boolean> {
  return fs.stat(p).then(
    () => true,
    () => false,
  );
}

/** A git failure as a WorkspaceError; the message never carries credentials from a remote URL. */
function gitError(what: string, err: unknown, code: WorkspaceErrorCode = 'git_failed'): WorkspaceError {
  const msg = err instanceof Error ? err.message : String(err);
  return new WorkspaceError(code, redactUrls(`${what}: ${msg.trim()}`));
}

/**
 * Creates or reuses the workspace and checks out its branch.
 *
 * New directory: clone `repo` into it (when set), then run `after_create` (a failure removes the
 * half-made directory). The result must be a git checkout with a remote named `identity.remote`.
 * The branch `foreman/<key>` is taken, in order, from the local branch, the remote branch, or
 * made from `origin/<baseBranch>` (base: `baseBranch`, else the remote's default branch).
 * `.foreman/` is excluded from git so the spec and notes never land in a commit.
 *
 * @throws WorkspaceError `workspace_outside_root` (permanent), `workspace_not_git` (permanent),
 *   `hook_failed`/`hook_timeout`, `git_failed` (transient).
 */
export async function prepareWorkspace(opts: {
  root: string;
  identifier: string;
  repo?: string | undefined;
  baseBranch?: string | undefined;
  hooks: Hooks;
  identity: GitIdentity;
  env: Record<string, string>;
  log?: Logger;
}): Promise<PreparedWorkspace> {
  const root = path.resolve(opts.root);
  await fs.mkdir(root, { recursive: true });
  const dir = workspacePath(root, opts.identifier);
  const key = workspaceKey(opts.identifier);
  const branch = branchName(opts.identifier);
  const remote = opts.identity.remote;

  // A marker beside the directory while it is being made: a crash during the clone or
  // `after_create` leaves it, and the next attempt starts the directory over instead of
  // mistaking a half-made workspace for a ready one.
  const creating = path.join(root, `.${key}.creating`);
  if ((await exists(creating)) && (await exists(dir))) {
    opts.log?.warn({ dir }, 'removing a workspace whose creation was interrupted');
    await fs.rm(dir, { recursive: true, force: true });
  }
  let createdNow = false;
  if (!(await exists(dir))) {
    createdNow = true;
    await fs.writeFile(creating, `${process.pid}\n`);
    try {
      if (opts.repo) {
        // Clone into a temp sibling, then rename: a crash mid-clone never leaves a half checkout.
        const tmp = `${dir}.cloning-${process.pid}`;
        await fs.rm(tmp, { recursive: true, force: true });
        try {
          await simpleGit({ baseDir: root }).clone(opts.repo, tmp, ['--origin', remote]);
        } catch (err) {
          await fs.rm(tmp, { recursive: true, force: true });
          throw gitError(`Cloning workspace.repo ${opts.repo} failed`, err);
        }
        await fs.rename(tmp, dir);
      } else {
        await fs.mkdir(dir);
      }
      await runHook('after_create', opts.hooks, dir, opts.env, opts.log);
    } catch (err) {
      await fs.rm(dir, { recursive: true, force: true });
      throw err;
    }
    await fs.rm(creating, { force: true });
  }

  const g = git(dir, opts.identity);
  const top = await g.revparse(['--show-toplevel']).catch(() => '');
  if (!top || path.resolve(top.trim()) !== (await fs.realpath(dir))) {
    throw new WorkspaceError(
      'workspace_not_git',
      `${dir} is not a git checkout. Set workspace.repo in the policy, or make hooks.after_create clone one.`,
      { retryable: false },
    );
  }
  const remotes = await g.getRemotes();
  if (!remotes.some((r) => r.name === remote)) {
    throw new WorkspaceError('workspace_not_git', `${dir} has no git remote named "${remote}" to push to.`, {
      retryable: false,
    });
  }

  try {
    await g.fetch([remote, '--prune']);
  } catch (err) {
    throw gitError(`git fetch ${remote} failed in ${dir}`, err);
  }
  const baseBranch = opts.baseBranch || (await remoteDefaultBranch(g, remote));

  const local = await g.branchLocal();
  const remoteBranches = (await g.branch(['-r'])).all;
  try {
    if (local.current === branch) {
      // Already there (a reused workspace): keep local commits and uncommitted work.
    } else if (local.all.includes(branch)) {
      await g.checkout(branch);
    } else if (remoteBranches.includes(`${remote}/${branch}`)) {
      await g.checkout(['-b', branch, '--track', `${remote}/${branch}`]);
    } else {
      if (!remoteBranches.includes(`${remote}/${baseBranch}`)) {
        throw new WorkspaceError(
          'base_branch_missing',
          `The base branch "${baseBranch}" does not exist on ${remote}. Set workspace.base_branch.`,
          { retryable: false },
        );
      }
      await g.checkout(['--no-track', '-b', branch, `${remote}/${baseBranch}`]);
    }
  } catch (err) {
    if (err instanceof WorkspaceError) throw err;
    throw gitError(`Checking out ${branch} failed in ${dir}`, err);
  }

  await excludeForemanDir(dir);
  return { path: dir, key, branch, baseBranch, createdNow };
}

/** The remote's default branch (`origin/HEAD`), falling back to main/master. */
async function remoteDefaultBranch(g: SimpleGit, remote: string): Promise<string> {
  try {
    const out = await g.raw(['ls-remote', '--symref', remote, 'HEAD']);
    const m = /^ref: refs\/heads\/(\S+)\s+HEAD/m.exec(out);
    if (m?.[1]) return m[1];
  } catch {
    // fall through to the local view of the remote
  }
  const remoteBranches = (await g.branch(['-r'])).all;
  for (const candidate of ['main', 'master']) {
    if (remoteBranches.includes(`${remote}/${candidate}`)) return candidate;
  }
  throw new WorkspaceError(
    'base_branch_missing',
    `Cannot tell the default branch of ${remote}. Set workspace.base_branch.`,
    {
      retryable: false,
    },
  );
}

async function excludeForemanDir(dir: string): Promise<void> {
  const gitDir = path.join(dir, '.git');
  const stat = await fs.stat(gitDir).catch(() => null);
  if (!stat?.isDirectory()) return; // a worktree's .git is a file; its exclude lives elsewhere
  const exclude = path.join(gitDir, 'info', 'exclude');
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

/**
 * Commits everything in the workspace (if anything changed) and pushes the branch to the remote.
 * Idempotent: a retry after a crash finds nothing new to commit and pushes the same head again.
 * Nothing is pushed when the branch has no commits beyond the base.
 *
 * @throws WorkspaceError `push_rejected` (transient: the remote may accept later) or `git_failed`.
 */
export async function commitAndPush(opts: {
  path: string;
  branch: string;
  baseBranch: string;
  message: string;
  identity: GitIdentity;
}): Promise<PushResult> {
  const g = git(opts.path, opts.identity);
  const remote = opts.identity.remote;
  try {
    await g.add(['-A']);
    const staged = await g.diff(['--cached', '--name-only']);
    if (staged.trim()) {
      await g.commit(opts.message, undefined, {
        '--author': `${opts.identity.authorName} <${opts.identity.authorEmail}>`,
      });
    }
  } catch (err) {
    throw gitError(`Committing in ${opts.path} failed`, err);
  }
  const base = `${remote}/${opts.baseBranch}`;
  const ahead = Number((await g.raw(['rev-list', '--count', `${base}..HEAD`])).trim());
  const stat = await diffStat(g, base);
  if (!ahead) return { branch: opts.branch, commit: null, pushed: false, ...stat };
  const head = (await g.revparse(['HEAD'])).trim();
  try {
    await g.push(remote, `${opts.branch}:refs/heads/${opts.branch}`, ['--set-upstream']);
  } catch (err) {
    throw gitError(`git push ${remote} ${opts.branch} was rejected`, err, 'push_rejected');
  }
  return { branch: opts.branch, commit: head, pushed: true, ...stat };
}

async function diffStat(g: SimpleGit, base: string) {
  const diffStat = (await g.raw(['diff', '--stat', `${base}...HEAD`])).trimEnd();
  const summary = await g.diffSummary([`${base}...HEAD`]);
  return { diffStat, filesChanged: summary.changed, insertions: summary.insertions, deletions: summary.deletions };
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
  await runHookBestEffort('before_remove', opts.hooks, dir, opts.env, opts.log);
  await fs.rm(dir, { recursive: true, force: true });
  return true;
}
