/**
 * Fleets of parked runs on the real Temporal dev server, and counting what a reader asks of it: a
 * worker and policy on a fresh task queue over the local tracker and a scripted model, and a client
 * whose every WorkflowService call is counted by method name. Shared by the tests that show a
 * reader's cost does not grow with the runs parked (test/integration/dispatch-scale.test.ts,
 * test/integration/parked-runs.test.ts; docs/architecture.md, "What the dispatcher reads", "Scale").
 */
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { makeOrigin, tempDir, writePolicy } from './fixtures.js';
import { startScriptedModelServer, type CapturedRequest, type ScriptStep } from './scripted-model-server.js';
import { temporalAddress, temporalNamespace, uniqueTaskQueue } from './temporal.js';
import { startTestWorker } from './test-worker.js';

/** Something to undo after a test, pushed in order and run last first. */
export type Cleanup = () => Promise<void> | void;

/** Polls `check` every 250 ms until it is true; throws after `ms`. */
export async function waitFor(what: string, ms: number, check: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * A worker and policy on a fresh task queue (`name` in it) whose model answers each request with
 * `model(request)`; `extra` is YAML merged into the test policy (agent slots, cache size...). The
 * reviewer is off. Issue identifiers should start with the returned `prefix` (unique per call).
 */
export async function startParkingWorker(
  name: string,
  cleanups: Cleanup[],
  model: (req: CapturedRequest) => ScriptStep,
  extra: string,
) {
  const tmp = await tempDir();
  cleanups.push(tmp.cleanup);
  const server = await startScriptedModelServer((req) => model(req));
  cleanups.push(() => server.close());
  const origin = await makeOrigin(tmp.dir);
  const issuesDir = path.join(tmp.dir, 'issues');
  const taskQueue = uniqueTaskQueue(name);
  const policyFile = await writePolicy(tmp.dir, {
    issuesDir,
    workspaceRoot: path.join(tmp.dir, 'workspaces'),
    repo: origin,
    modelUrl: server.url,
    taskQueue,
    extra: `${extra}\nroles:\n  reviewer:\n    enabled: false`,
  });
  const env = { ...process.env, FOREMAN_HOME: path.join(tmp.dir, 'home') };
  const { store, runtime } = await startTestWorker({ policyFile, taskQueue, env, cleanups });
  const prefix = `P${taskQueue.slice(-6).toUpperCase()}`;
  return { issuesDir, store, runtime, prefix, env, model: server, home: env.FOREMAN_HOME };
}

/**
 * A client whose every WorkflowService call (one gRPC call each) is counted by method name, past
 * the connection's own handshake; `queried` lists the workflow id of each query, in order.
 */
export async function countingClient(cleanups: Cleanup[]) {
  const calls = new Map<string, number>();
  const queried: string[] = [];
  const connection = await Connection.connect({ address: temporalAddress() });
  cleanups.push(() => connection.close());
  const service = new Proxy(connection.workflowService, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function' || typeof prop !== 'string') return value;
      return (...args: unknown[]) => {
        calls.set(prop, (calls.get(prop) ?? 0) + 1);
        if (prop === 'queryWorkflow')
          queried.push(String((args[0] as { execution?: { workflowId?: string } }).execution?.workflowId));
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  const counted = new Proxy(connection, {
    get(target, prop, receiver) {
      if (prop === 'workflowService') return service;
      const value: unknown = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { client: new Client({ connection: counted, namespace: temporalNamespace() }), calls, queried };
}
