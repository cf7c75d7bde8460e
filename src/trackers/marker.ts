/**
 * Foreman's hidden comment marker: the one place that writes and reads it. Every comment Foreman
 * posts carries `<!-- foreman:key=<key> mac=<hex> -->`; its key makes the write idempotent (a
 * retried activity finds the comment by key and edits it instead of posting twice) and, with its
 * MAC, marks the comment as Foreman's, so it is never taken as a human's answer.
 *
 * The MAC is HMAC-SHA256 of the key under the installation's comment key (`<FOREMAN_HOME>/comment-key`,
 * {@link loadCommentKey}), so nobody without that file can mark a comment as Foreman's. A marker
 * without a MAC (written before MACs existed) or with a wrong one is read but not trusted
 * (docs/architecture.md, "Foreman's own comments").
 *
 * Reading accepts the forms a tracker may hand the marker back in: raw, HTML-escaped
 * (`&lt;!-- … --&gt;`) and Markdown-escaped (`\<!-- … --\>`). Keys are non-empty and contain no
 * whitespace, `<`, `>` or `&`.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { TrackerError } from '../errors.js';
import { rememberSecrets } from '../redact.js';

const OPEN = String.raw`(?:<|&lt;|\\<)!--[ \t]*foreman:key=`;
const MAC = String.raw`(?:[ \t]+mac=([0-9a-f]{64}))?`;
const CLOSE = String.raw`[ \t]*--(?:>|&gt;|\\>)`;
/** A marker anywhere in a text, with the line break after it. */
const MARKER_RE = new RegExp(`${OPEN}([^\\s<>&]+?)${MAC}${CLOSE}[ \\t]*(?:\\r?\\n)?`);
/** A line that is nothing but a raw marker. */
const MARKER_LINE_RE = /^<!--[ \t]*foreman:key=([^\s<>&]+?)(?:[ \t]+mac=([0-9a-f]{64}))?[ \t]*-->$/;
const ANY_MARKER_RE = new RegExp(OPEN);
/** The comment key file: 32 random bytes as 64 lowercase hex characters. */
const KEY_RE = /^[0-9a-f]{64}$/;

/**
 * The installation's comment key: 64 lowercase hex characters (32 bytes). Never leaves the
 * daemon: not in the agent's sandbox (FOREMAN_HOME is never bound there), and the redactor knows it.
 */
export type CommentKey = string;

/** The MAC of `key` under the installation's comment key: HMAC-SHA256, 64 hex characters. */
export function markerMac(key: string, secret: CommentKey): string {
  return createHmac('sha256', Buffer.from(secret, 'hex')).update(`foreman-comment\0${key}`).digest('hex');
}

/** True when `mac` (hex, may be undefined) is the MAC of `key`; compared in constant time. */
function macMatches(key: string, mac: string | undefined, secret: CommentKey): boolean {
  if (mac === undefined) return false;
  return timingSafeEqual(Buffer.from(mac, 'hex'), Buffer.from(markerMac(key, secret), 'hex'));
}

/** The signed marker for `key`, e.g. `<!-- foreman:key=evidence-<runId> mac=… -->`. */
export function markerFor(key: string, secret: CommentKey): string {
  return `<!-- foreman:key=${key} mac=${markerMac(key, secret)} -->`;
}

/** `body` with the signed marker for `key` on its first line. */
export function withMarker(key: string, body: string, secret: CommentKey): string {
  return `${markerFor(key, secret)}\n${body}`;
}

/** What {@link readMarker} finds in a text. */
export interface MarkerReading {
  /** The key the first marker names (signed or not), or null when there is no marker. */
  key: string | null;
  /** True when that marker's MAC is the key's under the installation's comment key. */
  signed: boolean;
  /** The text without that marker, trimmed. */
  body: string;
}

/**
 * Reads the first marker of `text` and checks its MAC. An unsigned or wrongly signed marker still
 * yields its key (so a caller can tell "no marker" from "a marker Foreman did not write"), with
 * `signed: false`.
 */
export function readMarker(text: string, secret: CommentKey): MarkerReading {
  const match = MARKER_RE.exec(text);
  if (match === null) return { key: null, signed: false, body: text.trim() };
  const key = match[1] as string;
  return {
    key,
    signed: macMatches(key, match[2], secret),
    body: (text.slice(0, match.index) + text.slice(match.index + match[0].length)).trim(),
  };
}

/** True when `text` carries something that starts like a Foreman marker (in any accepted form). */
export function hasMarker(text: string): boolean {
  return ANY_MARKER_RE.test(text);
}

/**
 * The key when `line` (trimmed) is exactly one raw marker whose MAC is right, else null (the local
 * tracker's block header: a block whose marker is forged or unsigned is a person's comment).
 */
export function signedMarkerLineKey(line: string, secret: CommentKey): string | null {
  const m = MARKER_LINE_RE.exec(line.trim());
  if (m === null) return null;
  const key = m[1] as string;
  return macMatches(key, m[2], secret) ? key : null;
}

/**
 * The marker of an issue Foreman files (`Tracker.createIssue`): `<!-- foreman:key=<key> -->`,
 * unsigned, because filing is made idempotent by it, not trusted by it.
 */
export function issueMarkerFor(key: string): string {
  return `<!-- foreman:key=${key} -->`;
}

/** `body` with the issue marker for `key` on its first line. */
export function withIssueMarker(key: string, body: string): string {
  return `${issueMarkerFor(key)}\n${body}`;
}

/** The key of the first marker in `text` (signed or not; null: none) and the text without it, trimmed. */
export function splitMarker(text: string): { key: string | null; body: string } {
  const match = MARKER_RE.exec(text);
  if (match === null) return { key: null, body: text.trim() };
  return {
    key: match[1] ?? null,
    body: (text.slice(0, match.index) + text.slice(match.index + match[0].length)).trim(),
  };
}

/** Path of the comment key file in a FOREMAN_HOME. */
export function commentKeyFile(home: string): string {
  return path.join(home, 'comment-key');
}

/**
 * The installation's comment key from `<home>/comment-key`, created once (32 random bytes as hex,
 * mode 0600, linked into place so two processes starting together agree on one key). The key is
 * registered with the redactor (src/redact.ts `rememberSecrets`) so no text Foreman lets out
 * carries it. A file left readable by others is narrowed to 0600.
 *
 * @param home FOREMAN_HOME (src/home.ts `foremanHome`).
 * @throws TrackerError `comment_key_invalid` (not retryable) when the file cannot be created or read,
 *   or does not hold 64 hex characters; the message says which file to fix or delete (deleting it
 *   makes Foreman post its evidence comments anew once, see docs/architecture.md, "Foreman's own comments").
 */
export function loadCommentKey(home: string): CommentKey {
  const file = commentKeyFile(home);
  const fail = (why: string, cause?: unknown) =>
    new TrackerError(
      'comment_key_invalid',
      `The comment key ${file} ${why}. Fix its permissions, or delete it to let Foreman create a new one ` +
        '(Foreman then posts new comments instead of editing its earlier ones).',
      { retryable: false, ...(cause === undefined ? {} : { cause }) },
    );
  let text: string;
  try {
    fs.mkdirSync(home, { recursive: true, mode: 0o700 });
    if (!fs.existsSync(file)) {
      // Written aside, then linked into place: the link fails if another process won the race,
      // and nobody ever reads a half-written key.
      const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
      fs.writeFileSync(tmp, randomBytes(32).toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
      try {
        fs.linkSync(tmp, file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      } finally {
        fs.rmSync(tmp, { force: true });
      }
    }
    if ((fs.statSync(file).mode & 0o077) !== 0) fs.chmodSync(file, 0o600);
    text = fs.readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw fail('cannot be created or read', err);
  }
  if (!KEY_RE.test(text)) throw fail('does not hold 64 lowercase hex characters');
  rememberSecrets([text]);
  return text;
}
