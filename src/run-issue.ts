/**
 * `foreman run ISSUE [POLICY]`: one issue through the same IssueWorkflow as the daemon, in the
 * foreground, on a private task queue (so a daemon sharing the server never picks it up), then the
 * JSON summary. Uses `TEMPORAL_ADDRESS` when set, else a private in-memory dev server.
 */
import { randomUUID } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError, WorkflowIdReusePolicy } from '@temporalio/client';
import { ISSUE_WORKFLOW_TYPE, issueWorkflowId } from '../workflows/definitions.js';
import type { IssueRunSummary, IssueWorkflowInput } from '../workflows/types.js';
import { createPolicyStore } from './config/store.js';
import { CliError } from './errors.js';
import { foremanHome } from './home.js';
import type { Logger } from './logger.js';
import { resolveTemporal } from './temporal/server.js';
import { createWorkerRuntime } from './temporal/worker.js';
import { trackerForPolicy } from './trackers/index.js';

/**
 * Runs one issue to its end and returns the workflow's summary.
 * @throws PolicyError (invalid policy), CliError `issue_not_found` / `issue_already_running`,
 *   TemporalServerError, TrackerError.
 */
export async function runIssue(opts: {
  identifier: string;
  policyFile: string;
  env?: NodeJS.ProcessEnv;
  log: Logger;
  /** Aborting stops the worker and the private server; the run is abandoned. */
  signal?: AbortSignal;
}): Promise<IssueRunSummary> {
  const env = opts.env ?? process.env;
  const home = foremanHome(env);
  const store = await createPolicyStore(opts.policyFile, { env, watch: false });
  const releasers: (() => Promise<void> | void)[] = [() => store.close()];
  try {
    const loaded = store.current();
    for (const w of loaded.warnings) opts.log.warn({ file: loaded.file }, w);
    const tracker = trackerForPolicy(loaded, opts.log);
    const issue = await tracker.fetchIssueByIdentifier(opts.identifier);
    if (!issue) {
      throw new CliError('issue_not_found', `Issue ${opts.identifier} was not found in the ${tracker.kind} tracker of ${loaded.file}.`);
    }

    const temporal = await resolveTemporal({ env, home, namespace: loaded.policy.temporal.namespace, mode: 'ephemeral', log: opts.log });
    releasers.push(() => temporal.release());
    const taskQueue = `foreman-run-${randomUUID().slice(0, 8)}`;
    const runtime = await createWorkerRuntime({
      address: temporal.address,
      namespace: temporal.namespace,
      taskQueue,
      policyStore: store,
      home,
      log: opts.log,
      env,
    });
    releasers.push(() => runtime.shutdown());
    const workerDone = runtime.run();

    const input: IssueWorkflowInput = { issueId: issue.id, identifier: issue.identifier, trigger: 'cli' };
    let handle;
    try {
      handle = await runtime.client.workflow.start(ISSUE_WORKFLOW_TYPE, {
        workflowId: issueWorkflowId(issue.identifier),
        taskQueue,
        args: [input],
        memo: { identifier: issue.identifier, issueId: issue.id },
        workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
      });
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) {
        throw new CliError('issue_already_running', `${issue.identifier} already has a running workflow on ${temporal.address}.`);
      }
      throw err;
    }
    opts.log.info({ issue: issue.identifier, workflowId: handle.workflowId, runId: handle.firstExecutionRunId }, 'run started');
    const aborted = new Promise<never>((_, reject) => {
      opts.signal?.addEventListener('abort', () => reject(new CliError('aborted', 'Interrupted; the run was abandoned.')), { once: true });
    });
    // If the worker dies, the result would never come: race it.
    return (await Promise.race([handle.result(), aborted, workerDone.then(() => never())])) as IssueRunSummary;
  } finally {
    while (releasers.length) {
      try {
        await releasers.pop()!();
      } catch (err) {
        opts.log.warn({ err: (err as Error).message }, 'error while shutting down');
      }
    }
  }
}

function never(): never {
  throw new CliError('worker_stopped', 'The worker stopped before the run finished.', { retryable: true });
}
