/**
 * The Schedules a policy asks for (pure): the built-in poll backstop plus one per `schedules[]`
 * entry, each with its spec, the input of its ticks' ScheduleWorkflow and its catch-up window.
 * sync.ts writes them to Temporal.
 */
import type { ScheduleSpec } from '@temporalio/client';
import type { Policy } from '../config/schema.js';
import { foremanScheduleId, POLL_BACKSTOP_ID, pollBackstopScheduleId } from './ids.js';
import type { ScheduledIssue, ScheduleWorkflowInput } from './types.js';

/** Shortest interval of the poll backstop, in ms: a tick is a workflow, not free. */
export const MIN_POLL_BACKSTOP_MS = 10_000;

/** A Schedule Foreman wants, derived from the policy. */
export interface PlannedSchedule {
  /** Temporal Schedule id. */
  scheduleId: string;
  spec: ScheduleSpec;
  /** Input of each tick's ScheduleWorkflow. */
  input: ScheduleWorkflowInput;
  /** How late a missed tick (server down) may still run, in ms. */
  catchupWindowMs: number;
}

/**
 * The Schedules a policy asks for on `taskQueue`: the poll backstop first, then one per
 * `schedules[]` entry in policy order. Pure.
 */
export function plannedSchedules(policy: Pick<Policy, 'schedules' | 'polling'>, taskQueue: string): PlannedSchedule[] {
  const out: PlannedSchedule[] = [
    {
      scheduleId: pollBackstopScheduleId(taskQueue),
      spec: { intervals: [{ every: Math.max(policy.polling.interval_ms, MIN_POLL_BACKSTOP_MS) }] },
      input: { scheduleId: POLL_BACKSTOP_ID, taskQueue },
      // A missed poll is worthless once the next one is due.
      catchupWindowMs: 60_000,
    },
  ];
  for (const entry of policy.schedules) {
    const spec: ScheduleSpec =
      entry.cron !== undefined ? { cronExpressions: [entry.cron] } : { intervals: [{ every: entry.interval_ms ?? 0 }] };
    const issue = entry.issue ? cleanIssue(entry.issue) : undefined;
    out.push({
      scheduleId: foremanScheduleId(taskQueue, entry.id),
      spec,
      input: { scheduleId: entry.id, taskQueue, ...(issue ? { issue } : {}) },
      // Periodic work (a weekly issue) is still wanted a few hours late; a poll is not.
      catchupWindowMs: issue ? 86_400_000 : 60_000,
    });
  }
  return out;
}

/** The issue without undefined keys: it travels as a workflow argument (JSON). */
function cleanIssue(issue: ScheduledIssue): ScheduledIssue {
  const out: ScheduledIssue = { title: issue.title };
  if (issue.description !== undefined) out.description = issue.description;
  if (issue.labels?.length) out.labels = [...issue.labels];
  if (issue.priority !== undefined) out.priority = issue.priority;
  if (issue.state !== undefined) out.state = issue.state;
  return out;
}
