/**
 * The contract between the HTTP intake (intake.ts) and a provider (github.ts, linear.ts): header
 * prechecks, verification of the raw body, and mapping the payload onto `WebhookEvent`s. Also the
 * small JSON readers the mappings share. Internal to src/server/webhooks/.
 */
import { hasMarker, readMarker, type CommentKey } from '../../trackers/marker.js';
import type { WebhookEvent, WebhookSource } from './events.js';

/** A parsed JSON object. */
export type Json = Record<string, unknown>;

/** True when `v` is a plain JSON object (not null, not an array). */
export const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
/** `v` when it is a JSON object, else `{}`. */
export const obj = (v: unknown): Json => (isObj(v) ? v : {});
/** `v` when it is a string, else null. */
export const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
/** `v` when it is a finite number, else null. */
export const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** A rejection: HTTP status, error code (`{ error: { code, message } }`), message. */
export class Reject {
  constructor(
    readonly status: 400 | 401 | 413 | 415 | 500 | 503,
    readonly code: string,
    readonly message: string,
  ) {}
}

/** What a provider's `verify` returns for a good delivery. */
export interface Verified {
  /** The parsed body. */
  payload: Json;
  /** Delivery id (deduplication key within the provider). */
  id: string;
  /** `event.action`, e.g. `issues.opened`, `Issue.update`. */
  name: string;
}

/** The provider-specific half of a route. */
export interface Provider {
  source: WebhookSource;
  /** False when no secret is configured: the route answers 503 `webhook_not_configured`. */
  configured: boolean;
  /** Header checks before the body is read (signature present, required headers). */
  precheck(headers: Headers): Reject | null;
  /** Verifies the raw body and returns the parsed payload, the delivery id and name. */
  verify(raw: Buffer, headers: Headers): Promise<Reject | Verified>;
  /**
   * Maps a verified payload to events; `[]` when Foreman does not act on it; a `Reject` (400
   * `invalid_payload`) when it is an event Foreman acts on but lacks what that event needs.
   */
  map(name: string, payload: Json): WebhookEvent[] | Reject;
}

/**
 * Parses a verified body; payloads must be JSON objects. Returns a 400 `malformed_json` or
 * `invalid_payload` rejection otherwise.
 */
export function parseJson(raw: Buffer): Json | Reject {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString('utf8'));
  } catch {
    return new Reject(400, 'malformed_json', 'The body is not valid JSON.');
  }
  if (!isObj(parsed)) return new Reject(400, 'invalid_payload', 'The body must be a JSON object.');
  return parsed;
}

/** How a comment webhook tells Foreman's own comments from a person's (docs/architecture.md, "Foreman's own comments"). */
export interface CommentMarkers {
  /**
   * The installation's comment key. With it, only a comment whose marker Foreman signed is
   * Foreman's; a forged or unsigned marker is a person's comment, judged like any other (the poll
   * path does the same). Without it, any marker counts as Foreman's and the comment is dropped.
   */
  commentKey?: CommentKey;
}

/**
 * The text of a comment as a person's answer, or null when it is Foreman's own (a marker it
 * signed, or any marker when no key is known). A forged marker is taken out of the text.
 */
export function personsText(body: string, comments: CommentMarkers): string | null {
  if (!hasMarker(body)) return body;
  if (!comments.commentKey) return null;
  const reading = readMarker(body, comments.commentKey);
  if (reading.signed) return null;
  return reading.key === null ? body : reading.body;
}
