/**
 * ScheduleWorkflow: what one tick of a Temporal Schedule does (the Schedules themselves are made
 * by src/temporal/schedules.ts from the policy's `schedules` and `polling.interval_ms`). A tick
 * files the entry's `issue` when it has one (user-defined periodic work), then nudges the
 * dispatcher to poll now. Short-lived: two activities, then done. It does not poll the tracker
 * or dispatch itself; the DispatcherWorkflow does.
 *
 * Activities it expects (implemented in src/temporal/schedules.ts, registered in
 * activities/index.ts):
 *   fileScheduledIssue(input: { scheduleId: string; issue: ScheduledIssue; at: string }) (`at`: RFC 3339)
 *     : Promise<{ identifier: string; created: boolean }>   — idempotent: one issue per schedule per UTC day
 *   nudgeDispatcher(input: { taskQueue: string; reason: string }): Promise<void>
 *     — signal-with-start of the task queue's DispatcherWorkflow with `refreshSignal`
 */
import { defineSearchAttributeKey } from '@temporalio/common';
import { proxyActivities, workflowInfo } from '@temporalio/workflow';

/** The issue a schedule files: `schedules[].issue` of the policy (src/config/schema.ts). */
export interface ScheduledIssue {
  title: string;
  /** Markdown body. */
  description?: string | undefined;
  labels?: string[] | undefined;
  /** 1 (urgent) … 4 (low). */
  priority?: number | undefined;
  /** State to file it in. (Default: the first of `tracker.active_states`, else `Todo`) */
  state?: string | undefined;
}

/** Input of `ScheduleWorkflow`, fixed in the Schedule's action when it is created or updated. */
export interface ScheduleWorkflowInput {
  /** The policy entry's `id` (`foreman-poll` for the built-in poll backstop). */
  scheduleId: string;
  /** Task queue whose dispatcher is nudged. */
  taskQueue: string;
  /** Issue filed on each tick. (Default: none = only nudge the dispatcher) */
  issue?: ScheduledIssue | undefined;
}

/** Input of the `fileScheduledIssue` activity. */
export interface FileScheduledIssueInput {
  /** The policy entry's `id`; the issue identifier is derived from it. */
  scheduleId: string;
  issue: ScheduledIssue;
  /** The tick's time, RFC 3339: its UTC day makes the identifier, so a retried tick files nothing new. */
  at: string;
}

/** Result of `fileScheduledIssue`. */
export interface FiledIssue {
  /** Identifier of the tick's issue, e.g. `DEPS-20261109`. */
  identifier: string;
  /** False when the issue already existed (an earlier tick the same UTC day). */
  created: boolean;
}

/** Input of the `nudgeDispatcher` activity. */
export interface NudgeDispatcherInput {
  taskQueue: string;
  /** Logged with the dispatcher's refresh, e.g. `schedule deps`. */
  reason: string;
}

/** The activities ScheduleWorkflow calls (see the module header). */
export interface ScheduleActivities {
  fileScheduledIssue(input: FileScheduledIssueInput): Promise<FiledIssue>;
  nudgeDispatcher(input: NudgeDispatcherInput): Promise<void>;
}

/** What one tick did. */
export interface ScheduleWorkflowResult {
  /** The tick's issue, or null for an entry without `issue`. */
  filed: FiledIssue | null;
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
