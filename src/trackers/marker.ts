/**
 * Foreman's hidden comment marker, `<!-- foreman:key=<key> -->`: the one place that writes and
 * reads it. Every comment Foreman posts carries one; its key makes the write idempotent (a retried
 * activity finds the comment by key and edits it instead of posting twice) and marks the comment as
 * Foreman's, so it is never taken as a human's answer.
 *
 * Reading accepts the forms a tracker may hand the marker back in: raw, HTML-escaped
 * (`&lt;!-- … --&gt;`) and Markdown-escaped (`\<!-- … --\>`). Keys are non-empty and contain no
 * whitespace, `<`, `>` or `&`.
 */

const OPEN = String.raw`(?:<|&lt;|\\<)!--[ \t]*foreman:key=`;
const CLOSE = String.raw`[ \t]*--(?:>|&gt;|\\>)`;
/** A marker anywhere in a text, with the line break after it. */
const MARKER_RE = new RegExp(`${OPEN}([^\\s<>&]+?)${CLOSE}[ \\t]*(?:\\r?\\n)?`);
/** A line that is nothing but a raw marker. */
const MARKER_LINE_RE = /^<!--[ \t]*foreman:key=([^\s<>&]+?)[ \t]*-->$/;
const ANY_MARKER_RE = new RegExp(OPEN);

/** The marker for `key`, e.g. `<!-- foreman:key=evidence-<runId> -->`. */
export function markerFor(key: string): string {
  return `<!-- foreman:key=${key} -->`;
}

/** `body` with the marker for `key` on its first line. */
export function withMarker(key: string, body: string): string {
  return `${markerFor(key)}\n${body}`;
}

/** The key of the first marker in `text` (null: none) and the text without that marker, trimmed. */
export function splitMarker(text: string): { key: string | null; body: string } {
  const match = MARKER_RE.exec(text);
  if (match === null) return { key: null, body: text.trim() };
  return {
    key: match[1] ?? null,
    body: (text.slice(0, match.index) + text.slice(match.index + match[0].length)).trim(),
  };
}

/** True when `text` carries something that starts like a Foreman marker (in any accepted form). */
export function hasMarker(text: string): boolean {
  return ANY_MARKER_RE.test(text);
}

/** The key when `line` (trimmed) is exactly one raw marker, else null (the local tracker's block header). */
export function markerLineKey(line: string): string | null {
  return MARKER_LINE_RE.exec(line.trim())?.[1] ?? null;
}
