/**
 * Runs the `search` tool's walk and regex matching on a worker thread with a wall-clock limit.
 * The pattern comes from the model, and a pattern with catastrophic backtracking (`(a+)+$` on a
 * long line of `a`s) never yields: run on the main thread it would freeze every activity of the
 * Temporal worker. On its own thread it can be stopped with `worker.terminate()`.
 *
 * Owns the walk (sorted, no symlinks, skipped directories, size and binary checks; each file is
 * opened O_NOFOLLOW|O_NONBLOCK and read only if its descriptor is a regular file inside the root) and the
 * "file:line: text" match lines. It does not check paths against the workspace (the caller passes
 * an already resolved start inside it) nor format the tool result (src/agents/tools.ts).
 */
import { Worker } from 'node:worker_threads';

/** What to search and the caps that apply. */
export interface SearchRequest {
  /** realpath of the workspace root; match lines name files relative to it, with `/`. */
  root: string;
  /** Resolved file or directory to search, inside `root`. */
  start: string;
  /** JavaScript regular expression source (case-sensitive, no flags); the caller has compiled it once. */
  pattern: string;
  /** Matches returned before stopping with `capped`. */
  maxMatches: number;
  /** Files larger than this are skipped, in bytes. */
  maxFileBytes: number;
  /** Characters of a matching line shown (an ellipsis marks the cut). */
  maxLineChars: number;
  /** Characters of a line tested against the pattern. */
  maxTestChars: number;
  /** Directory names not descended into, e.g. `.git`, `node_modules`. */
  skipDirs: readonly string[];
}

/**
 * `done`: the match lines `path:line: text` in walk order, and whether `maxMatches` cut the search
 * short. `timeout`: the time limit passed and the thread was stopped.
 */
export type SearchResult =
  { kind: 'done'; matches: string[]; capped: boolean } | { kind: 'timeout'; timeoutMs: number };

/** Options for {@link runSearch}. */
export interface RunSearchOptions {
  /** Wall-clock limit in ms, thread start-up included. */
  timeoutMs: number;
  /** Aborts the search; the promise rejects with `signal.reason`. */
  signal?: AbortSignal | undefined;
}

// Plain JavaScript evaluated on the worker (CommonJS, so `require`): a module file would need the
// tsx loader, which worker threads do not inherit. Synchronous fs is fine on a thread of its own.
// The binary test is the same as `looksBinary` in tools.ts: a NUL byte in the first 8 KiB.
const WORKER_CODE = `
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
const path = require('node:path');

const req = workerData;
const regex = new RegExp(req.pattern);
const skipDirs = new Set(req.skipDirs);
const matches = [];
let capped = false;

function display(file) {
  return path.relative(req.root, file).split(path.sep).join('/');
}

const OPEN_FLAGS = fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK;
const rootPrefix = req.root.endsWith(path.sep) ? req.root : req.root + path.sep;

// Opened without following a symlink and without blocking on a FIFO; read only when the
// descriptor is a regular file whose real path is inside the workspace (a directory swapped for
// a symlink mid-walk cannot lead the read outside).
function readInside(file) {
  let fd;
  try {
    if (!fs.lstatSync(file).isFile()) return undefined;
    fd = fs.openSync(file, OPEN_FLAGS);
    const info = fs.fstatSync(fd);
    if (!info.isFile() || info.size > req.maxFileBytes) return undefined;
    if (!fs.readlinkSync('/proc/self/fd/' + fd).startsWith(rootPrefix)) return undefined;
    return fs.readFileSync(fd);
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

function searchFile(file) {
  const buf = readInside(file);
  if (buf === undefined) return;
  if (buf.subarray(0, 8192).includes(0)) return;
  const lines = buf.toString('utf8').split('\\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].replace(/\\r$/, '');
    if (!regex.test(line.length > req.maxTestChars ? line.slice(0, req.maxTestChars) : line)) continue;
    if (matches.length >= req.maxMatches) {
      capped = true;
      return;
    }
    const shown = line.length > req.maxLineChars ? line.slice(0, req.maxLineChars) + '\\u2026' : line;
    matches.push(display(file) + ':' + (i + 1) + ': ' + shown);
  }
}

function walk(dir) {
  let entries;
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    if (capped) return;
    // Symlinks are not followed: they could lead out of the workspace or into a loop.
    if (entry.isSymbolicLink()) continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!skipDirs.has(entry.name)) walk(full);
    } else if (entry.isFile()) {
      searchFile(full);
    }
  }
}

if (fs.lstatSync(req.start).isDirectory()) walk(req.start);
else searchFile(req.start);
parentPort.postMessage({ kind: 'done', matches, capped });
`;

/**
 * Searches `req.start` (a file, or a directory walked in name order) line by line on a fresh
 * worker thread, and stops the thread when `timeoutMs` passes (result `timeout`) or `signal`
 * aborts. The promise settles only after the thread has exited, so nothing keeps running behind a
 * result.
 *
 * @throws (rejects with) `signal.reason` on abort, or the worker's own error if the thread fails
 *   (e.g. the start path vanished).
 */
export function runSearch(req: SearchRequest, opts: RunSearchOptions): Promise<SearchResult> {
  const { timeoutMs, signal } = opts;
  if (signal?.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<SearchResult>((resolve, reject) => {
    const worker = new Worker(WORKER_CODE, { eval: true, workerData: req });
    let result: SearchResult | undefined;
    let failure: { error: unknown } | undefined;
    const timer = setTimeout(() => {
      result ??= { kind: 'timeout', timeoutMs };
      void worker.terminate();
    }, timeoutMs);
    const onAbort = (): void => {
      clearTimeout(timer);
      failure ??= { error: signal?.reason };
      void worker.terminate();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    worker.on('message', (msg: SearchResult) => {
      result ??= msg;
    });
    worker.on('error', (error) => {
      failure ??= { error };
    });
    worker.on('exit', () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      // A result that arrived first wins: it is complete, whatever stopped the thread afterwards.
      if (result) resolve(result);
      else reject(failure ? (failure.error as Error) : new Error('The search worker exited without a result.'));
    });
  });
}
