/**
 * The `local` tracker: a folder of Markdown issue files a person can read and edit, the embedded
 * default (docs/architecture.md, "Boundaries"; profile in specs/trackers/local.md).
 *
 * - `<identifier>.md`: YAML front matter and a body (./parse.ts).
 * - `<identifier>.comments.md`: comments (./comments.ts).
 *
 * Owns the `Tracker` contract over those files: listings, the state and comment writes and new
 * issue files (atomic, one Foreman writer per file across processes, ./files.ts) and the folder watch
 * (./watch.ts). It does not decide eligibility (src/dispatch/) and does not guard against other
 * processes writing the same file at the same instant.
 */
import type { CommentKey } from '../marker.js';
import { mkdirSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { TrackerError } from '../../errors.js';
import {
  checkNewIssue,
  compareStrings,
  describeError,
  normalizeName,
  parseSince,
  requireKey,
  requireStateName,
} from '../shared.js';
import type { BlockerRef, CreatedIssue, Issue, IssueComment, NewIssue, PostedComment, Tracker } from '../types.js';
import { applyEdits, appendBlock, commentId, parseComments, renderForemanContent, stampEdits } from './comments.js';
import {
  COMMENTS_EXT,
  ISSUE_EXT,
  errno,
  isIdentifier,
  isIssueFileName,
  notFound,
  rewriteKeepingAppends,
  unreadable,
  withWriteLock,
  writeAtomic,
  writeNewFile,
} from './files.js';
import { createCommentsCache, createIssueCache, type CommentsCache, type IssueCache } from './issue-cache.js';
import { toIssue } from './normalize.js';
import { loadIssueFile, renderIssueFile, replaceState, type Loaded, type ParsedIssue } from './parse.js';
import { watchFolder } from './watch.js';

/** Options of `createLocalTracker`. */
export interface LocalTrackerOptions {
  /** The issues folder; relative paths resolve against `process.cwd()`. Created if missing. */
  path: string;
  /**
   * Called for each issue file a listing skips because it cannot be used (`issue_file_invalid`:
   * broken front matter, missing `title`/`state`, bad field types; `issue_file_unreadable`: an
   * I/O error). Listing never throws for one bad file. (Default: ignore)
   */
  onInvalid?: (file: string, error: TrackerError) => void;
  /** Quiet time in ms before `watch` calls back after a burst of file events. (Default: 200) */
  debounceMs?: number;
  /** The installation's comment key (src/trackers/marker.ts `loadCommentKey`): signs and checks Foreman's blocks. */
  commentKey: CommentKey;
}

/** A `Tracker` over a local folder; `path` is the absolute folder. */
export type LocalTracker = Tracker & { readonly path: string };

/** Loads of one listing, so a blocker read twice is read once. */
type Cache = Map<string, Promise<Loaded>>;

/** What every method of one tracker shares. */
interface LocalInner {
  dir: string;
  issueFile(identifier: string): string;
  commentsFile(identifier: string): string;
  report(file: string, error: TrackerError): void;
  commentKey: CommentKey;
  /** Parses kept between listings (./issue-cache.ts). */
  parsed: IssueCache;
  /** Parsed comments files kept between reads (./issue-cache.ts): an unchanged file is not read again. */
  comments: CommentsCache;
}

/**
 * Creates the local tracker over a folder of issue files (format: specs/trackers/local.md). The
 * folder is created now if missing. Issue ids are the identifiers (file names without `.md`).
 *
 * Errors are `TrackerError`: `tracker_not_found` (no such issue file, permanent),
 * `issue_file_invalid` (unusable file, permanent), `issue_file_unreadable` and
 * `tracker_request_failed` (I/O, retryable), `tracker_payload_invalid` (bad argument, permanent).
 *
 * @param opts Folder, invalid-file callback and watch debounce.
 * @throws TrackerError `tracker_request_failed` (not retryable) when the folder cannot be created.
 */
export function createLocalTracker(opts: LocalTrackerOptions): LocalTracker {
  const dir = path.resolve(opts.path);
  const debounceMs = opts.debounceMs ?? 200;
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw new TrackerError(
      'tracker_request_failed',
      `Cannot create the issues folder ${dir}; fix tracker.provider.path or its permissions`,
      { cause: err, retryable: false },
    );
  }
  const t: LocalInner = {
    dir,
    issueFile: (identifier) => path.join(dir, identifier + ISSUE_EXT),
    commentsFile: (identifier) => path.join(dir, identifier + COMMENTS_EXT),
    report: (file, error) => opts.onInvalid?.(file, error),
    commentKey: opts.commentKey,
    parsed: createIssueCache(),
    comments: createCommentsCache((file) => path.basename(file, COMMENTS_EXT), opts.commentKey),
  };
  return {
    kind: 'local',
    path: dir,
    async fetchIssuesByStates(states) {
      const wanted = new Set(states.map(normalizeName));
      if (wanted.size === 0) return [];
      const identifiers = await listIdentifiers(t);
      t.parsed.retain(new Set(identifiers.map(t.issueFile)));
      t.comments.retain(new Set(identifiers.map(t.commentsFile)));
      const issues = await loadMany(t, identifiers);
      return issues.filter((i) => wanted.has(normalizeName(i.state)));
    },
    fetchIssuesByIds: (ids) => loadMany(t, [...new Set(ids)].filter(isIdentifier)),
    fetchIssueByIdentifier: (identifier) => fetchIssueByIdentifier(t, identifier),
    fetchComments: (issueId, since) => fetchComments(t, issueId, since),
    fetchCommentsSince: (issueIds, since) => fetchCommentsSince(t, issueIds, since),
    upsertComment: (issueId, key, body) => upsertComment(t, issueId, key, body),
    moveIssue: (issueId, state) => moveIssue(t, issueId, state),
    createIssue: (issue) => createIssue(t, issue),
    watch: (onChange) => watchFolder(dir, debounceMs, onChange),
  };
}

function load(t: LocalInner, identifier: string, cache: Cache): Promise<Loaded> {
  let hit = cache.get(identifier);
  if (hit === undefined) {
    hit = t.parsed.load(t.issueFile(identifier));
    cache.set(identifier, hit);
  }
  return hit;
}

/** The `Issue` of a parsed file, its blockers' states read from their files. */
async function resolveIssue(
  t: LocalInner,
  identifier: string,
  file: string,
  parsed: ParsedIssue,
  cache: Cache,
): Promise<Issue> {
  const blocked_by = await Promise.all(
    parsed.blocked_by.map(async (ref): Promise<BlockerRef> => {
      if (!isIdentifier(ref)) return { id: null, identifier: ref, state: null };
      const b = await load(t, ref, cache);
      if (b.kind === 'ok') return { id: ref, identifier: ref, state: b.parsed.state };
      return { id: b.kind === 'missing' ? null : ref, identifier: ref, state: null };
    }),
  );
  return toIssue(identifier, file, parsed, blocked_by);
}

/** Loads identifiers; skips missing ones, reports and skips unusable ones. */
async function loadMany(t: LocalInner, identifiers: string[]): Promise<Issue[]> {
  const cache: Cache = new Map();
  const issues = await Promise.all(
    identifiers.map(async (identifier) => {
      const loaded = await load(t, identifier, cache);
      if (loaded.kind === 'missing') return null;
      if (loaded.kind === 'invalid') {
        t.report(loaded.file, loaded.error);
        return null;
      }
      return resolveIssue(t, identifier, loaded.file, loaded.parsed, cache);
    }),
  );
  return issues.filter((i): i is Issue => i !== null);
}

async function listIdentifiers(t: LocalInner): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(t.dir, { withFileTypes: true });
  } catch (err) {
    if (errno(err) === 'ENOENT') return [];
    throw new TrackerError('tracker_request_failed', `Cannot list the issues folder ${t.dir}: ${describeError(err)}`, {
      cause: err,
    });
  }
  const all = entries
    .filter((e) => (e.isFile() || e.isSymbolicLink()) && isIssueFileName(e.name))
    .map((e) => e.name.slice(0, -ISSUE_EXT.length))
    .sort(compareStrings);
  // Identifiers are compared ignoring case (CASE-1 and case-1 are one issue, and one workflow on
  // a case-insensitive file system): the first in sort order counts, a second is reported.
  const seen = new Map<string, string>();
  return all.filter((id) => {
    const first = seen.get(id.toLowerCase());
    if (first === undefined) {
      seen.set(id.toLowerCase(), id);
      return true;
    }
    const message = `Issue file ${id}${ISSUE_EXT} has the identifier of ${first}${ISSUE_EXT} (case aside); it is ignored: rename or delete one`;
    t.report(t.issueFile(id), new TrackerError('issue_file_invalid', message, { retryable: false }));
    return false;
  });
}

async function fetchIssueByIdentifier(t: LocalInner, given: string): Promise<Issue | null> {
  if (!isIdentifier(given)) return null;
  const identifier = (await listIdentifiers(t)).find((id) => id.toLowerCase() === given.toLowerCase()) ?? given;
  const cache: Cache = new Map();
  const loaded = await load(t, identifier, cache);
  if (loaded.kind === 'missing') return null;
  if (loaded.kind === 'invalid') throw loaded.error;
  return resolveIssue(t, identifier, loaded.file, loaded.parsed, cache);
}

/** Comments only need the issue to exist: a typo in its front matter must not hide an answer. */
async function requireExists(t: LocalInner, issueId: string): Promise<void> {
  if (!isIdentifier(issueId)) throw notFound(issueId, t.dir);
  try {
    if ((await stat(t.issueFile(issueId))).isFile()) return;
  } catch (err) {
    if (errno(err) !== 'ENOENT' && errno(err) !== 'ENOTDIR') throw unreadable(t.issueFile(issueId), err);
  }
  throw notFound(issueId, t.dir);
}

async function fetchComments(t: LocalInner, issueId: string, since: string | undefined): Promise<IssueComment[]> {
  const sinceMs = parseSince(since);
  await requireExists(t, issueId);
  const comments = await t.comments.load(t.commentsFile(issueId));
  return comments.filter((c) => Date.parse(c.created_at) > sinceMs);
}

/**
 * `fetchCommentsSince`: the comments files of all the issues at once (each through the comments
 * cache, so an unchanged file costs two stats and no read); issues without new comments, or
 * without an issue file (deleted meanwhile), are left out of the map (the `Tracker` contract).
 * @throws TrackerError as `fetchComments`, except `tracker_not_found`.
 */
async function fetchCommentsSince(
  t: LocalInner,
  issueIds: string[],
  since: string,
): Promise<Map<string, IssueComment[]>> {
  parseSince(since);
  const ids = [...new Set(issueIds)];
  const lists = await Promise.all(
    ids.map((id) =>
      fetchComments(t, id, since).catch((err: unknown) => {
        if (err instanceof TrackerError && err.code === 'tracker_not_found') return [];
        throw err;
      }),
    ),
  );
  return new Map(ids.flatMap((id, i) => (lists[i]!.length ? [[id, lists[i]!] as const] : [])));
}

async function upsertComment(t: LocalInner, issueId: string, key: string, body: string): Promise<PostedComment> {
  requireKey(key);
  await requireExists(t, issueId);
  const file = t.commentsFile(issueId);
  return withWriteLock(file, async (): Promise<PostedComment> => {
    let posted: PostedComment = { id: '', created: false };
    // Others (a person's editor, `>>`) append without our lock: never lose what they add.
    const { appended } = await rewriteKeepingAppends(file, (text, mtime) => {
      const blocks = parseComments(text, mtime, t.commentKey);
      const index = blocks.findIndex((b) => b.key === key);
      const existing = blocks[index];
      const content = renderForemanContent(key, body, t.commentKey);
      if (existing?.foremanSpan) {
        const { start, end } = existing.foremanSpan;
        const lead = start > 0 && text[start - 1] !== '\n' ? '\n' : '';
        posted = { id: commentId(issueId, index), created: false };
        return applyEdits(text, [...stampEdits(blocks, mtime), { start, end, insert: lead + content }]);
      }
      posted = { id: commentId(issueId, blocks.length), created: true };
      return appendBlock(applyEdits(text, stampEdits(blocks, mtime)), content);
    });
    if (appended) {
      // Another writer's comment may have landed before ours: our block's position is read back.
      const index = (await t.comments.load(file)).findIndex((c) => c.key === key);
      if (index !== -1) posted = { id: commentId(issueId, index), created: true };
    }
    return posted;
  });
}

async function moveIssue(t: LocalInner, issueId: string, state: string): Promise<void> {
  const target = requireStateName(state);
  if (!isIdentifier(issueId)) throw notFound(issueId, t.dir);
  const file = t.issueFile(issueId);
  await withWriteLock(file, async () => {
    const loaded = await loadIssueFile(file);
    if (loaded.kind === 'missing') throw notFound(issueId, t.dir);
    if (loaded.kind === 'invalid') throw loaded.error;
    if (normalizeName(loaded.parsed.state) === normalizeName(target)) return;
    await writeAtomic(file, replaceState(file, loaded.text, target));
  });
}

/**
 * `createIssue`: writes `<identifier>.md` only if no such file exists (atomically, never
 * overwriting an earlier tick's or a human's file), then reads it back.
 *
 * @throws TrackerError `tracker_payload_invalid` (identifier not a plain file name, bad
 *   key/title/state/createdAt), `issue_file_invalid` (the existing file is unusable),
 *   `tracker_request_failed` (the file cannot be written).
 */
async function createIssue(t: LocalInner, input: NewIssue): Promise<CreatedIssue> {
  const { title, state } = checkNewIssue(input);
  const identifier = typeof input.identifier === 'string' ? input.identifier.trim() : '';
  if (!isIdentifier(identifier) || /[\s<>:*?"|]/.test(identifier)) {
    throw new TrackerError(
      'tracker_payload_invalid',
      `createIssue: identifier "${String(input.identifier)}" must be a plain file name such as DEMO-1`,
      { retryable: false },
    );
  }
  const createdMs = input.createdAt === undefined ? Date.now() : Date.parse(input.createdAt);
  if (Number.isNaN(createdMs)) {
    throw new TrackerError(
      'tracker_payload_invalid',
      `createIssue: createdAt "${input.createdAt}" is not an RFC 3339 timestamp`,
      {
        retryable: false,
      },
    );
  }
  const text = renderIssueFile({
    title,
    state,
    ...(input.priority !== undefined ? { priority: input.priority } : {}),
    ...(input.labels !== undefined ? { labels: input.labels } : {}),
    created_at: new Date(createdMs).toISOString(),
    ...(input.meta !== undefined ? { meta: input.meta } : {}),
    ...(input.description !== undefined ? { description: input.description } : {}),
  });
  const file = t.issueFile(identifier);
  const created = await withWriteLock(file, () => writeNewFile(file, text));
  const issue = await fetchIssueByIdentifier(t, identifier);
  if (issue === null) throw notFound(identifier, t.dir);
  return { issue, created };
}
