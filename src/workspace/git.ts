/**
 * The one place Foreman runs its own git (clone, fetch, commit, push, diff, status) in an issue's
 * workspace. The workspace's `.git` is writable by the agent, so every invocation here assumes it
 * was tampered with (docs/architecture.md, Boundaries, "Foreman owns git"):
 *
 * - **No hooks, no helpers.** `-c` pins `core.hooksPath` (an empty directory Foreman owns),
 *   `core.fsmonitor=false`, `credential.helper=`, `core.sshCommand=ssh`,
 *   `remote.<r>.uploadpack`/`receivepack`, no signing, no pager, no submodule recursion, no
 *   auto-gc; every diff adds `--no-ext-diff --no-textconv` (an empty `-c diff.external=` makes
 *   git try to run "", so the flag is the pin). System and global config are off
 *   (`GIT_CONFIG_NOSYSTEM=1`, `GIT_CONFIG_GLOBAL=/dev/null`).
 * - **Repository config is Foreman's.** Filter drivers (`filter.<x>.process/clean/smudge`),
 *   diff drivers, `url.<x>.insteadOf`, `include.path`, `core.gitProxy`… cannot all be pinned with
 *   `-c` (their names are not known in advance), so before each of Foreman's git steps
 *   `sanitizeRepoConfig` rewrites `.git/config` down to an allowlist (repository format, remote
 *   url/fetch, branch tracking). What the agent added there is dropped.
 * - **No discovery.** `GIT_DIR`/`GIT_WORK_TREE` are set explicitly; a `.git` that is a symlink, a
 *   file, or has `commondir` is refused (`git_unsafe`).
 * - **Only the recorded remote.** Network steps use the URL Foreman recorded when it created the
 *   workspace (./workspace.ts), never `remote.<r>.url` read later; `protocol.allow=never` plus
 *   `protocol.<scheme>.allow=always` for that URL's scheme alone.
 * - **A minimal environment.** PATH, an empty HOME, `LC_ALL=C`; the push credential (SSH agent
 *   socket, an HTTPS token as an extra header scoped to the remote URL) only for fetch/push/clone.
 *
 * Residual: a process the agent left running could rewrite `.git/config` between the sanitizing
 * and git's read of it; the sandbox (src/sandbox/) ends the agent's processes with its command.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { WorkspaceError } from '../errors.js';
import { redactUrls } from '../redact.js';

/** Credentials for network steps only. */
export interface GitAuth {
  /** HTTPS token, sent as `Authorization: Basic x-access-token:<token>` to the remote URL only. */
  token?: string | undefined;
  /** `SSH_AUTH_SOCK` for an SSH remote. */
  sshAuthSock?: string | undefined;
}

/** Where Foreman's git runs and what it may reach. */
export interface GitPlace {
  /** The work tree (absolute). */
  workTree: string;
  /** Foreman's own directory for this workspace (empty hooks dir, empty HOME, temp indexes). */
  stateDir: string;
  /** Remote name (`origin`), for the pinned upload/receive-pack keys. */
  remote: string;
  /** The recorded remote URL (network steps use it, never the config's). */
  url: string;
}

/** Options of one git run. */
export interface GitRunOptions {
  /** Network step (fetch, push, clone, ls-remote): adds the credential and the protocol allowance. */
  auth?: GitAuth | undefined;
  network?: boolean;
  /** A Foreman-owned index file instead of `.git/index`. */
  indexFile?: string;
  /** Author and committer for `commit-tree`. */
  identity?: { name: string; email: string };
  /** Run without GIT_DIR/GIT_WORK_TREE (clone), in this directory. */
  cwd?: string;
  /** Exit codes besides 0 that still return stdout (e.g. 1: `merge-tree` found conflicts). */
  okExitCodes?: number[];
  /** Time limit in ms; git is killed (SIGTERM) and the run fails with `git_failed` after it. (Default: none) */
  timeoutMs?: number;
  /** Written to git's stdin (e.g. `update-ref --stdin`). (Default: none, stdin closed) */
  input?: string;
}

/**
 * The credentials of Foreman's network git steps under a policy: `scm.github.token`, else env
 * GITHUB_TOKEN, for https remotes; env SSH_AUTH_SOCK for ssh ones.
 */
export function gitAuthFor(
  policy: { scm: { github: { token?: string | undefined } } },
  env: NodeJS.ProcessEnv,
): GitAuth {
  const token = policy.scm.github.token ?? env.GITHUB_TOKEN;
  return { token: token || undefined, sshAuthSock: env.SSH_AUTH_SOCK || undefined };
}

/** Transports Foreman's network steps may use. */
const ALLOWED_SCHEMES = new Set(['file', 'ssh', 'https', 'http']);

/** Longest output read from one git run, bytes. */
const MAX_OUTPUT = 256 * 1024 * 1024;

/** The scheme git will use for `url`: `file`, `ssh` (scp-like too), `https`… or `other` (`x::y` helpers). */
export function urlScheme(url: string): string {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(url);
  if (m) {
    const scheme = m[1]!.toLowerCase();
    return scheme === 'git+ssh' || scheme === 'ssh+git' ? 'ssh' : scheme;
  }
  if (url.includes('::')) return 'other';
  if (/^([^@/:]+@)?[^/:]+:/.test(url) && !/^[A-Za-z]:[\\/]/.test(url)) return 'ssh';
  return 'file';
}

/** Foreman's empty hooks directory and HOME under `stateDir`, created when missing. */
async function ensureState(stateDir: string): Promise<{ hooks: string; home: string }> {
  const hooks = path.join(stateDir, 'hooks');
  const home = path.join(stateDir, 'home');
  await fs.mkdir(hooks, { recursive: true });
  await fs.mkdir(home, { recursive: true });
  return { hooks, home };
}

/** The `-c` pins every run gets. */
function pins(hooks: string, remote: string, scheme: string | null): string[] {
  const c = [
    `core.hooksPath=${hooks}`,
    'core.fsmonitor=false',
    'core.untrackedCache=false',
    'core.pager=cat',
    'core.askPass=',
    'core.sshCommand=ssh',
    'core.attributesFile=/dev/null',
    'core.excludesFile=/dev/null',
    'credential.helper=',
    'diff.ignoreSubmodules=dirty',
    'commit.gpgSign=false',
    'tag.gpgSign=false',
    'push.gpgSign=false',
    'submodule.recurse=false',
    'fetch.recurseSubmodules=false',
    'push.recurseSubmodules=no',
    'status.submoduleSummary=false',
    'gc.auto=0',
    'maintenance.auto=false',
    'protocol.allow=never',
    `remote.${remote}.uploadpack=git-upload-pack`,
    `remote.${remote}.receivepack=git-receive-pack`,
  ];
  if (scheme && scheme !== 'other') c.push(`protocol.${scheme}.allow=always`);
  return c.flatMap((kv) => ['-c', kv]);
}

/** The environment of one run: nothing from the daemon but PATH, and the credential for network steps. */
function gitEnv(place: GitPlace, home: string, o: GitRunOptions): Record<string, string> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    XDG_CONFIG_HOME: home,
    LC_ALL: 'C',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_TERMINAL_PROMPT: '0',
    GIT_OPTIONAL_LOCKS: '0',
  };
  if (!o.cwd) {
    env.GIT_DIR = path.join(place.workTree, '.git');
    env.GIT_WORK_TREE = place.workTree;
  }
  if (o.indexFile) env.GIT_INDEX_FILE = o.indexFile;
  if (o.identity) {
    env.GIT_AUTHOR_NAME = env.GIT_COMMITTER_NAME = o.identity.name;
    env.GIT_AUTHOR_EMAIL = env.GIT_COMMITTER_EMAIL = o.identity.email;
  }
  if (o.network && o.auth?.sshAuthSock) env.SSH_AUTH_SOCK = o.auth.sshAuthSock;
  if (o.network && o.auth?.token && /^https?:\/\//i.test(place.url)) {
    const basic = Buffer.from(`x-access-token:${o.auth.token}`).toString('base64');
    env.GIT_CONFIG_COUNT = '1';
    env.GIT_CONFIG_KEY_0 = `http.${place.url}.extraHeader`;
    env.GIT_CONFIG_VALUE_0 = `Authorization: Basic ${basic}`;
  }
  return env;
}

/**
 * Runs `git <args>` for Foreman under the rules above; returns stdout.
 * @throws WorkspaceError `git_failed` (message redacted of URL credentials) with git's stderr.
 */
export async function runGit(place: GitPlace, args: string[], o: GitRunOptions = {}): Promise<string> {
  const { hooks, home } = await ensureState(place.stateDir);
  const scheme = o.network ? urlScheme(place.url) : null;
  if (scheme !== null && !ALLOWED_SCHEMES.has(scheme)) {
    throw new WorkspaceError(
      'git_unsafe',
      redactUrls(
        `The remote URL ${place.url || '(none recorded)'} is not a file, ssh or http(s) URL; Foreman will not use it.`,
      ),
      { retryable: false },
    );
  }
  const argv = [...pins(hooks, place.remote, scheme), ...args];
  return new Promise((resolve, reject) => {
    const child = execFile(
      'git',
      argv,
      {
        cwd: o.cwd ?? place.workTree,
        env: gitEnv(place, home, o),
        maxBuffer: MAX_OUTPUT,
        encoding: 'utf8',
        ...(o.timeoutMs ? { timeout: o.timeoutMs } : {}),
      },
      (err, stdout, stderr) => {
        if (!err || (typeof err.code === 'number' && o.okExitCodes?.includes(err.code))) return resolve(stdout);
        const what = `git ${args.slice(0, 2).join(' ')}`;
        const why = err.killed && o.timeoutMs ? `no answer within ${o.timeoutMs} ms` : (stderr || err.message).trim();
        reject(
          new WorkspaceError('git_failed', redactUrls(`${what} failed: ${why}`), {
            cause: err,
          }),
        );
      },
    );
    child.stdin?.on('error', () => undefined); // git exiting early: its exit code says what happened
    child.stdin?.end(o.input ?? '');
  });
}

/** Config keys kept in a workspace's `.git/config`; everything else is dropped. */
const KEPT_KEYS = [
  /^core\.(repositoryformatversion|filemode|bare|logallrefupdates|ignorecase|precomposeunicode|symlinks)$/,
  /^extensions\.(objectformat|refstorage)$/,
  /^remote\.[^\n]+\.(url|fetch)$/,
  /^branch\.[^\n]+\.(remote|merge)$/,
];

function quote(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n').replace(/\t/g, '\\t')}"`;
}

/** Renders `key=value` entries (keys as `git config --list` prints them) as an ini file. */
function renderConfig(entries: [string, string][]): string {
  const groups = new Map<string, string[]>();
  for (const [key, value] of entries) {
    const first = key.indexOf('.');
    const last = key.lastIndexOf('.');
    const section = key.slice(0, first);
    const sub = first === last ? null : key.slice(first + 1, last);
    const header = sub === null ? `[${section}]` : `[${section} ${quote(sub)}]`;
    const lines = groups.get(header) ?? [];
    lines.push(`\t${key.slice(last + 1)} = ${quote(value)}`);
    groups.set(header, lines);
  }
  return [...groups].map(([h, lines]) => `${h}\n${lines.join('\n')}\n`).join('');
}

/**
 * Checks that `<workTree>/.git` is a plain directory (not a symlink, not a `gitdir:` file, no
 * `commondir`), then rewrites its `config` down to the allowlist (KEPT_KEYS) and removes
 * `config.worktree`. `tracking` also sets `branch.<branch>.remote` and `.merge` (the agent's view
 * of the branch's upstream) in the same write. Idempotent.
 * @throws WorkspaceError `git_unsafe` (permanent) when `.git` is not a plain directory.
 */
export async function sanitizeRepoConfig(place: GitPlace, tracking?: { branch: string }): Promise<void> {
  const gitDir = path.join(place.workTree, '.git');
  const st = await fs.lstat(gitDir).catch(() => null);
  const commondir = await fs.lstat(path.join(gitDir, 'commondir')).catch(() => null);
  if (!st?.isDirectory() || commondir) {
    throw new WorkspaceError(
      'git_unsafe',
      `${gitDir} is not a plain .git directory (a symlink, a gitdir file, or a linked worktree); Foreman refuses to run git there.`,
      { retryable: false },
    );
  }
  const file = path.join(gitDir, 'config');
  const out = await runGit(place, ['config', '--file', file, '--list', '-z'], { cwd: place.stateDir }).catch(() => '');
  const entries = out
    .split('\0')
    .filter((e) => e !== '')
    .map((e): [string, string] => {
      const nl = e.indexOf('\n');
      return nl < 0 ? [e, 'true'] : [e.slice(0, nl), e.slice(nl + 1)];
    })
    .filter(([k]) => KEPT_KEYS.some((re) => re.test(k)));
  if (tracking) {
    const keys = [`branch.${tracking.branch}.remote`, `branch.${tracking.branch}.merge`];
    const kept = entries.filter(([k]) => !keys.includes(k));
    kept.push([keys[0]!, place.remote], [keys[1]!, `refs/heads/${tracking.branch}`]);
    entries.splice(0, entries.length, ...kept);
  }
  const next = renderConfig(entries);
  const current = await fs.readFile(file, 'utf8').catch(() => null);
  if (current !== next) {
    const tmp = path.join(gitDir, `config.foreman-${process.pid}`);
    await fs.writeFile(tmp, next);
    await fs.rename(tmp, file);
  }
  await fs.rm(path.join(gitDir, 'config.worktree'), { force: true });
}

/** Foreman's state directory of the workspace at `workTree`: `<root>/.foreman-git/<key>` (outside the workspace). */
export function gitStateDir(workTree: string): string {
  return path.join(path.dirname(workTree), '.foreman-git', path.basename(workTree));
}

/** What Foreman recorded about a workspace's remote when it made the workspace. */
interface RemoteRecord {
  url: string;
}

/** Records the remote URL Foreman's network steps use for the workspace whose state is `stateDir`. */
export async function recordRemoteUrl(stateDir: string, url: string): Promise<void> {
  await fs.mkdir(stateDir, { recursive: true });
  const record: RemoteRecord = { url };
  const file = path.join(stateDir, 'remote.json');
  await fs.writeFile(`${file}.tmp`, `${JSON.stringify(record)}\n`);
  await fs.rename(`${file}.tmp`, file);
}

/** The remote URL recorded for the workspace at `workTree`, or null when none was recorded. */
export async function recordedRemoteUrl(workTree: string): Promise<string | null> {
  const text = await fs.readFile(path.join(gitStateDir(workTree), 'remote.json'), 'utf8').catch(() => null);
  if (text === null) return null;
  try {
    const url = (JSON.parse(text) as Partial<RemoteRecord>).url;
    return typeof url === 'string' && url !== '' ? url : null;
  } catch {
    return null;
  }
}

/**
 * Records `commit` as the workspace's synced head: the commit of the issue branch the work tree
 * was last checked out, rebased or pushed at. Foreman's next commit is made on it, so a push after
 * someone else pushed to the branch is refused as non-fast-forward instead of silently reverting
 * their commits (./rebase.ts). Kept beside the remote record, outside the agent's reach.
 */
export async function recordSyncedHead(stateDir: string, commit: string): Promise<void> {
  await fs.mkdir(stateDir, { recursive: true });
  const file = path.join(stateDir, 'synced-head.json');
  await fs.writeFile(`${file}.tmp`, `${JSON.stringify({ commit })}\n`);
  await fs.rename(`${file}.tmp`, file);
}

/** The synced head recorded for the workspace whose state is `stateDir`, or null (none, or unreadable). */
export async function recordedSyncedHead(stateDir: string): Promise<string | null> {
  const text = await fs.readFile(path.join(stateDir, 'synced-head.json'), 'utf8').catch(() => null);
  if (text === null) return null;
  try {
    const commit = (JSON.parse(text) as { commit?: unknown }).commit;
    return typeof commit === 'string' && /^[0-9a-f]{40,64}$/.test(commit) ? commit : null;
  } catch {
    return null;
  }
}

/**
 * Where Foreman's git runs for the workspace at `workTree`, with the recorded remote URL (empty
 * when none was recorded: local steps need none).
 */
export async function gitPlace(workTree: string, remote: string): Promise<GitPlace> {
  return { workTree, stateDir: gitStateDir(workTree), remote, url: (await recordedRemoteUrl(workTree)) ?? '' };
}

/** The full sha `ref` names as a commit, or null when it names none. */
export async function resolveCommit(place: GitPlace, ref: string): Promise<string | null> {
  const out = await runGit(place, ['rev-parse', '--verify', '--quiet', '--end-of-options', `${ref}^{commit}`]).catch(
    () => '',
  );
  return out.trim() || null;
}

/**
 * True when git's push output says the remote refused the update as non-fast-forward (the branch
 * has commits the pushed head lacks: `! [rejected] … (non-fast-forward)` or `(fetch first)`), as
 * opposed to a network failure or a hook that declined (`[remote rejected]`).
 */
export function isNonFastForward(pushOutput: string): boolean {
  return /^\s*!\s+\[rejected\][^\n]*\((non-fast-forward|fetch first)\)/m.test(pushOutput);
}

/** What `git merge-tree --write-tree --name-only --no-messages -z` printed. */
export interface MergeTreeResult {
  /** The merged tree's sha; with conflicts, a tree whose conflicted files carry conflict markers. */
  tree: string;
  /** Paths with conflicts, each once, in git's order; empty when the merge is clean. */
  conflicts: string[];
}

/**
 * Parses the output of `git merge-tree --write-tree --name-only --no-messages -z` (git ≥ 2.38):
 * the tree sha, then each conflicted path, NUL-terminated.
 * @throws WorkspaceError `git_failed` when the output does not start with a tree sha.
 */
export function parseMergeTree(out: string): MergeTreeResult {
  const [tree = '', ...rest] = out.split('\0');
  if (!/^[0-9a-f]{40,64}$/.test(tree)) {
    throw new WorkspaceError('git_failed', `git merge-tree printed no tree: ${JSON.stringify(out.slice(0, 200))}`);
  }
  return { tree, conflicts: [...new Set(rest.filter((p) => p !== ''))] };
}

/** Foreman's own directory names: never part of the change Foreman commits or checks. */
export const FOREMAN_DIR = '.foreman';

/**
 * `tree` with `.foreman/` left out, as Foreman commits and checks out trees (a `.foreman/` someone
 * committed on the remote never reaches the workspace's copy of the spec or the QA checks).
 * Returns the new tree's sha (`tree` itself when it has no `.foreman/`).
 * @throws WorkspaceError `git_failed`.
 */
export async function withoutForemanDir(place: GitPlace, tree: string): Promise<string> {
  const indexFile = path.join(
    place.stateDir,
    `index-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`,
  );
  try {
    await runGit(place, ['read-tree', tree], { indexFile });
    await runGit(place, ['rm', '-r', '-q', '-f', '--cached', '--ignore-unmatch', '--', FOREMAN_DIR], { indexFile });
    return (await runGit(place, ['write-tree'], { indexFile })).trim();
  } finally {
    await fs.rm(indexFile, { force: true });
    await fs.rm(`${indexFile}.lock`, { force: true });
  }
}

/**
 * The tree Foreman would commit: `base` plus the work tree as it is (new files that are not
 * ignored, changes, deletions), `.foreman/` left out, whatever the agent did to `.git/index`
 * (skip-worktree, assume-unchanged, `git add -f`) or committed. Built in a Foreman-owned index
 * file, so the contract check, the review diff and the commit all see the same tree. Returns the
 * tree's sha. Runs `sanitizeRepoConfig` first, unless told it ran (`opts.sanitized`: the caller just did,
 * in the same activity, with no agent command in between).
 * @throws WorkspaceError `git_unsafe`, `git_failed`.
 */
export async function stageWorkTree(
  place: GitPlace,
  base: string,
  opts: { sanitized?: boolean } = {},
): Promise<string> {
  if (!opts.sanitized) await sanitizeRepoConfig(place);
  const indexFile = path.join(
    place.stateDir,
    `index-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`,
  );
  const o = { indexFile };
  try {
    await runGit(place, ['read-tree', base], o);
    await runGit(place, ['add', '-A', '--', '.'], o);
    await runGit(place, ['rm', '-r', '-q', '--cached', '--ignore-unmatch', '--', FOREMAN_DIR], o);
    return (await runGit(place, ['write-tree'], o)).trim();
  } finally {
    await fs.rm(indexFile, { force: true });
    await fs.rm(`${indexFile}.lock`, { force: true });
  }
}
