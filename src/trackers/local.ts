/**
 * The `local` tracker: a folder of Markdown issue files a person can read and edit, the embedded
 * default (DESIGN.md "Tracker boundary"; profile in specs/trackers/local.md).
 *
 * - `<identifier>.md`: YAML front matter (`title`, `state` required; `priority`, `labels`,
 *   `created_at`, `blocked_by` optional), body = description.
 * - `<identifier>.comments.md`: comments, one block per `--- comment by <author> at <time> ---`
 *   header; Foreman's own blocks carry a hidden `<!-- foreman:key=… -->` marker and end with
 *   `<!-- /foreman -->`.
 *
 * Owns parsing, normalization to `Issue`, the state and comment writes (atomic, serialized per
 * file within the process) and the folder watch. It does not decide eligibility (src/dispatch/)
 * and does not guard against other processes writing the same file at the same instant.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, watch as fsWatch, type FSWatcher, type Stats } from 'node:fs';
import { open, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { isMap, isScalar, parseDocument, stringify, type Document } from 'yaml';
import { TrackerError } from '../errors.js';
import { createSerializer } from './serialize.js';
import type { BlockerRef, Issue, IssueComment, PostedComment, Tracker } from './types.js';

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
}

/** A `Tracker` over a local folder; `path` is the absolute folder. */
export type LocalTracker = Tracker & { readonly path: string };

/** Author name of Foreman's own comments. */
export const FOREMAN_AUTHOR = 'foreman';
/** Author given to comment text typed without a header. */
export const HUMAN_AUTHOR = 'human';

const ISSUE_EXT = '.md';
const COMMENTS_EXT = '.comments.md';
const END_MARKER = '<!-- /foreman -->';
/** `--- comment by <who>[ at <RFC 3339>] ---`; the inner text is split further in `parseHeader`. */
const HEADER_RE = /^---[ \t]*comment[ \t]+by[ \t]+(.*?)[ \t]*---[ \t]*$/i;
const MARKER_RE = /^<!--[ \t]*foreman:key=(\S+?)[ \t]*-->$/;
const KEY_RE = /^[^\s<>]+$/;
/** RFC 3339 date-time, or a plain date (taken as midnight UTC) because people write those. */
const TIMESTAMP_RE = /^\d{4}-\d{2}-\d{2}(?:[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2}))?$/;

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
      {
        cause: err,
        retryable: false,
      },
    );
  }

  const issueFile = (identifier: string) => path.join(dir, identifier + ISSUE_EXT);
  const commentsFile = (identifier: string) => path.join(dir, identifier + COMMENTS_EXT);
  const report = (file: string, error: TrackerError) => opts.onInvalid?.(file, error);

  type Cache = Map<string, Promise<Loaded>>;
  const load = (identifier: string, cache: Cache): Promise<Loaded> => {
    let hit = cache.get(identifier);
    if (hit === undefined) {
      hit = loadIssueFile(issueFile(identifier));
      cache.set(identifier, hit);
    }
    return hit;
  };

  const toIssue = async (identifier: string, file: string, parsed: ParsedIssue, cache: Cache): Promise<Issue> => {
    const blocked_by = await Promise.all(
      parsed.blocked_by.map(async (ref): Promise<BlockerRef> => {
        if (!isIdentifier(ref)) return { id: null, identifier: ref, state: null };
        const b = await load(ref, cache);
        if (b.kind === 'ok') return { id: ref, identifier: ref, state: b.parsed.state };
        return { id: b.kind === 'missing' ? null : ref, identifier: ref, state: null };
      }),
    );
    return {
      id: identifier,
      identifier,
      title: parsed.title,
      description: parsed.description,
      priority: parsed.priority,
      state: parsed.state,
      branch_name: null,
      url: pathToFileURL(file).href,
      assignee_id: null,
      labels: parsed.labels,
      blocked_by,
      dispatchable: true,
      created_at: parsed.created_at,
      updated_at: parsed.updated_at,
      native_ref: { path: file },
    };
  };

  /** Loads identifiers; skips missing ones, reports and skips unusable ones. */
  const loadMany = async (identifiers: string[]): Promise<Issue[]> => {
    const cache: Cache = new Map();
    const issues = await Promise.all(
      identifiers.map(async (identifier) => {
        const loaded = await load(identifier, cache);
        if (loaded.kind === 'missing') return null;
        if (loaded.kind === 'invalid') {
          report(loaded.file, loaded.error);
          return null;
        }
        return toIssue(identifier, loaded.file, loaded.parsed, cache);
      }),
    );
    return issues.filter((i): i is Issue => i !== null);
  };

  const listIdentifiers = async (): Promise<string[]> => {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      if (errno(err) === 'ENOENT') return [];
      throw new TrackerError('tracker_request_failed', `Cannot list the issues folder ${dir}: ${describe(err)}`, {
        cause: err,
      });
    }
    return entries
      .filter((e) => (e.isFile() || e.isSymbolicLink()) && isIssueFileName(e.name))
      .map((e) => e.name.slice(0, -ISSUE_EXT.length))
      .sort(compareStrings);
  };

  /** Comments only need the issue to exist: a typo in its front matter must not hide an answer. */
  const requireExists = async (issueId: string): Promise<void> => {
    if (!isIdentifier(issueId)) throw notFound(issueId, dir);
    try {
      if ((await stat(issueFile(issueId))).isFile()) return;
    } catch (err) {
      if (errno(err) !== 'ENOENT' && errno(err) !== 'ENOTDIR') throw unreadable(issueFile(issueId), err);
    }
    throw notFound(issueId, dir);
  };

  const requireIssue = async (issueId: string): Promise<{ file: string; parsed: ParsedIssue; text: string }> => {
    if (!isIdentifier(issueId)) throw notFound(issueId, dir);
    const loaded = await loadIssueFile(issueFile(issueId));
    if (loaded.kind === 'missing') throw notFound(issueId, dir);
    if (loaded.kind === 'invalid') throw loaded.error;
    return loaded;
  };

  const tracker: LocalTracker = {
    kind: 'local',
    path: dir,

    async fetchIssuesByStates(states) {
      const wanted = new Set(states.map(normalize));
      if (wanted.size === 0) return [];
      const issues = await loadMany(await listIdentifiers());
      return issues.filter((i) => wanted.has(normalize(i.state)));
    },

    async fetchIssuesByIds(ids) {
      return loadMany([...new Set(ids)].filter(isIdentifier));
    },

    async fetchIssueByIdentifier(identifier) {
      if (!isIdentifier(identifier)) return null;
      const cache: Cache = new Map();
      const loaded = await load(identifier, cache);
      if (loaded.kind === 'missing') return null;
      if (loaded.kind === 'invalid') throw loaded.error;
      return toIssue(identifier, loaded.file, loaded.parsed, cache);
    },

    async fetchComments(issueId, since) {
      let sinceMs = Number.NEGATIVE_INFINITY;
      if (since !== undefined) {
        sinceMs = Date.parse(since);
        if (Number.isNaN(sinceMs)) {
          throw new TrackerError(
            'tracker_payload_invalid',
            `fetchComments: since "${since}" is not an RFC 3339 timestamp`,
            {
              retryable: false,
            },
          );
        }
      }
      await requireExists(issueId);
      const read = await readText(commentsFile(issueId));
      if (read === null) return [];
      const comments = parseComments(read.text, read.stats.mtime.toISOString()).map((c, i) => toComment(issueId, c, i));
      return comments.filter((c) => Date.parse(c.created_at) > sinceMs);
    },

    async upsertComment(issueId, key, body) {
      if (!KEY_RE.test(key)) {
        throw new TrackerError(
          'tracker_payload_invalid',
          `Comment key "${key}" must be non-empty without spaces, "<" or ">"`,
          {
            retryable: false,
          },
        );
      }
      await requireExists(issueId);
      const file = commentsFile(issueId);
      return withFileLock(file, async (): Promise<PostedComment> => {
        const read = await readText(file);
        const text = read?.text ?? '';
        const mtime = (read?.stats.mtime ?? new Date()).toISOString();
        const blocks = parseComments(text, mtime);
        const index = blocks.findIndex((b) => b.key === key);
        const existing = blocks[index];
        const content = renderForemanContent(key, body);
        let next: string;
        let created: boolean;
        if (existing?.foremanSpan) {
          const { start, end } = existing.foremanSpan;
          const lead = start > 0 && text[start - 1] !== '\n' ? '\n' : '';
          next = applyEdits(text, [...stampEdits(blocks, mtime), { start, end, insert: lead + content }]);
          created = false;
        } else {
          next = appendBlock(applyEdits(text, stampEdits(blocks, mtime)), content);
          created = true;
        }
        if (next !== text) await writeAtomic(file, next);
        return { id: commentId(issueId, created ? blocks.length : index), created };
      });
    },

    async moveIssue(issueId, state) {
      const target = state.trim();
      if (target === '' || /[\r\n]/.test(target)) {
        throw new TrackerError('tracker_payload_invalid', `moveIssue: state "${state}" must be one non-empty line`, {
          retryable: false,
        });
      }
      if (!isIdentifier(issueId)) throw notFound(issueId, dir);
      const file = issueFile(issueId);
      await withFileLock(file, async () => {
        const { parsed, text } = await requireIssue(issueId);
        if (normalize(parsed.state) === normalize(target)) return;
        await writeAtomic(file, replaceState(file, text, target));
      });
    },

    watch(onChange) {
      let stopped = false;
      let watcher: FSWatcher | undefined;
      let debounce: NodeJS.Timeout | undefined;
      let retry: NodeJS.Timeout | undefined;
      const fire = () => {
        if (stopped) return;
        clearTimeout(debounce);
        debounce = setTimeout(() => {
          if (!stopped) onChange();
        }, debounceMs);
        debounce.unref();
      };
      // The folder may be deleted and re-created under us; keep trying instead of going deaf.
      const restartLater = () => {
        if (stopped) return;
        retry = setTimeout(start, 1000);
        retry.unref();
      };
      const lost = (w: FSWatcher) => {
        if (watcher !== w) return;
        w.close();
        watcher = undefined;
        fire();
        restartLater();
      };
      function start() {
        if (stopped) return;
        try {
          mkdirSync(dir, { recursive: true });
          const current = fsWatch(dir, { persistent: false }, (_event, name) => {
            // Linux reports the folder's own removal as a plain event, then goes silent.
            if (!existsSync(dir)) return lost(current);
            if (name === null || isWatchedName(String(name))) fire();
          });
          current.on('error', () => lost(current));
          watcher = current;
        } catch {
          restartLater();
        }
      }
      start();
      return () => {
        stopped = true;
        clearTimeout(debounce);
        clearTimeout(retry);
        watcher?.close();
      };
    },
  };
  return tracker;
}

// ---------------------------------------------------------------------------------------------
// Issue files

interface ParsedIssue {
  title: string;
  state: string;
  priority: number | null;
  labels: string[];
  blocked_by: string[];
  description: string | null;
  created_at: string;
  updated_at: string;
}

type Loaded =
  | { kind: 'missing' }
  | { kind: 'invalid'; file: string; error: TrackerError }
  | { kind: 'ok'; file: string; parsed: ParsedIssue; text: string };

async function loadIssueFile(file: string): Promise<Loaded> {
  let read;
  try {
    read = await readText(file);
  } catch (err) {
    return { kind: 'invalid', file, error: unreadable(file, err) };
  }
  if (read === null) return { kind: 'missing' };
  try {
    return { kind: 'ok', file, parsed: parseIssue(file, read.text, read.stats), text: read.text };
  } catch (err) {
    if (err instanceof TrackerError) return { kind: 'invalid', file, error: err };
    throw err;
  }
}

/** Offsets of the front matter in a file: `[start, end)` is the YAML text, `bodyStart` the body. */
interface FrontMatter {
  start: number;
  end: number;
  bodyStart: number;
}

function findFrontMatter(text: string): FrontMatter | null {
  const open = /^\uFEFF?---[ \t]*\r?\n/.exec(text);
  if (open === null) return null;
  let pos = open[0].length;
  for (;;) {
    const nl = text.indexOf('\n', pos);
    const lineEnd = nl === -1 ? text.length : nl;
    if (/^(?:---|\.\.\.)[ \t]*\r?$/.test(text.slice(pos, lineEnd))) {
      return { start: open[0].length, end: pos, bodyStart: nl === -1 ? text.length : nl + 1 };
    }
    if (nl === -1) return null;
    pos = nl + 1;
  }
}

function parseFrontMatter(file: string, text: string): { fm: FrontMatter; doc: Document.Parsed } {
  const fm = findFrontMatter(text);
  if (fm === null) {
    throw invalid(
      file,
      'has no YAML front matter: start the file with a line "---", then `title:` and `state:`, then a line "---"',
    );
  }
  const doc = parseDocument(text.slice(fm.start, fm.end), { prettyErrors: false });
  const first = doc.errors[0];
  if (first !== undefined) {
    throw invalid(file, `has front matter that is not valid YAML: ${first.message.split('\n')[0]}`);
  }
  if (!isMap(doc.contents)) throw invalid(file, 'has front matter that is not a map of keys (`title: …`, `state: …`)');
  return { fm, doc };
}

function parseIssue(file: string, text: string, stats: Stats): ParsedIssue {
  const { fm, doc } = parseFrontMatter(file, text);
  let data: Record<string, unknown>;
  try {
    data = doc.toJS() as Record<string, unknown>;
  } catch (err) {
    throw invalid(file, `has front matter that cannot be read: ${describe(err)}`);
  }
  const title = text1(data.title);
  if (title === null) throw invalid(file, 'is missing `title` (a non-empty line of text)');
  const state = text1(data.state);
  if (state === null) throw invalid(file, 'is missing `state` (e.g. `state: Todo`)');

  let priority: number | null = null;
  if (data.priority !== undefined && data.priority !== null) {
    if (typeof data.priority !== 'number' || !Number.isInteger(data.priority)) {
      throw invalid(
        file,
        `has \`priority: ${String(data.priority)}\`; use an integer (1 = urgent … 4 = low) or leave it out`,
      );
    }
    priority = data.priority;
  }

  const labels = list(file, 'labels', data.labels, 'a list of label names').map((l) => l.toLowerCase());
  const blocked_by = list(file, 'blocked_by', data.blocked_by, 'a list of issue identifiers such as DEMO-1');

  let created_at: string;
  const created = data.created_at;
  if (created === undefined || created === null) {
    created_at = (stats.birthtimeMs > 0 ? stats.birthtime : stats.mtime).toISOString();
  } else {
    const iso = toIso(created);
    if (iso === null)
      throw invalid(
        file,
        `has \`created_at: ${String(created)}\`; use an RFC 3339 timestamp such as 2026-01-31T09:00:00Z`,
      );
    created_at = iso;
  }

  const body = text.slice(fm.bodyStart).trim();
  return {
    title,
    state,
    priority,
    labels: [...new Set(labels)],
    blocked_by: [...new Set(blocked_by)],
    description: body === '' ? null : body,
    created_at,
    updated_at: stats.mtime.toISOString(),
  };
}

/** A scalar as trimmed text, or null when absent, blank or not a scalar. */
function text1(v: unknown): string | null {
  if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') return null;
  const s = String(v).trim();
  return s === '' ? null : s;
}

/** A list of scalars (a single scalar counts as a one-item list), trimmed, blanks dropped. */
function list(file: string, key: string, v: unknown, what: string): string[] {
  if (v === undefined || v === null) return [];
  const items = Array.isArray(v) ? v : [v];
  return items
    .map((item) => {
      if (typeof item !== 'string' && typeof item !== 'number')
        throw invalid(file, `has a \`${key}\` entry that is not text; use ${what}`);
      return String(item).trim();
    })
    .filter((s) => s !== '');
}

function toIso(v: unknown): string | null {
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? null : v.toISOString();
  if (typeof v !== 'string' || !TIMESTAMP_RE.test(v.trim())) return null;
  const ms = Date.parse(v.trim().length === 10 ? `${v.trim()}T00:00:00Z` : v.trim());
  return Number.isNaN(ms) ? null : new Date(ms).toISOString();
}

/**
 * Returns the file with only the `state` value replaced. The value is spliced in at the YAML
 * node's source range so comments, key order, quoting elsewhere and the body stay byte-for-byte;
 * only an odd `state` (block scalar) falls back to re-serializing the front matter.
 */
function replaceState(file: string, text: string, state: string): string {
  const { fm, doc } = parseFrontMatter(file, text);
  const yamlText = text.slice(fm.start, fm.end);
  const map = doc.contents;
  const pair = isMap(map) ? map.items.find((p) => isScalar(p.key) && p.key.value === 'state') : undefined;
  const node = pair?.value;
  if (
    isScalar(node) &&
    node.range &&
    (node.type === 'PLAIN' || node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE')
  ) {
    const spliced = yamlText.slice(0, node.range[0]) + yamlScalar(state, node.type) + yamlText.slice(node.range[1]);
    const check = parseDocument(spliced);
    if (check.errors.length === 0 && (check.toJS() as Record<string, unknown> | null)?.state === state) {
      return text.slice(0, fm.start) + spliced + text.slice(fm.end);
    }
  }
  doc.set('state', state);
  let out = String(doc);
  if (!out.endsWith('\n')) out += '\n';
  return text.slice(0, fm.start) + out + text.slice(fm.end);
}

/** One-line YAML for `s`, keeping the original quoting style when it had one. */
function yamlScalar(s: string, type: string): string {
  if (type === 'QUOTE_DOUBLE') return JSON.stringify(s);
  if (type === 'QUOTE_SINGLE') return `'${s.replace(/'/g, "''")}'`;
  const plain = stringify(s).trimEnd();
  return plain.includes('\n') ? JSON.stringify(s) : plain;
}

// ---------------------------------------------------------------------------------------------
// Comments files

/** A comment as found in the file, with the source offsets a rewrite needs. */
interface CommentBlock {
  author: string;
  /** From the header, or null when the header has no time or there is no header. */
  stamped: string | null;
  body: string;
  key: string | null;
  /** Header line `[start, end)` (end excludes the newline); null for text without a header. */
  header: { start: number; end: number } | null;
  /** Where the text of a header-less comment starts (its first non-blank line). */
  textStart: number;
  /** For Foreman blocks: the content after the header line, through the end marker line. */
  foremanSpan: { start: number; end: number } | null;
  /** Effective created_at. */
  created_at: string;
}

interface Line {
  start: number;
  /** End of the text, excluding `\r\n`. */
  end: number;
  /** Start of the next line. */
  next: number;
  text: string;
}

function splitLines(text: string): Line[] {
  const lines: Line[] = [];
  let pos = 0;
  while (pos < text.length) {
    const nl = text.indexOf('\n', pos);
    const next = nl === -1 ? text.length : nl + 1;
    let end = nl === -1 ? text.length : nl;
    if (end > pos && text[end - 1] === '\r') end -= 1;
    lines.push({ start: pos, end, next, text: text.slice(pos, end) });
    pos = next;
  }
  return lines;
}

function parseHeader(line: string): { author: string; stamped: string | null } | null {
  const m = HEADER_RE.exec(line);
  if (m === null) return null;
  const inner = (m[1] ?? '').trim();
  const at = /^(.*\S)[ \t]+at[ \t]+(\S+)$/i.exec(inner);
  if (at !== null) {
    const iso = toIso(at[2]);
    if (iso !== null) return { author: at[1] ?? HUMAN_AUTHOR, stamped: iso };
  }
  return { author: inner === '' ? HUMAN_AUTHOR : inner, stamped: null };
}

const isBlank = (l: Line) => l.text.trim() === '';

/** Lines that would be read as structure are escaped with `\` when Foreman writes a body. */
function escapeLine(line: string): string {
  return HEADER_RE.test(line) || line.trim() === END_MARKER || /^\\+(?:---|<!--)/.test(line) ? `\\${line}` : line;
}

function unescapeLine(line: string): string {
  return /^\\+(?:---|<!--)/.test(line) ? line.slice(1) : line;
}

function joinBody(lines: Line[]): string {
  return lines
    .map((l) => unescapeLine(l.text))
    .join('\n')
    .trim();
}

/**
 * Parses a comments file into blocks, oldest first. `mtime` (RFC 3339) dates comments without a
 * timestamp. Text before the first header, and text after a Foreman block's end marker, are
 * comments by `human`.
 */
function parseComments(text: string, mtime: string): CommentBlock[] {
  const lines = splitLines(text);
  const blocks: CommentBlock[] = [];

  const human = (content: Line[]) => {
    const first = content.find((l) => !isBlank(l));
    if (first === undefined) return;
    blocks.push({
      author: HUMAN_AUTHOR,
      stamped: null,
      body: joinBody(content),
      key: null,
      header: null,
      textStart: first.start,
      foremanSpan: null,
      created_at: mtime,
    });
  };

  const section = (headerLine: Line | null, content: Line[]) => {
    if (headerLine === null) return human(content);
    const h = parseHeader(headerLine.text) ?? { author: HUMAN_AUTHOR, stamped: null };
    const base = {
      author: h.author,
      stamped: h.stamped,
      header: { start: headerLine.start, end: headerLine.end },
      textStart: headerLine.start,
      created_at: h.stamped ?? mtime,
    };
    const firstIdx = content.findIndex((l) => !isBlank(l));
    const marker = firstIdx === -1 ? null : MARKER_RE.exec((content[firstIdx] as Line).text.trim());
    if (marker === null) {
      blocks.push({ ...base, body: joinBody(content), key: null, foremanSpan: null });
      return;
    }
    const endIdx = content.findIndex((l, i) => i > firstIdx && l.text.trim() === END_MARKER);
    const bodyLines = content.slice(firstIdx + 1, endIdx === -1 ? content.length : endIdx);
    let last = endIdx;
    if (last === -1) {
      last = content.length - 1;
      while (last > firstIdx && isBlank(content[last] as Line)) last -= 1;
    }
    blocks.push({
      ...base,
      body: joinBody(bodyLines),
      key: marker[1] ?? null,
      foremanSpan: { start: headerLine.next, end: (content[last] as Line).next },
    });
    if (endIdx !== -1) human(content.slice(endIdx + 1));
  };

  let header: Line | null = null;
  let content: Line[] = [];
  for (const line of lines) {
    if (HEADER_RE.test(line.text)) {
      section(header, content);
      header = line;
      content = [];
    } else {
      content.push(line);
    }
  }
  section(header, content);
  return blocks;
}

function toComment(identifier: string, b: CommentBlock, index: number): IssueComment {
  return {
    id: commentId(identifier, index),
    author: b.author,
    body: b.body,
    created_at: b.created_at,
    by_foreman: b.key !== null,
    key: b.key,
  };
}

/** Comment ids are 1-based ordinals: comments are append-only, so an ordinal never moves. */
function commentId(identifier: string, index: number): string {
  return `${identifier}#${index + 1}`;
}

function renderForemanContent(key: string, body: string): string {
  const lines = body.trim() === '' ? [] : body.trim().split(/\r?\n/).map(escapeLine);
  return [`<!-- foreman:key=${key} -->`, ...lines, END_MARKER].join('\n') + '\n';
}

function appendBlock(text: string, content: string): string {
  let out = text;
  if (out !== '' && !out.endsWith('\n')) out += '\n';
  if (out.trim() !== '' && !out.endsWith('\n\n')) out += '\n';
  return `${out}--- comment by ${FOREMAN_AUTHOR} at ${new Date().toISOString()} ---\n${content}`;
}

interface Edit {
  start: number;
  end: number;
  insert: string;
}

/**
 * When Foreman rewrites a comments file it stamps comments that have no time (header-less text,
 * headers without ` at …`) with the `mtime` readers have been using as their created_at, so
 * Foreman's own write does not make an old human comment look new.
 */
function stampEdits(blocks: CommentBlock[], mtime: string): Edit[] {
  const edits: Edit[] = [];
  for (const b of blocks) {
    if (b.stamped !== null) continue;
    const line = `--- comment by ${b.author} at ${mtime} ---`;
    if (b.header === null) edits.push({ start: b.textStart, end: b.textStart, insert: `${line}\n` });
    else edits.push({ start: b.header.start, end: b.header.end, insert: line });
  }
  return edits;
}

function applyEdits(text: string, edits: Edit[]): string {
  let out = text;
  for (const e of [...edits].sort((a, b) => b.start - a.start))
    out = out.slice(0, e.start) + e.insert + out.slice(e.end);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Files

/** Write queue per absolute path, shared by every tracker in this process. */
const withFileLock = createSerializer();

async function readText(file: string): Promise<{ text: string; stats: Stats } | null> {
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

/** Writes through a temp file in the same folder and a rename, so readers never see half a file. */
async function writeAtomic(file: string, text: string): Promise<void> {
  const tmp = path.join(
    path.dirname(file),
    `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`,
  );
  try {
    let mode = 0o644;
    try {
      mode = (await stat(file)).mode & 0o777;
    } catch {
      // New file: default mode.
    }
    const handle = await open(tmp, 'w', mode);
    try {
      await handle.writeFile(text, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw new TrackerError(
      'tracker_request_failed',
      `Cannot write ${file}: ${describe(err)}; check the folder's permissions and free space`,
      {
        cause: err,
      },
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Small helpers

function normalize(s: string): string {
  return s.trim().toLowerCase();
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Identifiers are file names: no separators, no dot-files, never a comments file. */
function isIdentifier(id: string): boolean {
  return (
    id !== '' &&
    !id.startsWith('.') &&
    !/[/\\\0]/.test(id) &&
    !id.toLowerCase().endsWith(COMMENTS_EXT.slice(0, -ISSUE_EXT.length))
  );
}

function isIssueFileName(name: string): boolean {
  return name.endsWith(ISSUE_EXT) && name.length > ISSUE_EXT.length && isIdentifier(name.slice(0, -ISSUE_EXT.length));
}

/** Issue and comments files matter to watchers; temp files (dot-files) do not. */
function isWatchedName(name: string): boolean {
  const base = path.basename(name);
  return !base.startsWith('.') && base.toLowerCase().endsWith(ISSUE_EXT);
}

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function invalid(file: string, what: string): TrackerError {
  return new TrackerError('issue_file_invalid', `Issue file ${file} ${what} (format: specs/trackers/local.md)`, {
    retryable: false,
  });
}

function unreadable(file: string, err: unknown): TrackerError {
  return new TrackerError(
    'issue_file_unreadable',
    `Cannot read issue file ${file}: ${describe(err)}; check its permissions`,
    {
      cause: err,
    },
  );
}

function notFound(issueId: string, dir: string): TrackerError {
  return new TrackerError('tracker_not_found', `Issue ${issueId} has no file ${issueId}${ISSUE_EXT} in ${dir}`, {
    retryable: false,
  });
}
