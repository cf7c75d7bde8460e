/**
 * Workflow histories for replay tests (test/unit/replay.test.ts). With FOREMAN_RECORD_HISTORIES=1
 * the integration tests that call `recordHistory` write the finished run's history to
 * test/fixtures/histories/<name>.json (the Temporal CLI's JSON form, `temporal workflow show -o
 * json`); without it, `recordHistory` does nothing. Recorded histories are committed: replaying them
 * against the current workflow code is how CI notices a change that would break runs already in
 * flight (docs/architecture.md, "Changing workflow code").
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { WorkflowHandle } from '@temporalio/client';
import { findTemporalCli } from '../../src/temporal/cli-binary.js';
import { temporalAddress, temporalNamespace } from './temporal.js';

/** Where committed histories live. */
export const HISTORIES_DIR = fileURLToPath(new URL('../fixtures/histories', import.meta.url));

/** Saves the history of `handle`'s run as `<name>.json` when FOREMAN_RECORD_HISTORIES=1. */
export async function recordHistory(handle: WorkflowHandle, name: string): Promise<void> {
  if (process.env.FOREMAN_RECORD_HISTORIES !== '1') return;
  const cli = await findTemporalCli();
  if (!cli) throw new Error('FOREMAN_RECORD_HISTORIES=1 needs the Temporal CLI');
  const args = ['workflow', 'show', '-w', handle.workflowId, '-o', 'json'];
  args.push('--address', temporalAddress(), '--namespace', temporalNamespace());
  const { stdout } = await promisify(execFile)(cli, args, { maxBuffer: 64 * 1024 * 1024 });
  await fs.mkdir(HISTORIES_DIR, { recursive: true });
  await fs.writeFile(path.join(HISTORIES_DIR, `${name}.json`), stdout);
}
