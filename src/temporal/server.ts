/**
 * Which Temporal server a Foreman process talks to: `TEMPORAL_ADDRESS` when set, otherwise the
 * local dev server on `$FOREMAN_HOME/temporal.db` — recorded under FOREMAN_HOME, reused by every
 * Foreman process and across restarts, its SQLite file keeping every run.
 */
import type { Logger } from '../logger.js';
import { homePaths } from '../home.js';
import type { PolicyStore } from '../config/store.js';
import {
  connectOrStartDevServer,
  ensureSearchAttributes,
  FOREMAN_SEARCH_ATTRIBUTES,
  type DevServer,
} from './dev-server.js';
import { createWorkerRuntime, type WorkerRuntime } from './worker.js';
import type { Client } from '@temporalio/client';
import { DEPLOYMENT_SEARCH_ATTRIBUTE, deploymentOf, legacyRunsQuery, type Deployment } from '../deployment.js';
import { TemporalServerError } from '../errors.js';
import { ISSUE_WORKFLOW_TYPE } from '../../workflows/definitions.js';

/** A Temporal frontend to use, and how to let go of it. */
export interface TemporalTarget {
  /** `host:port`. */
  address: string;
  namespace: string;
  /** The dev server this process started, if any. */
  devServer: DevServer | null;
  /** Stops the dev server if this process owns it; a no-op otherwise. */
  release(): Promise<void>;
}

/**
 * Resolves the Temporal server: `TEMPORAL_ADDRESS`, else reuses or starts the dev server on
 * `<home>/temporal.db` (started on a free port, with the Temporal Web UI on another unless `ui` is
 * false; the caller that started it stops it on release). Logs the UI's URL when there is one.
 * @throws TemporalServerError `temporal_cli_missing` / `temporal_server_failed`.
 */
export async function resolveTemporal(opts: {
  env: NodeJS.ProcessEnv;
  home: string;
  namespace: string;
  log: Logger;
  /** Start a new dev server with its Web UI (a free port). (Default: true) */
  ui?: boolean;
}): Promise<TemporalTarget> {
  const address = opts.env.TEMPORAL_ADDRESS?.trim();
  const namespace = opts.env.TEMPORAL_NAMESPACE?.trim() || opts.namespace;
  if (address) return { address, namespace, devServer: null, release: async () => {} };

  const paths = homePaths(opts.home);
  const log = (line: string) => opts.log.info(line);
  const started = Date.now();
  const devServer = await connectOrStartDevServer({
    home: opts.home,
    dbFile: paths.temporalDb,
    logFile: paths.temporalLog,
    namespace,
    log,
    env: opts.env,
    killOnExit: false, // the server outlives a crash of its starter; the next start reuses it
    ...(opts.ui === false ? {} : { uiPort: 0 }),
  });
  opts.log.info(
    {
      address: devServer.address,
      pid: devServer.pid,
      ms: Date.now() - started,
      reused: !devServer.owned,
      db: devServer.dbFile,
      ui: devServer.uiUrl ?? null,
    },
    'Temporal dev server ready',
  );
  if (devServer.uiUrl) opts.log.info({ url: devServer.uiUrl }, `Temporal Web UI: ${devServer.uiUrl}`);
  return { address: devServer.address, namespace, devServer, release: () => devServer.stop() };
}

/**
 * Makes sure the namespace has Foreman's search attributes (`FOREMAN_SEARCH_ATTRIBUTES`: `ForemanDeployment`
 * and what runs publish for the dispatcher): registered on a local dev server, required on any other (docs/architecture.md, "Deployments on one namespace").
 * @throws TemporalServerError `search_attribute_missing`, naming the command that creates it.
 */
export async function requireSearchAttribute(temporal: Pick<TemporalTarget, 'address' | 'namespace' | 'devServer'>) {
  const missing = await ensureSearchAttributes(temporal.address, temporal.namespace, FOREMAN_SEARCH_ATTRIBUTES, {
    create: temporal.devServer !== null,
  });
  if (missing.length === 0 || temporal.devServer) return;
  const create = missing.map(
    (name) =>
      `temporal operator search-attribute create --address ${temporal.address} --namespace ${temporal.namespace} ` +
      `--name ${name} --type ${FOREMAN_SEARCH_ATTRIBUTES[name]}`,
  );
  throw new TemporalServerError(
    'search_attribute_missing',
    `The Temporal namespace "${temporal.namespace}" on ${temporal.address} lacks the search attributes ` +
      `${missing.join(', ')}, which Foreman needs to keep its runs apart from other deployments (${DEPLOYMENT_SEARCH_ATTRIBUTE}) ` +
      `and to read them in one list per dispatcher tick. Create them once: ${create.join(' && ')}`,
    { retryable: false },
  );
}

/** True when an IssueWorkflow started before deployment keys (no search attribute) runs on `taskQueue`. */
async function hasLegacyRuns(client: Client, taskQueue: string): Promise<boolean> {
  const query = `WorkflowType = '${ISSUE_WORKFLOW_TYPE}' AND ExecutionStatus = 'Running' AND ${legacyRunsQuery(taskQueue)}`;
  for await (const _ of client.workflow.list({ query, pageSize: 1 })) return true;
  return false;
}

/** A worker on the deployment's task queue, connected to the resolved Temporal server. */
export interface ForemanRuntime {
  temporal: TemporalTarget;
  runtime: WorkerRuntime;
  /** The policy's deployment (src/deployment.ts): its key and the task queue the worker polls. */
  deployment: Deployment;
  taskQueue: string;
  /** Shuts the worker down, then lets go of the server (stopping a dev server this process owns). */
  release(): Promise<void>;
}

/**
 * What `foreman start` and `foreman run` share: resolve Temporal, check the deployment search
 * attribute (registering it on a dev server), then create (not run) the worker runtime for the
 * deployment's task queue (and this process's workspace queue, docs/architecture.md "Scale"), plus
 * one on the legacy queue while runs started before deployment keys are open there
 * (docs/architecture.md, "Deployments on one namespace"); `run()` runs both.
 * @throws TemporalServerError (see resolveTemporal; `search_attribute_missing`) and connection errors.
 */
export async function connectForeman(opts: {
  store: PolicyStore;
  env: NodeJS.ProcessEnv;
  home: string;
  log: Logger;
  /** A dev server started here serves the Temporal Web UI. (Default: true) */
  ui?: boolean;
}): Promise<ForemanRuntime> {
  const { policy } = opts.store.current();
  const temporal = await resolveTemporal({
    env: opts.env,
    home: opts.home,
    namespace: policy.temporal.namespace,
    log: opts.log,
    ...(opts.ui === undefined ? {} : { ui: opts.ui }),
  });
  const deployment = deploymentOf(opts.store.current());
  const taskQueue = deployment.taskQueue;
  const runtimes: WorkerRuntime[] = [];
  const shutdown = async () => {
    for (const r of [...runtimes].reverse()) await r.shutdown();
  };
  try {
    await requireSearchAttribute(temporal);
    const worker = (queue: string) =>
      createWorkerRuntime({
        address: temporal.address,
        namespace: temporal.namespace,
        taskQueue: queue,
        deployment,
        policyStore: opts.store,
        home: opts.home,
        log: opts.log,
        env: opts.env,
      });
    const runtime = await worker(taskQueue);
    runtimes.push(runtime);
    if (deployment.legacyTaskQueue && (await hasLegacyRuns(runtime.client, deployment.legacyTaskQueue))) {
      opts.log.info(
        { taskQueue: deployment.legacyTaskQueue },
        'runs started before deployment keys are open: also polling their task queue until they end',
      );
      runtimes.push(await worker(deployment.legacyTaskQueue));
    }
    const [main, legacy] = runtimes as [WorkerRuntime, WorkerRuntime | undefined];
    const both: WorkerRuntime = legacy
      ? { ...main, run: () => Promise.all([main.run(), legacy.run()]).then(() => {}), shutdown }
      : main;
    return {
      temporal,
      runtime: both,
      deployment,
      taskQueue,
      release: async () => {
        await shutdown();
        await temporal.release();
      },
    };
  } catch (err) {
    await shutdown();
    await temporal.release();
    throw err;
  }
}
