/**
 * Parsed issue files kept between listings of the local tracker, so a dispatcher tick over 10,000
 * issue files reads and parses only the files that changed (docs/architecture.md, "Scale").
 *
 * A cached parse is used while the file's stat is unchanged: device, inode, size, mtime and ctime.
 * ctime cannot be set by a writer (`touch -d` and editors that restore the mtime still move it), and
 * a replaced file (an editor's rename, Foreman's atomic write) has a new inode. What a stat cannot
 * see is a second write within one timestamp tick of the first that keeps the size; so a parse is
 * kept only when it was read at least `settleMs` after the file's last mtime/ctime: any later write
 * then happens at least that long after the previous one and gets a new timestamp. A file written
 * within the last `settleMs` is read again at every listing until it settles.
 */
import { stat } from 'node:fs/promises';
import { loadIssueFile, type Loaded } from './parse.js';

/** How long after its last change a file's parse may be kept, ms: above every file system's timestamp granularity (FAT: 2 s). */
export const SETTLE_MS = 3000;

/** Options of `createIssueCache`. */
export interface IssueCacheOptions {
  /** See SETTLE_MS. (Default: SETTLE_MS) */
  settleMs?: number;
  /** The clock, epoch ms, the same clock file timestamps come from. (Default: Date.now) */
  now?: () => number;
}

/** A cache of parsed issue files. */
export interface IssueCache {
  /** The file's parse: the kept one when its stat is unchanged, else read now (see the file comment). Never throws for a missing or broken file. */
  load(file: string): Promise<Loaded>;
  /** Drops the entries of files not in `files` (deleted or renamed since). */
  retain(files: ReadonlySet<string>): void;
  /** How many files were read and parsed so far (for tests and benchmarks). */
  reads(): number;
}

/** Creates an empty cache (one per tracker; entries are plain parses, shared with no one else). */
export function createIssueCache(opts: IssueCacheOptions = {}): IssueCache {
  const settleMs = opts.settleMs ?? SETTLE_MS;
  const now = opts.now ?? Date.now;
  const entries = new Map<string, { signature: string; loaded: Loaded }>();
  let reads = 0;
  return {
    async load(file) {
      const startedAt = now();
      const st = await stat(file).catch(() => null);
      if (st === null || !st.isFile()) {
        // Missing, or not readable as a file: loadIssueFile says which, without caching.
        entries.delete(file);
        reads++;
        return loadIssueFile(file);
      }
      const signature = `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
      const hit = entries.get(file);
      if (hit && hit.signature === signature) return hit.loaded;
      reads++;
      const loaded = await loadIssueFile(file);
      const settled = startedAt - Math.max(st.mtimeMs, st.ctimeMs) >= settleMs;
      const transient = loaded.kind === 'invalid' && loaded.error.code === 'issue_file_unreadable';
      if (settled && loaded.kind !== 'missing' && !transient) entries.set(file, { signature, loaded });
      else entries.delete(file);
      return loaded;
    },
    retain(files) {
      for (const file of entries.keys()) if (!files.has(file)) entries.delete(file);
    },
    reads: () => reads,
  };
}
