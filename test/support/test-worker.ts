/**
 * A Foreman worker in the test process: a policy store over a policy file (not watched) and the
 * worker runtime `foreman start` uses (src/temporal/worker.ts), polling the shared dev server that
 * test/support/global-setup.ts starts. For tests that must kill a worker for real, see
 * worker-process.ts.
 */
import { createPolicyStore, type PolicyStore } from '../../src/config/store.js';
import { silentLogger } from '../../src/logger.js';
import { createWorkerRuntime, type WorkerRuntime } from '../../src/temporal/worker.js';
import { temporalAddress, temporalNamespace } from './temporal.js';

/** Where a test collects what to undo; each is run after the test, last first. */
export interface CleanupList {
  push(cleanup: () => Promise<void>): unknown;
}

/**
 * Starts a worker for `policyFile` on `taskQueue` (running in the background) with `env` (its
 * `FOREMAN_HOME` is the worker's home); the store's close and the worker's shutdown go onto
 * `cleanups`.
 */
export async function startTestWorker(opts: {
  policyFile: string;
  taskQueue: string;
  env: NodeJS.ProcessEnv & { FOREMAN_HOME: string };
  cleanups: CleanupList;
}): Promise<{ store: PolicyStore; runtime: WorkerRuntime }> {
  const { env, cleanups } = opts;
  const store = await createPolicyStore(opts.policyFile, { env, watch: false });
  cleanups.push(async () => store.close());
  const runtime = await createWorkerRuntime({
    address: temporalAddress(),
    namespace: temporalNamespace(),
    taskQueue: opts.taskQueue,
    policyStore: store,
    home: env.FOREMAN_HOME,
    log: silentLogger,
    env,
  });
  cleanups.push(() => runtime.shutdown());
  void runtime.run();
  return { store, runtime };
}
