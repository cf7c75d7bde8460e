/**
 * The data of a schedule tick: the input ScheduleWorkflow (workflows/schedule-workflow.ts) is
 * started with, what its activities take and return, and what a tick returns. Types only, so the
 * workflow imports them with `import type`.
 */

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

/** What one tick did. */
export interface ScheduleWorkflowResult {
  /** The tick's issue, or null for an entry without `issue`. */
  filed: FiledIssue | null;
}

/** The signature of `ScheduleWorkflow`, for typing a Schedule's start-workflow action from src/. */
export type ScheduleWorkflowFunction = (input: ScheduleWorkflowInput) => Promise<ScheduleWorkflowResult>;
