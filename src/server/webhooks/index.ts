/**
 * Webhooks, the public API: the HTTP intake (`createWebhookRoutes`, intake.ts), the provider
 * mappings (`mapGitHubEvent`, github.ts; `mapLinearEvent`, linear.ts), the normalized events
 * (events.ts) and the router that turns them into Temporal signals (`createWebhookRouter`,
 * router.ts). Mounted by src/daemon.ts on the HTTP server of src/server/http.ts.
 */
export type {
  IssueRef,
  WebhookDelivery,
  WebhookEvent,
  WebhookEventKind,
  WebhookEventsHandler,
  WebhookSource,
} from './events.js';
export {
  createWebhookRoutes,
  DeliveryCache,
  WEBHOOK_DEFAULT_MAX_BODY_BYTES,
  type DeliveryCacheOptions,
  type WebhookRoutesOptions,
} from './intake.js';
export { mapGitHubEvent } from './github.js';
export { LINEAR_TIMESTAMP_TOLERANCE_MS, mapLinearEvent } from './linear.js';
export { createWebhookRouter, RUNNING_RUNS_CACHE_MS, type WebhookRouterDeps } from './router.js';
