/**
 * The fleet report (bench/fleet.ts) as a readable table: each measurement beside the figure
 * measured before the fleet work (issue 14) and the target it is read against. Targets are
 * printed, not asserted: the fleet run is a report. Reads older JSON reports too (missing
 * sections print `-`), so `npm run bench -- --summary=<file>` reprints any saved run.
 */
import { alignColumns } from '../src/status.js';
import { activityTable } from './activity-times.js';
import type { FleetReport } from './fleet.js';

/** Issue 14's "before" figures (a 2-core machine, before the fleet work). */
export const BEFORE = {
  watchPickupMs: 700,
  poll: { medianMs: 17_000, intervalMs: 30_000 },
  throughputN50: { issuesPerSecond: 1.3, daemonCpuS: 0.7, devServerCpuS: 0.35, events: 67 },
  tick: { ms: 5_200, parked: 494 },
  daemonRss: { bytes: 1.3e9, parked: 1_700 },
} as const;

const MIB = 2 ** 20;
const ms = (v: number | null | undefined) =>
  v === null || v === undefined ? '-' : v >= 10_000 ? `${(v / 1000).toFixed(1)} s` : `${Math.round(v)} ms`;
const mib = (b: number) => `${(b / MIB).toFixed(0)} MiB`;
/** ` (×1.05 vs N=1000)`: `v` against the first tier's value (nothing on the first tier itself). */
const growth = (v: number | null, first: number | null, n0: number, n: number) =>
  v !== null && first && n !== n0 ? ` (×${(v / first).toFixed(2)} vs N=${n0})` : '';

/** The report as table lines: measure, measured, before (issue 14), target. */
export function fleetTable(r: FleetReport): string {
  const rows: string[][] = [['measure', 'measured', 'before (issue 14)', 'target']];
  // Lines printed as they are after a row (each throughput's activity times: ./activity-times.ts).
  const after = new Map<number, string[]>();
  const p = r.pickup;
  if (p.samples.length)
    rows.push([
      `pickup, folder watch (median of ${p.samples.length})`,
      ms(p.watchMedianMs),
      `~${BEFORE.watchPickupMs} ms`,
      '',
    ]);
  if (p.webhook)
    rows.push([`pickup, GitHub webhook (median of ${p.webhook.samples.length})`, ms(p.webhook.medianMs), '-', '']);
  if (p.poll)
    rows.push([
      `pickup, poll every ${ms(p.poll.intervalMs)} (median of ${p.poll.samples.length})`,
      `${ms(p.poll.medianMs)} (${p.poll.ratio?.toFixed(2) ?? '-'} × interval)`,
      `${ms(BEFORE.poll.medianMs)} at ${ms(BEFORE.poll.intervalMs)} (${(BEFORE.poll.medianMs / BEFORE.poll.intervalMs).toFixed(2)} ×)`,
      '~0.5 × interval + pickup work',
    ]);
  for (const t of r.throughput) {
    const b = t.n === 50 ? BEFORE.throughputN50 : null;
    rows.push([
      `throughput N=${t.n}${(t.workers ?? 1) > 1 ? ` on ${t.workers} workers` : ''} (zero-cost model)`,
      `${t.issuesPerSecond.toFixed(2)} issues/s (${(t.wallMs / 1000).toFixed(0)} s)`,
      b ? `${b.issuesPerSecond} issues/s` : '-',
      '',
    ]);
    rows.push([
      '  CPU-s per issue: Foreman (with git children) + dev server',
      `${t.daemonCpuSecondsPerIssue.toFixed(2)} + ${t.devServerCpuSecondsPerIssue.toFixed(2)}`,
      b ? `${b.daemonCpuS} + ${b.devServerCpuS}` : '-',
      '',
    ]);
    rows.push([
      '  history events per issue',
      t.historyEventsPerIssue.toFixed(0),
      b ? String(b.events) : '-',
      '< 150 (docs/architecture.md "Scale")',
    ]);
    if (t.issuesPerWorker)
      rows.push([
        '  issues per worker (who prepared the workspace)',
        Object.values(t.issuesPerWorker).join(' + '),
        '-',
        'both take work',
      ]);
    if (t.activities?.length) after.set(rows.length - 1, activityTable(t.activities, '      '));
  }
  const first = r.parked[0];
  for (const k of r.parked) {
    const n0 = first!.n;
    const rate = k.parkRate ?? null;
    rows.push([
      `parked N=${k.n}: time to park`,
      `${k.parkSeconds.toFixed(0)} s${rate === null ? '' : ` (${rate.toFixed(1)} runs/s)`}`,
      '-',
      '',
    ]);
    if (k.daemonCpuSecondsPerRun !== undefined)
      rows.push([
        '  CPU-s per parked run: daemon + dev server',
        `${k.daemonCpuSecondsPerRun.toFixed(2)} + ${k.devServerCpuSecondsPerRun!.toFixed(2)}`,
        '-',
        '',
      ]);
    rows.push([
      '  daemon RSS',
      mib(k.daemonRssBytes) + growth(k.daemonRssBytes, first!.daemonRssBytes, n0, k.n),
      `${(BEFORE.daemonRss.bytes / 1e9).toFixed(1)} GB at ~${BEFORE.daemonRss.parked.toLocaleString('en')}`,
      'flat as N grows (cache ≤ temporal.max_cached_workflows)',
    ]);
    rows.push([
      '  dev server RSS',
      mib(k.devServerRssBytes) + growth(k.devServerRssBytes, first!.devServerRssBytes, n0, k.n),
      '-',
      '',
    ]);
    if (k.benchRssBytes !== undefined)
      rows.push(['  this bench process RSS', mib(k.benchRssBytes), '-', 'flat as N grows']);
    rows.push([
      '  database; disk per parked run',
      `${mib(k.dbBytes)}; ${k.diskPerRunBytes === undefined ? '-' : `${(k.diskPerRunBytes / 1024).toFixed(0)} KiB`}`,
      '-',
      '',
    ]);
    rows.push([
      '  dispatcher tick (median)',
      ms(k.tickMedianMs) + growth(k.tickMedianMs, first!.tickMedianMs, n0, k.n),
      `~${ms(BEFORE.tick.ms)} at ${BEFORE.tick.parked}`,
      'bounded as N grows',
    ]);
    rows.push(['  GET /api/v1/state (median of 3)', k.stateApiError ?? ms(k.stateApiMs), '-', '']);
    rows.push(['  answer → resume', ms(k.answerToResumeMs), '-', '']);
  }
  const head = `Fleet report (${r.startedAt}, ${r.machine.cpus} CPUs, Node ${r.machine.node})`;
  const lines = alignColumns(rows).flatMap((line, i) => [`  ${line}`, ...(after.get(i) ?? [])]);
  return [head, ...lines].join('\n');
}
