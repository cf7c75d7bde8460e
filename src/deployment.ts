/**
 * Deployments: one policy's Foreman (its tracker, its workers) on a Temporal namespace that others
 * may share (docs/architecture.md, "Deployments on one namespace"). The deployment key scopes every
 * workflow id, the task queue and the `ForemanDeployment` search attribute, so two projects with an
 * issue `DEMO-1` never meet. Pure, apart from resolving a local issues folder's real path.
 */
import { createHash } from 'node:crypto';
import { realpathSync } from 'node:fs';
import path from 'node:path';
import type { LoadedPolicy } from './config/load.js';
import { parseRepoSlug } from './trackers/github/config.js';

/** Custom search attribute (Keyword) holding the deployment key of every IssueWorkflow. */
export const DEPLOYMENT_SEARCH_ATTRIBUTE = 'ForemanDeployment';

/** Where one policy's runs live on the shared namespace. */
export interface Deployment {
  /** Short, id-safe key (`DEPLOYMENT_KEY_PATTERN` in src/config/schema.ts), e.g. `acme-app-1f0c9e2a`. */
  key: string;
  /** Task queue its workers poll and its workflows run on. */
  taskQueue: string;
  /**
   * Task queue that runs started before deployment keys (legacy id `foreman-issue-<identifier>`,
   * no search attribute) live on: the policy's `temporal.task_queue`. Null: look for none.
   */
  legacyTaskQueue: string | null;
}

/**
 * What the tracker is, as a stable string: `github:<owner>/<repo>`, `linear:<endpoint host>:team=<KEY>:project=<slug>`,
 * or `local:<real path of the issues folder>` (a folder not created yet: its nearest existing
 * ancestor's real path joined with the rest, the path it will have).
 * Reads the policy's keys only (no tokens, no I/O but `realpath`). Source: docs/architecture.md,
 * "Deployments on one namespace".
 */
export function trackerIdentity(loaded: Pick<LoadedPolicy, 'policy' | 'dir'>): string {
  const tracker = loaded.policy.tracker as { kind: string; provider?: Record<string, unknown> } & Record<
    string,
    unknown
  >;
  const kind = String(tracker.kind ?? '')
    .trim()
    .toLowerCase();
  const provider = tracker.provider ?? {};
  const read = (key: string): string => {
    const v = provider[key] ?? tracker[key];
    return typeof v === 'string' ? v.trim() : '';
  };
  if (kind === 'local') return `local:${realPath(localIssuesFolder(loaded)!)}`;
  if (kind === 'github') {
    const slug = read('repo').includes('/')
      ? parseRepoSlug(read('repo'))
      : { owner: read('owner'), repo: read('repo') };
    return `github:${slug?.owner ?? ''}/${slug?.repo ?? ''}`.toLowerCase();
  }
  if (kind === 'linear') {
    let host = 'api.linear.app';
    try {
      if (read('endpoint')) host = new URL(read('endpoint')).host;
    } catch {
      // The adapter reports a bad endpoint; the identity only needs to be stable.
    }
    return `linear:${host}:team=${read('team_key').toUpperCase()}:project=${read('project_slug')}`;
  }
  return `${kind}:${JSON.stringify(provider)}`;
}

/** The local tracker's issues folder (absolute; `tracker.provider.path`, default `./issues`), or null for another tracker. */
export function localIssuesFolder(loaded: Pick<LoadedPolicy, 'policy' | 'dir'>): string | null {
  const tracker = loaded.policy.tracker as { kind: string; provider?: Record<string, unknown> };
  if (
    String(tracker.kind ?? '')
      .trim()
      .toLowerCase() !== 'local'
  )
    return null;
  const p = tracker.provider?.path;
  return path.resolve(loaded.dir, typeof p === 'string' && p.trim() ? p.trim() : './issues');
}

/**
 * The deployment key of a policy: `temporal.deployment` when set, else a readable slug of the
 * tracker (repository, team or project, folder) plus the first 8 hex digits of the sha256 of
 * {@link trackerIdentity}, e.g. `app-1f0c9e2a`, `eng-77b0d1c3`, `shop-issues-0a9f3e11`.
 */
export function deploymentKey(loaded: Pick<LoadedPolicy, 'policy' | 'dir'>): string {
  const explicit = loaded.policy.temporal.deployment;
  if (explicit) return explicit;
  const identity = trackerIdentity(loaded);
  const hash = createHash('sha256').update(identity).digest('hex').slice(0, 8);
  return `${slug(readablePart(identity))}-${hash}`;
}

/**
 * The deployment of a loaded policy: its key, the task queue `<temporal.task_queue>-<key>`, and the
 * policy's bare `temporal.task_queue` as the legacy queue.
 */
export function deploymentOf(loaded: Pick<LoadedPolicy, 'policy' | 'dir'>): Deployment {
  const key = deploymentKey(loaded);
  const base = loaded.policy.temporal.task_queue;
  return { key, taskQueue: `${base}-${key}`, legacyTaskQueue: base };
}

/** The visibility-query clause that selects a deployment's runs (its key, and legacy runs on its old queue). */
export function deploymentQuery(d: Pick<Deployment, 'key' | 'legacyTaskQueue'>): string {
  const own = `${DEPLOYMENT_SEARCH_ATTRIBUTE} = '${d.key}'`;
  if (!d.legacyTaskQueue) return own;
  return `(${own} OR (${legacyRunsQuery(d.legacyTaskQueue)}))`;
}

/** The visibility-query clause that selects runs started before deployment keys on `taskQueue`. */
export function legacyRunsQuery(taskQueue: string): string {
  return `${DEPLOYMENT_SEARCH_ATTRIBUTE} IS NULL AND TaskQueue = '${escapeQuery(taskQueue)}'`;
}

/** `value` escaped for a single-quoted string in a visibility query. */
export function escapeQuery(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/'/g, "\\'");
}

/** `realpath` of `p`, or of its nearest existing ancestor joined with the rest. */
function realPath(p: string): string {
  const rest: string[] = [];
  for (let dir = p; ; dir = path.dirname(dir)) {
    try {
      return path.join(realpathSync(dir), ...rest.reverse());
    } catch {
      if (path.dirname(dir) === dir) return p;
      rest.push(path.basename(dir));
    }
  }
}

function readablePart(identity: string): string {
  const [kind, ...rest] = identity.split(':');
  const body = rest.join(':');
  if (kind === 'local') return path.basename(path.dirname(body)) + '-' + path.basename(body);
  if (kind === 'github') return body.split('/')[1] ?? body;
  if (kind === 'linear') {
    const team = /team=([^:]*)/.exec(body)?.[1];
    const project = /project=(.*)$/.exec(body)?.[1];
    return [team, project].filter(Boolean).join('-');
  }
  return kind ?? '';
}

function slug(s: string): string {
  return (
    s
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 24)
      .replace(/-+$/, '') || 'foreman'
  );
}
