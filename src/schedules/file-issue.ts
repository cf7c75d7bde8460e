/**
 * What a schedule tick files: the entry's periodic issue, once per schedule per UTC day, through
 * the tracker's `createIssue` (idempotent by key, so a retried activity or a second tick that day
 * files nothing new). Called by the `fileScheduledIssue` activity (activities/schedules.ts).
 */
import { PolicyError, TrackerError } from '../errors.js';
import { createTracker } from '../trackers/index.js';
import { scheduledIssueIdentifier } from './ids.js';
import type { FiledIssue, FileScheduledIssueInput } from './types.js';

/** Input of `fileScheduledIssue`: the activity's input plus the tracker it files on. */
export interface FileScheduledIssueOptions extends FileScheduledIssueInput {
  /** The policy's `tracker` section (`kind`, `provider`; `active_states` gives the default state). */
  tracker: { kind: string; provider: Record<string, unknown>; active_states?: string[] };
  /** Directory a relative `tracker.provider.path` resolves against (the policy file's). (Default: cwd) */
  baseDir?: string;
  /** Environment `$VAR` values and tracker tokens resolve against. (Default: process.env) */
  env?: NodeJS.ProcessEnv;
}

/**
 * Files a schedule's issue for the tick at `at`, once per schedule per UTC day: identifier and
 * idempotency key from `scheduledIssueIdentifier` (`<ID>-<YYYYMMDD>`), title, description,
 * labels, priority, state (Default: the first active state, else `Todo`), created at `at`, and
 * `schedule` = the schedule id as metadata. On the local tracker that is the file
 * `<issues>/<identifier>.md`, never overwritten; on Linear and GitHub an issue carrying the key's
 * marker. An issue already filed for that key (an earlier tick that day, a retried activity) is
 * left as it is and the result says `created: false`.
 *
 * @throws PolicyError `schedule_issue_unsupported` when the tracker has no `createIssue`; the
 *   tracker's own PolicyError codes when its configuration is invalid.
 * @throws TrackerError `tracker_payload_invalid` (not retryable) when `at` is not a timestamp;
 *   whatever the tracker's `createIssue` throws (e.g. `tracker_request_failed`, retryable).
 */
export async function fileScheduledIssue(opts: FileScheduledIssueOptions): Promise<FiledIssue> {
  const at = new Date(opts.at);
  if (Number.isNaN(at.getTime())) {
    throw new TrackerError(
      'tracker_payload_invalid',
      `fileScheduledIssue: at "${opts.at}" is not an RFC 3339 timestamp`,
      { retryable: false },
    );
  }
  const tracker = createTracker(
    { tracker: opts.tracker },
    { ...(opts.baseDir !== undefined ? { baseDir: opts.baseDir } : {}), ...(opts.env ? { env: opts.env } : {}) },
  );
  if (!tracker.createIssue) {
    const message =
      `schedules entry "${opts.scheduleId}" has an \`issue\`, but tracker.kind "${opts.tracker.kind}" cannot create issues; ` +
      'remove `issue` from the entry (a schedule without it only polls)';
    throw new PolicyError('schedule_issue_unsupported', message, { issues: [{ path: 'schedules', message }] });
  }
  const identifier = scheduledIssueIdentifier(opts.scheduleId, at);
  const { issue } = opts;
  const filed = await tracker.createIssue({
    key: `schedule-${identifier.toLowerCase()}`,
    identifier,
    title: issue.title,
    ...(issue.description?.trim() ? { description: issue.description.trim() } : {}),
    ...(issue.labels?.length ? { labels: issue.labels } : {}),
    ...(issue.priority !== undefined ? { priority: issue.priority } : {}),
    state: issue.state ?? opts.tracker.active_states?.[0] ?? 'Todo',
    createdAt: at.toISOString(),
    meta: { schedule: opts.scheduleId },
  });
  return { identifier: filed.issue.identifier, created: filed.created };
}
