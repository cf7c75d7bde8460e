/**
 * Parses of the local tracker's files kept between reads, so a dispatcher tick over 10,000 issue
 * files (or thousands of parked runs' comments files) reads and parses only the files that changed
 * (docs/architecture.md, "Scale"). One mechanism, `createStatCache`, serves the issue files
 * (`createIssueCache`) and the comments files (`createCommentsCache`).
 *
 * A cached parse is used while the file's stat is unchanged: device, inode, size, mtime and ctime.
 * ctime cannot be set by a writer (`touch -d` and editors that restore the mtime still move it), and
 * a replaced file (an editor's rename, Foreman's atomic write) has a new inode. What a stat cannot
 * see is a second write within one timestamp tick of the first that keeps the size; so a parse is
 * kept only when it was read at least `settleMs` after the file's last mtime/ctime: any later write
 * then happens at least that long after the previous one and gets a new timestamp. A file written
 * within the last `settleMs` is read again at every read until it settles.
 */
import { stat } from 'node:fs/promises';
import type { CommentKey } from '../marker.js';
import type { IssueComment } from '../types.js';
import { parseComments, toComment } from './comments.js';
import { readText } from './files.js';
import { loadIssueFile, type Loaded } from './parse.js';

/** How long after its last change a file's parse may be kept, ms: above every file system's timestamp granularity (FAT: 2 s). */
export const SETTLE_MS = 3000;

/** Options of `createIssueCache` and `createCommentsCache`. */
export interface IssueCacheOptions {
  /** See SETTLE_MS. (Default: SETTLE_MS) */
  settleMs?: number;
  /** The clock, epoch ms, the same clock file timestamps come from. (Default: Date.now) */
  now?: () => number;
}

/** A cache of parsed files, keyed by path and checked against the file's stat (see the file comment). */
export interface StatCache<T> {
  /** The file's parse: the kept one when its stat is unchanged, else read now (see the file comment). */
  load(file: string): Promise<T>;
  /** Drops the entries of files not in `files` (deleted or renamed since). */
  retain(files: ReadonlySet<string>): void;
  /** How many files were read and parsed so far (for tests and benchmarks). */
  reads(): number;
}

/** A cache of parsed issue files. */
export type IssueCache = StatCache<Loaded>;

/**
 * Creates an empty stat-keyed cache over `read` (one per tracker and file kind; entries are plain
 * parses, shared with no one else, never to be mutated by callers).
 * @param read Reads and parses one file; called uncached when the path is missing or not a file.
 * @param keep Whether a parse may be kept (e.g. not a transient I/O error). (Default: always)
 * @throws whatever `read` throws (nothing is cached then).
 */
export function createStatCache<T>(
  read: (file: string) => Promise<T>,
  opts: IssueCacheOptions & { keep?: (parsed: T) => boolean } = {},
): StatCache<T> {
  const settleMs = opts.settleMs ?? SETTLE_MS;
  const now = opts.now ?? Date.now;
  const keep = opts.keep ?? (() => true);
  const entries = new Map<string, { signature: string; parsed: T }>();
  let reads = 0;
  return {
    async load(file) {
      const startedAt = now();
      const st = await stat(file).catch(() => null);
      if (st === null || !st.isFile()) {
        // Missing, or not readable as a file: `read` says which, without caching.
        entries.delete(file);
        reads++;
        return read(file);
      }
      const signature = `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
      const hit = entries.get(file);
      if (hit && hit.signature === signature) return hit.parsed;
      reads++;
      entries.delete(file);
      const parsed = await read(file);
      const settled = startedAt - Math.max(st.mtimeMs, st.ctimeMs) >= settleMs;
      if (settled && keep(parsed)) entries.set(file, { signature, parsed });
      return parsed;
    },
    retain(files) {
      for (const file of entries.keys()) if (!files.has(file)) entries.delete(file);
    },
    reads: () => reads,
  };
}

/** Creates an empty cache of parsed issue files (./parse.ts); never throws for a missing or broken file. */
export function createIssueCache(opts: IssueCacheOptions = {}): IssueCache {
  return createStatCache(loadIssueFile, {
    ...opts,
    keep: (loaded) =>
      loaded.kind !== 'missing' && !(loaded.kind === 'invalid' && loaded.error.code === 'issue_file_unreadable'),
  });
}

/** A cache of parsed comments files: every comment of the file, oldest first; [] when there is no file. */
export type CommentsCache = StatCache<readonly IssueComment[]>;

/**
 * Creates an empty cache of parsed comments files (`<identifier>.comments.md`, ./comments.ts):
 * an unchanged file is neither read nor parsed again (docs/architecture.md, "What the dispatcher reads").
 * @param issueIdOf The issue id a comments file belongs to (comment ids are derived from it).
 * @param commentKey Checks Foreman's markers (src/trackers/marker.ts).
 * @throws I/O errors of reading a file other than "missing" (nothing is cached then).
 */
export function createCommentsCache(
  issueIdOf: (file: string) => string,
  commentKey: CommentKey,
  opts: IssueCacheOptions = {},
): CommentsCache {
  return createStatCache(async (file) => {
    const read = await readText(file);
    if (read === null) return [];
    const issueId = issueIdOf(file);
    const blocks = parseComments(read.text, read.stats.mtime.toISOString(), commentKey);
    // Frozen: the same comments are handed to every later caller while the file is unchanged.
    return Object.freeze(blocks.map((c, i) => Object.freeze(toComment(issueId, c, i))));
  }, opts);
}
