/**
 * What a running issue's workflow is doing right now, from Temporal's own record of it
 * (`describe()` → `pendingActivities`): the step in flight, its attempt, its last failure, and the
 * live progress an agent step sends as heartbeat details (src/agents/progress.ts). Read-only.
 */
import type { Client, WorkflowExecutionDescription } from '@temporalio/client';
import { optionalTsToMs } from '@temporalio/common/lib/time.js';
import { decodeArrayFromPayloads } from '@temporalio/common/lib/internal-non-workflow/index.js';
import { parseStepProgress, type StepProgress } from '../agents/progress.js';

/** One activity of the run in flight (pending), as the API shows it. Times RFC 3339. */
export interface PendingStep {
  /** The activity type, e.g. `runImplementer`, `runQa`, `commitAndPush`. */
  activity: string;
  /** 1-based attempt of the activity (Temporal's retry count). */
  attempt: number;
  /** `scheduled` (waiting for a worker or its next retry), `started`, `cancel_requested`, `paused`. */
  state: string;
  /** When the current attempt started; null while scheduled. */
  started_at: string | null;
  last_heartbeat_at: string | null;
  /** When the next attempt is due, while waiting to retry; null otherwise. */
  next_attempt_at: string | null;
  /** The previous attempt's failure message; null when none. */
  last_failure: string | null;
  /** The agent step's live progress; null for other activities or before its first heartbeat. */
  progress: StepProgress | null;
}

const STATES: Record<number, string> = { 1: 'scheduled', 2: 'started', 3: 'cancel_requested', 4: 'paused' };

const iso = (ts: Parameters<typeof optionalTsToMs>[0]): string | null => {
  const ms = optionalTsToMs(ts);
  return ms === undefined || ms === 0 ? null : new Date(ms).toISOString();
};

/** The pending activities of a described workflow, heartbeat details decoded with the client's converter. */
export async function pendingSteps(client: Client, d: WorkflowExecutionDescription): Promise<PendingStep[]> {
  const pending = d.raw.pendingActivities ?? [];
  return Promise.all(
    pending.map(async (p): Promise<PendingStep> => {
      const details: unknown[] = await decodeArrayFromPayloads(
        client.options.loadedDataConverter,
        p.heartbeatDetails?.payloads,
      ).catch(() => []);
      return {
        activity: p.activityType?.name ?? 'unknown',
        attempt: p.attempt ?? 1,
        state: STATES[Number(p.state ?? 0)] ?? 'unknown',
        started_at: iso(p.lastStartedTime),
        last_heartbeat_at: iso(p.lastHeartbeatTime),
        next_attempt_at: iso(p.nextAttemptScheduleTime),
        last_failure: p.lastFailure?.message ?? null,
        progress: parseStepProgress(details[0]),
      };
    }),
  );
}

/** The agent step among `steps` (the one whose heartbeats carry progress), else null. */
export function agentStep(steps: PendingStep[]): PendingStep | null {
  return steps.find((s) => s.progress !== null) ?? null;
}

/**
 * The steps waiting to retry after a failed attempt (Temporal's activity retries), as
 * `{ step, attempt, due_at, error }` with `attempt` the one that is due.
 */
export function retryingSteps(steps: PendingStep[]) {
  return steps
    .filter((s) => s.attempt > 1 && s.state === 'scheduled' && s.last_failure !== null)
    .map((s) => ({ step: s.activity, attempt: s.attempt, due_at: s.next_attempt_at, error: s.last_failure! }));
}
