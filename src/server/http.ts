/**
 * The daemon's HTTP surface (Symphony SPEC §13.7): `GET /api/v1/state`, `GET /api/v1/<identifier>`,
 * `POST /api/v1/refresh` and a small dashboard at `/`, plus the webhook routes (src/server/webhooks/)
 * when mounted. Observability and control only: nothing here is needed for correctness (webhooks
 * only speed up what the poll also does). Binds 127.0.0.1 unless told otherwise. Every response
 * body passes through the redactor (src/redact.ts `redactDeep`).
 */
import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import type { AddressInfo } from 'node:net';
import { redact, redactDeep } from '../redact.js';
import type { StateSnapshot, RunningIssue, ClosedIssueRun } from '../status.js';

/** What the server needs from the daemon. */
export interface HttpDeps {
  state(): Promise<StateSnapshot>;
  issue(identifier: string): Promise<RunningIssue | ClosedIssueRun | null>;
  refresh(reason: string): Promise<void>;
}

const apiError = (code: string, message: string) => ({ error: { code, message } });

/** Builds the Hono app (exported for tests that call `app.request`). `extra` (e.g. the webhook routes) is mounted at `/`. */
export function createHttpApp(deps: HttpDeps, extra?: Hono): Hono {
  const app = new Hono();
  if (extra) app.route('/', extra);
  app.get('/api/v1/state', async (c) => c.json(redactDeep(await deps.state())));
  app.post('/api/v1/refresh', async (c) => {
    await deps.refresh('api');
    return c.json(
      { queued: true, coalesced: false, requested_at: new Date().toISOString(), operations: ['poll', 'reconcile'] },
      202,
    );
  });
  app.all('/api/v1/refresh', (c) => c.json(apiError('method_not_allowed', 'Use POST.'), 405));
  app.all('/api/v1/state', (c) => c.json(apiError('method_not_allowed', 'Use GET.'), 405));
  app.get('/api/v1/:identifier', async (c) => {
    const identifier = c.req.param('identifier');
    const found = await deps.issue(identifier);
    if (!found) return c.json(apiError('issue_not_found', `No run of ${identifier} is known to Temporal.`), 404);
    return c.json(redactDeep(found));
  });
  app.get('/', async (c) => c.html(renderDashboard(redactDeep(await deps.state()))));
  app.notFound((c) => c.json(apiError('not_found', `No route for ${c.req.method} ${c.req.path}.`), 404));
  app.onError((err, c) => c.json(apiError('internal_error', redact(err.message)), 500));
  return app;
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A server-rendered page of the state (refreshes itself every 5 s). */
export function renderDashboard(s: StateSnapshot): string {
  const running = s.running
    .map(
      (r) =>
        `<tr><td>${esc(r.issue_identifier)}</td><td>${esc(r.phase)}</td><td>${r.round}</td><td>${r.turn_count}</td>` +
        `<td>${r.tokens.total_tokens.toLocaleString('en-US')}</td><td>${esc(r.started_at)}</td><td>${esc(r.last_error ?? '')}</td></tr>`,
    )
    .join('');
  const recent = s.recent
    .map(
      (r) =>
        `<tr><td>${esc(r.issue_identifier)}</td><td>${esc(r.status)}</td><td>${esc(r.outcome ?? '')}</td><td>${esc(r.closed_at ?? '')}</td></tr>`,
    )
    .join('');
  return `<!doctype html><html><head><meta charset="utf-8"><title>Foreman</title><meta http-equiv="refresh" content="5">
<style>body{font:14px system-ui,sans-serif;margin:2rem}table{border-collapse:collapse;margin-bottom:2rem}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}</style></head>
<body><h1>Foreman</h1><p>Task queue <code>${esc(s.task_queue ?? 'all')}</code> · ${s.counts.running} running · generated ${esc(s.generated_at)}</p>
<h2>Running</h2><table><tr><th>Issue</th><th>Phase</th><th>Round</th><th>Turns</th><th>Tokens</th><th>Started</th><th>Last error</th></tr>${running || '<tr><td colspan="7">none</td></tr>'}</table>
<h2>Recently finished</h2><table><tr><th>Issue</th><th>Status</th><th>Outcome</th><th>Closed</th></tr>${recent || '<tr><td colspan="4">none</td></tr>'}</table>
</body></html>`;
}

/** A listening server. */
export interface HttpServer {
  /** `http://host:port`. */
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Starts the HTTP server on `host:port` (port 0 picks a free one), with `opts.routes` mounted too. */
export async function startHttpServer(
  deps: HttpDeps,
  opts: { port: number; host: string; routes?: Hono },
): Promise<HttpServer> {
  const app = createHttpApp(deps, opts.routes);
  const server: ServerType = await new Promise((resolve, reject) => {
    const s = serve({ fetch: app.fetch, port: opts.port, hostname: opts.host }, () => resolve(s));
    s.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  return {
    url: `http://${host}:${port}`,
    port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
