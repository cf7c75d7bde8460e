/**
 * `foreman start`: the daemon. Loads the policy (and follows it), finds or starts Temporal, runs the
 * worker, keeps one DispatcherWorkflow alive for the task queue, and nudges it when the tracker or
 * the policy changes. Everything durable lives in Temporal; this process can die at any point.
 *
 * Lifecycle: resources are released in reverse order (LIFO). The first SIGINT/SIGTERM drains
 * gracefully; a second forces exit; an unref'd watchdog guarantees exit.
 */
import { createPolicyStore, type PolicyStore } from './config/store.js';
import { preflight } from './preflight.js';
import { createDispatcherRefresh } from './dispatch/nudge.js';
import { foremanHome } from './home.js';
import { loadCommentKey } from './trackers/marker.js';
import type { Logger } from './logger.js';
import { requireServerToken, startHttpServer, type HttpDeps } from './server/http.js';
import { checkHealth } from './server/health.js';
import type { CockpitDeps } from './server/cockpit.js';
import { createWebhookRouter, createWebhookRoutes } from './server/webhooks/index.js';
import { createScheduleSync, deleteForemanSchedules } from './schedules/sync.js';
import { cachedIssueLookup, collectIssue, collectState } from './status.js';
import { createClosedRunReader } from './status/records.js';
import { createMetricsRoutes, ledgerReports } from './metrics/routes.js';
import { Hono } from 'hono';
import { connectForeman, type ForemanRuntime } from './temporal/server.js';
import { trackerForPolicy } from './trackers/index.js';
import type { Tracker } from './trackers/types.js';
import { trustGateFor } from './trust/index.js';
import { describeSandboxStatus, sandboxPolicyOf, sandboxStatus, type SandboxPolicy } from './sandbox/index.js';
import { TemporalServerError, WorkspaceError, type PolicyError } from './errors.js';
import { workerIdOf } from './temporal/worker-id.js';
import { acquireDaemonLock } from './daemon-lock.js';
import { localIssuesFolder, type Deployment } from './deployment.js';
import { dispatcherWorkflowId } from '../workflows/definitions.js';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';

/** Options of `startDaemon`. */
export interface DaemonOptions {
  policyFile: string;
  /** HTTP port for the API, dashboard and webhooks; overrides `server.port`; 0 picks a free port. (Default: `server.port`, else no server) */
  port?: number;
  /** HTTP bind address; overrides `server.host`. (Default: `server.host`, `127.0.0.1`) */
  host?: string;
  env?: NodeJS.ProcessEnv;
  log: Logger;
  /** A dev server the daemon starts serves the Temporal Web UI (`foreman start --no-ui`: false). (Default: true) */
  ui?: boolean;
  /**
   * `foreman start --worker-only`: a worker process only (see startWorkerOnly); the other options
   * but `policyFile`, `env` and `log` are ignored. (Default: false)
   */
  workerOnly?: boolean;
}

/** A running daemon. */
export interface Daemon {
  /** Resolves when the worker stops (after `stop()` or a fatal worker error). */
  done: Promise<void>;
  /** The HTTP server's URL, when one is listening. */
  url: string | null;
  /** The Temporal Web UI (the dev server's, or TEMPORAL_UI_URL); null when none. */
  temporalUiUrl: string | null;
  /** Asks the dispatcher to poll now. */
  refresh(reason: string): Promise<void>;
  /** Graceful stop: worker drained, dev server stopped (if owned), watchers closed. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts the daemon.
 * @throws PolicyError when the policy is invalid at startup (Symphony SPEC §6.3), or
 *   `server_token_missing` when the HTTP server would listen beyond loopback without `server.token`;
 *   PreflightError when the model credentials or `workspace.repo` would fail every issue;
 *   WorkspaceError `sandbox_unavailable`; TemporalServerError when no Temporal server can be had, or
 *   `worker_id_invalid` (a bad FOREMAN_WORKER_ID). With `workerOnly`: what startWorkerOnly throws.
 */
export async function startDaemon(opts: DaemonOptions): Promise<Daemon> {
  if (opts.workerOnly) return startWorkerOnly(opts);
  const env = opts.env ?? process.env;
  const log = opts.log;
  const home = foremanHome(env);
  workerIdOf(env, home); // a bad FOREMAN_WORKER_ID is refused before anything starts
  const { releasers, releaseAll } = releaseStack(log);

  try {
    let refresh: (reason: string) => Promise<void> = async () => {};
    let syncNow: () => Promise<void> = async () => {};
    const store = await createPolicyStore(opts.policyFile, {
      env,
      onError: logReloadFailure(log),
      onReload: (p) => {
        log.info({ file: p.file }, 'policy reloaded');
        void refresh('policy reloaded');
        void syncNow();
      },
    });
    releasers.push(() => store.close());
    const { policy, file } = store.current();
    for (const w of store.current().warnings) log.warn({ file }, w);
    // Refuse an open API before anything starts (specs/policy.md `server.token`).
    const port = opts.port ?? policy.server.port;
    const host = opts.host ?? policy.server.host;
    if (port !== undefined) requireServerToken(host, policy.server.token);
    await requireSandbox(sandboxPolicyOf(policy.sandbox), log);
    // Refuse a setup that would fail every issue (src/preflight.ts): model credentials, workspace.repo.
    for (const line of await preflight(store.current(), { env })) log.info(line);
    // One daemon per FOREMAN_HOME and per issues folder (docs/architecture.md, "One daemon per folder").
    const folder = localIssuesFolder(store.current());
    const lock = await acquireDaemonLock(folder ? [home, folder] : [home], file);
    releasers.push(() => lock.release());

    const connect = { store, env, home, log, ui: opts.ui !== false };
    const { temporal, runtime, deployment, taskQueue, release } = await connectForeman(connect);
    releasers.push(release);
    const done = runtime.run();
    await retireLegacyDispatcher(runtime.client, deployment, log);

    refresh = createDispatcherRefresh(runtime.client, taskQueue, log);
    await refresh('daemon started');

    // The clock: the policy's `schedules` (and a poll backstop) as Temporal Schedules, created or
    // updated idempotently now and on every reload. They outlive the daemon on purpose.
    syncNow = createScheduleSync(runtime.client, taskQueue, () => store.current().policy, log);
    await syncNow();

    // Push, not just poll: a changed issue (e.g. a file dropped into the local tracker's folder)
    // is dispatched at once.
    const tracker = trackerForPolicy(store.current(), log, env);
    const unwatch = tracker.watch(() => void refresh('tracker changed'));
    releasers.push(unwatch);

    // Symphony SPEC §13.7: the CLI --port wins over server.port; no port, no server.
    let url: string | null = null;
    const temporalUiUrl = temporal.devServer?.uiUrl ?? (env.TEMPORAL_UI_URL?.trim() || null);
    if (port !== undefined) {
      const http = await startHttpServer(
        {
          ...statusDeps(runtime.client, deployment, { tracker, temporalUiUrl, home }),
          refresh,
          cockpit: cockpitDeps(runtime, deployment, home, store, temporal, temporalUiUrl),
        },
        {
          port,
          host,
          ...(policy.server.token === undefined ? {} : { token: policy.server.token }),
          // Webhooks end as signals on the same workflows a poll would start (src/server/webhooks/router.ts).
          routes: withMetrics(
            createWebhookRoutes({
              ...(env.GITHUB_WEBHOOK_SECRET ? { githubSecret: env.GITHUB_WEBHOOK_SECRET } : {}),
              ...(env.LINEAR_WEBHOOK_SECRET ? { linearSecret: env.LINEAR_WEBHOOK_SECRET } : {}),
              onEvents: createWebhookRouter({
                client: runtime.client,
                deployment,
                log,
                trust: () => trustGateFor(tracker, store.current().policy),
              }),
              log,
              commentKey: loadCommentKey(home),
            }),
            { home, deployment, client: runtime.client },
          ),
        },
      );
      releasers.push(() => http.close());
      url = http.url;
    }
    const { id: workerId, workspaceQueue } = runtime.identity;
    log.info(
      {
        policy: file,
        deployment: deployment.key,
        taskQueue,
        workerId,
        workspaceQueue,
        temporal: temporal.address,
        temporalUiUrl,
        home,
        url,
      },
      'Foreman is running',
    );

    let stopping: Promise<void> | null = null;
    return {
      done,
      url,
      temporalUiUrl,
      refresh,
      stop: () => (stopping ??= releaseAll()),
    };
  } catch (err) {
    await releaseAll();
    throw err;
  }
}

/**
 * `foreman start --worker-only`: one more worker for a deployment whose daemon runs elsewhere
 * (docs/architecture.md, "Scale"). It polls the deployment's shared task queue and its own
 * workspace task queue, and nothing else: no DispatcherWorkflow, no schedule sync, no HTTP
 * server, no tracker watch. It holds the FOREMAN_HOME lock only (not the issues folder's: worker
 * processes with different homes share one folder; docs/architecture.md, "One daemon per folder")
 * and joins the Temporal server at TEMPORAL_ADDRESS, never starting a dev server of its own.
 * @throws TemporalServerError `temporal_address_missing` (no TEMPORAL_ADDRESS), `worker_id_invalid`;
 *   PolicyError, PreflightError, WorkspaceError `sandbox_unavailable`, CliError `daemon_running`
 *   as startDaemon.
 */
export async function startWorkerOnly(opts: DaemonOptions): Promise<Daemon> {
  const env = opts.env ?? process.env;
  const log = opts.log;
  const home = foremanHome(env);
  if (!env.TEMPORAL_ADDRESS?.trim()) {
    throw new TemporalServerError(
      'temporal_address_missing',
      'foreman start --worker-only joins the Temporal server the daemon uses and starts none of its own: set ' +
        'TEMPORAL_ADDRESS (host:port, and TEMPORAL_NAMESPACE when not "default").',
      { retryable: false },
    );
  }
  workerIdOf(env, home);
  const { releasers, releaseAll } = releaseStack(log);
  try {
    const store = await createPolicyStore(opts.policyFile, {
      env,
      onError: logReloadFailure(log),
      onReload: (p) => log.info({ file: p.file }, 'policy reloaded'),
    });
    releasers.push(() => store.close());
    const { file } = store.current();
    for (const w of store.current().warnings) log.warn({ file }, w);
    await requireSandbox(sandboxPolicyOf(store.current().policy.sandbox), log);
    for (const line of await preflight(store.current(), { env })) log.info(line);
    const lock = await acquireDaemonLock([home], file);
    releasers.push(() => lock.release());
    const { temporal, runtime, deployment, taskQueue, release } = await connectForeman({
      store,
      env,
      home,
      log,
      ui: false,
    });
    releasers.push(release);
    const done = runtime.run();
    const { id: workerId, workspaceQueue } = runtime.identity;
    log.info(
      {
        policy: file,
        deployment: deployment.key,
        workerId,
        taskQueue,
        workspaceQueue,
        temporal: temporal.address,
        home,
      },
      `Foreman worker is running: ${workerId} polls ${taskQueue} and ${workspaceQueue}`,
    );
    let stopping: Promise<void> | null = null;
    return { done, url: null, temporalUiUrl: null, refresh: async () => {}, stop: () => (stopping ??= releaseAll()) };
  } catch (err) {
    await releaseAll();
    throw err;
  }
}

/** A LIFO stack of release functions and the function that runs them all (errors logged, never thrown). */
function releaseStack(log: Logger) {
  const releasers: (() => Promise<void> | void)[] = [];
  const releaseAll = async () => {
    while (releasers.length) {
      const r = releasers.pop()!;
      try {
        await r();
      } catch (err) {
        log.warn({ err: (err as Error).message }, 'error while shutting down');
      }
    }
  };
  return { releasers, releaseAll };
}

/** The policy store's `onError`: a failed reload is logged, the last good policy kept. */
function logReloadFailure(log: Logger) {
  return (e: PolicyError) =>
    log.error(
      { file: e.file, code: e.code, issues: e.issues },
      `policy reload failed; keeping the last good policy: ${e.message}`,
    );
}

/** What the dashboard, the answer route and `/healthz` (src/server/cockpit.ts) take from the daemon. */
function cockpitDeps(
  runtime: ForemanRuntime['runtime'],
  deployment: Deployment,
  home: string,
  store: PolicyStore,
  temporal: ForemanRuntime['temporal'],
  temporalUiUrl: string | null,
): CockpitDeps {
  return {
    client: runtime.client,
    deployment,
    health: () => checkHealth({ client: runtime.client, worker: runtime.worker }),
    home,
    policy: () => store.current().policy,
    namespace: temporal.namespace,
    temporalUiUrl,
  };
}

/** Closed runs read once per process (src/status/records.ts), for the API and the metrics alike. */
const closedRuns = createClosedRunReader();

/** `webhooks` plus the metrics routes (specs/metrics.md), which sit behind the server token like the API. */
function withMetrics(webhooks: Hono, o: { home: string; deployment: Deployment; client: Client }): Hono {
  const metrics = createMetricsRoutes({
    report: ledgerReports(o.home, o.deployment),
    state: () => collectState(o.client, o.deployment, { readClosed: closedRuns }),
  });
  return new Hono().route('/', metrics).route('/', webhooks);
}

/**
 * The API's reads (specs/api.md): Temporal's record of the deployment's runs, the tracker's word on
 * their issues (cached a few seconds: the dashboard polls), links into the Temporal UI.
 */
function statusDeps(
  client: Client,
  deployment: Deployment,
  o: { tracker: Tracker; temporalUiUrl: string | null; home: string },
): Pick<HttpDeps, 'state' | 'issue'> {
  const opts = { ...o, tracker: cachedIssueLookup(o.tracker), readClosed: closedRuns };
  return {
    state: () => collectState(client, deployment, opts),
    issue: (identifier) => collectIssue(client, deployment, identifier, opts),
  };
}

/**
 * Logs which sandbox is in effect; refuses to start agent work when the policy's sandbox cannot
 * run here (`sandbox.mode: none` is the explicit way to run without one).
 * @throws WorkspaceError `sandbox_unavailable` (not retryable), saying why and how to fix it.
 */
async function requireSandbox(sandbox: SandboxPolicy, log: Logger): Promise<void> {
  const status = await sandboxStatus(sandbox);
  const line = describeSandboxStatus(status, sandbox);
  if (status.available) {
    log.info({ sandbox: status.mode, network: sandbox.network }, line);
    return;
  }
  throw new WorkspaceError(
    'sandbox_unavailable',
    `${line}. Foreman does not start agent work without its sandbox: install bubblewrap ` +
      '(apt-get install bubblewrap) where user namespaces are allowed, or set `sandbox.mode: none` in the ' +
      'policy to run unsandboxed (every evidence packet then says so under Risks).',
    { retryable: false },
  );
}

/**
 * Retires what a daemon started before deployment keys left on the policy's bare task queue: its
 * DispatcherWorkflow (terminated; this deployment's own dispatcher replaces it) and its Schedules
 * (deleted; re-created under the deployment's queue). Runs started then keep running on that queue
 * (src/temporal/server.ts polls it while they are open). Failures are logged, never fatal.
 * Source: docs/architecture.md, "Deployments on one namespace".
 */
async function retireLegacyDispatcher(client: Client, deployment: Deployment, log: Logger): Promise<void> {
  const legacy = deployment.legacyTaskQueue;
  if (!legacy || legacy === deployment.taskQueue) return;
  try {
    await client.workflow
      .getHandle(dispatcherWorkflowId(legacy))
      .terminate('replaced by the deployment-scoped dispatcher (docs/architecture.md, "Deployments on one namespace")');
    log.info({ taskQueue: legacy }, 'retired the dispatcher from before deployment keys');
  } catch (err) {
    if (!(err instanceof WorkflowNotFoundError))
      log.warn({ err: (err as Error).message }, 'could not retire the dispatcher from before deployment keys');
  }
  try {
    const deleted = await deleteForemanSchedules(client, legacy);
    if (deleted.length) log.info({ deleted }, 'removed the schedules from before deployment keys');
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'could not remove the schedules from before deployment keys');
  }
}
