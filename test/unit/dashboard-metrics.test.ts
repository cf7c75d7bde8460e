/**
 * The metrics page's pure parts (docs/architecture.md, "Dashboard"): `GET /api/v1/metrics` `daily`
 * becomes one uPlot series per chart with null days as gaps; values show by unit; the window comes
 * from 7/30/90 only; the page's shell, assets and ledger stamp.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { METRIC_NAMES } from '../../src/metrics/level5.js';
import { writeRunRecord, type RunRecord } from '../../src/metrics/record.js';
import { DASHBOARD_CSP, dashboardRoutes, isDashboardShellPath, ledgerStamp } from '../../src/server/dashboard/index.js';
import type { DashboardSource } from '../../src/server/dashboard/data.js';
import {
  CHARTS,
  daysWithData,
  formatTick,
  formatValue,
  toSeries,
  windowDays,
} from '../../src/server/dashboard/public/metrics-series.js';
import { renderShell } from '../../src/server/dashboard/render.js';

describe('toSeries', () => {
  const daily = [
    { date: '2026-12-02', rework_rate: 0.5, runs: 2 },
    { date: '2026-12-03', rework_rate: null, runs: 0 },
    { date: '2026-12-04', rework_rate: 0, runs: 1 },
  ];

  it('gives x in epoch seconds of each UTC day and y the value, null where the day has none', () => {
    const [x, y] = toSeries(daily, 'rework_rate');
    expect(x).toEqual([Date.UTC(2026, 11, 2) / 1000, Date.UTC(2026, 11, 3) / 1000, Date.UTC(2026, 11, 4) / 1000]);
    expect(y).toEqual([0.5, null, 0]);
    expect(daysWithData([x, y])).toBe(2);
    expect(toSeries(daily, 'runs')[1]).toEqual([2, 0, 1]);
  });

  it('makes gaps of missing, non-numeric and non-finite values, and drops rows without a valid date', () => {
    const odd = [
      { date: '2026-12-01' },
      { date: '2026-12-02', runs: '3' },
      { date: '2026-12-03', runs: Infinity },
      { date: 'yesterday', runs: 1 },
      { runs: 1 },
      null,
      { date: '2026-12-04T00:00:00Z', runs: 1 },
    ];
    const [x, y] = toSeries(odd, 'runs');
    expect(x).toHaveLength(3);
    expect(y).toEqual([null, null, null]);
    expect(toSeries(undefined, 'runs')).toEqual([[], []]);
    expect(toSeries({ date: '2026-12-01' }, 'runs')).toEqual([[], []]);
  });
});

describe('formatValue', () => {
  it('shows each unit readably and null as no data', () => {
    expect(formatValue(null, 'share')).toBe('no data');
    expect(formatValue(NaN, 'count')).toBe('no data');
    expect(formatValue(0.4567, 'share')).toBe('45.7%');
    expect(formatValue(45, 'seconds')).toBe('45 s');
    expect(formatValue(0.4216, 'seconds')).toBe('0.4 s');
    expect(formatValue(600, 'seconds')).toBe('10 min');
    expect(formatValue(5400 * 2, 'seconds')).toBe('3.0 h');
    expect(formatValue(3 * 86400, 'seconds')).toBe('3.0 d');
    expect(formatValue(0.0421, 'usd')).toBe('$0.042');
    expect(formatValue(12.5, 'usd')).toBe('$12.50');
    expect(formatValue(123456.4, 'count')).toBe('123,456');
    expect(formatValue(1.23456, 'number')).toBe('1.23');
  });

  it('labels axis ticks with the decimals a tick between whole values needs', () => {
    expect(formatTick(0.5, 'seconds')).toBe('0.5 s');
    expect(formatTick(9000, 'seconds')).toBe('2.5 h');
    expect(formatTick(0.5, 'count')).toBe('0.5');
    expect(formatTick(25000, 'count')).toBe('25,000');
    expect(formatTick(0.25, 'share')).toBe('25%');
    expect(formatTick(null, 'share')).toBe('');
  });
});

describe('the charts', () => {
  it('chart Level-5 metrics the API has, the ones the dashboard must show among them', () => {
    const names: readonly string[] = METRIC_NAMES;
    for (const c of CHARTS) expect(names).toContain(c.metric);
    expect(new Set(CHARTS.map((c) => c.metric)).size).toBe(CHARTS.length);
    for (const must of [
      'mean_time_between_interventions_s',
      'escalation_rate',
      'auto_approved_share',
      'rework_rate',
      'defect_escape_rate',
      'tokens_per_accepted_change',
      'usd_per_accepted_change',
      'review_time_s',
    ])
      expect(CHARTS.map((c) => c.metric)).toContain(must);
  });

  it('take the window from ?days= only when it is 7, 30 or 90', () => {
    expect(windowDays('')).toBe(30);
    expect(windowDays('?days=7')).toBe(7);
    expect(windowDays('?days=90')).toBe(90);
    for (const bad of ['?days=8', '?days=abc', '?days=', '?days=366', '?days=7.0x'])
      expect(windowDays(bad), bad).toBe(30);
  });
});

describe('the metrics page', () => {
  it('is a data-free public shell on the metrics stream, with uPlot served from node_modules under the strict CSP', async () => {
    const shell = await renderShell({ kind: 'metrics' });
    expect(shell).toContain('data-stream="/api/v1/dashboard/metrics/stream"');
    expect(shell).toContain('<script type="module" src="/assets/metrics.js"></script>');
    expect(shell).toContain('href="/assets/uplot.css"');
    expect(shell).not.toMatch(/<script>|<style|style=/);
    expect(await renderShell({ kind: 'home' })).toContain('href="/metrics-view"');
    expect(isDashboardShellPath('/metrics-view')).toBe(true);
    expect(isDashboardShellPath('/assets/metrics-series.js')).toBe(true);
    expect(isDashboardShellPath('/api/v1/dashboard/metrics/stream')).toBe(false);

    const app = dashboardRoutes({ home: os.tmpdir() } as DashboardSource, async () => {
      throw new Error('not read');
    });
    const page = await app.request('/metrics-view');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toBe(DASHBOARD_CSP);
    expect(DASHBOARD_CSP).toContain("script-src 'self';");
    expect(DASHBOARD_CSP).toContain("style-src 'self';");
    expect(DASHBOARD_CSP).not.toContain('unsafe');
    const js = await app.request('/assets/uplot.js');
    expect(js.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(await js.text()).toContain('export { uPlot as default }');
    const css = await app.request('/assets/uplot.css');
    expect(css.headers.get('content-type')).toMatch(/^text\/css/);
    expect(await css.text()).toContain('.uplot');
    expect((await app.request('/assets/uplot.d.ts')).status).toBe(404);
  });

  it('the ledger stamp changes when a run record is written', async () => {
    const home = await fs.mkdtemp(path.join(os.tmpdir(), 'foreman-stamp-'));
    try {
      expect(await ledgerStamp(home)).toBe('none');
      await writeRunRecord(home, { runId: 'r1' } as RunRecord);
      const first = await ledgerStamp(home);
      expect(first).not.toBe('none');
      await new Promise((r) => setTimeout(r, 20));
      await writeRunRecord(home, { runId: 'r1' } as RunRecord); // a later checkpoint of the same run
      expect(await ledgerStamp(home)).not.toBe(first);
    } finally {
      await fs.rm(home, { recursive: true, force: true });
    }
  });
});
