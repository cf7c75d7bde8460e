/**
 * The per-repository cache new workspaces are cloned from (docs/architecture.md, "Scale"): one bare
 * repository per remote URL under `<FOREMAN_HOME>/repo-cache/`, holding the remote's branches
 * (`refs/heads/*`), fetched from the remote when it is made and again when it is older than
 * `CACHE_REFRESH_MS` at a prepare. A new workspace is a local clone of it with `--no-hardlinks`,
 * then its remote URL set back to the real repository; `prepareWorkspace` fetches the real remote
 * right after, so a stale cache costs a smaller fetch, never a stale workspace.
 *
 * Isolation (an agent may write anything in its workspace, `.git` included): the clone copies the
 * object files, so no file of a workspace shares an inode with the cache or with another workspace
 * (a hard link would let a write through one name change every copy), and it has no `alternates`
 * (they would point at FOREMAN_HOME, which the sandbox never binds, and a workspace whose objects
 * live elsewhere could not be read there). The cache is written only by Foreman's git
 * (./git.ts: no hooks, pinned config), under a lock file.
 *
 * Concurrency: making and refreshing a cache hold `<cache>.lock` (src/file-lock.ts), so one process
 * fetches at a time. Clones take no lock: git's local clone reads the refs before it copies the
 * objects, a fetch writes objects before the refs that name them, and nothing removes objects
 * (`gc.auto=0`, `--prune` drops refs only), so a clone during a refresh is complete for the refs it
 * took. Whatever goes wrong with the cache is logged: a refresh that fails leaves it as it was (the
 * workspace's own fetch follows anyway); a cache that cannot be made, or a clone from it that fails
 * (a corrupt cache), means the workspace is cloned from the remote as before, and a cache a clone
 * failed from is removed and made again at the next prepare.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { WorkspaceError } from '../errors.js';
import { withFileLock } from '../file-lock.js';
import type { Logger } from '../logger.js';
import { redactUrls } from '../redact.js';
import { runGit, type GitAuth, type GitPlace } from './git.js';

/** A cache fetched longer ago than this is fetched again before a clone, ms. */
export const CACHE_REFRESH_MS = 60_000;

/** Making a cache of a large repository can take minutes: how long a prepare waits for another's, ms. */
const LOCK_TIMEOUT_MS = 30 * 60_000;

/** The cache directory of `url` under `cacheRoot`: `<readable tail>-<16 hex of sha256(url)>.git`. */
export function cacheDirFor(cacheRoot: string, url: string): string {
  const tail = (url.replace(/\/+$/, '').split(/[/:]/).pop() ?? '')
    .replace(/\.git$/, '')
    .replace(/[^A-Za-z0-9._-]/g, '_');
  const hash = createHash('sha256').update(url).digest('hex').slice(0, 16);
  return path.join(cacheRoot, `${tail.slice(0, 40) || 'repo'}-${hash}.git`);
}

/** Where Foreman's git runs on a cache: its own state directory beside it, the URL given. */
function cachePlace(cacheDir: string, url: string, remote: string): GitPlace {
  return { workTree: cacheDir, stateDir: `${cacheDir}.state`, remote, url };
}

/** The file whose mtime says when the cache was last fetched. */
const stampOf = (cacheDir: string) => `${cacheDir}.state/fetched`;

/** What `cloneFromCache` needs. */
export interface CacheCloneOptions {
  /** Directory holding the caches (`<FOREMAN_HOME>/repo-cache`). */
  cacheRoot: string;
  /** The repository's real URL (absolute path or URL), as the workspace records it. */
  url: string;
  /** The directory to clone into (must not exist). */
  target: string;
  /** The remote's name in the workspace (`origin`). */
  remote: string;
  auth?: GitAuth | undefined;
  log?: Logger | undefined;
  /** The clock, ms. (Default: Date.now) */
  now?: () => number;
}

/**
 * Clones `url` into `target` from its cache, making or refreshing the cache first (see the file
 * comment). The clone's `remote.<remote>.url` is the real URL. Returns false, with `target`
 * removed and a warning logged, when the cache could not be used: the caller then clones from the
 * remote. Never throws for a cache problem.
 */
export async function cloneFromCache(o: CacheCloneOptions): Promise<boolean> {
  const cacheDir = cacheDirFor(o.cacheRoot, o.url);
  try {
    await freshCache(cacheDir, o);
  } catch (err) {
    // A failed refresh (the remote unreachable) leaves the cache as it was: clone from it, the
    // workspace's own fetch says whether the remote answers. A cache that could not be made is none.
    const usable = await looksLikeCache(cacheDir);
    o.log?.warn(
      { cache: cacheDir, err: redactUrls(errorText(err)) },
      usable
        ? 'refreshing the repository cache failed; cloning from it as it is'
        : 'making the repository cache failed; cloning from the remote',
    );
    if (!usable) return false;
  }
  const place = cachePlace(cacheDir, cacheDir, o.remote);
  try {
    await runGit(place, ['clone', '--no-hardlinks', '--origin', o.remote, '--', cacheDir, o.target], {
      cwd: path.dirname(o.target),
      network: true,
    });
    const config = path.join(o.target, '.git', 'config');
    await runGit(place, ['config', '--file', config, `remote.${o.remote}.url`, o.url], { cwd: place.stateDir });
    return true;
  } catch (err) {
    await fs.rm(o.target, { recursive: true, force: true });
    o.log?.warn(
      { cache: cacheDir, err: redactUrls(errorText(err)) },
      'cloning from the repository cache failed (cache removed); cloning from the remote',
    );
    await removeCache(cacheDir).catch(() => undefined);
    return false;
  }
}

/** Makes the cache when missing, fetches it when older than CACHE_REFRESH_MS; under its lock. */
async function freshCache(cacheDir: string, o: CacheCloneOptions): Promise<void> {
  const now = o.now ?? Date.now;
  const fetchedAt = async () => (await fs.stat(stampOf(cacheDir)).catch(() => null))?.mtimeMs ?? null;
  const at = await fetchedAt();
  if (at !== null && now() - at < CACHE_REFRESH_MS && (await looksLikeCache(cacheDir))) return;
  await fs.mkdir(o.cacheRoot, { recursive: true });
  await withFileLock(
    `${cacheDir}.lock`,
    async () => {
      const again = await fetchedAt(); // another process may have fetched while this one waited
      const exists = await looksLikeCache(cacheDir);
      if (exists && again !== null && now() - again < CACHE_REFRESH_MS) return;
      const place = cachePlace(cacheDir, o.url, o.remote);
      if (exists) {
        await runGit(
          place,
          ['--git-dir', cacheDir, 'fetch', '--prune', '--no-tags', '--', o.url, '+refs/heads/*:refs/heads/*'],
          { cwd: cacheDir, network: true, auth: o.auth },
        );
      } else {
        const tmp = `${cacheDir}.making-${process.pid}`;
        await fs.rm(tmp, { recursive: true, force: true });
        await fs.rm(cacheDir, { recursive: true, force: true });
        try {
          await runGit(place, ['clone', '--bare', '--no-hardlinks', '--', o.url, tmp], {
            cwd: o.cacheRoot,
            network: true,
            auth: o.auth,
          });
          await fs.rename(tmp, cacheDir);
        } finally {
          await fs.rm(tmp, { recursive: true, force: true });
        }
        o.log?.info({ cache: cacheDir }, 'repository cache made');
      }
      await fs.mkdir(path.dirname(stampOf(cacheDir)), { recursive: true });
      await fs.writeFile(stampOf(cacheDir), `${new Date(now()).toISOString()}\n`);
    },
    {
      timeoutMs: LOCK_TIMEOUT_MS,
      pollMs: 50,
      timeoutError: (message) => new WorkspaceError('git_failed', message),
    },
  );
}

/** A bare repository's minimum: `HEAD`, `objects/`, `refs/` (a cache cut short has not all three). */
async function looksLikeCache(cacheDir: string): Promise<boolean> {
  const [head, objects, refs] = await Promise.all(
    ['HEAD', 'objects', 'refs'].map((p) => fs.lstat(path.join(cacheDir, p)).catch(() => null)),
  );
  return !!head?.isFile() && !!objects?.isDirectory() && !!refs?.isDirectory();
}

/** Removes a cache that failed, under its lock, so the next prepare makes it again. */
async function removeCache(cacheDir: string): Promise<void> {
  await withFileLock(
    `${cacheDir}.lock`,
    async () => {
      await fs.rm(stampOf(cacheDir), { force: true });
      await fs.rm(cacheDir, { recursive: true, force: true });
    },
    { timeoutMs: LOCK_TIMEOUT_MS, pollMs: 50, timeoutError: (message) => new WorkspaceError('git_failed', message) },
  );
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
