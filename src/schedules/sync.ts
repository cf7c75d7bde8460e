/**
 * The clock's sync: makes a task queue's Temporal Schedules match the policy's `schedules` (cron
 * or interval) and `polling.interval_ms`, created or updated idempotently whenever the daemon
 * starts or the policy changes.
 *
 * - Each `schedules[]` entry becomes Schedule `foreman-<taskQueue>-<id>`. An entry with `issue`
 *   files that issue on each tick (user-defined periodic work, e.g. a weekly "Update
 *   dependencies"), then nudges the dispatcher; one without `issue` only nudges it to poll now.
 * - Built in: Schedule `foreman-poll-<taskQueue>` nudges the dispatcher every `polling.interval_ms`
 *   (at least 10 s). It is a reconciliation backstop, not the main cadence: the DispatcherWorkflow's
 *   own timer is. Because a nudge is a signal-with-start, the backstop also restarts a dispatcher
 *   that failed or was terminated.
 * - Every tick runs `ScheduleWorkflow` (workflows/schedule-workflow.ts) on the task queue, so it
 *   needs a worker; while none runs, a tick waits and later ones are skipped (overlap SKIP).
 *
 * Owns the Schedule actions and their sync. Does not own what they are (plan.ts), when to sync
 * (src/daemon.ts wires `createScheduleSync`), what a tick files (file-issue.ts) or dispatching
 * (src/dispatch/).
 */
import { createHash } from 'node:crypto';
import {
  ScheduleAlreadyRunning,
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  type Client,
  type ScheduleOptionsStartWorkflowAction,
} from '@temporalio/client';
import type { Policy } from '../config/schema.js';
import { foremanScheduleIdPrefix, pollBackstopScheduleId, SCHEDULE_WORKFLOW_TYPE } from './ids.js';
import { plannedSchedules, type PlannedSchedule } from './plan.js';
import type { ScheduleWorkflowFunction } from './types.js';

/** Memo key on each Schedule naming the task queue that owns it (what `syncSchedules` may delete). */
const OWNER_MEMO_KEY = 'foremanTaskQueue';
/** Memo key on the Schedule's action holding a digest of the desired Schedule (skip no-op updates). */
const DIGEST_MEMO_KEY = 'foremanScheduleDigest';
/** Bump when the shape of a Schedule changes, so every Schedule is rewritten once. */
const SPEC_VERSION = 1;

/** Options of `syncSchedules`. */
export interface SyncSchedulesOptions {
  /** Task queue the ScheduleWorkflows run on and whose dispatcher they nudge. */
  taskQueue: string;
  /** The policy in force (`schedules`, `polling.interval_ms`; `tracker.kind` for a warning). */
  policy: Pick<Policy, 'schedules' | 'polling'> & { tracker?: { kind: string } };
  log: {
    info(obj: object, msg: string): void;
    warn(obj: object, msg: string): void;
    error(obj: object, msg: string): void;
  };
}

/** What `syncSchedules` did, by Schedule id. */
export interface SyncSchedulesResult {
  created: string[];
  /** Existing Schedules whose spec or action changed. */
  updated: string[];
  /** Existing Schedules already as the policy says (nothing written). */
  unchanged: string[];
  /** Schedules of this task queue no longer in the policy. */
  deleted: string[];
  /** Schedules that could not be written (e.g. a cron expression Temporal rejects); logged. */
  failed: { scheduleId: string; error: string }[];
}

/**
 * Makes the task queue's Temporal Schedules match the policy: creates missing ones, updates
 * changed ones (a digest of the desired Schedule rides in the action's memo, so an unchanged one
 * is not rewritten), and deletes Foreman Schedules of this task queue that the policy no longer
 * has. Idempotent; safe to call on every start and policy reload, and from two daemons at once.
 * Overlap policy SKIP: a tick never starts while the previous one still runs. An update keeps the
 * Schedule's paused state, so an operator's pause survives a reload.
 *
 * One failing Schedule does not stop the others: it is logged and listed in `failed`.
 * Deletion relies on the schedule list, which Temporal fills asynchronously (visibility): a
 * Schedule created moments before may be deleted only by the next sync.
 *
 * @throws whatever the Temporal client throws when the server cannot be reached (listing).
 */
export async function syncSchedules(client: Client, opts: SyncSchedulesOptions): Promise<SyncSchedulesResult> {
  const { taskQueue, log } = opts;
  const result: SyncSchedulesResult = { created: [], updated: [], unchanged: [], deleted: [], failed: [] };
  const planned = plannedSchedules(opts.policy, taskQueue);

  for (const p of planned) {
    try {
      const outcome = await upsertSchedule(client, p);
      result[outcome].push(p.scheduleId);
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      result.failed.push({ scheduleId: p.scheduleId, error });
      log.error(
        { scheduleId: p.scheduleId, err: error },
        'could not create or update the schedule; fix its entry in `schedules`',
      );
    }
  }

  const wanted = new Set(planned.map((p) => p.scheduleId));
  for (const scheduleId of await listOwnedSchedules(client, taskQueue)) {
    if (wanted.has(scheduleId)) continue;
    try {
      await client.schedule.getHandle(scheduleId).delete();
      result.deleted.push(scheduleId);
    } catch (err) {
      if (err instanceof ScheduleNotFoundError) continue;
      const error = err instanceof Error ? err.message : String(err);
      result.failed.push({ scheduleId, error });
      log.error({ scheduleId, err: error }, 'could not delete a schedule that is no longer in the policy');
    }
  }

  if (result.created.length || result.updated.length || result.deleted.length) {
    log.info(
      { taskQueue, created: result.created, updated: result.updated, deleted: result.deleted },
      'schedules synced',
    );
  }
  return result;
}

/**
 * Deletes every Foreman Schedule of `taskQueue` (the backstop included); returns their ids. For
 * tests and for tearing a task queue down; the daemon does not call it on stop, because
 * Schedules are meant to outlive the process.
 */
export async function deleteForemanSchedules(client: Client, taskQueue: string): Promise<string[]> {
  const deleted: string[] = [];
  for (const scheduleId of await listOwnedSchedules(client, taskQueue)) {
    try {
      await client.schedule.getHandle(scheduleId).delete();
      deleted.push(scheduleId);
    } catch (err) {
      if (!(err instanceof ScheduleNotFoundError)) throw err;
    }
  }
  return deleted;
}

/** Ids of the Schedules this task queue owns: memo owner matches and the id has our shape. */
async function listOwnedSchedules(client: Client, taskQueue: string): Promise<string[]> {
  const prefix = foremanScheduleIdPrefix(taskQueue);
  const backstop = pollBackstopScheduleId(taskQueue);
  const ids: string[] = [];
  for await (const s of client.schedule.list()) {
    // The memo check matters: the prefix of queue `a` also matches the ids of queue `a-b`.
    if (s.memo?.[OWNER_MEMO_KEY] !== taskQueue) continue;
    if (s.scheduleId === backstop || s.scheduleId.startsWith(prefix)) ids.push(s.scheduleId);
  }
  return ids;
}

async function upsertSchedule(client: Client, p: PlannedSchedule): Promise<'created' | 'updated' | 'unchanged'> {
  const digest = digestOf(p);
  const action: ScheduleOptionsStartWorkflowAction<ScheduleWorkflowFunction> = {
    type: 'startWorkflow',
    workflowType: SCHEDULE_WORKFLOW_TYPE,
    taskQueue: p.input.taskQueue,
    // The Schedule appends the tick's timestamp, so each tick is its own workflow.
    workflowId: `foreman-schedule-${p.scheduleId.replace(/^foreman-/, '')}`,
    args: [p.input],
    memo: { [DIGEST_MEMO_KEY]: digest },
  };
  const policies = { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: p.catchupWindowMs };
  try {
    await client.schedule.create({
      scheduleId: p.scheduleId,
      spec: p.spec,
      action,
      policies,
      memo: { [OWNER_MEMO_KEY]: p.input.taskQueue },
    });
    return 'created';
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
  }
  const handle = client.schedule.getHandle(p.scheduleId);
  const current = await handle.describe();
  if (current.action.memo?.[DIGEST_MEMO_KEY] === digest) return 'unchanged';
  await handle.update((prev) => ({ spec: p.spec, action, policies, state: prev.state }));
  return 'updated';
}

/** Digest of everything that defines a Schedule, so an equal one is not rewritten. */
function digestOf(p: PlannedSchedule): string {
  return createHash('sha256')
    .update(JSON.stringify([SPEC_VERSION, p.scheduleId, p.spec, p.input, p.catchupWindowMs]))
    .digest('hex')
    .slice(0, 32);
}

/**
 * The daemon's schedule sync: a function that runs `syncSchedules` for `taskQueue` under the
 * policy `policy()` returns at call time. Calls are serialized (a reload during a sync waits for
 * it) and never throw: a failure is logged at warn, since the dispatcher still polls on its own.
 */
export function createScheduleSync(
  client: Client,
  taskQueue: string,
  policy: () => SyncSchedulesOptions['policy'],
  log: SyncSchedulesOptions['log'],
): () => Promise<void> {
  let syncing = Promise.resolve();
  return () =>
    (syncing = syncing.then(async () => {
      try {
        await syncSchedules(client, { taskQueue, policy: policy(), log });
      } catch (err) {
        log.warn(
          { err: (err as Error).message },
          'could not sync the schedules; the dispatcher still polls on its own timer',
        );
      }
    }));
}
