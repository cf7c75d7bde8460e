/**
 * A Foreman worker as a separate process, for tests that must kill it for real (`kill -9`): loads
 * the policy file into a policy store and runs `createWorkerRuntime` (the same runtime `foreman
 * start` and `foreman run` use) on one Temporal address and task queue (and its own workspace
 * queue), with FOREMAN_HOME and FOREMAN_WORKER_ID from the environment. Prints `READY` on stdout once the worker polls; the first SIGTERM (or SIGINT) drains
 * it gracefully, a second forces exit, and an unref'd watchdog guarantees exit after 20 s.
 *
 * Run: `node --import tsx test/support/worker-process.ts '<json WorkerProcessConfig>'`, normally
 * through `spawnWorker` in crash.ts. Does not start Temporal servers or workflows.
 */
import { createPolicyStore } from '../../src/config/store.js';
import { foremanHome } from '../../src/home.js';
import { createLogger } from '../../src/logger.js';
import { createWorkerRuntime } from '../../src/temporal/worker.js';
import { READY_LINE } from './crash.js';

/** The JSON the process takes as its only argument. */
export interface WorkerProcessConfig {
  /** `host:port` of the Temporal frontend. */
  address: string;
  /** (Default: 'default') */
  namespace?: string;
  taskQueue: string;
  /** Absolute path of the policy file (WORKFLOW.md format). */
  policyFile: string;
}

async function main(): Promise<void> {
  const raw = process.argv[2];
  if (!raw) throw new Error('usage: worker-process.ts \'{"address":…,"taskQueue":…,"policyFile":…}\'');
  const config = JSON.parse(raw) as WorkerProcessConfig;
  const env = process.env;
  const log = createLogger(env);
  const store = await createPolicyStore(config.policyFile, { env, watch: false });
  const runtime = await createWorkerRuntime({
    address: config.address,
    ...(config.namespace ? { namespace: config.namespace } : {}),
    taskQueue: config.taskQueue,
    policyStore: store,
    home: foremanHome(env),
    log,
    env,
  });

  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      process.exit(130); // second signal: the operator insists
    }
    stopping = true;
    log.info({ signal }, 'worker process: draining');
    setTimeout(() => process.exit(124), 20_000).unref();
    void runtime.shutdown().finally(() => {
      store.close();
      process.exit(0);
    });
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  const running = runtime.run();
  // run() flips the state synchronously; wait for it anyway so READY never precedes polling.
  const initialized = () =>
    runtime.worker.getState() === 'INITIALIZED' || runtime.workspaceWorker.getState() === 'INITIALIZED';
  while (initialized()) await new Promise((r) => setTimeout(r, 10));
  process.stdout.write(`${READY_LINE}\n`);
  await running;
  if (!stopping) {
    log.error('worker process: the worker stopped on its own');
    process.exit(1);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`worker process failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
