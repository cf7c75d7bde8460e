/**
 * Names of Foreman's Temporal Schedules and of what their ticks file: Schedule ids per task queue,
 * the workflow type every Schedule starts, and the identifier of a schedule's daily issue. Pure.
 */

/** Workflow type every Foreman Schedule starts. */
export const SCHEDULE_WORKFLOW_TYPE = 'ScheduleWorkflow';

/** `scheduleId` the built-in poll backstop passes to ScheduleWorkflow. */
export const POLL_BACKSTOP_ID = 'foreman-poll';

/** Schedule id of a policy entry: `foreman-<taskQueue>-<id>`. */
export function foremanScheduleId(taskQueue: string, entryId: string): string {
  return `${foremanScheduleIdPrefix(taskQueue)}${entryId}`;
}

/** Prefix of the ids of a task queue's policy schedules. */
export function foremanScheduleIdPrefix(taskQueue: string): string {
  return `foreman-${taskQueue}-`;
}

/** Schedule id of the built-in poll backstop: `foreman-poll-<taskQueue>`. */
export function pollBackstopScheduleId(taskQueue: string): string {
  return `foreman-poll-${taskQueue}`;
}

/**
 * Identifier of a schedule's issue for the UTC day of `at`: the schedule id uppercased, runs of
 * characters other than A–Z and 0–9 turned into `-`, then `-YYYYMMDD` (`weekly deps` →
 * `WEEKLY-DEPS-20261109`). One per schedule per day is what makes filing idempotent.
 */
export function scheduledIssueIdentifier(scheduleId: string, at: Date): string {
  const base =
    scheduleId
      .toUpperCase()
      .replace(/[^A-Z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '') || 'SCHEDULE';
  const day = at.toISOString().slice(0, 10).replace(/-/g, '');
  return `${base}-${day}`;
}
