/**
 * The metrics routes of the daemon's HTTP server (specs/metrics.md): `GET /api/v1/metrics` (the
 * Level-5 metrics as JSON, per day, for the dashboard's charts) and `GET /metrics` (Prometheus
 * text: the Level-5 metrics as gauges plus the operational ones). Mounted by the daemon behind the
 * server's bearer token (specs/policy.md `server.token`) like every route but the webhooks.
 */
import { Hono } from 'hono';
import { Gauge, Registry } from 'prom-client';
import type { Deployment } from '../deployment.js';
import type { StateSnapshot } from '../status.js';
import type { RunPhase } from '../../workflows/definitions.js';
import { computeMetrics, METRIC_DEFINITIONS, METRIC_NAMES, type MetricsReport } from './level5.js';
import { operationalRegistry } from './operational.js';
import { readRunRecords } from './record.js';

/** The window of `GET /api/v1/metrics` without `?days=`, and of the Level-5 gauges at `/metrics`, in days. */
export const DEFAULT_WINDOW_DAYS = 30;

/** The phases a running issue can be in, each a series of `foreman_runs_active`. */
const PHASES: (RunPhase | 'unknown')[] = [
  'starting',
  'preparing',
  'implementing',
  'qa',
  'pushing',
  'reporting',
  'in_review',
  'waiting_for_human',
  'stopping',
  'unknown',
];

/** What the routes read. */
export interface MetricsDeps {
  /** The Level-5 report over the last `days` UTC days (1–366). */
  report(days: number): Promise<MetricsReport>;
  /** The runtime state from Temporal (src/status.ts `collectState`). */
  state(): Promise<Pick<StateSnapshot, 'running' | 'counts'>>;
}

/**
 * A deployment's Level-5 reports from the run ledger under `home`: its records are those written on
 * its task queue or its legacy one (src/deployment.ts). `now` is the clock (epoch ms).
 */
export function ledgerReports(
  home: string,
  deployment: Pick<Deployment, 'taskQueue' | 'legacyTaskQueue'>,
  now: () => number = Date.now,
): MetricsDeps['report'] {
  return async (days) => {
    const { records } = await readRunRecords(home);
    const mine = records.filter(
      (r) => r.taskQueue === deployment.taskQueue || r.taskQueue === deployment.legacyTaskQueue,
    );
    return computeMetrics(mine, { now: now(), days });
  };
}

/** The Prometheus name of a Level-5 metric: `foreman_level5_<name>`, `_s` spelled `_seconds`. */
export function prometheusName(name: string): string {
  return `foreman_level5_${name.replace(/_s$/, '_seconds')}`;
}

/**
 * The Prometheus text of one scrape: a Level-5 gauge per metric over `report` (a metric that is
 * null has no sample), `foreman_runs_active{phase}` and `foreman_escalations_waiting` from `state`,
 * and this process's operational counters (./operational.ts).
 */
export async function prometheusText(
  report: MetricsReport,
  state: Pick<StateSnapshot, 'running' | 'counts'>,
): Promise<{ contentType: string; body: string }> {
  const scrape = new Registry();
  for (const name of METRIC_NAMES) {
    const value = report.current[name];
    if (value === null) continue;
    const help = `${METRIC_DEFINITIONS[name]} Over the last ${report.window_days} days (specs/metrics.md).`;
    new Gauge({ name: prometheusName(name), help, registers: [scrape] }).set(value);
  }
  const phases = new Gauge({
    name: 'foreman_runs_active',
    help: 'Issue runs open in Temporal now, by phase (waiting_for_human: an escalation waits; in_review: handed over).',
    labelNames: ['phase'] as const,
    registers: [scrape],
  });
  for (const phase of PHASES) phases.set({ phase }, state.running.filter((r) => r.phase === phase).length);
  new Gauge({
    name: 'foreman_escalations_waiting',
    help: 'Escalations waiting for a human answer now.',
    registers: [scrape],
  }).set(state.counts.waiting_for_human);
  const merged = Registry.merge([scrape, operationalRegistry]);
  return { contentType: merged.contentType, body: await merged.metrics() };
}

const apiError = (code: string, message: string) => ({ error: { code, message } });

/** Builds the routes over `deps` (mount at `/`). */
export function createMetricsRoutes(deps: MetricsDeps): Hono {
  const app = new Hono();
  app.get('/api/v1/metrics', async (c) => {
    const raw = c.req.query('days');
    const days = raw === undefined ? DEFAULT_WINDOW_DAYS : /^\d{1,3}$/.test(raw) ? Number(raw) : NaN;
    if (!(days >= 1 && days <= 366)) {
      return c.json(apiError('invalid_days', 'days must be a whole number of days from 1 to 366.'), 400);
    }
    return c.json(await deps.report(days));
  });
  app.all('/api/v1/metrics', (c) => c.json(apiError('method_not_allowed', 'Use GET.'), 405));
  app.get('/metrics', async (c) => {
    const [report, state] = await Promise.all([deps.report(DEFAULT_WINDOW_DAYS), deps.state()]);
    const { contentType, body } = await prometheusText(report, state);
    return c.body(body, 200, { 'Content-Type': contentType });
  });
  return app;
}
