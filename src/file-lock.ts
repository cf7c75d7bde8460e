/**
 * A small cross-process lock file: `withFileLock` runs a function while holding `<path>` (created
 * exclusively, holding the holder's pid, host and start time), and breaks a lock whose holder is
 * gone. Used where two processes must not do one thing at once: building the Temporal CLI, starting
 * the dev server, writing a local-tracker file (src/trackers/local/files.ts). The daemon lock
 * (src/daemon-lock.ts) shares `pidAlive` and `breakLock`.
 */
import { link, mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** Options of {@link withFileLock}. */
export interface FileLockOptions {
  /** Give up waiting for the lock after this many ms. (Default: 600000) */
  timeoutMs?: number;
  /** A lock older than this many ms is taken to be abandoned even if its pid is alive (pid reuse). (Default: 3600000) */
  staleMs?: number;
  /** Poll interval while waiting, in ms. (Default: 250) */
  pollMs?: number;
  /**
   * Called when the lock is found held by someone else, then again every `remindMs` while waiting,
   * with the holder's pid (or null if unknown) and the ms waited so far (0 the first time).
   */
  onWait?: (holderPid: number | null, waitedMs: number) => void;
  /** Interval of the `onWait` reminders while waiting, in ms: a waiting start says so (Default: 30000). */
  remindMs?: number;
  /** The error thrown when the lock is not acquired within `timeoutMs`, given the message. */
  timeoutError: (message: string) => Error;
}

interface LockContent {
  pid: number;
  host: string;
  createdAt: number;
}

/** True when a process with this pid exists (EPERM means it exists but is not ours). */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Runs `fn` while holding an exclusive lock file at `lockPath` (created with `open(…, 'wx')`,
 * holding `{pid, host, createdAt}`), then removes it. A lock whose pid is dead on this host, that
 * is older than `staleMs`, or that stayed unreadable for 10 s is treated as abandoned and broken.
 *
 * Throws `opts.timeoutError(message)` when the lock is not acquired within `timeoutMs` (the
 * message names the lock file to delete if its holder is gone); rethrows what `fn` throws.
 */
export async function withFileLock<T>(lockPath: string, fn: () => Promise<T>, opts: FileLockOptions): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 600_000;
  const staleMs = opts.staleMs ?? 3_600_000;
  const pollMs = opts.pollMs ?? 250;
  const deadline = Date.now() + timeoutMs;
  const mine: LockContent = { pid: process.pid, host: hostname(), createdAt: Date.now() };
  const remindMs = opts.remindMs ?? 30_000;
  const waitStart = Date.now();
  let announcedAt: number | null = null;
  await mkdir(dirname(lockPath), { recursive: true });
  for (;;) {
    try {
      const fh = await open(lockPath, 'wx');
      try {
        await fh.writeFile(JSON.stringify(mine));
      } finally {
        await fh.close();
      }
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = await readLock(lockPath);
    if (holder.state === 'stale') {
      await breakLock(lockPath, holder.raw);
      continue;
    }
    if (holder.state === 'gone') continue;
    if (announcedAt === null || Date.now() - announcedAt >= remindMs) {
      const first = announcedAt === null;
      announcedAt = Date.now();
      opts.onWait?.(holder.content?.pid ?? null, first ? 0 : announcedAt - waitStart);
    }
    if (Date.now() > deadline) {
      throw opts.timeoutError(
        `Timed out after ${timeoutMs} ms waiting for the lock ${lockPath} (held by pid ${holder.content?.pid ?? '?'}). ` +
          'If no Foreman process is running, delete that file.',
      );
    }
    await sleep(pollMs);
  }
  try {
    return await fn();
  } finally {
    await unlink(lockPath).catch(() => {});
  }

  async function readLock(
    path: string,
  ): Promise<{ state: 'held' | 'stale' | 'gone'; raw?: string; content?: LockContent }> {
    let raw: string;
    let mtimeMs: number;
    try {
      raw = await readFile(path, 'utf8');
      mtimeMs = (await stat(path)).mtimeMs;
    } catch {
      return { state: 'gone' };
    }
    let content: LockContent | undefined;
    try {
      content = JSON.parse(raw) as LockContent;
    } catch {
      // Being written right now, or left half-written by a crash: give the writer 10 s.
      return { state: Date.now() - mtimeMs > 10_000 ? 'stale' : 'held', raw };
    }
    const dead = content.host === hostname() && !pidAlive(content.pid);
    const old = Date.now() - (content.createdAt ?? mtimeMs) > staleMs;
    return { state: dead || old ? 'stale' : 'held', raw, content };
  }
}

/**
 * Removes an abandoned lock without removing a fresh one that replaced it in the meantime: move it
 * aside atomically, check it is the one judged stale, and put it back if it is not.
 */
export async function breakLock(lockPath: string, staleRaw: string | undefined): Promise<void> {
  const aside = `${lockPath}.stale-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    await rename(lockPath, aside);
  } catch {
    return;
  }
  const raw = await readFile(aside, 'utf8').catch(() => undefined);
  if (raw !== staleRaw) await link(aside, lockPath).catch(() => {});
  await unlink(aside).catch(() => {});
}
