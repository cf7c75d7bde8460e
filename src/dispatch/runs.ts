/**
 * Issue runs as Temporal knows them: which IssueWorkflows are running on a task queue (visibility
 * list) and starting one. Shared by the dispatcher tick, reconciliation and the webhook router.
 */
import { WorkflowIdReusePolicy, type Client } from '@temporalio/client';
import type { Issue } from '../trackers/types.js';
import { ISSUE_WORKFLOW_TYPE, issueUpdatedSignal, issueWorkflowId } from '../../workflows/definitions.js';
import type { IssueWorkflowInput } from '../../workflows/definitions.js';

/** A running IssueWorkflow as the visibility list shows it. */
export interface RunningRun {
  identifier: string;
  issueId: string | null;
  workflowId: string;
}

/**
 * The IssueWorkflows running on `taskQueue` (null: every queue), from Temporal's visibility list
 * (eventually consistent: a run started a moment ago may be missing).
 */
export async function listRunningIssues(client: Client, taskQueue: string | null): Promise<RunningRun[]> {
  const out: RunningRun[] = [];
  const query =
    `WorkflowType = '${ISSUE_WORKFLOW_TYPE}' AND ExecutionStatus = 'Running'` +
    (taskQueue ? ` AND TaskQueue = '${taskQueue}'` : '');
  for await (const wf of client.workflow.list({ query })) {
    const identifier = typeof wf.memo?.identifier === 'string' ? wf.memo.identifier : wf.workflowId;
    const issueId = typeof wf.memo?.issueId === 'string' ? wf.memo.issueId : null;
    out.push({ identifier, issueId, workflowId: wf.workflowId });
  }
  return out;
}

/**
 * Starts (or signals) the issue's workflow. Idempotent by workflow id: a poll racing a webhook, or
 * a duplicate delivery, ends in one run.
 */
export async function startIssueRun(
  client: Client,
  taskQueue: string,
  issue: Pick<Issue, 'id' | 'identifier'>,
  /** What asked for the run (`dispatch`, `webhook`…), carried by the `issueUpdated` signal. */
  source: string,
): Promise<string> {
  const workflowId = issueWorkflowId(issue.identifier);
  const input: IssueWorkflowInput = { issueId: issue.id, identifier: issue.identifier };
  await client.workflow.signalWithStart(ISSUE_WORKFLOW_TYPE, {
    workflowId,
    taskQueue,
    args: [input],
    signal: issueUpdatedSignal,
    signalArgs: [{ source, at: new Date().toISOString() }],
    memo: { identifier: issue.identifier, issueId: issue.id },
    workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
  });
  return workflowId;
}
