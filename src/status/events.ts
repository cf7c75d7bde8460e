/**
 * A run's recent events from its workflow history (Temporal's durable record of it), for the
 * per-issue API's `recent_events` (Symphony SPEC §13.7): the run's start and end, each activity
 * scheduled, completed, failed or timed out, each signal received. Read-only; no worker needed.
 */
import type { Client } from '@temporalio/client';
import { optionalTsToMs } from '@temporalio/common/lib/time.js';

/** One event of a run (specs/api.md). */
export interface RunEvent {
  /** RFC 3339. */
  at: string;
  /** `run_started`, `activity_scheduled`, `activity_completed`, `activity_failed`, `activity_timed_out`, `signal`, `run_<status>`. */
  event: string;
  /** The activity or signal name, with the failure message for a failure; null when none. */
  message: string | null;
}

type HistoryEvent = NonNullable<
  Awaited<ReturnType<ReturnType<Client['workflow']['getHandle']>['fetchHistory']>>['events']
>[number];

/** The last `limit` events of the run `workflowId`/`runId` (oldest first). Throws what the history call throws. */
export async function recentEvents(client: Client, workflowId: string, runId: string, limit = 50): Promise<RunEvent[]> {
  const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
  return eventsOf(history.events ?? []).slice(-limit);
}

/** Maps history events to run events (events of no interest, e.g. workflow tasks, are left out). */
export function eventsOf(events: HistoryEvent[]): RunEvent[] {
  const activityNames = new Map<string, string>();
  const out: RunEvent[] = [];
  for (const e of events) {
    const ms = optionalTsToMs(e.eventTime);
    const at = new Date(ms ?? 0).toISOString();
    const push = (event: string, message: string | null) => out.push({ at, event, message });
    if (e.workflowExecutionStartedEventAttributes) push('run_started', null);
    else if (e.activityTaskScheduledEventAttributes) {
      const name = e.activityTaskScheduledEventAttributes.activityType?.name ?? 'activity';
      activityNames.set(String(e.eventId), name);
      push('activity_scheduled', name);
    } else if (e.activityTaskCompletedEventAttributes) {
      push('activity_completed', nameOf(activityNames, e.activityTaskCompletedEventAttributes.scheduledEventId));
    } else if (e.activityTaskFailedEventAttributes) {
      const a = e.activityTaskFailedEventAttributes;
      push('activity_failed', `${nameOf(activityNames, a.scheduledEventId)}: ${a.failure?.message ?? 'failed'}`);
    } else if (e.activityTaskTimedOutEventAttributes) {
      push('activity_timed_out', nameOf(activityNames, e.activityTaskTimedOutEventAttributes.scheduledEventId));
    } else if (e.workflowExecutionSignaledEventAttributes) {
      push('signal', e.workflowExecutionSignaledEventAttributes.signalName ?? null);
    } else if (e.workflowExecutionCompletedEventAttributes) push('run_completed', null);
    else if (e.workflowExecutionFailedEventAttributes)
      push('run_failed', e.workflowExecutionFailedEventAttributes.failure?.message ?? null);
    else if (e.workflowExecutionTerminatedEventAttributes)
      push('run_terminated', e.workflowExecutionTerminatedEventAttributes.reason ?? null);
    else if (e.workflowExecutionContinuedAsNewEventAttributes) push('run_continued_as_new', null);
    else if (e.workflowExecutionTimedOutEventAttributes) push('run_timed_out', null);
    else if (e.workflowExecutionCanceledEventAttributes) push('run_canceled', null);
  }
  return out;
}

function nameOf(names: Map<string, string>, id: unknown): string {
  return names.get(String(id)) ?? 'activity';
}
