/**
 * One isolated Foreman run for integration tests: temp dirs, a bare origin with the buggy project,
 * a local-tracker issue, a scripted model server, a policy, and a real worker on its own task
 * queue against the shared Temporal dev server. `close()` tears all of it down.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'vitest';
import { createPolicyStore, type PolicyStore } from '../../src/config/store.js';
import { silentLogger, type Logger } from '../../src/logger.js';
import { issueRunTags } from '../../src/dispatch/runs.js';
import { createWorkerRuntime, type WorkerRuntime } from '../../src/temporal/worker.js';
import { WorkflowIdConflictPolicy, type Client, type WorkflowHandle } from '@temporalio/client';
import {
  DISPATCHER_WORKFLOW_TYPE,
  dispatcherWorkflowId,
  ISSUE_WORKFLOW_TYPE,
  issueWorkflowId,
  refreshSignal,
  statusQuery,
} from '../../workflows/definitions.js';
import { makeOrigin, tempDir, writeIssue, writePolicy } from './fixtures.js';
import { startScriptedModelServer, type ScriptStep } from './scripted-model-server.js';
import { temporalAddress, temporalNamespace, uniqueTaskQueue } from './temporal.js';
import type { IssueRunStatus, IssueRunSummary, IssueWorkflowInput } from '../../workflows/definitions.js';

export interface RunContext {
  dir: string;
  origin: string;
  issuesDir: string;
  workspaceRoot: string;
  home: string;
  identifier: string;
  /** The issue's workflow id in the worker's deployment. */
  workflowId: string;
  policyFile: string;
  taskQueue: string;
  model: Awaited<ReturnType<typeof startScriptedModelServer>>;
  store: PolicyStore;
  runtime: WorkerRuntime;
  /** Runs the IssueWorkflow for the context's issue to its end. */
  runIssue(): Promise<IssueRunSummary>;
  /** Starts the IssueWorkflow and returns its handle. */
  start(): Promise<WorkflowHandle>;
  /** The run's status query. */
  status(): Promise<IssueRunStatus>;
  /** Polls `check` every 100 ms until true; fails after `timeoutMs` naming `what`. */
  waitFor(what: string, check: () => Promise<boolean>, timeoutMs?: number): Promise<void>;
  /** Starts the DispatcherWorkflow on the context's task queue (terminated on close). */
  startDispatcher(): Promise<void>;
  /** The issue file's text. */
  issueText(): Promise<string>;
  /** The issue's comments file text ('' if none). */
  commentsText(): Promise<string>;
  close(): Promise<void>;
}

/** Builds a RunContext. `script` drives the scripted model. */
export async function createRunContext(opts: {
  script: ScriptStep[];
  qaCommands?: string[];
  qaMaxRounds?: number;
  extraPolicy?: string;
  issueBody?: string;
  /** History events after which the run continues as new (IssueWorkflowInput.historyLimit). */
  historyLimit?: number;
  /** The worker's logger. (Default: silent) */
  log?: Logger;
  /** The issue's identifier (and id), e.g. a fake GitHub issue's `app-1`. (Default: a fresh `T…-1`) */
  identifier?: string;
}): Promise<RunContext> {
  const tmp = await tempDir();
  const dir = tmp.dir;
  const closers: (() => Promise<void> | void)[] = [() => tmp.cleanup()];
  try {
    const origin = await makeOrigin(dir);
    const issuesDir = path.join(dir, 'issues');
    const workspaceRoot = path.join(dir, 'workspaces');
    const home = path.join(dir, 'home');
    const identifier = opts.identifier ?? `T${randomUUID().slice(0, 6).toUpperCase()}-1`;
    await writeIssue(
      issuesDir,
      identifier,
      { title: 'Fix add()', state: 'Todo' },
      opts.issueBody ?? 'add(2, 3) must return 5.',
    );
    const model = await startScriptedModelServer(opts.script);
    closers.push(() => model.close());
    const taskQueue = uniqueTaskQueue('it');
    const policyFile = await writePolicy(dir, {
      issuesDir,
      workspaceRoot,
      repo: origin,
      modelUrl: model.url,
      taskQueue,
      ...(opts.qaCommands ? { qaCommands: opts.qaCommands } : {}),
      ...(opts.qaMaxRounds ? { qaMaxRounds: opts.qaMaxRounds } : {}),
      ...(opts.extraPolicy ? { extra: opts.extraPolicy } : {}),
    });
    const env = { ...process.env, FOREMAN_HOME: home };
    const store = await createPolicyStore(policyFile, { env, watch: false });
    closers.push(() => store.close());
    const runtime = await createWorkerRuntime({
      address: temporalAddress(),
      namespace: temporalNamespace(),
      taskQueue,
      policyStore: store,
      home,
      log: opts.log ?? silentLogger,
      env,
    });
    closers.push(() => runtime.shutdown());
    void runtime.run();

    const input: IssueWorkflowInput = {
      issueId: identifier,
      identifier,
      ...(opts.historyLimit !== undefined ? { historyLimit: opts.historyLimit } : {}),
    };
    const workflowId = issueWorkflowId(runtime.deployment.key, identifier);
    const startOptions = {
      workflowId,
      taskQueue,
      args: [input] as [IssueWorkflowInput],
      ...issueRunTags(runtime.deployment, { id: identifier, identifier }),
      workflowExecutionTimeout: '5 minutes',
    };
    closers.push(() =>
      runtime.client.workflow
        .getHandle(workflowId)
        .terminate('test over')
        .then(
          () => undefined,
          () => undefined,
        ),
    );
    return {
      dir,
      origin,
      issuesDir,
      workspaceRoot,
      home,
      identifier,
      workflowId,
      policyFile,
      taskQueue,
      model,
      store,
      runtime,
      runIssue: async () =>
        runtime.client.workflow.execute(ISSUE_WORKFLOW_TYPE, startOptions) as Promise<IssueRunSummary>,
      start: () => runtime.client.workflow.start(ISSUE_WORKFLOW_TYPE, startOptions),
      status: () => runtime.client.workflow.getHandle(workflowId).query(statusQuery),
      waitFor: async (what, check, timeoutMs = 60_000) => {
        const deadline = Date.now() + timeoutMs;
        while (!(await check().catch(() => false))) {
          if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
          await new Promise((r) => setTimeout(r, 100));
        }
      },
      startDispatcher: async () => {
        const handle = await startDispatcher(runtime.client, taskQueue);
        closers.push(() =>
          handle.terminate('test over').then(
            () => undefined,
            () => undefined,
          ),
        );
      },
      issueText: () => fs.readFile(path.join(issuesDir, `${identifier}.md`), 'utf8'),
      commentsText: () => fs.readFile(path.join(issuesDir, `${identifier}.comments.md`), 'utf8').catch(() => ''),
      close: () => closeAll(closers),
    };
  } catch (err) {
    await closeAll(closers);
    throw err;
  }
}

/**
 * Closes a context (if any) and fails the test when its model script ran out or a step threw (a
 * test bug even when retries hid it), or when an IssueWorkflow of its task queue ended as a failed
 * workflow: bad input must be a visible stop or an escalation, never a workflow failure, so every
 * test built on a RunContext asserts it (docs/architecture.md, "Glossary": escalation).
 */
export async function closeRunContext(ctx: RunContext | null): Promise<void> {
  const failures = ctx?.model.failures ?? [];
  const failed = ctx ? await failedIssueRuns(ctx) : [];
  await ctx?.close();
  expect(failures).toEqual([]);
  expect(failed, 'IssueWorkflow executions that failed').toEqual([]);
}

/** Ids of the IssueWorkflow executions on the context's task queue that ended as failed workflows. */
async function failedIssueRuns(ctx: RunContext): Promise<string[]> {
  const query = `WorkflowType = '${ISSUE_WORKFLOW_TYPE}' AND ExecutionStatus = 'Failed' AND TaskQueue = '${ctx.taskQueue}'`;
  const ids: string[] = [];
  for await (const w of ctx.runtime.client.workflow.list({ query })) ids.push(`${w.workflowId} (${w.runId})`);
  return ids;
}

/** Starts (or nudges) the DispatcherWorkflow of `taskQueue`; terminate the handle when done. */
export function startDispatcher(client: Client, taskQueue: string): Promise<WorkflowHandle> {
  return client.workflow.signalWithStart(DISPATCHER_WORKFLOW_TYPE, {
    workflowId: dispatcherWorkflowId(taskQueue),
    taskQueue,
    args: [{}],
    signal: refreshSignal,
    signalArgs: [{ reason: 'test' }],
    workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
  });
}

async function closeAll(closers: (() => Promise<void> | void)[]): Promise<void> {
  while (closers.length) {
    try {
      await closers.pop()!();
    } catch {
      // keep closing the rest
    }
  }
}
