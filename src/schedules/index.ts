/**
 * The clock, public API: syncing Temporal Schedules from the policy (sync.ts, plan.ts), their
 * names (ids.ts), filing a schedule's periodic issue (file-issue.ts) and the data of a tick
 * (types.ts). What a tick runs is workflows/schedule-workflow.ts; its nudge of the dispatcher is
 * src/dispatch/nudge.ts.
 */
export {
  foremanScheduleId,
  foremanScheduleIdPrefix,
  POLL_BACKSTOP_ID,
  pollBackstopScheduleId,
  SCHEDULE_WORKFLOW_TYPE,
  scheduledIssueIdentifier,
} from './ids.js';
export { MIN_POLL_BACKSTOP_MS, plannedSchedules, type PlannedSchedule } from './plan.js';
export {
  createScheduleSync,
  deleteForemanSchedules,
  syncSchedules,
  type SyncSchedulesOptions,
  type SyncSchedulesResult,
} from './sync.js';
export { fileScheduledIssue, type FileScheduledIssueOptions } from './file-issue.js';
export type * from './types.js';
