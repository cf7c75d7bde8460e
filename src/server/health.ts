/**
 * `GET /healthz` (docs/architecture.md, "Dashboard"): 200 `{ ok: true, temporal: "up", worker:
 * "running", ... }` while the daemon's Temporal connection answers and its worker polls, else 503
 * with what is down. It needs no token: it says only whether this daemon is alive (no issue, no
 * text, no address), which is what a supervisor or load balancer probing it needs without a secret.
 */
import type { Client } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import { Hono } from 'hono';

/** What `/healthz` reports. */
export interface Health {
  ok: boolean;
  /** `up` when the Temporal frontend answered `GetSystemInfo` within {@link HEALTH_TIMEOUT_MS}. */
  temporal: 'up' | 'down';
  /** The worker's state (`running`; `stopping`, `failed`… when it is not polling). */
  worker: string;
  /** RFC 3339 time of the check. */
  checked_at: string;
}

/** Longest wait for Temporal's health check, ms. */
export const HEALTH_TIMEOUT_MS = 2000;

/** What the health check looks at. */
export interface HealthDeps {
  client: Client;
  worker: Pick<Worker, 'getState'>;
}

/** Checks the Temporal connection (a `GetSystemInfo` call) and the worker's state. */
export async function checkHealth(deps: HealthDeps): Promise<Health> {
  const temporal = await Promise.race([
    deps.client.workflowService.getSystemInfo({}).then(
      () => 'up' as const,
      () => 'down' as const,
    ),
    new Promise<'down'>((resolve) => setTimeout(() => resolve('down'), HEALTH_TIMEOUT_MS).unref()),
  ]);
  const worker = deps.worker.getState().toLowerCase();
  return { ok: temporal === 'up' && worker === 'running', temporal, worker, checked_at: new Date().toISOString() };
}

/** The route `GET /healthz` (public: see the module comment). */
export function healthRoutes(check: () => Promise<Health>): Hono {
  const app = new Hono();
  app.get('/healthz', async (c) => {
    const h = await check();
    return c.json(h, h.ok ? 200 : 503, { 'cache-control': 'no-store' });
  });
  return app;
}
