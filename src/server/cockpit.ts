/**
 * The operator's cockpit on the daemon's HTTP server (docs/architecture.md, "Dashboard"): the answer
 * route (src/server/answer.ts), `/healthz` (src/server/health.ts) and the dashboard
 * (src/server/dashboard/). src/server/http.ts mounts it behind its token door and lets the paths
 * {@link isPublicPath} names through without the token.
 */
import { Hono } from 'hono';
import type { Policy } from '../config/schema.js';
import { answerRoutes, type AnswerDeps } from './answer.js';
import { healthRoutes, type Health } from './health.js';
import { dashboardRoutes, isDashboardShellPath } from './dashboard/index.js';
import type { StateSnapshot } from '../status.js';

/** What the cockpit needs from the daemon. */
export interface CockpitDeps extends AnswerDeps {
  /** The daemon's health (src/server/health.ts `checkHealth`). */
  health(): Promise<Health>;
  /** FOREMAN_HOME, where the runs' transcripts are. */
  home: string;
  /** The policy in force. */
  policy(): Policy;
  /** The Temporal namespace of the runs. */
  namespace: string;
  /** The Temporal UI (`http://host:port`), when there is one; null: no links to it. */
  temporalUiUrl: string | null;
}

/**
 * Paths served without the bearer token, because they reveal nothing: `/healthz` (alive or not) and
 * the dashboard's page shells and static assets, which hold no data (the page fetches everything
 * from token-protected routes, sending the token the operator entered).
 */
export function isPublicPath(path: string): boolean {
  return path === '/healthz' || isDashboardShellPath(path);
}

/** The cockpit's routes, to mount at `/` behind the token door; `state` is `/api/v1/state`'s snapshot. */
export function cockpitRoutes(deps: CockpitDeps, state: () => Promise<StateSnapshot>): Hono {
  const app = new Hono();
  app.route('/', healthRoutes(deps.health));
  app.route('/', answerRoutes(deps));
  app.route('/', dashboardRoutes(deps, state));
  return app;
}
