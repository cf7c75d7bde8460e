/**
 * Linear webhooks: signature verification with `LinearWebhookClient`, our own `webhookTimestamp`
 * replay window, and the mapping of Linear data-change events onto `WebhookEvent`. Pure apart from
 * the HMAC check; nothing here talks to Temporal or the network.
 */
import { LinearWebhookClient, LINEAR_WEBHOOK_SIGNATURE_HEADER } from '@linear/sdk/webhooks';
import { personsText, type CommentMarkers } from './provider.js';
import type { WebhookEvent } from './events.js';
import { invalidPayload } from './github.js';
import { num, obj, parseJson, Reject, str, type Provider } from './provider.js';

/** Linear's replay window for `webhookTimestamp`, ms (Linear docs "Securing webhooks"; SDK uses the same). */
export const LINEAR_TIMESTAMP_TOLERANCE_MS = 60_000;

/**
 * Maps one Linear data-change webhook (`{ action, type, data, … }`) to events: `Issue`
 * create/update/remove → issue_changed; `Comment.create` on an issue → comment (not Foreman's
 * own). Everything else → `[]`. An `Issue` change without `data.id`, or a comment without its id,
 * body or author (`data.user.id` / `data.userId`), is a `Reject` (400 `invalid_payload`;
 * specs/trust.md "Webhook payloads"). Payload shape: Linear developer docs "Webhooks" and the
 * `EntityWebhookPayload` types of @linear/sdk.
 */
export function mapLinearEvent(
  payload: Record<string, unknown>,
  comments: CommentMarkers = {},
): WebhookEvent[] | Reject {
  const type = str(payload.type);
  const action = str(payload.action);
  const data = obj(payload.data);
  if (type === 'Issue') {
    if (action !== 'create' && action !== 'update' && action !== 'remove') return [];
    const id = str(data.id);
    if (!id) return invalidPayload('no data.id');
    return [{ kind: 'issue_changed', source: 'linear', issue: { id, identifier: str(data.identifier) ?? id } }];
  }
  if (type === 'Comment') {
    if (action !== 'create') return [];
    const nested = obj(data.issue);
    const issueId = str(data.issueId) ?? str(nested.id);
    const commentId = str(data.id);
    const raw = str(data.body);
    // Comments on project updates, documents or initiatives have no issue.
    if (!issueId) return [];
    const user = obj(data.user);
    const authorId = str(user.id) ?? str(data.userId);
    // An integration's comment has a bot actor and no user: never an answer (specs/trust.md).
    if (!authorId && data.botActor !== undefined && data.botActor !== null) return [];
    if (!commentId || raw === null || !authorId) return invalidPayload('no data.id, data.body or data.user');
    const body = personsText(raw, comments);
    if (body === null) return [];
    const actor = obj(payload.actor);
    const author = str(user.name) ?? str(user.email) ?? str(actor.name) ?? authorId;
    return [
      {
        kind: 'comment',
        source: 'linear',
        issue: { id: issueId, identifier: str(nested.identifier) ?? issueId },
        commentId,
        author,
        authorId,
        body,
      },
    ];
  }
  return [];
}

/**
 * The Linear half of `POST /webhooks/linear`: requires `linear-signature` (401
 * `missing_signature`), verifies the body with `LinearWebhookClient.verify(rawBody, signature)`
 * (401 `bad_signature`; 400 `malformed_json` for a correctly signed non-JSON body), then checks
 * `webhookTimestamp` within ±`LINEAR_TIMESTAMP_TOLERANCE_MS` of `now()` (epoch ms; 401
 * `stale_timestamp`) — the SDK checks against `Date.now`, so ours makes the clock injectable.
 * `secret` unset → not configured (503).
 */
export function createLinearProvider(
  secret: string | undefined,
  now: () => number,
  comments: CommentMarkers = {},
): Provider {
  const linear = secret ? new LinearWebhookClient(secret) : null;
  return {
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
    map: (_name, payload) => mapLinearEvent(payload, comments),
  };
}

function staleTimestamp(): Reject {
  return new Reject(
    401,
    'stale_timestamp',
    `webhookTimestamp is missing or more than ${LINEAR_TIMESTAMP_TOLERANCE_MS / 1000} s from now: a replay, or the clock is off (sync it with NTP).`,
  );
}
