/**
 * Webhook HTTP intake: `POST /webhooks/github` and `POST /webhooks/linear`. Owns reading the raw
 * body (with a size cap), the content type, dispatching signature and timestamp checks to the
 * provider (github.ts, linear.ts, which also map payloads onto the normalized `WebhookEvent`
 * union of events.ts), duplicate-delivery suppression and the 4xx answers to bad input.
 *
 * Does not own what happens next: the daemon's `onEvents` (router.ts) turns events into Temporal
 * signals (workflows/definitions.ts). Nothing here talks to Temporal, a tracker or the network. Webhooks
 * are a latency optimisation over polling, so anything doubtful is rejected or ignored rather
 * than guessed at — the next poll catches up.
 *
 * Status codes (every error body is `{ error: { code, message } }`, as in src/server/http.ts):
 * - 202 `{ accepted: true, delivery, kinds }` — events handed to `onEvents`, which resolved.
 * - 202 `{ ignored: true, delivery }` — verified, but nothing Foreman acts on (`onEvents` not called).
 * - 200 `{ duplicate: true, delivery }` — a delivery id seen before (providers retry; we ack).
 * - 400 `missing_header` (`x-github-event` / `x-github-delivery`), `malformed_json`, `invalid_payload`
 *   (also a signed event Foreman acts on that lacks what it needs, e.g. an `issues` event without
 *   `issue`, a comment without `comment.user`: specs/trust.md "Webhook payloads").
 * - 401 `missing_signature`, `bad_signature`, `stale_timestamp` (Linear: `webhookTimestamp` more
 *   than 60 s from now). The issue allows 400 or 401 for signature failures; we use 401 for all
 *   authentication failures so a monitor can tell "misconfigured secret" from "bad request".
 * - 405 `method_not_allowed`, 413 `payload_too_large`, 415 `unsupported_media_type`.
 * - 500 `webhook_handler_failed` — `onEvents` threw; the delivery id is released so the
 *   provider's redelivery is processed.
 * - 503 `webhook_not_configured` — no secret for that provider (404 would hide a config mistake).
 */
import { Hono, type Context } from 'hono';
import type { Logger } from '../../logger.js';
import type { CommentKey } from '../../trackers/marker.js';
import type { WebhookDelivery, WebhookEventsHandler } from './events.js';
import { createGitHubProvider } from './github.js';
import { createLinearProvider } from './linear.js';
import { Reject, type Provider } from './provider.js';

/** Default body cap: 1 MiB. GitHub caps payloads at 25 MB but the events we read are small. */
export const WEBHOOK_DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// Duplicate deliveries

/** Options of `DeliveryCache`. */
export interface DeliveryCacheOptions {
  /** Ids kept; the least recently seen is dropped first. (Default: 10000) */
  maxEntries?: number;
  /** How long an id is remembered, ms. (Default: 86400000 = 24 h) */
  ttlMs?: number;
  /** Clock, epoch ms. (Default: Date.now) */
  now?: () => number;
}

/**
 * An in-memory LRU of recent delivery ids with a TTL. Providers deliver at least once (retries,
 * manual redeliveries); this makes a repeat within the window a no-op. It is per process: after
 * a restart a repeat gets through, which is fine because every signal it causes is idempotent.
 */
export class DeliveryCache {
  private readonly maxEntries: number;
  private readonly ttlMs: number;
  private readonly now: () => number;
  /** id → expiry (epoch ms); Map iteration order is insertion order, so the first key is the oldest. */
  private readonly entries = new Map<string, number>();

  constructor(opts: DeliveryCacheOptions = {}) {
    this.maxEntries = Math.max(1, opts.maxEntries ?? 10_000);
    this.ttlMs = opts.ttlMs ?? 24 * 60 * 60 * 1000;
    this.now = opts.now ?? Date.now;
  }

  /** Number of ids held (expired ones may be counted until touched). */
  get size(): number {
    return this.entries.size;
  }

  /** True when `id` was claimed and has not expired. */
  has(id: string): boolean {
    const expires = this.entries.get(id);
    if (expires === undefined) return false;
    if (expires <= this.now()) {
      this.entries.delete(id);
      return false;
    }
    return true;
  }

  /**
   * Records `id`; returns false when it was already there (a duplicate). Claiming before the
   * events are handed on makes two concurrent copies of one delivery resolve to one.
   */
  claim(id: string): boolean {
    if (this.has(id)) {
      // Refresh recency: a delivery that keeps coming back stays remembered.
      const expires = this.entries.get(id)!;
      this.entries.delete(id);
      this.entries.set(id, expires);
      return false;
    }
    this.entries.set(id, this.now() + this.ttlMs);
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
    return true;
  }

  /** Forgets `id` (its processing failed, so a redelivery must get through). */
  release(id: string): void {
    this.entries.delete(id);
  }
}

/** Options of `createWebhookRoutes`. */
export interface WebhookRoutesOptions {
  /** GitHub webhook secret; unset → `POST /webhooks/github` answers 503. */
  githubSecret?: string;
  /** Linear webhook signing secret; unset → `POST /webhooks/linear` answers 503. */
  linearSecret?: string;
  /** Called once per new, verified delivery that maps to at least one event. */
  onEvents: WebhookEventsHandler;
  /** Seen delivery ids, shared by both routes (ids are namespaced by source). (Default: a new `DeliveryCache()`) */
  dedup?: DeliveryCache;
  /** Largest accepted body, bytes; reading stops at the first byte over. (Default: 1048576) */
  maxBodyBytes?: number;
  /** Clock for `receivedAt` and the Linear timestamp window, epoch ms. (Default: Date.now) */
  now?: () => number;
  /** Rejections at warn, accepted deliveries at debug. Never logs bodies, signatures or secrets. */
  log?: Pick<Logger, 'debug' | 'warn' | 'error'>;
  /**
   * The installation's comment key (src/trackers/marker.ts `loadCommentKey`): only comments whose
   * marker Foreman signed are dropped as its own. (Default: none: any marker counts as Foreman's)
   */
  commentKey?: CommentKey;
}

const apiError = (code: string, message: string) => ({ error: { code, message } });

/**
 * Builds a Hono app with `POST /webhooks/github` and `POST /webhooks/linear` (other methods: 405).
 * Mount with `app.route('/', createWebhookRoutes(opts))`. See the module header for statuses.
 * Verification: GitHub with `@octokit/webhooks` `verify(rawBody, x-hub-signature-256)`; Linear
 * with `LinearWebhookClient.verify(rawBody, linear-signature)` plus our own ±60 s check of
 * `webhookTimestamp` against `opts.now` (the SDK checks against `Date.now`).
 */
export function createWebhookRoutes(opts: WebhookRoutesOptions): Hono {
  const maxBodyBytes = opts.maxBodyBytes ?? WEBHOOK_DEFAULT_MAX_BODY_BYTES;
  const now = opts.now ?? Date.now;
  const dedup = opts.dedup ?? new DeliveryCache();
  const log = opts.log;

  const markers = opts.commentKey ? { commentKey: opts.commentKey } : {};
  const githubProvider = createGitHubProvider(opts.githubSecret, markers);
  const linearProvider = createLinearProvider(opts.linearSecret, now, markers);

  const handle = async (c: Context, p: Provider): Promise<Response> => {
    const reject = (r: Reject, delivery?: string) => {
      log?.warn({ source: p.source, delivery, status: r.status, code: r.code }, 'webhook rejected');
      return c.json(apiError(r.code, r.message), r.status);
    };
    if (!p.configured) {
      const key = p.source === 'github' ? 'GitHub' : 'Linear';
      return reject(
        new Reject(
          503,
          'webhook_not_configured',
          `No ${key} webhook secret is configured: set it in the policy (or its $VAR) to receive ${key} webhooks.`,
        ),
      );
    }
    const headers = c.req.raw.headers;
    const mediaType = (headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    if (mediaType !== 'application/json') {
      return reject(
        new Reject(
          415,
          'unsupported_media_type',
          `Content type must be application/json (got ${mediaType || 'none'}); set the webhook's content type to JSON.`,
        ),
      );
    }
    const pre = p.precheck(headers);
    if (pre) return reject(pre);

    const declared = Number(headers.get('content-length') ?? NaN);
    if (Number.isFinite(declared) && declared > maxBodyBytes) return tooLarge(reject);
    const raw = await readBodyWithLimit(c.req.raw, maxBodyBytes);
    if (raw === null) return tooLarge(reject);

    const verified = await p.verify(raw, headers);
    if (verified instanceof Reject) return reject(verified);
    const delivery: WebhookDelivery = {
      id: verified.id,
      source: p.source,
      name: verified.name,
      receivedAt: new Date(now()).toISOString(),
    };

    const events = p.map(delivery.name, verified.payload);
    if (events instanceof Reject) return reject(events, delivery.id);
    const key = `${p.source}:${delivery.id}`;
    if (!dedup.claim(key)) {
      log?.debug({ source: p.source, delivery: delivery.id, name: delivery.name }, 'webhook duplicate');
      return c.json({ duplicate: true, delivery: delivery.id }, 200);
    }
    if (events.length === 0) {
      log?.debug({ source: p.source, delivery: delivery.id, name: delivery.name }, 'webhook ignored');
      return c.json({ ignored: true, delivery: delivery.id }, 202);
    }
    try {
      await opts.onEvents(events, delivery);
    } catch (err) {
      dedup.release(key);
      log?.error(
        {
          source: p.source,
          delivery: delivery.id,
          name: delivery.name,
          err: err instanceof Error ? err.message : String(err),
        },
        'webhook handler failed',
      );
      return c.json(
        apiError('webhook_handler_failed', 'Foreman could not hand the events on; the provider may redeliver.'),
        500,
      );
    }
    const kinds = events.map((e) => e.kind);
    log?.debug({ source: p.source, delivery: delivery.id, name: delivery.name, kinds }, 'webhook accepted');
    return c.json({ accepted: true, delivery: delivery.id, kinds }, 202);
  };

  const app = new Hono();
  app.post('/webhooks/github', (c) => handle(c, githubProvider));
  app.post('/webhooks/linear', (c) => handle(c, linearProvider));
  app.all('/webhooks/github', (c) => c.json(apiError('method_not_allowed', 'Use POST.'), 405, { allow: 'POST' }));
  app.all('/webhooks/linear', (c) => c.json(apiError('method_not_allowed', 'Use POST.'), 405, { allow: 'POST' }));
  return app;

  function tooLarge(reject: (r: Reject) => Response): Response {
    const res = reject(
      new Reject(
        413,
        'payload_too_large',
        `The body is over ${maxBodyBytes} bytes; Foreman's webhook events are far smaller, so check the webhook's event selection.`,
      ),
    );
    // The rest of the body was not read: do not keep the connection for another request.
    res.headers.set('connection', 'close');
    return res;
  }
}

/** Reads a request body, stopping (and cancelling the stream) at the first byte over `max`; null when over. */
async function readBodyWithLimit(req: Request, max: number): Promise<Buffer | null> {
  if (!req.body) return Buffer.alloc(0);
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => undefined);
      return null;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, size);
}
