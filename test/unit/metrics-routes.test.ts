/**
 * The metrics routes (src/metrics/routes.ts) through the daemon's HTTP app: the JSON shape the
 * dashboard charts, `?days=` checking, the Prometheus text, and the bearer token in front of both.
 */
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { createHttpApp, type HttpDeps } from '../../src/server/http.js';
import { computeMetrics, METRIC_NAMES } from '../../src/metrics/level5.js';
import { observeActivityFailure, observeModelCall } from '../../src/metrics/operational.js';
import { createMetricsRoutes, prometheusName, type MetricsDeps } from '../../src/metrics/routes.js';
import type { RunRecord } from '../../src/metrics/record.js';
import type { RunningIssue, StateSnapshot } from '../../src/status.js';

const NOW = Date.parse('2026-12-03T12:00:00.000Z');
const record: RunRecord = {
  version: 1,
  taskQueue: 'q',
  workflowId: 'w',
  runId: 'r1',
  identifier: 'A-1',
  issueId: 'A-1',
  checkpoint: 'ended',
  updatedAt: '2026-12-03T09:00:00.000Z',
  startedAt: '2026-12-03T08:00:00.000Z',
  endedAt: '2026-12-03T09:00:00.000Z',
  outcome: 'completed',
  handOvers: ['2026-12-03T09:00:00.000Z'],
  prState: null,
  prClosedAt: null,
  escalations: [],
  reworkRounds: 0,
  reworkOf: null,
  reviewSendBacks: 0,
  toolCalls: 12,
  turns: 4,
  tokens: 4200,
  costUsd: 0.25,
};

const running = (phase: RunningIssue['phase']) => ({ phase }) as RunningIssue;

function app(opts: { token?: string } = {}) {
  const asked: number[] = [];
  const deps: MetricsDeps = {
    report: async (days) => {
      asked.push(days);
      return computeMetrics([record], { now: NOW, days });
    },
    state: async () => ({
      running: [running('implementing'), running('waiting_for_human'), running('waiting_for_human')],
      counts: {
        running: 1,
        retrying: 0,
        waiting_for_human: 2,
        in_review: 0,
        done_today: 0,
        open: 3,
        closed_recently: 0,
      },
    }),
  };
  const http: HttpDeps = {
    state: async () => ({}) as StateSnapshot,
    issue: async () => null,
    refresh: async () => {},
  };
  return { app: createHttpApp(http, new Hono().route('/', createMetricsRoutes(deps)), opts), asked };
}

describe('GET /api/v1/metrics', () => {
  it('answers generated_at, window_days, definitions, current and one daily entry per day (default 30)', async () => {
    const { app: a, asked } = app();
    const res = await a.request('/api/v1/metrics');
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown> & { daily: Record<string, unknown>[] };
    expect(Object.keys(body).sort()).toEqual(['current', 'daily', 'definitions', 'generated_at', 'window_days']);
    expect(asked).toEqual([30]);
    expect(body.window_days).toBe(30);
    expect(body.daily).toHaveLength(30);
    expect(body.daily.at(-1)).toMatchObject({ date: '2026-12-03', runs: 1, tokens_per_accepted_change: 4200 });
    expect(body.daily[0]).toMatchObject({ date: '2026-11-04', runs: 0, tokens_per_accepted_change: null });
    expect(Object.keys(body.definitions as object)).toEqual([...METRIC_NAMES]);
    expect(body.current).toMatchObject({ runs: 1, accepted_changes: 1, agent_actions_per_instruction: 12 });
  });

  it('takes ?days=N from 1 to 366 and refuses anything else with 400', async () => {
    const { app: a, asked } = app();
    const seven = (await (await a.request('/api/v1/metrics?days=7')).json()) as { daily: unknown[] };
    expect(seven.daily).toHaveLength(7);
    for (const bad of ['0', '367', 'abc', '-1', '1.5', '1e2', '']) {
      const res = await a.request(`/api/v1/metrics?days=${bad}`);
      expect(res.status, bad).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('invalid_days');
    }
    expect(asked).toEqual([7]);
    expect((await a.request('/api/v1/metrics', { method: 'POST' })).status).toBe(405);
  });
});

describe('GET /metrics', () => {
  it('serves the Level-5 gauges, runs by phase, escalations waiting and the operational metrics', async () => {
    observeModelCall({
      role: 'implementer',
      model: 'unit-model',
      durationMs: 1500,
      outcome: 'ok',
      usage: { input_tokens: 10, output_tokens: 5, cache_creation_input_tokens: 0, cache_read_input_tokens: 2 },
    });
    observeActivityFailure('unitActivity', 'tracker_request_failed');
    const res = await app().app.request('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    const sample = (line: string) => text.split('\n').includes(line);
    expect(sample(`${prometheusName('runs')} 1`)).toBe(true);
    expect(sample('foreman_level5_tokens_per_accepted_change 4200')).toBe(true);
    expect(sample('foreman_level5_longest_unattended_run_seconds 3600')).toBe(true);
    expect(text).not.toContain('foreman_level5_review_time_seconds'); // null: no merged pull request
    expect(sample('foreman_runs_active{phase="waiting_for_human"} 2')).toBe(true);
    expect(sample('foreman_runs_active{phase="in_review"} 0')).toBe(true);
    expect(sample('foreman_escalations_waiting 2')).toBe(true);
    expect(
      sample('foreman_model_call_duration_seconds_count{role="implementer",model="unit-model",outcome="ok"} 1'),
    ).toBe(true);
    expect(sample('foreman_model_tokens_total{role="implementer",model="unit-model",kind="input"} 10')).toBe(true);
    expect(sample('foreman_activity_failures_total{activity="unitActivity",code="tracker_request_failed"} 1')).toBe(
      true,
    );
  });
});

describe('the server token', () => {
  it('guards /api/v1/metrics and /metrics like the API: 401 without the bearer token, 200 with it', async () => {
    const { app: a } = app({ token: 'metrics-secret-token' });
    for (const path of ['/api/v1/metrics', '/metrics']) {
      expect((await a.request(path)).status, path).toBe(401);
      expect((await a.request(path, { headers: { authorization: 'Bearer wrong' } })).status, path).toBe(401);
      const ok = await a.request(path, { headers: { authorization: 'Bearer metrics-secret-token' } });
      expect(ok.status, path).toBe(200);
    }
  });
});
