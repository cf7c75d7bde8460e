/**
 * Schedule activities: what one tick of a Temporal Schedule does in Node (workflows/schedule-workflow.ts):
 * file the schedule's periodic issue, then nudge the dispatcher.
 */
import { nudgeDispatcher } from '../src/dispatch/nudge.js';
import { fileScheduledIssue } from '../src/schedules/file-issue.js';
import type { FileScheduledIssueInput, FiledIssue, NudgeDispatcherInput } from '../src/schedules/types.js';
import type { ActivityContext } from './context.js';

/** Builds the schedule activities. */
export function createScheduleActivities(ctx: ActivityContext) {
  return {
    /** Files a schedule's issue for the tick's UTC day; idempotent. */
    async fileScheduledIssue(input: FileScheduledIssueInput): Promise<FiledIssue> {
      const loaded = ctx.policy();
      return fileScheduledIssue({ ...input, tracker: loaded.policy.tracker, baseDir: loaded.dir });
    },

    /** Asks the task queue's dispatcher to poll now (signal-with-start). */
    async nudgeDispatcher(input: NudgeDispatcherInput): Promise<void> {
      return nudgeDispatcher(ctx.deps.client, input);
    },
  };
}

/** The schedule activities (types only on the workflow side). */
export type ScheduleActivities = ReturnType<typeof createScheduleActivities>;
