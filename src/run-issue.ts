/**
 * `foreman run ISSUE [POLICY]`: one issue through the same IssueWorkflow as the daemon, in the
 * foreground, then the JSON summary. It hosts a worker on the policy's task queue, so the run is as
 * durable as any other: if this process dies, the daemon (or the next `foreman run` of the issue,
 * which attaches to the running workflow) carries it on. Uses `TEMPORAL_ADDRESS` when set, else
 * the local dev server on `$FOREMAN_HOME/temporal.db` — the daemon's when one is running.
 */
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowIdReusePolicy,
  type WorkflowExecutionDescription,
  type WorkflowHandle,
} from '@temporalio/client';
import { findIssueRun, issueRunTags } from './dispatch/runs.js';
import { ISSUE_WORKFLOW_TYPE, issueWorkflowId, statusQuery } from '../workflows/definitions.js';
import { createPolicyStore } from './config/store.js';
import { CliError } from './errors.js';
import { foremanHome } from './home.js';
import type { Logger } from './logger.js';
import { connectForeman } from './temporal/server.js';
import { trackerForPolicy } from './trackers/index.js';
import type { IssueRunSummary, IssueWorkflowInput } from '../workflows/definitions.js';

/**
 * Runs one issue to its end and returns the workflow's summary.
 * @throws PolicyError (invalid policy), CliError `issue_not_found` / `aborted` / `worker_stopped` /
 *   `already_completed` (the last run completed; `again` runs it anyway), TemporalServerError, TrackerError.
 */
export async function runIssue(opts: {
  identifier: string;
  policyFile: string;
  env?: NodeJS.ProcessEnv;
  log: Logger;
  /** Aborting stops this process's worker; the workflow stays and any worker on the queue resumes it. */
  signal?: AbortSignal;
  /** Run an issue whose last run completed once more. (Default: false, refused with `already_completed`) */
  again?: boolean;
  /** A dev server started here serves the Temporal Web UI. (Default: true) */
  ui?: boolean;
}): Promise<IssueRunSummary> {
  const env = opts.env ?? process.env;
  const home = foremanHome(env);
  const store = await createPolicyStore(opts.policyFile, { env, watch: false });
  const releasers: (() => Promise<void> | void)[] = [() => store.close()];
  try {
    const loaded = store.current();
    for (const w of loaded.warnings) opts.log.warn({ file: loaded.file }, w);
    const tracker = trackerForPolicy(loaded, opts.log, env);
    const issue = await tracker.fetchIssueByIdentifier(opts.identifier);
    if (!issue) {
      throw new CliError(
        'issue_not_found',
        `Issue ${opts.identifier} was not found in the ${tracker.kind} tracker of ${loaded.file}.`,
      );
    }

    const { runtime, deployment, taskQueue, release } = await connectForeman({
      store,
      env,
      home,
      log: opts.log,
      ...(opts.ui === undefined ? {} : { ui: opts.ui }),
    });
    releasers.push(release);
    const workerDone = runtime.run();

    const input: IssueWorkflowInput = { issueId: issue.id, identifier: issue.identifier };
    // This deployment's run of the issue (a legacy one while it is open), never another's.
    const last = await findIssueRun(runtime.client, deployment, issue.identifier);
    if (!opts.again) refuseIfCompleted(last?.description ?? null, issue.identifier);
    const legacyOpen = last?.legacy === true && last.description.status.name === 'RUNNING';
    const workflowId = legacyOpen ? last.workflowId : issueWorkflowId(deployment.key, issue.identifier);
    let handle: WorkflowHandle;
    try {
      if (legacyOpen)
        throw new WorkflowExecutionAlreadyStartedError('legacy run open', workflowId, ISSUE_WORKFLOW_TYPE);
      handle = await runtime.client.workflow.start(ISSUE_WORKFLOW_TYPE, {
        workflowId,
        taskQueue,
        args: [input],
        ...issueRunTags(deployment, issue),
        workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
      });
      opts.log.info({ issue: issue.identifier, workflowId }, 'run started');
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      // Already running (an earlier `run` that died, or the daemon): wait for that run instead.
      handle = runtime.client.workflow.getHandle(workflowId);
      opts.log.info({ issue: issue.identifier, workflowId }, 'attached to the running workflow');
    }
    // In the foreground, say what the run waits for: the answer comes from `foreman answer` in
    // another terminal or a comment on the issue, and this process's worker carries on with it.
    const watcher = watchEscalations(handle, issue.identifier, opts.log);
    releasers.push(() => clearInterval(watcher));
    const aborted = new Promise<never>((_, reject) => {
      opts.signal?.addEventListener(
        'abort',
        () =>
          reject(
            new CliError(
              'aborted',
              `Interrupted. The run goes on in Temporal; \`foreman run ${issue.identifier}\` or \`foreman start\` resumes it.`,
            ),
          ),
        { once: true },
      );
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

/** Logs each new escalation of the run (polling its status query every 2 s). */
function watchEscalations(handle: WorkflowHandle, identifier: string, log: Logger): NodeJS.Timeout {
  let announced = 0;
  const timer = setInterval(() => {
    handle
      .query(statusQuery)
      .then((s) => {
        if (s.phase !== 'waiting_for_human' || !s.escalation || s.escalation.n <= announced) return;
        announced = s.escalation.n;
        log.warn(
          { issue: identifier, kind: s.escalation.kind, question: s.escalation.question },
          `${identifier} is waiting for a human. Answer with \`foreman answer ${identifier} "…"\` or a comment on the issue.`,
        );
      })
      .catch(() => {});
  }, 2000);
  timer.unref();
  return timer;
}

function never(): never {
  throw new CliError('worker_stopped', 'The worker stopped before the run finished.', { retryable: true });
}

/**
 * Refuses to start a second run of an issue whose latest run completed (a second run would post a
 * second evidence packet and push again).
 * @throws CliError `already_completed`.
 */
function refuseIfCompleted(last: WorkflowExecutionDescription | null, identifier: string): void {
  if (last?.status.name !== 'COMPLETED' || last.memo?.outcome !== 'completed') return;
  throw new CliError(
    'already_completed',
    `${identifier} was already completed (run ${last.runId}, closed ${last.closeTime?.toISOString() ?? 'earlier'}); ` +
      `\`foreman run ${identifier} --again\` runs it once more.`,
  );
}
