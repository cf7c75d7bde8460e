/**
 * The daemon's HTTP server with the cockpit (src/server/cockpit.ts) and the metrics routes
 * (src/metrics/routes.ts, over the run ledger in the context's home) over a RunContext's worker, as
 * src/daemon.ts wires it, for the answer-route and dashboard tests.
 */
import { createMetricsRoutes, ledgerReports } from '../../src/metrics/routes.js';
import { checkHealth } from '../../src/server/health.js';
import { startHttpServer, type HttpServer } from '../../src/server/http.js';
import { collectState } from '../../src/status.js';
import type { RunContext } from './run-context.js';
import { toolUse } from './scripted-model-server.js';
import { temporalNamespace } from './temporal.js';

/** The implementer asks (two options), then fixes and finishes once answered. */
export const ASK_THEN_FIX = [
  toolUse('escalate', {
    question: 'Should add() saturate at MAX_SAFE_INTEGER?',
    options: ['yes', 'no'],
    recommendation: 'no',
  }),
  toolUse('edit_file', { path: 'add.js', old_text: 'return a - b;', new_text: 'return a + b;' }),
  toolUse('finish', { summary: 'Fixed add() as answered.' }),
];

/** Starts the daemon's HTTP server (with the cockpit and the metrics routes) over a RunContext's worker. */
export async function startCockpitServer(c: RunContext, token?: string): Promise<HttpServer> {
  const { client, deployment, worker } = c.runtime;
  return startHttpServer(
    {
      state: () => collectState(client, deployment),
      issue: async () => null,
      refresh: async () => {},
      cockpit: {
        client,
        deployment,
        health: () => checkHealth({ client, worker }),
        home: c.home,
        policy: () => c.store.current().policy,
        namespace: temporalNamespace(),
        temporalUiUrl: 'http://127.0.0.1:8233',
      },
    },
    {
      port: 0,
      host: '127.0.0.1',
      routes: createMetricsRoutes({
        report: ledgerReports(c.home, deployment),
        state: () => collectState(client, deployment),
      }),
      ...(token === undefined ? {} : { token }),
    },
  );
}
