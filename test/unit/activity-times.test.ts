/**
 * bench/activity-times.ts: per activity type, the median and p90 of scheduled → completed and
 * started → completed from event histories, and how many ran per issue.
 */
import { describe, expect, it } from 'vitest';
import { activityTable, activityTimes } from '../../bench/activity-times.js';

/** A history event at `ms` (epoch ms). */
function at(ms: number) {
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 };
}

/** One run's history: each activity scheduled at `s`, started at `st`, completed at `c` (ms). */
function history(activities: { type: string; s: number; st: number; c: number | null }[]) {
  const events: Record<string, unknown>[] = [];
  let id = 1;
  for (const a of activities) {
    const scheduledId = id++;
    events.push({
      eventId: scheduledId,
      eventTime: at(a.s),
      activityTaskScheduledEventAttributes: { activityType: { name: a.type } },
    });
    events.push({
      eventId: id++,
      eventTime: at(a.st),
      activityTaskStartedEventAttributes: { scheduledEventId: scheduledId },
    });
    if (a.c !== null)
      events.push({
        eventId: id++,
        eventTime: at(a.c),
        activityTaskCompletedEventAttributes: { scheduledEventId: scheduledId },
      });
  }
  return { events };
}

describe('activityTimes', () => {
  it('computes per type the median and p90 of both spans and the runs per issue, largest total first', () => {
    const runs = [
      history([
        { type: 'moveIssue', s: 0, st: 100, c: 150 },
        { type: 'commitAndPush', s: 1000, st: 1500, c: 3000 },
        { type: 'moveIssue', s: 4000, st: 4010, c: 4030 },
      ]),
      history([
        { type: 'moveIssue', s: 0, st: 10, c: 20 },
        { type: 'commitAndPush', s: 1000, st: 1100, c: 2000 },
        { type: 'runQa', s: 5000, st: 5000, c: null }, // never completed: left out
      ]),
    ];
    const times = activityTimes(runs);
    expect(times.map((t) => t.activity)).toEqual(['commitAndPush', 'moveIssue']);
    expect(times[0]).toEqual({
      activity: 'commitAndPush',
      perIssue: 1,
      scheduledToCompleted: { median: 1000, p90: 2000 },
      startedToCompleted: { median: 900, p90: 1500 },
    });
    expect(times[1]).toMatchObject({
      activity: 'moveIssue',
      perIssue: 1.5,
      scheduledToCompleted: { median: 30, p90: 150 },
      startedToCompleted: { median: 20, p90: 50 },
    });
    const table = activityTable(times);
    expect(table).toHaveLength(3);
    expect(table[1]).toContain('commitAndPush');
  });

  it('is empty for no histories', () => {
    expect(activityTimes([])).toEqual([]);
  });
});
