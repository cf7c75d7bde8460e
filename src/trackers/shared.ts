/**
 * Small helpers every tracker adapter (local, linear, github) shares: name folding for states and
 * labels, payload guards, timestamp parsing, and the argument checks of the `Tracker` methods
 * (comment keys, `since`, target states) with their `TrackerError` codes.
 *
 * Owns nothing provider-specific; the comment marker lives in ./marker.ts and redaction in
 * src/redact.ts.
 */
import { TrackerError } from '../errors.js';
import type { IssueComment, Tracker } from './types.js';

/** Comment keys: non-empty, no whitespace, `<`, `>` or `&` (what ./marker.ts reads back). */
const COMMENT_KEY_RE = /^[^\s<>&]+$/;

/** A state or label name as trackers compare it: trimmed and lowercased. */
export function normalizeName(s: string): string {
  return s.trim().toLowerCase();
}

/** True for a plain object (not null, not an array). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The trimmed string, or null when `value` is not a string or is blank. */
export function nonBlank(value: unknown): string | null {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : null;
}

/** Code-unit order of two strings (stable, locale-independent). */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A timestamp string (anything `Date.parse` reads) as RFC 3339 UTC, or null. */
export function toIsoTime(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : new Date(ms).toISOString();
}

/** The message of an error, or the value as text. */
export function describeError(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** True when `value` parses as an http(s) URL. */
export function isHttpUrl(value: string): boolean {
  try {
    return /^https?:$/.test(new URL(value).protocol);
  } catch {
    return false;
  }
}

/**
 * Checks an idempotency key (of `upsertComment` or `createIssue`).
 *
 * @param what How the message names it. (Default: `Comment key`)
 * @throws TrackerError `tracker_payload_invalid` (not retryable) when `key` is not a non-empty
 *   string without whitespace, `<`, `>` or `&`.
 */
export function requireKey(key: unknown, what = 'Comment key'): string {
  if (typeof key !== 'string' || !COMMENT_KEY_RE.test(key)) {
    throw new TrackerError(
      'tracker_payload_invalid',
      `${what} "${String(key)}" must be non-empty without spaces, "<", ">" or "&"`,
      { retryable: false },
    );
  }
  return key;
}

/**
 * Comments on `issueIds` created after `since` (RFC 3339), keyed by issue id: the tracker's
 * batched `fetchCommentsSince` when it has one, else one `fetchComments` per issue (an issue that
 * is gone is left out).
 * @throws TrackerError from the tracker (not for a missing issue in the fallback).
 */
export async function commentsSince(
  tracker: Pick<Tracker, 'fetchComments' | 'fetchCommentsSince'>,
  issueIds: string[],
  since: string,
): Promise<Map<string, IssueComment[]>> {
  const ids = [...new Set(issueIds)];
  if (ids.length === 0) return new Map();
  if (tracker.fetchCommentsSince) return tracker.fetchCommentsSince(ids, since);
  const out = new Map<string, IssueComment[]>();
  for (const id of ids) {
    try {
      const list = await tracker.fetchComments(id, since);
      if (list.length) out.set(id, list);
    } catch (err) {
      if (!(err instanceof TrackerError && (err.code === 'tracker_not_found' || err.code === 'issue_not_found')))
        throw err;
    }
  }
  return out;
}

/**
 * The `since` argument of `fetchComments` in epoch ms (`-Infinity` when absent).
 *
 * @throws TrackerError `tracker_payload_invalid` (not retryable) when `since` does not parse.
 */
export function parseSince(since: string | undefined): number {
  if (since === undefined) return Number.NEGATIVE_INFINITY;
  const ms = Date.parse(since);
  if (Number.isNaN(ms)) {
    throw new TrackerError('tracker_payload_invalid', `fetchComments: since "${since}" is not an RFC 3339 timestamp`, {
      retryable: false,
    });
  }
  return ms;
}

/**
 * The target state of `moveIssue` (or a new issue), trimmed.
 *
 * @param what The calling method, for the message (e.g. `moveIssue`).
 * @throws TrackerError `tracker_payload_invalid` (not retryable) unless `state` is one non-empty line.
 */
export function requireStateName(state: unknown, what = 'moveIssue'): string {
  const target = typeof state === 'string' ? state.trim() : '';
  if (target === '' || /[\r\n]/.test(target)) {
    throw new TrackerError('tracker_payload_invalid', `${what}: state "${String(state)}" must be one non-empty line`, {
      retryable: false,
    });
  }
  return target;
}

/**
 * The title of a new issue, trimmed.
 *
 * @throws TrackerError `tracker_payload_invalid` (not retryable) unless `title` is one non-empty line.
 */
export function requireTitle(title: unknown): string {
  const t = typeof title === 'string' ? title.trim() : '';
  if (t === '' || /[\r\n]/.test(t)) {
    throw new TrackerError(
      'tracker_payload_invalid',
      `createIssue: title "${String(title)}" must be one non-empty line`,
      {
        retryable: false,
      },
    );
  }
  return t;
}

/**
 * The checked key, title and state of a `createIssue` argument.
 *
 * @throws TrackerError `tracker_payload_invalid` (not retryable) for a bad key, title or state.
 */
export function checkNewIssue(issue: { key: unknown; title: unknown; state: unknown }): {
  key: string;
  title: string;
  state: string;
} {
  return {
    key: requireKey(issue.key, 'Issue key'),
    title: requireTitle(issue.title),
    state: requireStateName(issue.state, 'createIssue'),
  };
}

/** Maps with at most `limit` calls in flight; order preserved; the first failure rejects. */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
