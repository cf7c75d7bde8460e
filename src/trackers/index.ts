/**
 * The tracker factory: turns the policy's `tracker` section into a `Tracker` adapter.
 *
 * Owns the choice of adapter by `tracker.kind` and reading the adapter's keys from
 * `tracker.provider`. It does not validate the rest of the policy (src/config/) and holds no
 * adapter logic (one folder per provider beside it: local/, linear/, github/; shared helpers in
 * shared.ts, the comment marker in marker.ts).
 */
import path from 'node:path';
import { PolicyError, type TrackerError } from '../errors.js';
import { githubTrackerFromPolicy } from './github/index.js';
import { linearTrackerFromPolicy } from './linear/index.js';
import { createLocalTracker } from './local/index.js';
import { foremanHome } from '../home.js';
import { loadCommentKey, type CommentKey } from './marker.js';
import { redactingTracker } from './redacting.js';
import type { Tracker } from './types.js';

export type { LocalTracker, LocalTrackerOptions } from './local/index.js';
export { createLocalTracker } from './local/index.js';

/** Tracker kinds this build can create. */
export const SUPPORTED_TRACKER_KINDS = ['local', 'linear', 'github'] as const;

/** Options of `createTracker`. */
export interface CreateTrackerOptions {
  /** Called for each issue the tracker skips because its data is unusable (local: a broken file). */
  onInvalid?: (file: string, error: TrackerError) => void;
  /**
   * Directory a relative or absent `tracker.provider.path` resolves against; pass the policy
   * file's directory so the default `./issues` sits beside the policy. (Default: `process.cwd()`)
   */
  baseDir?: string;
  /** Environment for adapter secrets (`LINEAR_API_KEY` …) and `$VAR`. (Default: `process.env`) */
  env?: NodeJS.ProcessEnv;
  /** Adapter diagnostics (retries, rate limits). */
  log?: { warn(obj: object, msg: string): void };
  /**
   * The installation's comment key. (Default: `<FOREMAN_HOME>/comment-key` of `env`, created on
   * first use; src/trackers/marker.ts `loadCommentKey`)
   */
  commentKey?: CommentKey;
}

/**
 * Creates the tracker adapter for the policy's `tracker.kind` (compared trimmed, lowercased):
 * `local` reads `tracker.provider.path` (Default: `./issues`; the policy loader makes a given path
 * absolute against the policy file; a relative or absent one resolves against `opts.baseDir`);
 * `linear` and `github` read their keys as specs/trackers/linear.md and github.md describe.
 * The adapter comes wrapped so every text it writes is redacted (./redacting.ts).
 *
 * @param policy The loaded policy, or any object with `tracker.kind` and `tracker.provider`.
 * @param opts Callbacks, the base directory for relative paths, and the env for secrets.
 * @throws PolicyError `tracker_kind_unsupported` for unknown kinds; the adapters' own config
 *   errors (`tracker_token_missing`, …).
 * @throws TrackerError `comment_key_invalid` when the comment key file cannot be had.
 * @throws TrackerError from the adapter, e.g. `tracker_request_failed` when the local folder
 *   cannot be created.
 */
export function createTracker(
  policy: { tracker: { kind: string; provider: Record<string, unknown> } },
  opts: CreateTrackerOptions = {},
): Tracker {
  // Every write to a tracker passes through the redactor (src/trackers/redacting.ts).
  return redactingTracker(createAdapter(policy, opts));
}

function createAdapter(
  policy: { tracker: { kind: string; provider: Record<string, unknown> } },
  opts: CreateTrackerOptions,
): Tracker {
  const kind = String(policy.tracker.kind ?? '')
    .trim()
    .toLowerCase();
  const provider = policy.tracker.provider ?? {};
  const env = opts.env ?? process.env;
  if (!(SUPPORTED_TRACKER_KINDS as readonly string[]).includes(kind)) {
    const message = `tracker.kind "${policy.tracker.kind}" is not supported; use one of: ${SUPPORTED_TRACKER_KINDS.join(', ')}`;
    throw new PolicyError('tracker_kind_unsupported', message, { issues: [{ path: 'tracker.kind', message }] });
  }
  const commentKey = opts.commentKey ?? loadCommentKey(foremanHome(env));
  const extra = { commentKey, ...(opts.log ? { log: opts.log } : {}) };
  if (kind === 'local') {
    const folder = path.resolve(opts.baseDir ?? process.cwd(), String(provider.path ?? './issues'));
    return createLocalTracker({ path: folder, commentKey, ...(opts.onInvalid ? { onInvalid: opts.onInvalid } : {}) });
  }
  if (kind === 'linear') return linearTrackerFromPolicy(policy.tracker, env, extra);
  const t = policy.tracker as {
    provider: Record<string, unknown>;
    active_states?: string[];
    terminal_states?: string[];
  };
  return githubTrackerFromPolicy(
    t.provider ?? {},
    { active_states: t.active_states ?? [], terminal_states: t.terminal_states ?? [] },
    env,
    extra,
  );
}

/**
 * The tracker for a loaded policy, as every Foreman process builds it: relative paths resolve
 * against the policy file's directory, and each unusable issue is logged once per distinct problem
 * (not on every poll).
 */
export function trackerForPolicy(
  loaded: { policy: { tracker: { kind: string; provider: Record<string, unknown> } }; dir: string },
  log: { warn(obj: object, msg: string): void },
  env: NodeJS.ProcessEnv = process.env,
): Tracker {
  const seen = new Set<string>();
  return createTracker(loaded.policy, {
    baseDir: loaded.dir,
    env,
    log,
    onInvalid: (file, error) => {
      const key = `${file}\0${error.message}`;
      if (seen.has(key)) return;
      seen.add(key);
      log.warn({ file, code: error.code }, error.message);
    },
  });
}
