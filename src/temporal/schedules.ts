/**
 * The clock: turns the policy's `schedules` (cron or interval) and `polling.interval_ms` into
 * Temporal Schedules, created or updated idempotently whenever the daemon starts or the policy
 * changes, and the work one tick does in Node (filing a scheduled issue, nudging the dispatcher).
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
 * Owns the Schedule specs and actions, their sync, and the tick's Node side. Does not own when to
 * sync (src/daemon.ts), the activity wrappers (activities/index.ts), or dispatching (src/dispatch/).
 */
import { createHash, randomBytes } from 'node:crypto';
import { link, open, rm } from 'node:fs/promises';
import path from 'node:path';
import {
  ScheduleAlreadyRunning,
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  WorkflowIdConflictPolicy,
  type Client,
  type ScheduleOptionsStartWorkflowAction,
  type ScheduleSpec,
} from '@temporalio/client';
import { stringify } from 'yaml';
import type {
  FileScheduledIssueInput,
  FiledIssue,
  NudgeDispatcherInput,
  ScheduledIssue,
  ScheduleWorkflow,
  ScheduleWorkflowInput,
} from '../../workflows/schedule-workflow.js';
import { DISPATCHER_WORKFLOW_TYPE, dispatcherWorkflowId, refreshSignal } from '../../workflows/definitions.js';
import type { Policy } from '../config/schema.js';
import { PolicyError, TrackerError } from '../errors.js';
import { createTracker, type LocalTracker } from '../trackers/index.js';

/** Workflow type every Foreman Schedule starts. */
export const SCHEDULE_WORKFLOW_TYPE = 'ScheduleWorkflow';

/** `scheduleId` the built-in poll backstop passes to ScheduleWorkflow. */
export const POLL_BACKSTOP_ID = 'foreman-poll';

/** Shortest interval of the poll backstop, in ms: a tick is a workflow, not free. */
export const MIN_POLL_BACKSTOP_MS = 10_000;

/** Memo key on each Schedule naming the task queue that owns it (what `syncSchedules` may delete). */
const OWNER_MEMO_KEY = 'foremanTaskQueue';
/** Memo key on the Schedule's action holding a digest of the desired Schedule (skip no-op updates). */
const DIGEST_MEMO_KEY = 'foremanScheduleDigest';
/** Bump when the shape of a Schedule changes, so every Schedule is rewritten once. */
const SPEC_VERSION = 1;

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
  const kind = opts.policy.tracker?.kind.trim().toLowerCase();
  const filing = opts.policy.schedules.filter((s) => s.issue).map((s) => s.id);
  if (kind !== undefined && kind !== 'local' && filing.length) {
    // Said now, not at the first (maybe weekly) tick, which fails with schedule_issue_unsupported.
    log.warn(
      { schedules: filing, trackerKind: kind },
      `schedules with an \`issue\` need tracker.kind "local"; their ticks will fail until \`issue\` is removed`,
    );
  }

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
  const action: ScheduleOptionsStartWorkflowAction<typeof ScheduleWorkflow> = {
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

/** The issue without undefined keys: it travels as a workflow argument (JSON). */
function cleanIssue(issue: ScheduledIssue): ScheduledIssue {
  const out: ScheduledIssue = { title: issue.title };
  if (issue.description !== undefined) out.description = issue.description;
  if (issue.labels?.length) out.labels = [...issue.labels];
  if (issue.priority !== undefined) out.priority = issue.priority;
  if (issue.state !== undefined) out.state = issue.state;
  return out;
}

// ---------------------------------------------------------------------------------------------
// What a tick does (called by the activities of the same names)

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

/** Input of `fileScheduledIssue`: the activity's input plus the tracker it writes to. */
export interface FileScheduledIssueOptions extends FileScheduledIssueInput {
  /** The policy's `tracker` section (`kind`, `provider`; `active_states` gives the default state). */
  tracker: { kind: string; provider: Record<string, unknown>; active_states?: string[] };
  /** Directory a relative `tracker.provider.path` resolves against (the policy file's). (Default: cwd) */
  baseDir?: string;
}

/**
 * Files a schedule's issue for the tick at `at`, once per schedule per UTC day (identifier from
 * `scheduledIssueIdentifier`). Local tracker: writes `<issues>/<identifier>.md` (front matter
 * `title`, `state`, `priority`, `labels`, `created_at` = `at`, `schedule` = the schedule id; body =
 * `description`) in one step that never overwrites: an existing file (an earlier tick that day, a
 * retried activity, a human's edit) leaves it as it is and returns `created: false`.
 *
 * @throws PolicyError `schedule_issue_unsupported` when `tracker.kind` is not `local` (other
 *   trackers cannot file issues yet).
 * @throws TrackerError `tracker_payload_invalid` (not retryable) when `at` is not a timestamp;
 *   `tracker_request_failed` (retryable) when the file cannot be written.
 */
export async function fileScheduledIssue(opts: FileScheduledIssueOptions): Promise<FiledIssue> {
  const kind = String(opts.tracker.kind ?? '')
    .trim()
    .toLowerCase();
  if (kind !== 'local') {
    const message =
      `schedules entry "${opts.scheduleId}" has an \`issue\`, but tracker.kind "${opts.tracker.kind}" cannot file issues yet; ` +
      'remove `issue` from the entry (a schedule without it only polls) or use tracker.kind "local"';
    throw new PolicyError('schedule_issue_unsupported', message, { issues: [{ path: 'schedules', message }] });
  }
  const at = new Date(opts.at);
  if (Number.isNaN(at.getTime())) {
    throw new TrackerError(
      'tracker_payload_invalid',
      `fileScheduledIssue: at "${opts.at}" is not an RFC 3339 timestamp`,
      { retryable: false },
    );
  }
  const identifier = scheduledIssueIdentifier(opts.scheduleId, at);
  const tracker = createTracker(
    { tracker: opts.tracker },
    opts.baseDir !== undefined ? { baseDir: opts.baseDir } : {},
  ) as LocalTracker;
  const file = path.join(tracker.path, `${identifier}.md`);
  const created = await writeNewFile(file, renderIssueFile(opts, at));
  return { identifier, created };
}

function renderIssueFile(opts: FileScheduledIssueOptions, at: Date): string {
  const { issue } = opts;
  const fm: Record<string, unknown> = {
    title: issue.title,
    state: issue.state ?? opts.tracker.active_states?.[0] ?? 'Todo',
  };
  if (issue.priority !== undefined) fm.priority = issue.priority;
  if (issue.labels?.length) fm.labels = issue.labels;
  fm.created_at = at.toISOString();
  fm.schedule = opts.scheduleId;
  const body = issue.description?.trim() ?? '';
  return `---\n${stringify(fm)}---\n\n${body}${body ? '\n' : ''}`;
}

/**
 * Writes `file` only if it does not exist, atomically: the text goes to a dot-file (which the
 * tracker ignores) and is hard-linked into place, which fails when the name is taken. Returns
 * false when it was taken. Falls back to an exclusive create where hard links are refused.
 */
async function writeNewFile(file: string, text: string): Promise<boolean> {
  const tmp = path.join(
    path.dirname(file),
    `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`,
  );
  try {
    const handle = await open(tmp, 'wx', 0o644);
    try {
      await handle.writeFile(text, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await link(tmp, file);
      return true;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') return false;
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'EXDEV') throw err;
    }
    try {
      const handle2 = await open(file, 'wx', 0o644);
      try {
        await handle2.writeFile(text, 'utf8');
      } finally {
        await handle2.close();
      }
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw err;
    }
  } catch (err) {
    throw new TrackerError(
      'tracker_request_failed',
      `Cannot write ${file}: ${(err as Error).message}; check the issues folder's permissions and free space`,
      {
        cause: err,
      },
    );
  } finally {
    await rm(tmp, { force: true });
  }
}

/**
 * Asks the task queue's DispatcherWorkflow to poll now: a `refresh` signal-with-start (conflict
 * policy USE_EXISTING), so a dispatcher that is not running (failed, terminated, never started)
 * is started. Same call as the daemon's `refresh`.
 */
export async function nudgeDispatcher(client: Client, input: NudgeDispatcherInput): Promise<void> {
  await client.workflow.signalWithStart(DISPATCHER_WORKFLOW_TYPE, {
    workflowId: dispatcherWorkflowId(input.taskQueue),
    taskQueue: input.taskQueue,
    args: [{}],
    signal: refreshSignal,
    signalArgs: [{ reason: input.reason }],
    workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
  });
}
