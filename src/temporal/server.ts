/**
 * Which Temporal server a Foreman process talks to: `TEMPORAL_ADDRESS` when set, otherwise the
 * local dev server on `$FOREMAN_HOME/temporal.db` — recorded under FOREMAN_HOME, reused by every
 * Foreman process and across restarts, its SQLite file keeping every run.
 */
import type { Logger } from '../logger.js';
import { homePaths } from '../home.js';
import type { PolicyStore } from '../config/store.js';
import { connectOrStartDevServer, type DevServer } from './dev-server.js';
import { createWorkerRuntime, type WorkerRuntime } from './worker.js';

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
 * `<home>/temporal.db` (started on a free port; the caller that started it stops it on release).
 * @throws TemporalServerError `temporal_cli_missing` / `temporal_server_failed`.
 */
export async function resolveTemporal(opts: {
  env: NodeJS.ProcessEnv;
  home: string;
  namespace: string;
  log: Logger;
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
  });
  opts.log.info(
    {
      address: devServer.address,
      pid: devServer.pid,
      ms: Date.now() - started,
      reused: !devServer.owned,
      db: devServer.dbFile,
    },
    'Temporal dev server ready',
  );
  return { address: devServer.address, namespace, devServer, release: () => devServer.stop() };
}

/** A worker on the policy's task queue, connected to the resolved Temporal server. */
export interface ForemanRuntime {
  temporal: TemporalTarget;
  runtime: WorkerRuntime;
  taskQueue: string;
  /** Shuts the worker down, then lets go of the server (stopping a dev server this process owns). */
  release(): Promise<void>;
}

/**
 * What `foreman start` and `foreman run` share: resolve Temporal, then create (not run) the worker
 * for the current policy's task queue.
 * @throws TemporalServerError (see resolveTemporal) and connection errors.
 */
export async function connectForeman(opts: {
  store: PolicyStore;
  env: NodeJS.ProcessEnv;
  home: string;
  log: Logger;
}): Promise<ForemanRuntime> {
  const { policy } = opts.store.current();
  const temporal = await resolveTemporal({
    env: opts.env,
    home: opts.home,
    namespace: policy.temporal.namespace,
    log: opts.log,
  });
  const taskQueue = policy.temporal.task_queue;
  try {
    const runtime = await createWorkerRuntime({
      address: temporal.address,
      namespace: temporal.namespace,
      taskQueue,
      policyStore: opts.store,
      home: opts.home,
      log: opts.log,
      env: opts.env,
    });
    return {
      temporal,
      runtime,
      taskQueue,
      release: async () => {
        await runtime.shutdown();
        await temporal.release();
      },
    };
  } catch (err) {
    await temporal.release();
    throw err;
  }
}
