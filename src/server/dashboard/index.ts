/**
 * The dashboard's routes (docs/architecture.md, "Dashboard"):
 * - `GET /`, `GET /issues/<identifier>`, `GET /metrics-view`: page shells (no data; public);
 * - `GET /assets/*`: the pages' scripts and styles, uPlot's among them (public);
 * - `GET /api/v1/dashboard/stream`, `GET /api/v1/dashboard/issues/<identifier>/stream`: Server-Sent
 *   Events (behind the token): every {@link DASHBOARD_TICK_MS} (start to start) the server reads Temporal and sends,
 *   as one `fragments` event, the HTML fragments that changed since the last send;
 * - `GET /api/v1/dashboard/metrics/stream` (behind the token): the same, with one fragment that
 *   changes when the run ledger does, so the metrics page fetches `GET /api/v1/metrics` again.
 * Every view passes through the redactor before it is rendered.
 */
import fs from 'node:fs/promises';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import { ledgerDir } from '../../metrics/record.js';
import { redact, redactDeep } from '../../redact.js';
import type { StateSnapshot } from '../../status.js';
import { collectHome, collectIssueView, dashboardCaches, transcriptReader, type DashboardSource } from './data.js';
import { renderHome, renderIssue, renderMetricsVersion, renderShell, type Fragments } from './render.js';

/** How often a stream reads Temporal again, ms. */
export const DASHBOARD_TICK_MS = 1000;
/** A comment line keeps idle streams open through proxies, ms. */
const KEEPALIVE_MS = 15_000;
/** Transcript lines kept on an issue page (the latest). */
const TRANSCRIPT_LINES = 400;

/**
 * The pages' Content-Security-Policy: own scripts, styles and connections only; nothing inline.
 * uPlot needs nothing more: it draws on a canvas and sizes its elements through the CSSOM
 * (`element.style.width = …`), which `style-src` does not govern; it writes no `style` attribute
 * or `<style>` element (test/integration/dashboard-browser.test.ts checks no CSP violation is reported).
 */
export const DASHBOARD_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

const PUBLIC_DIR = fileURLToPath(new URL('./public/', import.meta.url));
const resolve = createRequire(import.meta.url).resolve;
const JS = 'text/javascript; charset=utf-8';
const CSS = 'text/css; charset=utf-8';
/** Static assets: URL name → [file, content type]. uPlot is served from node_modules, as installed. */
const ASSETS: Record<string, [string, string]> = {
  'dashboard.js': [`${PUBLIC_DIR}dashboard.js`, JS],
  'dashboard.css': [`${PUBLIC_DIR}dashboard.css`, CSS],
  'metrics.js': [`${PUBLIC_DIR}metrics.js`, JS],
  'metrics-series.js': [`${PUBLIC_DIR}metrics-series.js`, JS],
  'uplot.js': [resolve('uplot/dist/uPlot.esm.js'), JS],
  'uplot.css': [resolve('uplot/dist/uPlot.min.css'), CSS],
};

/** True for the dashboard's public paths: the page shells and assets (they hold no data). */
export function isDashboardShellPath(path: string): boolean {
  return (
    path === '/' || path === '/metrics-view' || /^\/issues\/[^/]+$/.test(path) || /^\/assets\/[a-z.-]+$/.test(path)
  );
}

/**
 * A stamp of the run ledger (specs/metrics.md): its directory's modification time, which every
 * record write moves (each write is a temp file renamed into it); "none" while there is no ledger.
 */
export async function ledgerStamp(home: string): Promise<string> {
  try {
    return String((await fs.stat(ledgerDir(home))).mtimeMs);
  } catch {
    return 'none';
  }
}

/**
 * Streams fragments: calls `render` every tick and sends the ones that changed (all on the first
 * tick), until the client goes away. A failed read is sent as an `error` event and retried.
 */
function fragmentStream(c: Parameters<typeof streamSSE>[0], render: () => Promise<Fragments>) {
  return streamSSE(c, async (stream) => {
    let closed = false;
    stream.onAbort(() => {
      closed = true;
    });
    const sent = new Map<string, string>();
    let lastWrite = 0;
    while (!closed) {
      const tickStart = Date.now();
      try {
        const all = await render();
        const changed: Fragments = {};
        for (const [id, frag] of Object.entries(all))
          if (sent.get(id) !== frag) {
            changed[id] = frag;
            sent.set(id, frag);
          }
        if (Object.keys(changed).length) {
          await stream.writeSSE({ event: 'fragments', data: JSON.stringify(changed) });
          lastWrite = Date.now();
        }
      } catch (err) {
        await stream.writeSSE({ event: 'failure', data: JSON.stringify({ message: redact((err as Error).message) }) });
        lastWrite = Date.now();
      }
      if (Date.now() - lastWrite > KEEPALIVE_MS) {
        await stream.write(': keepalive\n\n');
        lastWrite = Date.now();
      }
      await stream.sleep(Math.max(50, DASHBOARD_TICK_MS - (Date.now() - tickStart)));
    }
  });
}

/** The dashboard's routes; `state` is the `/api/v1/state` snapshot (src/status.ts). */
export function dashboardRoutes(src: DashboardSource, state: () => Promise<StateSnapshot>): Hono {
  const app = new Hono();
  const caches = dashboardCaches();
  const shellHeaders = { 'content-security-policy': DASHBOARD_CSP, 'cache-control': 'no-store' };
  app.get('/', async (c) => c.html(await renderShell({ kind: 'home' }), 200, shellHeaders));
  app.get('/metrics-view', async (c) => c.html(await renderShell({ kind: 'metrics' }), 200, shellHeaders));
  app.get('/issues/:identifier', async (c) =>
    c.html(await renderShell({ kind: 'issue', identifier: c.req.param('identifier') }), 200, shellHeaders),
  );
  app.get('/assets/:name', async (c) => {
    const asset = ASSETS[c.req.param('name')];
    if (!asset) return c.json({ error: { code: 'not_found', message: 'No such asset.' } }, 404);
    return c.body(await fs.readFile(asset[0]), 200, { 'content-type': asset[1], 'cache-control': 'no-cache' });
  });
  app.get('/api/v1/dashboard/stream', (c) =>
    fragmentStream(c, async () => renderHome(redactDeep(await collectHome(src, caches, await state())))),
  );
  app.get('/api/v1/dashboard/metrics/stream', (c) =>
    fragmentStream(c, async () => renderMetricsVersion(await ledgerStamp(src.home))),
  );
  app.get('/api/v1/dashboard/issues/:identifier/stream', (c) => {
    const identifier = c.req.param('identifier');
    let reader: { runId: string; read: () => Promise<string[]> } | null = null;
    let lines: string[] = [];
    return fragmentStream(c, async () => {
      const view = await collectIssueView(src, caches, identifier);
      if (view && reader?.runId !== view.run_id) {
        const r = transcriptReader(src.home, identifier, view.run_id);
        reader = { runId: view.run_id, read: () => r.read() };
        lines = [];
      }
      if (reader) lines = [...lines, ...(await reader.read())].slice(-TRANSCRIPT_LINES);
      return renderIssue(redactDeep(view), redactDeep(lines));
    });
  });
  return app;
}
