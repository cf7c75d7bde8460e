/**
 * The local tracker's issue files: YAML front matter (`title`, `state` required; `priority`,
 * `labels`, `created_at`, `blocked_by` optional) and a Markdown body (format:
 * specs/trackers/local.md). Parsing with errors that say how to fix the file, the in-place state
 * edit that keeps the rest of the file byte-for-byte, and rendering a new file.
 */
import type { Stats } from 'node:fs';
import { isMap, isScalar, parseDocument, stringify, type Document } from 'yaml';
import { TrackerError } from '../../errors.js';
import { describeError } from '../shared.js';
import { invalid, readText, unreadable } from './files.js';

/** RFC 3339 date-time, or a plain date (taken as midnight UTC) because people write those. */
const TIMESTAMP_RE = /^\d{4}-\d{2}-\d{2}(?:[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2}))?$/;

/** An issue file's fields, before normalization to `Issue`. */
export interface ParsedIssue {
  title: string;
  state: string;
  priority: number | null;
  labels: string[];
  blocked_by: string[];
  description: string | null;
  created_at: string;
  updated_at: string;
}

/** The result of reading one issue file. */
export type Loaded =
  | { kind: 'missing' }
  | { kind: 'invalid'; file: string; error: TrackerError }
  | { kind: 'ok'; file: string; parsed: ParsedIssue; text: string };

/** Reads and parses one issue file; never throws for a missing or broken file. */
export async function loadIssueFile(file: string): Promise<Loaded> {
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
    throw invalid(file, `has front matter that cannot be read: ${describeError(err)}`);
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

/** A front-matter or header timestamp (RFC 3339, or a plain date) as RFC 3339 UTC; null when it is none. */
export function toIso(v: unknown): string | null {
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
export function replaceState(file: string, text: string, state: string): string {
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

/** The fields of a new issue file (`renderIssueFile`). */
export interface NewIssueFile {
  title: string;
  state: string;
  priority?: number;
  labels?: string[];
  /** RFC 3339. */
  created_at: string;
  /** Written after `created_at`, in order (e.g. `schedule`); keys that name a field above are skipped. */
  meta?: Record<string, string>;
  description?: string;
}

/** The text of a new issue file: front matter `title`, `state`, `priority`, `labels`, `created_at`, meta; the body. */
export function renderIssueFile(issue: NewIssueFile): string {
  const fm: Record<string, unknown> = { title: issue.title, state: issue.state };
  if (issue.priority !== undefined) fm.priority = issue.priority;
  if (issue.labels?.length) fm.labels = issue.labels;
  fm.created_at = issue.created_at;
  for (const [key, value] of Object.entries(issue.meta ?? {})) if (!(key in fm)) fm[key] = value;
  const body = issue.description?.trim() ?? '';
  return `---\n${stringify(fm)}---\n\n${body}${body ? '\n' : ''}`;
}
