/**
 * Test helpers for the shared Temporal server that test/support/global-setup.ts starts: its
 * address and namespace, and names that keep tests from seeing each other's work.
 *
 * Does not start servers or workers.
 */
import { randomUUID } from 'node:crypto';
import { inject } from 'vitest';

/**
 * The run's Temporal gRPC address (`host:port`). Throws when the globalSetup did not run, saying
 * how to run it.
 */
export function temporalAddress(): string {
  const address = inject('temporalAddress');
  if (!address) {
    throw new Error(
      "No Temporal server for this test run: add globalSetup: ['test/support/global-setup.ts'] to vitest.config.ts " +
        '(or pass --globalSetup test/support/global-setup.ts), or set TEMPORAL_ADDRESS.',
    );
  }
  return address;
}

/** The namespace tests use. (Default: 'default') */
export function temporalNamespace(): string {
  return inject('temporalNamespace') || 'default';
}

/** A task queue no other test uses: `<prefix>-<8 random hex>`. */
export function uniqueTaskQueue(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

/** A workflow id no other test uses: `<prefix>-<8 random hex>`. */
export function uniqueWorkflowId(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}
