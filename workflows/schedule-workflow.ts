/**
 * ScheduleWorkflow: what one tick of a Temporal Schedule does (the Schedules themselves are made
 * by src/schedules/sync.ts from the policy's `schedules` and `polling.interval_ms`). A tick
 * files the entry's `issue` when it has one (user-defined periodic work), then nudges the
 * dispatcher to poll now. Short-lived: two activities, then done. It does not poll the tracker
 * or dispatch itself; the DispatcherWorkflow does.
 *
 * Activities it expects (implemented in src/schedules/file-issue.ts and src/dispatch/nudge.ts,
 * registered in activities/index.ts; types in src/schedules/types.ts):
 *   fileScheduledIssue(input: { scheduleId: string; issue: ScheduledIssue; at: string }) (`at`: RFC 3339)
 *     : Promise<{ identifier: string; created: boolean }>   — idempotent: one issue per schedule per UTC day
 *   nudgeDispatcher(input: { taskQueue: string; reason: string }): Promise<void>
 *     — signal-with-start of the task queue's DispatcherWorkflow with `refreshSignal`
 */
import { defineSearchAttributeKey } from '@temporalio/common';
import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type {
  FiledIssue,
  FileScheduledIssueInput,
  NudgeDispatcherInput,
  ScheduleWorkflowInput,
  ScheduleWorkflowResult,
} from '../src/schedules/types.js';

/** The activities ScheduleWorkflow calls (see the module header). */
export interface ScheduleActivities {
  fileScheduledIssue(input: FileScheduledIssueInput): Promise<FiledIssue>;
  nudgeDispatcher(input: NudgeDispatcherInput): Promise<void>;
}

// Bounded retries: overlap policy SKIP means a tick stuck retrying would hold back the next ones.
const { fileScheduledIssue, nudgeDispatcher } = proxyActivities<ScheduleActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 5 },
});

/** Set by Temporal on every workflow a Schedule starts: the tick's nominal time. */
const scheduledStartTime = defineSearchAttributeKey('TemporalScheduledStartTime', 'DATETIME');

/** One tick of a Foreman schedule: file the entry's issue (if any), then nudge the dispatcher. */
export async function ScheduleWorkflow(input: ScheduleWorkflowInput): Promise<ScheduleWorkflowResult> {
  // The nominal tick time, not "now": a tick that waited for a worker past midnight still files
  // the issue of the day it was scheduled for. Triggered ticks carry the trigger time.
  const at = workflowInfo().typedSearchAttributes.get(scheduledStartTime) ?? new Date();
  let filed: FiledIssue | null = null;
  if (input.issue) {
    filed = await fileScheduledIssue({ scheduleId: input.scheduleId, issue: input.issue, at: at.toISOString() });
  }
  const reason = filed ? `schedule ${input.scheduleId} filed ${filed.identifier}` : `schedule ${input.scheduleId}`;
  await nudgeDispatcher({ taskQueue: input.taskQueue, reason });
  return { filed };
}
