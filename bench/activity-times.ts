/**
 * Where an issue's time goes, per activity type, from the event histories of a sample of runs: the
 * median and p90 of scheduled → completed (queueing on the task queue included) and of started →
 * completed (the activity's own work), and how many of each an issue ran. Used by the fleet
 * benchmark (./fleet.ts) to show which activities dominate an issue's orchestration time.
 */
import type { temporal } from '@temporalio/proto';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/** One activity type's times over the sample, ms. */
export interface ActivityTime {
  activity: string;
  /** Completed runs of this activity per issue in the sample (failed attempts are not counted). */
  perIssue: number;
  scheduledToCompleted: { median: number; p90: number };
  startedToCompleted: { median: number; p90: number };
}

/** The `q` quantile (nearest rank) of `xs`; 0 for none. */
function quantile(xs: number[], q: number): number {
  if (xs.length === 0) return 0;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** An event's time in epoch ms. */
function eventMs(e: HistoryEvent): number {
  const t = e.eventTime;
  return Number(t?.seconds ?? 0) * 1000 + (t?.nanos ?? 0) / 1e6;
}

/**
 * Per activity type over `histories` (each one run's events, as `fetchHistory()` returns them),
 * sorted by total scheduled → completed time, largest first. Activities that did not complete
 * (failed, timed out, still running) are left out.
 */
export function activityTimes(histories: { events?: HistoryEvent[] | null }[]): ActivityTime[] {
  const byType = new Map<string, { total: number[]; own: number[] }>();
  for (const history of histories) {
    const scheduled = new Map<string, { type: string; at: number }>();
    const started = new Map<string, number>();
    for (const e of history.events ?? []) {
      const s = e.activityTaskScheduledEventAttributes;
      if (s) scheduled.set(String(e.eventId), { type: s.activityType?.name ?? '?', at: eventMs(e) });
      const st = e.activityTaskStartedEventAttributes;
      if (st) started.set(String(st.scheduledEventId), eventMs(e));
      const done = e.activityTaskCompletedEventAttributes;
      const from = done ? scheduled.get(String(done.scheduledEventId)) : undefined;
      if (!done || !from) continue;
      const times = byType.get(from.type) ?? { total: [], own: [] };
      times.total.push(eventMs(e) - from.at);
      const startedAt = started.get(String(done.scheduledEventId));
      if (startedAt !== undefined) times.own.push(eventMs(e) - startedAt);
      byType.set(from.type, times);
    }
  }
  const n = Math.max(1, histories.length);
  return [...byType]
    .map(([activity, t]) => ({
      activity,
      perIssue: t.total.length / n,
      scheduledToCompleted: { median: quantile(t.total, 0.5), p90: quantile(t.total, 0.9) },
      startedToCompleted: { median: quantile(t.own, 0.5), p90: quantile(t.own, 0.9) },
      sum: t.total.reduce((a, b) => a + b, 0),
    }))
    .sort((a, b) => b.sum - a.sum)
    .map(({ sum: _sum, ...rest }) => rest);
}

/** The times as table lines (one per activity type), indented for the fleet table. */
export function activityTable(times: ActivityTime[], indent = '    '): string[] {
  const ms = (x: number) => `${Math.round(x)}`.padStart(6);
  return [
    `${indent}${'activity'.padEnd(22)} per issue  sched→done p50/p90 ms  start→done p50/p90 ms`,
    ...times.map(
      (t) =>
        `${indent}${t.activity.padEnd(22)} ${t.perIssue.toFixed(1).padStart(9)}  ` +
        `${ms(t.scheduledToCompleted.median)} /${ms(t.scheduledToCompleted.p90)}         ` +
        `${ms(t.startedToCompleted.median)} /${ms(t.startedToCompleted.p90)}`,
    ),
  ];
}
