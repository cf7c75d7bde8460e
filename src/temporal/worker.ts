/**
 * The worker runtime shared by `foreman start` (also `--worker-only`), `foreman run` and the
 * integration tests: a client connection, a native worker connection, a Worker that hosts the
 * workflows and the activities on the deployment's shared task queue, and one on this process's
 * workspace task queue (docs/architecture.md, "Scale"). Owns connecting and lifecycle; not what
 * the activities do.
 */
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import {
  DefaultLogger,
  NativeConnection,
  Runtime,
  Worker,
  bundleWorkflowCode,
  type InjectedSinks,
  type LogLevel,
  type WorkerOptions,
  type WorkflowBundle,
} from '@temporalio/worker';
import type { LifecycleSinks } from '../../workflows/issue/lifecycle.js';
import { createActivities } from '../../activities/index.js';
import { failureInterceptor } from '../../activities/interceptor.js';
import type { PolicyStore } from '../config/store.js';
import { deploymentKey, type Deployment } from '../deployment.js';
import type { Logger } from '../logger.js';
import { sharedGateway } from '../gateway/index.js';
import { workerIdentity, workspaceQueueOf, type WorkerIdentity } from './worker-id.js';

/** Path of the workflows entry point (bundled by the worker). */
export const WORKFLOWS_PATH = fileURLToPath(new URL('../../workflows/index.ts', import.meta.url));

let bundlePromise: Promise<WorkflowBundle> | null = null;

/** Bundles the workflow code once per process (~1.5 s) and reuses it for every worker. */
export function workflowBundle(): Promise<WorkflowBundle> {
  bundlePromise ??= bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: quietBundlerLogger });
  return bundlePromise;
}

const noop = () => {};
const quietBundlerLogger = { trace: noop, debug: noop, info: noop, warn: noop, error: noop, log: noop };

let runtimeInstalled = false;

/**
 * Routes the Temporal SDK's own logs (worker state, activity failures) into our logger, at warn
 * and above: its info lines are lifecycle noise. Once per process (a Temporal rule); the first
 * caller's logger wins.
 */
function installTemporalRuntime(log: Logger): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  const forward = (level: LogLevel, message: string, meta?: Record<string, unknown>) => {
    const fields = { temporal: true, ...readableMeta(meta) };
    if (level === 'ERROR') log.error(fields, message);
    else if (level === 'WARN') log.warn(fields, message);
    else log.debug(fields, message);
  };
  try {
    Runtime.install({ logger: new DefaultLogger('WARN', (entry) => forward(entry.level, entry.message, entry.meta)) });
  } catch {
    // Another part of the process installed a runtime first; keep it.
  }
}

/**
 * The SDK's log fields made readable: the task token (an opaque blob) dropped, and an `error` (an
 * activity failure) shown as its message and Foreman's error `code` (src/errors.ts) instead of the
 * serialized failure.
 */
export function readableMeta(meta: Record<string, unknown> | undefined): Record<string, unknown> {
  if (!meta) return {};
  const { taskToken: _token, error, ...rest } = meta;
  if (error === undefined) return rest;
  const e = error as { message?: unknown; code?: unknown; type?: unknown; details?: unknown[]; cause?: unknown };
  const code = e.code ?? e.details?.[0] ?? (e.cause as { code?: unknown } | undefined)?.code;
  return {
    ...rest,
    error: typeof e.message === 'string' ? e.message : String(error),
    ...(typeof code === 'string' ? { code } : {}),
    ...(typeof e.type === 'string' ? { error_type: e.type } : {}),
  };
}

/** The worker side of the workflows' `lifecycle` sink: each event an info line on `log`, message = the event. */
export function lifecycleSinks(log: Logger): InjectedSinks<LifecycleSinks> {
  return {
    lifecycle: { event: { fn: (_info, fields) => log.info(fields, fields.event), callDuringReplay: false } },
  };
}

/** Options of `createWorkerRuntime`. */
export interface WorkerRuntimeOptions {
  /** `host:port` of the Temporal frontend. */
  address: string;
  /** (Default: `default`) */
  namespace?: string;
  /** The deployment's shared task queue this worker polls (workflows and every activity not bound to a workspace). */
  taskQueue: string;
  /**
   * The deployment its activities start, list and find runs in (src/deployment.ts). (Default: the
   * policy's deployment key, with `taskQueue` as both its task queue and its legacy queue)
   */
  deployment?: Deployment;
  policyStore: PolicyStore;
  home: string;
  log: Logger;
  env?: NodeJS.ProcessEnv;
  /**
   * The worker's id: its workspace task queue is `<taskQueue>@<workerId>` (src/temporal/worker-id.ts).
   * (Default: `FOREMAN_WORKER_ID` in `env`, else the host name and a digest of `home`)
   */
  workerId?: string;
  /** Concurrent activity executions on the shared task queue. (Default: 20) */
  maxConcurrentActivities?: number;
  /** Workflow runs kept in the worker's cache; parked ones past it are evicted. (Default: the policy's `temporal.max_cached_workflows`) */
  maxCachedWorkflows?: number;
}

/** A connected client plus created (not yet running) workers: the shared queue's and the workspace queue's. */
export interface WorkerRuntime {
  client: Client;
  /** The worker on the shared task queue: workflows, dispatcher, tracker, SCM and ledger activities, preparing workspaces. */
  worker: Worker;
  /** The worker on this process's workspace task queue: the steps on the workspaces it holds (docs/architecture.md, "Scale"). */
  workspaceWorker: Worker;
  /** This worker's id and workspace task queue. */
  identity: WorkerIdentity;
  /** The deployment the worker serves. */
  deployment: Deployment;
  /** Runs both workers until `shutdown()`; rejects if either fails (the other is then shut down). */
  run(): Promise<void>;
  /** Stops polling, lets running activities finish (up to the grace time), closes connections. */
  shutdown(): Promise<void>;
}

/**
 * Connects to Temporal and creates the workers for `taskQueue` and for this process's workspace
 * task queue `<taskQueue>@<worker id>`. The one place a Foreman worker is made.
 * @throws TemporalServerError `worker_id_invalid` (a bad FOREMAN_WORKER_ID), and connection errors.
 */
export async function createWorkerRuntime(opts: WorkerRuntimeOptions): Promise<WorkerRuntime> {
  installTemporalRuntime(opts.log);
  const namespace = opts.namespace ?? 'default';
  const identity = opts.workerId
    ? { id: opts.workerId, workspaceQueue: workspaceQueueOf(opts.taskQueue, opts.workerId) }
    : workerIdentity(opts.env ?? process.env, opts.home, opts.taskQueue);
  const connection = await Connection.connect({ address: opts.address });
  let nativeConnection: NativeConnection | null = null;
  try {
    nativeConnection = await NativeConnection.connect({ address: opts.address });
    return await startRuntime(opts, namespace, identity, connection, nativeConnection);
  } catch (err) {
    await nativeConnection?.close().catch(noop);
    await connection.close().catch(noop);
    throw err;
  }
}

async function startRuntime(
  opts: WorkerRuntimeOptions,
  namespace: string,
  identity: WorkerIdentity,
  connection: Connection,
  nativeConnection: NativeConnection,
): Promise<WorkerRuntime> {
  const client = new Client({ connection, namespace });
  const deployment = opts.deployment ?? {
    key: deploymentKey(opts.policyStore.current()),
    taskQueue: opts.taskQueue,
    legacyTaskQueue: opts.taskQueue,
  };
  // The model gateway the agent steps go through (specs/gateway.md): started with the worker, so a
  // failure to listen shows at once, not at the first agent step.
  await sharedGateway();
  const activities = createActivities({
    policyStore: opts.policyStore,
    home: opts.home,
    log: opts.log,
    client,
    deployment,
    worker: identity,
    ...(opts.env ? { env: opts.env } : {}),
  });
  const { policy } = opts.policyStore.current();
  const common = {
    connection: nativeConnection,
    namespace,
    activities,
    // Which worker ran an activity shows in its history (ActivityTaskStarted identity).
    identity: `${identity.id}/${process.pid}`,
    interceptors: { activity: [failureInterceptor] },
    // Heartbeats carry cancellations back: by default they are throttled to 80% of the heartbeat
    // timeout (24 s here), so a stop would reach a running agent only that late.
    maxHeartbeatThrottleInterval: '1 second',
    shutdownGraceTime: '10 seconds',
  } satisfies Partial<WorkerOptions>;
  const worker = await Worker.create({
    ...common,
    taskQueue: opts.taskQueue,
    workflowBundle: await workflowBundle(),
    // One log line per lifecycle event of a run (workflows/issue/lifecycle.ts), not during replay.
    sinks: lifecycleSinks(opts.log),
    maxConcurrentActivityTaskExecutions: opts.maxConcurrentActivities ?? 20,
    // Parked runs cost memory only while cached: the cache is sized for the running runs, and a
    // parked run evicted from it is replayed from its history when its signal arrives.
    maxCachedWorkflows: opts.maxCachedWorkflows ?? policy.temporal.max_cached_workflows,
  });
  // Activities only. Its own slots, at least one per agent the deployment runs at once: a live
  // worker takes a workspace step at once, so one that waits past `temporal.workspace_start_timeout_ms`
  // is gone (docs/architecture.md, "Scale").
  const workspaceWorker = await Worker.create({
    ...common,
    taskQueue: identity.workspaceQueue,
    maxConcurrentActivityTaskExecutions: Math.max(
      opts.maxConcurrentActivities ?? 20,
      policy.agent.max_concurrent_agents * 2,
    ),
  });
  const workers = [worker, workspaceWorker];
  const stopAll = () => {
    for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
  };
  let running: Promise<void> | null = null;
  let closed = false;
  return {
    client,
    worker,
    workspaceWorker,
    identity,
    deployment,
    run() {
      running ??= Promise.all(
        workers.map((w) =>
          w.run().catch((err: unknown) => {
            stopAll(); // one worker without the other would take work it cannot finish
            throw err;
          }),
        ),
      ).then(noop);
      return running;
    },
    async shutdown() {
      if (closed) return;
      closed = true;
      if (running) {
        stopAll();
        await running.catch((err) => opts.log.error({ err: (err as Error).message }, 'worker stopped with an error'));
      }
      await nativeConnection.close().catch(noop);
      await connection.close().catch(noop);
    },
  };
}
