/**
 * The daemon's HTTP surface (Symphony SPEC §13.7): `GET /api/v1/state`, `GET /api/v1/<identifier>`,
 * `POST /api/v1/refresh`, the cockpit (src/server/cockpit.ts: the dashboard at `/`, the answer route,
 * `/healthz`) and the webhook routes (src/server/webhooks/) when mounted. Observability and control
 * only: nothing here is needed for correctness (webhooks only speed up what the poll also does). Binds 127.0.0.1 unless told otherwise. Every response
 * body passes through the redactor (src/redact.ts `redactDeep`).
 *
 * The door (specs/policy.md `server.token`): with a token, every route but `/webhooks/*` (whose
 * providers check their own signatures) and the cockpit's public paths (`/healthz`, the
 * dashboard's data-free page shells and assets: src/server/cockpit.ts `isPublicPath`) needs `Authorization: Bearer <token>`, compared in
 * constant time, else 401 with `WWW-Authenticate`. Without a token the server binds loopback only.
 */
import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP, type AddressInfo } from 'node:net';
import { PolicyError } from '../errors.js';
import { redact, redactDeep } from '../redact.js';
import type { IssueDetail, StateSnapshot } from '../status.js';
import { cockpitRoutes, isPublicPath, type CockpitDeps } from './cockpit.js';

/** What the server needs from the daemon. */
export interface HttpDeps {
  state(): Promise<StateSnapshot>;
  issue(identifier: string): Promise<IssueDetail | null>;
  refresh(reason: string): Promise<void>;
  /** The dashboard, the answer route and `/healthz` (src/server/cockpit.ts); absent: not served. */
  cockpit?: CockpitDeps;
}

const apiError = (code: string, message: string) => ({ error: { code, message } });

/** Paths that authenticate themselves (webhook signatures) and so pass without the bearer token. */
const WEBHOOK_PATH = /^\/webhooks(?:\/|$)/;

/** True when `header` is `Bearer <token>` (scheme case-insensitive); compared in constant time. */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const m = /^bearer[ \t]+(\S+)[ \t]*$/i.exec(header ?? '');
  // Digests have one length, so timingSafeEqual never throws and the length does not leak.
  const digest = (v: string) => createHash('sha256').update(v, 'utf8').digest();
  return m !== null && timingSafeEqual(digest(m[1] as string), digest(token));
}

/**
 * True when `host` names only the local machine: `localhost`, 127.0.0.0/8, `::1` (also in
 * brackets or IPv4-mapped). `0.0.0.0`, `::` and every other address are not.
 */
export function isLoopbackHost(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1');
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) !== 6) return false;
  // The URL parser writes IPv6 in its shortest form; IPv4-mapped 127.0.0.0/8 is ::ffff:7fXX:XXXX.
  const canonical = new URL(`http://[${h}]/`).hostname;
  return canonical === '[::1]' || /^\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]$/.test(canonical);
}

/**
 * Builds the Hono app (exported for tests that call `app.request`). `extra` (e.g. the webhook
 * routes) is mounted at `/`. With `opts.token`, every other route requires it as a bearer token.
 */
export function createHttpApp(deps: HttpDeps, extra?: Hono, opts: { token?: string } = {}): Hono {
  const app = new Hono();
  const token = opts.token;
  if (token !== undefined) {
    app.use('*', async (c, next) => {
      const path = c.req.path;
      if (
        WEBHOOK_PATH.test(path) ||
        (deps.cockpit && isPublicPath(path)) ||
        bearerMatches(c.req.header('authorization'), token)
      )
        return next();
      return c.json(
        apiError('unauthorized', 'Send the server token (server.token) as "Authorization: Bearer <token>".'),
        401,
        { 'WWW-Authenticate': 'Bearer realm="foreman"' },
      );
    });
  }
  if (extra) app.route('/', extra);
  if (deps.cockpit)
    app.route(
      '/',
      cockpitRoutes(deps.cockpit, () => deps.state()),
    );
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
  app.notFound((c) => c.json(apiError('not_found', `No route for ${c.req.method} ${c.req.path}.`), 404));
  app.onError((err, c) => c.json(apiError('internal_error', redact(err.message)), 500));
  return app;
}

/** A listening server. */
export interface HttpServer {
  /** `http://host:port`. */
  url: string;
  port: number;
  close(): Promise<void>;
}

/**
 * Refuses a server that would listen beyond loopback without a token (specs/policy.md `server.token`).
 *
 * @param host The bind address (`server.host` or `--host`).
 * @param token `server.token`, resolved; undefined when unset.
 * @throws PolicyError `server_token_missing` when `host` is not a loopback address and `token` is
 *   undefined: the API and dashboard (with `last_error`) would be open to the network.
 */
export function requireServerToken(host: string, token: string | undefined): void {
  if (token !== undefined || isLoopbackHost(host)) return;
  const message =
    `The HTTP server would listen on ${host}, beyond this machine, without a token. Set server.token ` +
    '(e.g. `token: $FOREMAN_API_TOKEN`, with FOREMAN_API_TOKEN a long random value) or bind 127.0.0.1.';
  throw new PolicyError('server_token_missing', message, { issues: [{ path: 'server.token', message }] });
}

/**
 * Starts the HTTP server on `host:port` (port 0 picks a free one), with `opts.routes` mounted too
 * and `opts.token` (specs/policy.md `server.token`) required on every route but the webhooks.
 *
 * @throws PolicyError `server_token_missing` when `host` is not a loopback address and no token is
 *   set: the API would be open to the network (the message says how to fix it).
 */
export async function startHttpServer(
  deps: HttpDeps,
  opts: { port: number; host: string; routes?: Hono; token?: string },
): Promise<HttpServer> {
  requireServerToken(opts.host, opts.token);
  const app = createHttpApp(deps, opts.routes, opts.token === undefined ? {} : { token: opts.token });
  const server: ServerType = await new Promise((resolve, reject) => {
    const s = serve({ fetch: app.fetch, port: opts.port, hostname: opts.host }, () => resolve(s));
    s.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  return {
    url: `http://${host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Open dashboard streams never end by themselves; without this, close() would wait for
        // every open page (src/server/dashboard/index.ts).
        if ('closeAllConnections' in server) server.closeAllConnections();
      }),
  };
}
