/**
 * What a schedule tick files: the entry's periodic issue, once per schedule per UTC day, written
 * to the local tracker's folder in one step that never overwrites. Called by the
 * `fileScheduledIssue` activity (activities/schedules.ts).
 */
import { randomBytes } from 'node:crypto';
import { link, open, rm } from 'node:fs/promises';
import path from 'node:path';
import { stringify } from 'yaml';
import { PolicyError, TrackerError } from '../errors.js';
import { createTracker, type LocalTracker } from '../trackers/index.js';
import { scheduledIssueIdentifier } from './ids.js';
import type { FiledIssue, FileScheduledIssueInput } from './types.js';

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
