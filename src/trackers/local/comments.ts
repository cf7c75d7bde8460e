/**
 * The local tracker's comments files (`<identifier>.comments.md`): one block per
 * `--- comment by <author> at <time> ---` header; Foreman's own blocks carry a hidden
 * `<!-- foreman:key=… mac=… -->` marker (src/trackers/marker.ts) and end with `<!-- /foreman -->`.
 * A block whose marker's MAC is wrong or missing is a person's comment (a person editing the file
 * is trusted anyway, but cannot make Foreman adopt a block; docs/architecture.md, "Foreman's own comments").
 * Parsing into blocks with the source offsets a rewrite needs, and the edits that upsert a block.
 */
import { markerFor, signedMarkerLineKey, type CommentKey } from '../marker.js';
import type { IssueComment } from '../types.js';
import { toIso } from './parse.js';

/** Author name of Foreman's own comments. */
export const FOREMAN_AUTHOR = 'foreman';
/** Author given to comment text typed without a header. */
export const HUMAN_AUTHOR = 'human';

const END_MARKER = '<!-- /foreman -->';
/** `--- comment by <who>[ at <RFC 3339>] ---`; the inner text is split further in `parseHeader`. */
const HEADER_RE = /^---[ \t]*comment[ \t]+by[ \t]+(.*?)[ \t]*---[ \t]*$/i;

/** A comment as found in the file, with the source offsets a rewrite needs. */
export interface CommentBlock {
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
 * comments by `human`. A block is Foreman's only when its first line is a marker signed with
 * `commentKey`.
 */
export function parseComments(text: string, mtime: string, commentKey: CommentKey): CommentBlock[] {
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
    const key = firstIdx === -1 ? null : signedMarkerLineKey((content[firstIdx] as Line).text, commentKey);
    if (key === null) {
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
      key,
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

/** The `IssueComment` of block number `index` (0-based) of the issue's file. */
export function toComment(identifier: string, b: CommentBlock, index: number): IssueComment {
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
export function commentId(identifier: string, index: number): string {
  return `${identifier}#${index + 1}`;
}

/** A Foreman block's content (after its header): marker line, escaped body lines, end marker. */
export function renderForemanContent(key: string, body: string, commentKey: CommentKey): string {
  const lines = body.trim() === '' ? [] : body.trim().split(/\r?\n/).map(escapeLine);
  return [markerFor(key, commentKey), ...lines, END_MARKER].join('\n') + '\n';
}

/** `text` with a new Foreman block (header stamped now, then `content`) appended after a blank line. */
export function appendBlock(text: string, content: string): string {
  let out = text;
  if (out !== '' && !out.endsWith('\n')) out += '\n';
  if (out.trim() !== '' && !out.endsWith('\n\n')) out += '\n';
  return `${out}--- comment by ${FOREMAN_AUTHOR} at ${new Date().toISOString()} ---\n${content}`;
}

/** Replace `[start, end)` of a text with `insert`. */
export interface Edit {
  start: number;
  end: number;
  insert: string;
}

/**
 * When Foreman rewrites a comments file it stamps comments that have no time (header-less text,
 * headers without ` at …`) with the `mtime` readers have been using as their created_at, so
 * Foreman's own write does not make an old human comment look new.
 */
export function stampEdits(blocks: CommentBlock[], mtime: string): Edit[] {
  const edits: Edit[] = [];
  for (const b of blocks) {
    if (b.stamped !== null) continue;
    const line = `--- comment by ${b.author} at ${mtime} ---`;
    if (b.header === null) edits.push({ start: b.textStart, end: b.textStart, insert: `${line}\n` });
    else edits.push({ start: b.header.start, end: b.header.end, insert: line });
  }
  return edits;
}

/** Applies non-overlapping edits (any order). */
export function applyEdits(text: string, edits: Edit[]): string {
  let out = text;
  for (const e of [...edits].sort((a, b) => b.start - a.start))
    out = out.slice(0, e.start) + e.insert + out.slice(e.end);
  return out;
}
