/**
 * What every activity group shares: the injected dependencies, the policy in force (re-read on every
 * call, so a reload takes effect at once; Symphony SPEC §6.2), one tracker adapter per tracker
 * configuration, the git identity and the agents' scrubbed environment. Only the worker bootstrap
 * (src/temporal/worker.ts) builds real dependencies.
 */
import type { Client } from '@temporalio/client';
import type { Deployment } from '../src/deployment.js';
import type { WorkerIdentity } from '../src/temporal/worker-id.js';
import type { LoadedPolicy } from '../src/config/load.js';
import type { PolicyStore } from '../src/config/store.js';
import type { Logger } from '../src/logger.js';
import { trackerForPolicy } from '../src/trackers/index.js';
import type { Tracker } from '../src/trackers/types.js';
import { scrubbedEnv } from '../src/workspace/shell.js';
import { gitAuthFor, type GitAuth } from '../src/workspace/git.js';
import type { GitIdentity } from '../src/workspace/workspace.js';

/** What the activities need from the process that hosts them. */
export interface ActivityDeps {
  /** The policy in force (reloaded on change; last good kept on error). */
  policyStore: PolicyStore;
  /** Foreman's state directory (transcripts). */
  home: string;
  log: Logger;
  /** Temporal client, for the dispatcher's signal-with-start. */
  client: Client;
  /** The deployment the worker serves: its key and task queue (src/deployment.ts). */
  deployment: Deployment;
  /**
   * This worker's id and the workspace task queue it polls (src/temporal/worker-id.ts): a prepared
   * workspace names it, so the steps on that workspace run here. Absent: workspaces name none and
   * their steps run on the shared task queue.
   */
  worker?: WorkerIdentity;
  /** Environment the daemon runs with: model/tracker secrets are read from it, never passed on. (Default: `process.env`) */
  env?: NodeJS.ProcessEnv;
}

/** The shared context the activity groups are built over. */
export interface ActivityContext {
  deps: ActivityDeps;
  env: NodeJS.ProcessEnv;
  log: Logger;
  /** The policy in force now. */
  policy(): LoadedPolicy;
  /** The tracker adapter for `loaded` (default: the policy in force), built once per tracker section. */
  tracker(loaded?: LoadedPolicy): Tracker;
  /** Remote and commit author under the policy in force. */
  identity(loaded?: LoadedPolicy): GitIdentity;
  /** The environment an agent's or hook's commands get: no secrets. */
  agentEnv(): Record<string, string>;
  /** The credential Foreman's own fetch and push get (src/workspace/git.ts), nothing else does. */
  gitAuth(loaded?: LoadedPolicy): GitAuth;
}

/** Builds the shared context over `deps`. */
export function createActivityContext(deps: ActivityDeps): ActivityContext {
  const env = deps.env ?? process.env;
  const trackers = new Map<string, Tracker>();
  const policy = () => deps.policyStore.current();
  return {
    deps,
    env,
    log: deps.log,
    policy,
    tracker(loaded = policy()) {
      const key = JSON.stringify(loaded.policy.tracker);
      let t = trackers.get(key);
      if (!t) {
        t = trackerForPolicy(loaded, deps.log, env);
        trackers.set(key, t);
      }
      return t;
    },
    identity(loaded = policy()) {
      const { scm } = loaded.policy;
      return { remote: scm.remote, authorName: scm.author_name, authorEmail: scm.author_email };
    },
    agentEnv: () => scrubbedEnv({ base: env }),
    gitAuth: (loaded = policy()) => gitAuthFor(loaded.policy, env),
  };
}
