/**
 * The local tracker's files: names (`<identifier>.md`, `<identifier>.comments.md`), reading,
 * atomic writes (replace, or create only if absent), the per-file write lock (one writer at a time
 * across Foreman processes), and the `TrackerError`s of file problems.
 */
import { randomBytes } from 'node:crypto';
import type { Stats } from 'node:fs';
import { appendFile, link, open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { TrackerError } from '../../errors.js';
import { withFileLock } from '../../file-lock.js';
import { createSerializer } from '../serialize.js';
import { describeError } from '../shared.js';

/** Extension of an issue file. */
export const ISSUE_EXT = '.md';
/** Extension of a comments file. */
export const COMMENTS_EXT = '.comments.md';

/** Write queue per absolute path, shared by every tracker in this process. */
const inProcess = createSerializer();

/** How long a write waits for another process's lock on the same file, ms. */
const LOCK_TIMEOUT_MS = 30_000;
/** A lock held longer than this is abandoned (a write holds it for milliseconds), ms. */
const LOCK_STALE_MS = 120_000;

/**
 * Runs `fn` (a read-modify-write of `file`) as the only Foreman writer of that file: queued behind
 * this process's other writes of it, then holding `<file>.lock` (src/file-lock.ts) so a second
 * daemon or `foreman run` on the same folder waits too. People editing the file take no lock;
 * `rewriteKeepingAppends` keeps what they append.
 *
 * @throws TrackerError `tracker_request_failed` (retryable) when another process holds the lock for
 *   more than 30 s; rethrows what `fn` throws.
 */
export function withWriteLock<T>(file: string, fn: () => Promise<T>): Promise<T> {
  return inProcess(file, () =>
    withFileLock(`${file}.lock`, fn, {
      timeoutMs: LOCK_TIMEOUT_MS,
      staleMs: LOCK_STALE_MS,
      pollMs: 10,
      timeoutError: (message) => new TrackerError('tracker_request_failed', message, { retryable: true }),
    }),
  );
}

/** The file's text and stats, or null when it does not exist or is not a file. */
export async function readText(file: string): Promise<{ text: string; stats: Stats } | null> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (err) {
    if (errno(err) === 'ENOENT') return null;
    throw err;
  }
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) return null;
    return { text: await handle.readFile('utf8'), stats };
  } finally {
    await handle.close();
  }
}

/**
 * Writes through a temp file in the same folder and a rename, so readers never see half a file.
 *
 * @throws TrackerError `tracker_request_failed` (retryable) when the file cannot be written.
 */
export async function writeAtomic(file: string, text: string): Promise<void> {
  const tmp = tempName(file);
  try {
    let mode = 0o644;
    try {
      mode = (await stat(file)).mode & 0o777;
    } catch {
      // New file: default mode.
    }
    await writeFresh(tmp, text, mode);
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw writeFailed(file, err);
  }
}

/** Creates `target` (exclusively: it must not exist) with `text`, synced to disk, mode `mode`. */
async function writeFresh(target: string, text: string, mode: number): Promise<void> {
  const handle = await open(target, 'wx', mode);
  try {
    await handle.writeFile(text, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** How often `rewriteKeepingAppends` recomputes when the file keeps changing under it. */
const REWRITE_ATTEMPTS = 20;
/**
 * How long the file a rewrite replaced is still watched for appends by writers that opened it
 * before the rename and write afterwards (a shell's `>>` opens, then writes), ms.
 */
export const LATE_APPEND_WINDOW_MS = 5_000;
/** Delays between checks of a replaced file for late appends, ms (the last one repeats). */
const LATE_APPEND_POLL_MS = [1, 5, 10, 25, 50, 100, 250];

/**
 * Rewrites `file` as `compute(current text)` without losing what other writers add meanwhile
 * (a person's editor or `>>` appending an answer while Foreman updates its evidence comment).
 * `compute` gets the text and the file's modification time (RFC 3339) as it was read.
 * A result that only adds to the end (a new comment) is appended, never renamed over the file,
 * so nothing another writer appends can be lost; `appended` is then true. Any other result is a
 * compare-and-swap: the new text replaces the file only if it is still the file that was read (same
 * inode, not shorter), else it is recomputed; bytes appended to the old file after the read are
 * appended to the new one, at once and, for writers that opened the old file before the rename and
 * write later, for `LATE_APPEND_WINDOW_MS` afterwards (in the background).
 * `compute` returning null (or the same text) writes nothing. A file that does not exist is
 * created only if it still does not exist.
 *
 * @returns `{ appended }`: whether the change went in as an append (the file may then hold other
 *   writers' text before it).
 * @throws TrackerError `tracker_request_failed` (retryable) when the file cannot be written or
 *   kept changing for every attempt.
 */
export async function rewriteKeepingAppends(
  file: string,
  compute: (text: string, mtime: string) => string | null,
): Promise<{ appended: boolean }> {
  for (let attempt = 0; attempt < REWRITE_ATTEMPTS; attempt++) {
    const handle = await open(file, 'r').catch((err: unknown) => {
      if (errno(err) === 'ENOENT') return null;
      throw writeFailed(file, err);
    });
    if (handle === null) {
      const next = compute('', new Date().toISOString());
      if (next === null || next === '') return { appended: false };
      if (await writeNewFile(file, next)) return { appended: false };
      continue; // someone created it meanwhile: start over from their text
    }
    let keepOpen = false;
    try {
      const result = await swapIfUnchanged(file, handle, compute);
      if (result === 'replaced') keepOpen = true; // forwardLateAppends closes it
      if (result !== 'changed') return { appended: result === 'appended' };
    } finally {
      if (!keepOpen) await handle.close();
    }
  }
  throw writeFailed(file, new Error(`it kept changing during ${REWRITE_ATTEMPTS} attempts`));
}

/**
 * One round of `rewriteKeepingAppends`: `unchanged` (nothing to write), `appended`, `replaced`
 * (renamed over; the old file's handle now belongs to `forwardLateAppends`), or `changed` (the
 * file was replaced or cut under it: compute again).
 */
async function swapIfUnchanged(
  file: string,
  handle: FileHandle,
  compute: (text: string, mtime: string) => string | null,
): Promise<'unchanged' | 'appended' | 'replaced' | 'changed'> {
  const read = await handle.stat();
  const before = await handle.readFile();
  const text = before.toString('utf8');
  const next = compute(text, read.mtime.toISOString());
  if (next === null || next === text) return 'unchanged';
  if (next.startsWith(text)) {
    // Another writer's append since the read may lack its final newline: start on a fresh line.
    const added = next.slice(text.length);
    await appendFile(file, added.startsWith('\n') ? added : `\n${added}`).catch((err: unknown) => {
      throw writeFailed(file, err);
    });
    return 'appended';
  }
  const tmp = tempName(file);
  try {
    await writeFresh(tmp, next, read.mode & 0o777);
    // Appends since the read are carried over below; anything else (the file replaced or cut by
    // another writer) means computing again from the new text.
    const current = await stat(file).catch(() => null);
    if (current === null || current.ino !== read.ino || current.size < before.length) return 'changed';
    await rename(tmp, file);
  } catch (err) {
    throw writeFailed(file, err);
  } finally {
    await rm(tmp, { force: true });
  }
  forwardLateAppends(file, handle, await carryOver(file, handle, before.length));
  return 'replaced';
}

/**
 * Appends to `file` what the replaced file (open as `old`) holds beyond `from` bytes (another
 * writer's appends since the read). Returns the old file's size.
 */
async function carryOver(file: string, old: FileHandle, from: number): Promise<number> {
  const size = (await old.stat()).size;
  if (size > from) {
    const tail = Buffer.alloc(size - from);
    await old.read(tail, 0, tail.length, from);
    await appendFile(file, tail).catch((err: unknown) => {
      throw writeFailed(file, err);
    });
  }
  return Math.max(size, from);
}

/**
 * Watches the replaced file (`old`, whose first `from` bytes are in `file` already) for
 * `LATE_APPEND_WINDOW_MS` and appends to `file` whatever a writer that opened it before the rename
 * writes into it later, then closes it. Runs in the background; a failure is retried at the next check.
 */
function forwardLateAppends(file: string, old: FileHandle, from: number): void {
  const started = Date.now();
  let copied = from;
  let step = 0;
  const check = (): void => {
    void carryOver(file, old, copied)
      .then(
        (size) => {
          copied = size;
        },
        () => undefined,
      )
      .then(() => {
        if (Date.now() - started < LATE_APPEND_WINDOW_MS) {
          const delay = LATE_APPEND_POLL_MS[Math.min(step++, LATE_APPEND_POLL_MS.length - 1)]!;
          setTimeout(check, delay).unref();
        } else {
          void old.close().catch(() => undefined);
        }
      });
  };
  setTimeout(check, LATE_APPEND_POLL_MS[step++]!).unref();
}

/** A write to the issues folder that failed: retryable, saying what to check. */
function writeFailed(file: string, err: unknown): TrackerError {
  return new TrackerError(
    'tracker_request_failed',
    `Cannot write ${file}: ${describeError(err)}; check the folder's permissions and free space`,
    { cause: err },
  );
}

/**
 * Writes `file` only if it does not exist, atomically: the text goes to a dot-file (which the
 * tracker ignores) and is hard-linked into place, which fails when the name is taken. Returns
 * false when it was taken. Falls back to an exclusive create where hard links are refused.
 *
 * @throws TrackerError `tracker_request_failed` (retryable) when the file cannot be written.
 */
export async function writeNewFile(file: string, text: string): Promise<boolean> {
  const tmp = tempName(file);
  try {
    await writeFresh(tmp, text, 0o644);
    try {
      await link(tmp, file);
      return true;
    } catch (err) {
      const code = errno(err);
      if (code === 'EEXIST') return false;
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'EXDEV') throw err;
    }
    return await createExclusive(file, text);
  } catch (err) {
    throw writeFailed(file, err);
  } finally {
    await rm(tmp, { force: true });
  }
}

/** Creates `file` with `text` unless it exists (false then). */
async function createExclusive(file: string, text: string): Promise<boolean> {
  try {
    await writeFresh(file, text, 0o644);
    return true;
  } catch (err) {
    if (errno(err) === 'EEXIST') return false;
    throw err;
  }
}

/** A dot-file beside `file` for a write in progress (readers and watchers ignore dot-files). */
function tempName(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

/** Identifiers are file names: no separators, no dot-files, never a comments file. */
export function isIdentifier(id: string): boolean {
  return (
    id !== '' &&
    !id.startsWith('.') &&
    !/[/\\\0]/.test(id) &&
    !id.toLowerCase().endsWith(COMMENTS_EXT.slice(0, -ISSUE_EXT.length))
  );
}

/** True for `<identifier>.md` (not a comments file, not a dot-file). */
export function isIssueFileName(name: string): boolean {
  return name.endsWith(ISSUE_EXT) && name.length > ISSUE_EXT.length && isIdentifier(name.slice(0, -ISSUE_EXT.length));
}

/** Issue and comments files matter to watchers; temp files (dot-files) do not. */
export function isWatchedName(name: string): boolean {
  const base = path.basename(name);
  return !base.startsWith('.') && base.toLowerCase().endsWith(ISSUE_EXT);
}

/** The `code` of a Node.js system error, if any. */
export function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/** `issue_file_invalid` (permanent): the file at `file` `what` (a sentence saying what is wrong). */
export function invalid(file: string, what: string): TrackerError {
  return new TrackerError('issue_file_invalid', `Issue file ${file} ${what} (format: specs/trackers/local.md)`, {
    retryable: false,
  });
}

/** `issue_file_unreadable` (retryable): an I/O error reading `file`. */
export function unreadable(file: string, err: unknown): TrackerError {
  return new TrackerError(
    'issue_file_unreadable',
    `Cannot read issue file ${file}: ${describeError(err)}; check its permissions`,
    {
      cause: err,
    },
  );
}

/** `tracker_not_found` (permanent): no `<issueId>.md` in `dir`. */
export function notFound(issueId: string, dir: string): TrackerError {
  return new TrackerError('tracker_not_found', `Issue ${issueId} has no file ${issueId}${ISSUE_EXT} in ${dir}`, {
    retryable: false,
  });
}
