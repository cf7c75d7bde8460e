/**
 * Which worker a process is, for workspace affinity (docs/architecture.md, "Scale"): every worker
 * polls the deployment's shared task queue and its own workspace task queue
 * `<deployment task queue>@<worker id>`, where the activities that touch an issue's workspace run.
 */
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import path from 'node:path';
import { TemporalServerError } from '../errors.js';

/** What a worker id may look like: safe inside a task queue name, a log line and a file name. */
export const WORKER_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;

/** One worker: its id and the workspace task queue it polls. */
export interface WorkerIdentity {
  /** `FOREMAN_WORKER_ID`, or `<host>-<8 hex of sha256(FOREMAN_HOME)>`. */
  id: string;
  /** `<deployment task queue>@<id>`. */
  workspaceQueue: string;
}

/**
 * The worker id of a process: `env.FOREMAN_WORKER_ID` when set, else the host name (characters a
 * task queue name should not hold made `-`) and 8 hex digits of the sha256 of `home` (the resolved
 * FOREMAN_HOME): two homes on one host never share a workspace queue, and a worker restarted on the
 * same host and home polls its own queue again (its workspaces are still there).
 * @throws TemporalServerError `worker_id_invalid` (not retryable) when FOREMAN_WORKER_ID does not
 *   match WORKER_ID_PATTERN.
 */
export function workerIdOf(env: NodeJS.ProcessEnv, home: string): string {
  const set = env.FOREMAN_WORKER_ID?.trim();
  if (set !== undefined && set !== '') {
    if (!WORKER_ID_PATTERN.test(set)) {
      throw new TemporalServerError(
        'worker_id_invalid',
        `FOREMAN_WORKER_ID "${set.slice(0, 120)}" cannot name a workspace task queue: use 1-100 letters, digits, ` +
          '`_`, `.` or `-`, starting with a letter or digit (or unset it for the default: host name and FOREMAN_HOME).',
        { retryable: false },
      );
    }
    return set;
  }
  const host =
    hostname()
      .replace(/[^A-Za-z0-9_.-]+/g, '-')
      .replace(/^[^A-Za-z0-9]+/, '')
      .slice(0, 80) || 'host';
  const digest = createHash('sha256').update(path.resolve(home)).digest('hex').slice(0, 8);
  return `${host}-${digest}`;
}

/** The workspace task queue of worker `workerId` in the deployment whose task queue is `taskQueue`. */
export function workspaceQueueOf(taskQueue: string, workerId: string): string {
  return `${taskQueue}@${workerId}`;
}

/**
 * The identity of the worker that serves `taskQueue` from `home` under `env`.
 * @throws TemporalServerError `worker_id_invalid` (see workerIdOf).
 */
export function workerIdentity(env: NodeJS.ProcessEnv, home: string, taskQueue: string): WorkerIdentity {
  const id = workerIdOf(env, home);
  return { id, workspaceQueue: workspaceQueueOf(taskQueue, id) };
}
