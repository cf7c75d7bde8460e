/**
 * The Linear tracker's configuration: reading the policy's `tracker` section into
 * `createLinearTracker` options (a Symphony `WORKFLOW.md` loads as-is), and the checks of the key
 * and endpoint that `createLinearTracker` repeats for direct callers.
 */
import { resolveVar } from '../../config/load.js';
import { PolicyError } from '../../errors.js';
import { isRecord } from '../shared.js';
import type { LinearTrackerOptions } from './adapter.js';

/** Linear's public GraphQL endpoint. */
export const LINEAR_DEFAULT_ENDPOINT = 'https://api.linear.app/graphql';

/** Where a Linear API key comes from when the policy has none. */
export const LINEAR_API_KEY_ENV = 'LINEAR_API_KEY';

/** The policy's `tracker` section as the loader leaves it (legacy keys are also copied into `provider`). */
export interface LinearTrackerPolicy {
  kind: string;
  provider?: Record<string, unknown>;
  active_states?: string[];
  terminal_states?: string[];
  [legacy: string]: unknown;
}

/**
 * Reads a policy `tracker` section into `createLinearTracker` options. A Symphony `WORKFLOW.md`
 * loads as-is: `api_key`, `endpoint`, `project_slug`, `assignee` may sit at the tracker level or in
 * `tracker.provider` (which wins); `team_key` scopes by team. `$VAR` values are resolved against
 * `env` (an empty variable counts as unset, SPEC §5.3.1).
 *
 * Keys (all in `tracker.provider`): `api_key` (Default: env `LINEAR_API_KEY`), `endpoint`
 * (Default: `https://api.linear.app/graphql`), `project_slug`, `team_key` (one of the two is
 * required), `assignee`.
 *
 * @param tracker The policy's `tracker` section.
 * @param env Environment for `$VAR` and the `LINEAR_API_KEY` fallback.
 * @throws PolicyError `tracker_token_missing` (no key: `tracker.provider.api_key`),
 *   `invalid_tracker_config` (a key of the wrong type, a bad endpoint, or no scope).
 */
export function linearOptionsFromPolicy(
  tracker: LinearTrackerPolicy,
  env: NodeJS.ProcessEnv = process.env,
): Omit<LinearTrackerOptions, 'log' | 'commentKey'> {
  const provider = isRecord(tracker.provider) ? tracker.provider : {};
  const read = (key: string): string | undefined => {
    const value = provider[key] ?? tracker[key];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'string')
      throw configError(`tracker.provider.${key}`, `tracker.provider.${key} must be a string`);
    return resolveVar(value, env)?.trim() || undefined;
  };

  const apiKey = read('api_key') ?? (env[LINEAR_API_KEY_ENV]?.trim() || undefined);
  if (apiKey === undefined) throw tokenMissing();
  const endpoint = read('endpoint') ?? LINEAR_DEFAULT_ENDPOINT;
  checkEndpoint(endpoint, 'tracker.provider.endpoint');
  const projectSlug = read('project_slug');
  const teamKey = read('team_key');
  if (projectSlug === undefined && teamKey === undefined) {
    throw configError(
      'tracker.provider.project_slug',
      "The linear tracker needs a scope: set tracker.provider.project_slug (the project's slug from its URL) and/or tracker.provider.team_key (e.g. ENG)",
    );
  }
  const assignee = read('assignee');
  const states = (value: unknown, key: string, fallback: string[]): string[] => {
    if (value === undefined) return fallback;
    if (!Array.isArray(value) || value.some((s) => typeof s !== 'string'))
      throw configError(`tracker.${key}`, `tracker.${key} must be a list of state names`);
    return value as string[];
  };
  return {
    apiKey,
    apiUrl: endpoint,
    ...(teamKey !== undefined ? { teamKey } : {}),
    ...(projectSlug !== undefined ? { projectSlug } : {}),
    ...(assignee !== undefined ? { assignee } : {}),
    activeStates: states(tracker.active_states, 'active_states', ['Todo', 'In Progress']),
    terminalStates: states(tracker.terminal_states, 'terminal_states', [
      'Done',
      'Closed',
      'Cancelled',
      'Canceled',
      'Duplicate',
    ]),
  };
}

/** `tracker_token_missing`: no API key anywhere. */
export function tokenMissing(): PolicyError {
  const message = `The linear tracker needs an API key: set ${LINEAR_API_KEY_ENV} or tracker.provider.api_key ($VAR allowed)`;
  return new PolicyError('tracker_token_missing', message, { issues: [{ path: 'tracker.provider.api_key', message }] });
}

/** `invalid_tracker_config` at `path`. */
export function configError(path: string, message: string): PolicyError {
  return new PolicyError('invalid_tracker_config', message, { issues: [{ path, message }] });
}

/**
 * Checks a GraphQL endpoint.
 *
 * @param key The option or policy key named in the message.
 * @throws PolicyError `invalid_tracker_config` unless `endpoint` is an https URL (http only for localhost).
 */
export function checkEndpoint(endpoint: string, key: string): void {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw configError(key, `${key} "${endpoint}" is not a URL; use ${LINEAR_DEFAULT_ENDPOINT}`);
  }
  const local = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && local)) {
    throw configError(key, `${key} "${endpoint}" must use https (http only for localhost)`);
  }
}
