/**
 * Issue runs as Temporal knows them, per deployment (src/deployment.ts): which IssueWorkflows are
 * running (visibility list), finding an issue's latest run (legacy ids included) and starting one.
 * Shared by the dispatcher tick, reconciliation, the webhook router, `run`, `answer` and `status`.
 */
import { defineSearchAttributeKey } from '@temporalio/common';
import {
  WorkflowIdReusePolicy,
  WorkflowNotFoundError,
  type Client,
  type WorkflowExecutionDescription,
} from '@temporalio/client';
import { DEPLOYMENT_SEARCH_ATTRIBUTE, deploymentQuery, escapeQuery, type Deployment } from '../deployment.js';
import type { Issue } from '../trackers/types.js';
import {
  ISSUE_WORKFLOW_TYPE,
  PUBLISHED_MEMO_KEY,
  issueUpdatedSignal,
  issueWorkflowId,
  legacyIssueWorkflowId,
} from '../../workflows/definitions.js';
import type { IssueWorkflowInput, PublishedRun } from '../../workflows/definitions.js';

/** The typed key of the deployment search attribute. */
export const deploymentAttribute = defineSearchAttributeKey(DEPLOYMENT_SEARCH_ATTRIBUTE, 'KEYWORD');

/** A running IssueWorkflow as the visibility list shows it. */
export interface RunningRun {
  identifier: string;
  issueId: string | null;
  workflowId: string;
  /** Started before deployment keys (legacy id, no search attribute): see `findIssueRun`. */
  legacy: boolean;
  /**
   * What the run published about itself (workflows/issue/publish.ts); null for a run started by
   * code from before it published, which the dispatcher still asks with a status query.
   */
  published: PublishedRun | null;
}

/**
 * The IssueWorkflows running in `deployment` (null: every deployment), from Temporal's visibility
 * list (eventually consistent: a run started a moment ago may be missing). A deployment's runs are
 * those with its `ForemanDeployment` key, plus legacy runs (no key) on its legacy task queue.
 */
export async function listRunningIssues(
  client: Client,
  deployment: Pick<Deployment, 'key' | 'legacyTaskQueue'> | null,
): Promise<RunningRun[]> {
  const out: RunningRun[] = [];
  const query =
    `WorkflowType = '${ISSUE_WORKFLOW_TYPE}' AND ExecutionStatus = 'Running'` +
    (deployment ? ` AND ${deploymentQuery(deployment)}` : '');
  for await (const wf of client.workflow.list({ query })) {
    const identifier = typeof wf.memo?.identifier === 'string' ? wf.memo.identifier : wf.workflowId;
    const issueId = typeof wf.memo?.issueId === 'string' ? wf.memo.issueId : null;
    const legacy = wf.typedSearchAttributes.get(deploymentAttribute) === undefined;
    out.push({ identifier, issueId, workflowId: wf.workflowId, legacy, published: publishedRunOf(wf.memo) });
  }
  return out;
}

/** The memo's `PublishedRun` (workflows/issue/publish.ts), or null when absent or not of that shape. */
export function publishedRunOf(memo: Record<string, unknown> | undefined): PublishedRun | null {
  const p = memo?.[PUBLISHED_MEMO_KEY] as Partial<PublishedRun> | undefined;
  if (!p || typeof p !== 'object' || typeof p.phase !== 'string') return null;
  const ids = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
  const text = (v: unknown) => (typeof v === 'string' ? v : null);
  return {
    phase: p.phase,
    waiting: p.waiting === true,
    askedAt: text(p.askedAt),
    handedOverAt: text(p.handedOverAt),
    startedFor: text(p.startedFor),
    answered: ids(p.answered),
    ignored: ids(p.ignored),
  };
}

/** An issue's latest closed run, as the visibility list shows it. */
export interface ClosedRun {
  workflowId: string;
  runId: string;
  /** Temporal's status name: `COMPLETED`, `FAILED`, `TERMINATED`, `CONTINUED_AS_NEW`… */
  status: string;
  closeTime: Date;
  /** The run's `outcome` memo (`completed`, `stopped`…), when it wrote one. */
  outcome: string | null;
}

/** Workflow ids per visibility query in `latestClosedRuns` (keeps each query short). */
export const CLOSED_RUNS_PER_QUERY = 100;

/**
 * The latest closed run of each identifier in `deployment` (identifiers with none are left out),
 * read from the visibility list: one paginated list per `CLOSED_RUNS_PER_QUERY` identifiers, so the
 * cost follows the candidates, never the runs parked elsewhere. The deployment's own workflow id is
 * preferred; a legacy id counts only without a deployment key and on the legacy task queue (as
 * `findIssueRun`). Eventually consistent: a run that closed a moment ago may still show as running.
 */
export async function latestClosedRuns(
  client: Client,
  deployment: Pick<Deployment, 'key' | 'legacyTaskQueue'>,
  identifiers: string[],
): Promise<Map<string, ClosedRun>> {
  const byWorkflowId = new Map<string, { identifier: string; legacy: boolean }>();
  for (const identifier of identifiers) {
    byWorkflowId.set(issueWorkflowId(deployment.key, identifier), { identifier, legacy: false });
    if (deployment.legacyTaskQueue) byWorkflowId.set(legacyIssueWorkflowId(identifier), { identifier, legacy: true });
  }
  const ids = [...byWorkflowId.keys()];
  const own = new Map<string, ClosedRun>();
  const legacy = new Map<string, ClosedRun>();
  for (let i = 0; i < ids.length; i += CLOSED_RUNS_PER_QUERY) {
    const list = ids
      .slice(i, i + CLOSED_RUNS_PER_QUERY)
      .map((id) => `'${escapeQuery(id)}'`)
      .join(', ');
    const query = `WorkflowType = '${ISSUE_WORKFLOW_TYPE}' AND ExecutionStatus != 'Running' AND WorkflowId IN (${list})`;
    for await (const wf of client.workflow.list({ query })) {
      const at = byWorkflowId.get(wf.workflowId);
      if (!at || !wf.closeTime) continue;
      if (
        at.legacy &&
        (wf.taskQueue !== deployment.legacyTaskQueue || wf.typedSearchAttributes.get(deploymentAttribute) !== undefined)
      )
        continue;
      const into = at.legacy ? legacy : own;
      const seen = into.get(at.identifier);
      if (seen && seen.closeTime.getTime() >= wf.closeTime.getTime()) continue;
      const outcome = typeof wf.memo?.outcome === 'string' ? wf.memo.outcome : null;
      into.set(at.identifier, {
        workflowId: wf.workflowId,
        runId: wf.runId,
        status: wf.status.name,
        closeTime: wf.closeTime,
        outcome,
      });
    }
  }
  for (const [identifier, run] of legacy) if (!own.has(identifier)) own.set(identifier, run);
  return own;
}

/**
 * Starts (or signals) the issue's workflow in `deployment`: id `issueWorkflowId(key, identifier)`,
 * on the deployment's task queue, with the `ForemanDeployment` search attribute. Idempotent by
 * workflow id: a poll racing a webhook, or a duplicate delivery, ends in one run. `reworkOf` names
 * the earlier run that handed the issue over when the new run is a rework round of it
 * (docs/architecture.md, "Sending work back"); a running run ignores it.
 */
export async function startIssueRun(
  client: Client,
  deployment: Pick<Deployment, 'key' | 'taskQueue'>,
  issue: Pick<Issue, 'id' | 'identifier'>,
  /** What asked for the run (`dispatch`, `webhook`…), carried by the `issueUpdated` signal. */
  source: string,
  reworkOf?: IssueWorkflowInput['reworkOf'],
): Promise<string> {
  const workflowId = issueWorkflowId(deployment.key, issue.identifier);
  const input: IssueWorkflowInput = {
    issueId: issue.id,
    identifier: issue.identifier,
    ...(reworkOf ? { reworkOf } : {}),
  };
  await client.workflow.signalWithStart(ISSUE_WORKFLOW_TYPE, {
    workflowId,
    taskQueue: deployment.taskQueue,
    args: [input],
    signal: issueUpdatedSignal,
    signalArgs: [{ source, at: new Date().toISOString() }],
    ...issueRunTags(deployment, issue),
    workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
  });
  return workflowId;
}

/** The memo and search attribute every IssueWorkflow of a deployment starts with. */
export function issueRunTags(deployment: Pick<Deployment, 'key'>, issue: Pick<Issue, 'id' | 'identifier'>) {
  return {
    memo: { identifier: issue.identifier, issueId: issue.id },
    typedSearchAttributes: [{ key: deploymentAttribute, value: deployment.key }],
  };
}

/** An issue's latest run in a deployment, found by `findIssueRun`. */
export interface FoundIssueRun {
  workflowId: string;
  description: WorkflowExecutionDescription;
  /** Found under the legacy id `foreman-issue-<identifier>`. */
  legacy: boolean;
}

/**
 * The latest run of `identifier` in `deployment` (strongly consistent: describes by id). Looks up
 * `issueWorkflowId(key, identifier)` first; when there is none, the legacy id
 * `foreman-issue-<identifier>`, taken only if that run has no deployment key and ran on the
 * deployment's legacy task queue (docs/architecture.md, "Deployments on one namespace").
 * Returns null when neither exists.
 * @throws what the Temporal client throws other than "not found" (server unreachable…).
 */
export async function findIssueRun(
  client: Client,
  deployment: Pick<Deployment, 'key' | 'legacyTaskQueue'>,
  identifier: string,
): Promise<FoundIssueRun | null> {
  const workflowId = issueWorkflowId(deployment.key, identifier);
  const own = await describeOrNull(client, workflowId);
  if (own) return { workflowId, description: own, legacy: false };
  if (!deployment.legacyTaskQueue) return null;
  const legacyId = legacyIssueWorkflowId(identifier);
  const old = await describeOrNull(client, legacyId);
  if (!old || old.taskQueue !== deployment.legacyTaskQueue) return null;
  if (old.typedSearchAttributes.get(deploymentAttribute) !== undefined) return null;
  return { workflowId: legacyId, description: old, legacy: true };
}

async function describeOrNull(client: Client, workflowId: string): Promise<WorkflowExecutionDescription | null> {
  try {
    return await client.workflow.getHandle(workflowId).describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return null;
    throw err;
  }
}
