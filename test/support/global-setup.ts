/**
 * Vitest globalSetup: one Temporal dev server for the whole test run (in-memory, free port,
 * headless), shared by every integration test through `inject('temporalAddress')`. With
 * TEMPORAL_ADDRESS set, that server is used and nothing is started.
 *
 * Does not create clients, workers or task queues: tests do, with test/support/temporal.ts.
 */
import type { TestProject } from 'vitest/node';
import { ensureTemporalCli } from '../../src/temporal/cli-binary.js';
import { startDevServer } from '../../src/temporal/dev-server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** gRPC address of the run's Temporal server, e.g. '127.0.0.1:41233'. */
    temporalAddress: string;
    /** Namespace tests use. (Default: 'default', or TEMPORAL_NAMESPACE) */
    temporalNamespace: string;
  }
}

const log = (msg: string) => process.stderr.write(`[temporal] ${msg}\n`);

/**
 * Starts the shared server (building the Temporal CLI first if it has to, which takes minutes
 * once per machine) and returns the teardown that stops it.
 */
export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const namespace = process.env.TEMPORAL_NAMESPACE || 'default';
  project.provide('temporalNamespace', namespace);
  const external = process.env.TEMPORAL_ADDRESS;
  if (external) {
    project.provide('temporalAddress', external);
    return undefined;
  }
  const binary = await ensureTemporalCli({ log });
  const server = await startDevServer({ binary, namespace, log });
  project.provide('temporalAddress', server.address);
  return () => server.stop();
}
