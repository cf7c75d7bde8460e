/**
 * GitHub payloads → the normalized `Issue` and `IssueComment` (Symphony SPEC §4.1.1, §11.3), the
 * state model on top of open/closed plus `state: X` labels, and the id/identifier syntax.
 *
 * Owns reading GitHub's JSON; not the requests (./queries.ts) nor the writes (./adapter.ts).
 */
import type { Issue, IssueComment, TrackerUser } from '../types.js';
import { readMarker, splitMarker, withIssueMarker, withMarker, type CommentKey } from '../marker.js';
import { isRecord, normalizeName, toIsoTime } from '../shared.js';
import { payloadInvalid } from './client.js';

/** State of an open issue without a state label. */
export const GITHUB_DEFAULT_OPEN_STATE = 'Todo';
/** Closed issues: `state_reason` → state name. Anything else closed (`completed`, null) is `Done`. */
const CLOSED_STATES: Record<string, string> = { not_planned: 'Cancelled', duplicate: 'Duplicate' };
/** The state of a closed issue without a special `state_reason`. */
export const CLOSED_DONE = 'Done';
/** Every state name a closed issue can read as, normalized. */
export const CLOSED_NAMES: ReadonlySet<string> = new Set(
  [CLOSED_DONE, ...Object.values(CLOSED_STATES)].map(normalizeName),
);
/** GitHub rejects comment bodies over 65536 characters. */
const MAX_BODY = 65_536;
const PRIORITY_RE = /^priority\s*:\s*(-?\d+)$/;

/** Where an issue lives and how its state labels are spelled. */
export interface GitHubScope {
  owner: string;
  repo: string;
  /** `owner/repo`. */
  slug: string;
  /** Prefix of state labels, e.g. `state: `. */
  prefix: string;
}

/** The state a label names (`state: In Progress` → `In Progress`), or null when it is no state label. */
export function stateLabelOf(scope: GitHubScope, name: string): string | null {
  return name.toLowerCase().startsWith(scope.prefix.toLowerCase()) && name.slice(scope.prefix.length).trim() !== ''
    ? name.slice(scope.prefix.length).trim()
    : null;
}

/** The state of a raw issue: closed by `state_reason`, open by its first state label, else `Todo`. */
function stateOf(scope: GitHubScope, raw: Record<string, unknown>): string {
  if (raw.state === 'closed') return CLOSED_STATES[String(raw.state_reason)] ?? CLOSED_DONE;
  for (const name of labelNames(raw.labels)) {
    const s = stateLabelOf(scope, name);
    if (s !== null) return s;
  }
  return GITHUB_DEFAULT_OPEN_STATE;
}

/**
 * Normalizes one raw issue.
 *
 * @throws TrackerError `tracker_payload_invalid` when the record has no usable number, title or state.
 */
export function toIssue(scope: GitHubScope, raw: unknown): Issue {
  const { owner, repo, slug } = scope;
  if (!isRecord(raw)) throw payloadInvalid(`an issue of ${slug} is not an object`);
  const number = raw.number;
  if (typeof number !== 'number' || !Number.isSafeInteger(number) || number <= 0) {
    throw payloadInvalid(`an issue of ${slug} has no valid "number"`);
  }
  if (typeof raw.title !== 'string' || raw.title.trim() === '')
    throw payloadInvalid(`issue ${slug}#${number} has no "title"`);
  if (raw.state !== 'open' && raw.state !== 'closed')
    throw payloadInvalid(`issue ${slug}#${number} has state ${JSON.stringify(raw.state)}, not open/closed`);
  const names = labelNames(raw.labels);
  const labels = [...new Set(names.map(normalizeName).filter((l) => l !== ''))];
  let priority: number | null = null;
  for (const l of labels) {
    const m = PRIORITY_RE.exec(l);
    if (m) {
      priority = Number(m[1]);
      break;
    }
  }
  const htmlUrl = typeof raw.html_url === 'string' ? raw.html_url : null;
  const body = typeof raw.body === 'string' ? raw.body.trim() : '';
  const assignee = isRecord(raw.assignee) && typeof raw.assignee.login === 'string' ? raw.assignee.login : null;
  return {
    id: String(number),
    identifier: `${repo}-${number}`,
    title: raw.title.trim(),
    description: body === '' ? null : body,
    priority,
    state: stateOf(scope, raw),
    branch_name: null,
    url: htmlUrl,
    assignee_id: assignee,
    labels,
    blocked_by: [],
    dispatchable: true,
    created_at: toIsoTime(raw.created_at),
    updated_at: toIsoTime(raw.updated_at),
    native_ref: {
      owner,
      repo,
      number,
      node_id: typeof raw.node_id === 'string' ? raw.node_id : null,
      html_url: htmlUrl,
    },
    author: userOf(raw.user, raw.author_association),
  };
}

/**
 * A GitHub `user` object (with the record's `author_association`) as the trust rules see it
 * (specs/trust.md): login as id and name, the association as role, `type: Bot` as a bot. null
 * when there is no login.
 */
export function userOf(user: unknown, association: unknown): TrackerUser | null {
  if (!isRecord(user) || typeof user.login !== 'string' || user.login.trim() === '') return null;
  return {
    id: user.login,
    name: user.login,
    role: typeof association === 'string' && association !== '' ? association.toUpperCase() : null,
    bot: user.type === 'Bot',
  };
}

/** The issues API lists pull requests too; they carry a `pull_request` key. */
export function isPullRequest(raw: unknown): boolean {
  return isRecord(raw) && raw.pull_request !== undefined && raw.pull_request !== null;
}

/** Label names from GitHub's `labels` (objects with `name`, or plain strings). */
export function labelNames(labels: unknown): string[] {
  if (!Array.isArray(labels)) return [];
  const out: string[] = [];
  for (const l of labels) {
    const name = typeof l === 'string' ? l : isRecord(l) && typeof l.name === 'string' ? l.name : null;
    if (name !== null && name.trim() !== '') out.push(name);
  }
  return out;
}

/** Issue ids are the issue numbers as decimal strings; null when `id` is not one. */
export function parseIssueNumber(id: string): number | null {
  const t = id.trim();
  if (!/^[1-9]\d{0,15}$/.test(t)) return null;
  const n = Number(t);
  return Number.isSafeInteger(n) ? n : null;
}

/**
 * `app-42`, `app#42`, `acme/app#42`, `#42` or `42` → 42, when the repository (if named) is
 * this one (case-insensitive); else null.
 */
export function parseIdentifier(identifier: string, owner: string, repo: string): number | null {
  const t = identifier.trim();
  const m = /^(?:(?:([^/\s#]+)\/)?([^/\s#]+?)(?:-|#)|#)?(\d+)$/.exec(t);
  if (!m) return null;
  const [, o, r, n] = m;
  if (o !== undefined && o.toLowerCase() !== owner.toLowerCase()) return null;
  if (r !== undefined && r.toLowerCase() !== repo.toLowerCase()) return null;
  return parseIssueNumber(n as string);
}

/** GitHub's limit on a body: the text cut to it, with a note where it was cut. */
function capBody(text: string): string {
  if (text.length <= MAX_BODY) return text;
  const note = '\n\n…(truncated)';
  return text.slice(0, MAX_BODY - note.length) + note;
}

/** The text of a comment Foreman posts: the signed marker line, then the body (cut to GitHub's limit). */
export function renderComment(key: string, body: string, commentKey: CommentKey): string {
  return capBody(withMarker(key, body.trim(), commentKey));
}

/** The body of an issue Foreman files: the issue marker line, then the description (cut to GitHub's limit). */
export function renderIssueBody(key: string, body: string): string {
  return capBody(withIssueMarker(key, body.trim()));
}

/** The marker key of an issue body, or null. */
export function markerKey(body: unknown): string | null {
  return typeof body === 'string' ? splitMarker(body).key : null;
}

/**
 * Who Foreman is on GitHub: the token's user id (`GET /user`; null for a token without a user,
 * then the MAC alone decides) and the installation's comment key.
 */
export interface GitHubSelf {
  userId: number | null;
  commentKey: CommentKey;
}

/**
 * Normalizes one raw comment (its `id` and `created_at` already checked). It is Foreman's
 * (`by_foreman`, with its `key`) only when its marker's MAC is right and its author is the token's
 * user; a comment with a forged or unsigned marker is a person's (docs/architecture.md, "Foreman's own comments").
 */
export function toComment(raw: Record<string, unknown>, self: GitHubSelf): IssueComment {
  const text = typeof raw.body === 'string' ? raw.body : '';
  const { key, signed, body } = readMarker(text, self.commentKey);
  const user = isRecord(raw.user) && typeof raw.user.login === 'string' ? raw.user.login : 'ghost';
  const byForeman = signed && (self.userId === null || (isRecord(raw.user) && raw.user.id === self.userId));
  return {
    id: String(raw.id),
    author: user,
    body,
    created_at: toIsoTime(raw.created_at) ?? String(raw.created_at),
    by_foreman: byForeman,
    key: byForeman ? key : null,
    author_user: userOf(raw.user, raw.author_association),
  };
}
