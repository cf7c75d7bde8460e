/**
 * Webhook receiving layer: `POST /webhooks/github` and `POST /webhooks/linear`. Owns reading the
 * raw body (with a size cap), signature and timestamp checks, duplicate-delivery suppression and
 * mapping provider payloads onto a small normalized `WebhookEvent` union.
 *
 * Does not own what happens next: the daemon's `onEvents` turns events into Temporal signals
 * (workflows/definitions.ts). Nothing here talks to Temporal, a tracker or the network. Webhooks
 * are a latency optimisation over polling, so anything doubtful is rejected or ignored rather
 * than guessed at — the next poll catches up.
 *
 * Status codes (every error body is `{ error: { code, message } }`, as in src/server/http.ts):
 * - 202 `{ accepted: true, delivery, kinds }` — events handed to `onEvents`, which resolved.
 * - 202 `{ ignored: true, delivery }` — verified, but nothing Foreman acts on (`onEvents` not called).
 * - 200 `{ duplicate: true, delivery }` — a delivery id seen before (providers retry; we ack).
 * - 400 `missing_header` (`x-github-event` / `x-github-delivery`), `malformed_json`, `invalid_payload`.
 * - 401 `missing_signature`, `bad_signature`, `stale_timestamp` (Linear: `webhookTimestamp` more
 *   than 60 s from now). The issue allows 400 or 401 for signature failures; we use 401 for all
 *   authentication failures so a monitor can tell "misconfigured secret" from "bad request".
 * - 405 `method_not_allowed`, 413 `payload_too_large`, 415 `unsupported_media_type`.
 * - 500 `webhook_handler_failed` — `onEvents` threw; the delivery id is released so the
 *   provider's redelivery is processed.
 * - 503 `webhook_not_configured` — no secret for that provider (404 would hide a config mistake).
 */
import { Webhooks } from '@octokit/webhooks';
import { LinearWebhookClient, LINEAR_WEBHOOK_SIGNATURE_HEADER } from '@linear/sdk/webhooks';
import { Hono, type Context } from 'hono';
import type { Logger } from '../logger.js';

/** Which provider sent a delivery. */
export type WebhookSource = 'github' | 'linear';

/**
 * A tracker issue as webhooks name it. GitHub: `id` = issue number as a string (`"42"`),
 * `identifier` = `<repo>-<number>` (`app-42`), as src/trackers/github.ts. Linear: `id` = issue
 * uuid, `identifier` = e.g. `ENG-123` (falls back to the uuid when a Comment payload lacks
 * `data.issue`).
 */
export interface IssueRef {
  id: string;
  identifier: string;
}

/** What Foreman acts on, normalized across providers. */
export type WebhookEvent =
  /** The issue was created, edited, labeled, assigned, moved, closed, removed…: re-read it. */
  | { kind: 'issue_changed'; source: WebhookSource; issue: IssueRef }
  /**
   * A human comment on an issue (never one carrying Foreman's `<!-- foreman:key=` marker).
   * GitHub: `author` = login, `authorAssociation` = `OWNER | MEMBER | COLLABORATOR | CONTRIBUTOR
   * | …` (trust only the first three). Linear: `author` = user name (or email), `authorId` =
   * user uuid; Linear webhooks only come from the workspace, so there is no association.
   */
  | {
      kind: 'comment';
      source: WebhookSource;
      issue: IssueRef;
      commentId: string;
      author: string;
      authorId?: string;
      body: string;
      authorAssociation?: string;
    }
  /** A submitted pull request review. `repository` = `owner/name`. */
  | {
      kind: 'pr_review';
      source: 'github';
      repository: string;
      branch: string;
      prNumber: number;
      state: 'approved' | 'changes_requested' | 'commented';
      author: string;
      body: string;
    }
  /** A pull request was closed, merged or not. */
  | { kind: 'pr_closed'; source: 'github'; repository: string; branch: string; prNumber: number; merged: boolean }
  /**
   * A finished check suite, check run or commit status. `conclusion`: GitHub's value (`success`,
   * `failure`, `neutral`, `cancelled`, `timed_out`, `action_required`, `skipped`, `stale`; for
   * statuses `success`, `failure`, `error`). `branch` is null when GitHub names none.
   */
  | {
      kind: 'ci_result';
      source: 'github';
      repository: string;
      branch: string | null;
      sha: string;
      conclusion: string;
      name: string;
    };

/** The kinds of `WebhookEvent`. */
export type WebhookEventKind = WebhookEvent['kind'];

/** One verified delivery. */
export interface WebhookDelivery {
  /** Provider delivery id: `x-github-delivery`, `linear-delivery` (or a key derived from the payload). */
  id: string;
  source: WebhookSource;
  /** `event.action`, e.g. `issues.opened`, `status`, `Issue.update`, `Comment.create`. */
  name: string;
  /** RFC 3339, when our server read it. */
  receivedAt: string;
}

/** Receives the events of one verified, new delivery. Resolve only when they are safely handed on. */
export type WebhookEventsHandler = (events: WebhookEvent[], delivery: WebhookDelivery) => Promise<void>;

/** Default body cap: 1 MiB. GitHub caps payloads at 25 MB but the events we read are small. */
export const WEBHOOK_DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
/** Linear's replay window for `webhookTimestamp`, ms (Linear docs "Securing webhooks"; SDK uses the same). */
export const LINEAR_TIMESTAMP_TOLERANCE_MS = 60_000;

/**
 * Foreman's own comments carry `<!-- foreman:key=… -->` (src/trackers/github.ts, linear.ts).
 * Linear's Markdown may hand it back HTML- or backslash-escaped, as src/trackers/linear.ts allows.
 */
const FOREMAN_MARKER_RE = /(?:<|&lt;|\\<)!--[ \t]*foreman:key=/;

/** Returns true when a comment body carries Foreman's hidden marker (i.e. Foreman wrote it). */
export function isForemanComment(body: string): boolean {
  return FOREMAN_MARKER_RE.test(body);
}

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

// ---------------------------------------------------------------------------------------------
// Payload mapping (pure; exported for unit use and for the lead's wiring tests)

type Json = Record<string, unknown>;

const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const obj = (v: unknown): Json => (isObj(v) ? v : {});
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** `issues` actions that change what Foreman reads from an issue (labels, state, assignee, text). */
const GITHUB_ISSUE_ACTIONS = new Set([
  'opened',
  'edited',
  'labeled',
  'unlabeled',
  'reopened',
  'closed',
  'assigned',
  'unassigned',
  'deleted',
  'transferred',
]);
const REVIEW_STATES = new Set(['approved', 'changes_requested', 'commented']);
const STATUS_STATES = new Set(['success', 'failure', 'error']);

/**
 * Maps one GitHub delivery (`x-github-event` name + parsed payload) to events; `[]` for anything
 * Foreman does not act on (e.g. `pull_request.opened/synchronize`, `ping`, pending statuses, PR
 * conversation comments, comments by Foreman). Rules: Foreman issue #webhooks brief; payload
 * shapes from GitHub's "Webhook events and payloads" (checked against @octokit/webhooks-examples).
 */
export function mapGitHubEvent(name: string, payload: Record<string, unknown>): WebhookEvent[] {
  const action = str(payload.action);
  const repository = obj(payload.repository);
  const repoName = str(repository.name);
  const repoFull = str(repository.full_name) ?? repoName ?? '';
  const issueRef = (issue: Json): IssueRef | null => {
    const n = num(issue.number);
    return n === null || !repoName ? null : { id: String(n), identifier: `${repoName}-${n}` };
  };

  switch (name) {
    case 'issues': {
      if (!action || !GITHUB_ISSUE_ACTIONS.has(action)) return [];
      const issue = issueRef(obj(payload.issue));
      return issue ? [{ kind: 'issue_changed', source: 'github', issue }] : [];
    }
    case 'issue_comment': {
      if (action !== 'created') return [];
      const rawIssue = obj(payload.issue);
      // Conversation comments on a PR arrive as issue_comment with `issue.pull_request` set.
      if (rawIssue.pull_request !== undefined && rawIssue.pull_request !== null) return [];
      const issue = issueRef(rawIssue);
      const comment = obj(payload.comment);
      const commentId = num(comment.id) ?? str(comment.id);
      const body = str(comment.body) ?? '';
      if (!issue || commentId === null || isForemanComment(body)) return [];
      const author = str(obj(comment.user).login) ?? '';
      const association = str(comment.author_association);
      return [
        {
          kind: 'comment',
          source: 'github',
          issue,
          commentId: String(commentId),
          author,
          body,
          ...(association ? { authorAssociation: association } : {}),
        },
      ];
    }
    case 'pull_request': {
      if (action !== 'closed') return [];
      const pr = obj(payload.pull_request);
      const branch = str(obj(pr.head).ref);
      const prNumber = num(pr.number) ?? num(payload.number);
      if (!branch || prNumber === null) return [];
      return [
        { kind: 'pr_closed', source: 'github', repository: repoFull, branch, prNumber, merged: pr.merged === true },
      ];
    }
    case 'pull_request_review': {
      if (action !== 'submitted') return [];
      const pr = obj(payload.pull_request);
      const review = obj(payload.review);
      const state = str(review.state)?.toLowerCase();
      const branch = str(obj(pr.head).ref);
      const prNumber = num(pr.number);
      if (!state || !REVIEW_STATES.has(state) || !branch || prNumber === null) return [];
      return [
        {
          kind: 'pr_review',
          source: 'github',
          repository: repoFull,
          branch,
          prNumber,
          state: state as 'approved' | 'changes_requested' | 'commented',
          author: str(obj(review.user).login) ?? '',
          body: str(review.body) ?? '',
        },
      ];
    }
    case 'check_suite': {
      if (action !== 'completed') return [];
      const suite = obj(payload.check_suite);
      const sha = str(suite.head_sha);
      if (!sha) return [];
      return [
        {
          kind: 'ci_result',
          source: 'github',
          repository: repoFull,
          branch: str(suite.head_branch),
          sha,
          conclusion: str(suite.conclusion) ?? 'unknown',
          name: str(obj(suite.app).name) ?? 'check_suite',
        },
      ];
    }
    case 'check_run': {
      if (action !== 'completed') return [];
      const run = obj(payload.check_run);
      const sha = str(run.head_sha);
      if (!sha) return [];
      return [
        {
          kind: 'ci_result',
          source: 'github',
          repository: repoFull,
          branch: str(obj(run.check_suite).head_branch),
          sha,
          conclusion: str(run.conclusion) ?? 'unknown',
          name: str(run.name) ?? 'check_run',
        },
      ];
    }
    case 'status': {
      const state = str(payload.state);
      const sha = str(payload.sha);
      if (!state || !STATUS_STATES.has(state) || !sha) return [];
      const branches = Array.isArray(payload.branches) ? payload.branches : [];
      return [
        {
          kind: 'ci_result',
          source: 'github',
          repository: repoFull,
          branch: str(obj(branches[0]).name),
          sha,
          conclusion: state,
          name: str(payload.context) ?? 'status',
        },
      ];
    }
    default:
      return [];
  }
}

/**
 * Maps one Linear data-change webhook (`{ action, type, data, … }`) to events: `Issue`
 * create/update/remove → issue_changed; `Comment.create` on an issue → comment (not Foreman's
 * own). Everything else → `[]`. Payload shape: Linear developer docs "Webhooks" and the
 * `EntityWebhookPayload` types of @linear/sdk.
 */
export function mapLinearEvent(payload: Record<string, unknown>): WebhookEvent[] {
  const type = str(payload.type);
  const action = str(payload.action);
  const data = obj(payload.data);
  if (type === 'Issue') {
    if (action !== 'create' && action !== 'update' && action !== 'remove') return [];
    const id = str(data.id);
    if (!id) return [];
    return [{ kind: 'issue_changed', source: 'linear', issue: { id, identifier: str(data.identifier) ?? id } }];
  }
  if (type === 'Comment') {
    if (action !== 'create') return [];
    const nested = obj(data.issue);
    const issueId = str(data.issueId) ?? str(nested.id);
    const commentId = str(data.id);
    const body = str(data.body) ?? '';
    // Comments on project updates, documents or initiatives have no issue.
    if (!issueId || !commentId || isForemanComment(body)) return [];
    const user = obj(data.user);
    const actor = obj(payload.actor);
    const author = str(user.name) ?? str(user.email) ?? str(actor.name) ?? str(data.userId) ?? '';
    const authorId = str(user.id) ?? str(data.userId);
    return [
      {
        kind: 'comment',
        source: 'linear',
        issue: { id: issueId, identifier: str(nested.identifier) ?? issueId },
        commentId,
        author,
        ...(authorId ? { authorId } : {}),
        body,
      },
    ];
  }
  return [];
}

// ---------------------------------------------------------------------------------------------
// HTTP

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
}

const apiError = (code: string, message: string) => ({ error: { code, message } });

/** A rejection: status, code, message. */
class Reject {
  constructor(
    readonly status: 400 | 401 | 413 | 415 | 500 | 503,
    readonly code: string,
    readonly message: string,
  ) {}
}

/** The provider-specific half of a route. */
interface Provider {
  source: WebhookSource;
  configured: boolean;
  /** Header checks before the body is read (signature present, required headers). */
  precheck(headers: Headers): Reject | null;
  /** Verifies the raw body and returns the parsed payload, the delivery id and name. */
  verify(raw: Buffer, headers: Headers): Promise<Reject | { payload: Json; id: string; name: string }>;
  map(name: string, payload: Json): WebhookEvent[];
}

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

  const github = opts.githubSecret ? new Webhooks({ secret: opts.githubSecret }) : null;
  const linear = opts.linearSecret ? new LinearWebhookClient(opts.linearSecret) : null;

  const githubProvider: Provider = {
    source: 'github',
    configured: github !== null,
    precheck(headers) {
      if (!headers.get('x-hub-signature-256')) {
        return new Reject(
          401,
          'missing_signature',
          'The x-hub-signature-256 header is missing: set a secret on the GitHub webhook (same value as the GitHub webhook secret in the policy).',
        );
      }
      if (!headers.get('x-github-event'))
        return new Reject(400, 'missing_header', 'The x-github-event header is missing.');
      if (!headers.get('x-github-delivery'))
        return new Reject(400, 'missing_header', 'The x-github-delivery header is missing.');
      return null;
    },
    async verify(raw, headers) {
      const signature = headers.get('x-hub-signature-256')!;
      let ok: boolean;
      try {
        // The signature covers the exact bytes; a UTF-8 round trip is exact for valid UTF-8 and
        // anything else was not JSON from GitHub anyway.
        ok = await github!.verify(raw.toString('utf8'), signature);
      } catch {
        ok = false; // empty body or malformed header: the SDK throws instead of returning false
      }
      if (!ok)
        return new Reject(
          401,
          'bad_signature',
          'The x-hub-signature-256 signature does not match: check that the GitHub webhook secret equals the one Foreman is configured with.',
        );
      const parsed = parseJson(raw);
      if (parsed instanceof Reject) return parsed;
      const event = headers.get('x-github-event')!;
      const action = str(parsed.action);
      return { payload: parsed, id: headers.get('x-github-delivery')!, name: action ? `${event}.${action}` : event };
    },
    map: (name, payload) => mapGitHubEvent(name.split('.')[0]!, payload),
  };

  const linearProvider: Provider = {
    source: 'linear',
    configured: linear !== null,
    precheck(headers) {
      if (!headers.get(LINEAR_WEBHOOK_SIGNATURE_HEADER)) {
        return new Reject(
          401,
          'missing_signature',
          `The ${LINEAR_WEBHOOK_SIGNATURE_HEADER} header is missing: only Linear webhooks with a signing secret are accepted.`,
        );
      }
      return null;
    },
    async verify(raw, headers) {
      const signature = headers.get(LINEAR_WEBHOOK_SIGNATURE_HEADER)!;
      try {
        linear!.verify(raw, signature);
      } catch (err) {
        // The SDK compares the HMAC first and only then parses the body for `webhookTimestamp`,
        // so a SyntaxError means a correctly signed body that is not JSON.
        if (err instanceof SyntaxError) return new Reject(400, 'malformed_json', 'The body is not valid JSON.');
        const message = err instanceof Error ? err.message : String(err);
        if (/timestamp/i.test(message)) return staleTimestamp();
        return new Reject(
          401,
          'bad_signature',
          `The ${LINEAR_WEBHOOK_SIGNATURE_HEADER} signature does not match: check that the Linear webhook signing secret equals the one Foreman is configured with.`,
        );
      }
      const parsed = parseJson(raw);
      if (parsed instanceof Reject) return parsed;
      const ts = num(parsed.webhookTimestamp);
      if (ts === null || Math.abs(now() - ts) > LINEAR_TIMESTAMP_TOLERANCE_MS) return staleTimestamp();
      const type = str(parsed.type) ?? 'unknown';
      const action = str(parsed.action);
      const name = action ? `${type}.${action}` : type;
      // Linear sends a per-delivery uuid in `Linear-Delivery`; without it, the payload's own
      // coordinates name the change (webhookId alone is the subscription, not the delivery).
      const id =
        headers.get('linear-delivery') ??
        [str(parsed.webhookId) ?? '', name, str(obj(parsed.data).id) ?? '', str(parsed.createdAt) ?? String(ts)].join(
          ':',
        );
      return { payload: parsed, id, name };
    },
    map: (_name, payload) => mapLinearEvent(payload),
  };

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

    const key = `${p.source}:${delivery.id}`;
    if (!dedup.claim(key)) {
      log?.debug({ source: p.source, delivery: delivery.id, name: delivery.name }, 'webhook duplicate');
      return c.json({ duplicate: true, delivery: delivery.id }, 200);
    }
    const events = p.map(delivery.name, verified.payload);
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

  function staleTimestamp(): Reject {
    return new Reject(
      401,
      'stale_timestamp',
      `webhookTimestamp is missing or more than ${LINEAR_TIMESTAMP_TOLERANCE_MS / 1000} s from now: a replay, or the clock is off (sync it with NTP).`,
    );
  }

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

/** Parses a verified body; payloads must be JSON objects. */
function parseJson(raw: Buffer): Json | Reject {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString('utf8'));
  } catch {
    return new Reject(400, 'malformed_json', 'The body is not valid JSON.');
  }
  if (!isObj(parsed)) return new Reject(400, 'invalid_payload', 'The body must be a JSON object.');
  return parsed;
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
