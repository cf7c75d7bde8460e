/**
 * Signals and queries, defined once and imported by the workflows, the daemon, the webhook server
 * and the CLI alike (STYLE.md "Boundaries").
 */
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type {
  CiResult,
  HumanReply,
  IssueRunStatus,
  PullRequestClosed,
  PullRequestReview,
  StopRequest,
} from './types.js';

/** The tracker reported a change to the issue (poll, file watch or webhook). */
export const issueUpdatedSignal = defineSignal<[{ source: string; at: string }]>('issueUpdated');

/**
 * A human's answer to the waiting escalation (from `foreman answer`, a tracker comment, or a
 * webhook). Durable: it is kept even when no worker runs. Ignored when nothing is waiting; a
 * comment is taken once (by `commentId`).
 */
export const humanReplySignal = defineSignal<[HumanReply]>('humanReply');

/**
 * Stop the issue's run (the tracker says the issue is terminal or no longer active; Symphony SPEC
 * §8.5). With `cleanup`, the workspace is removed (after `before_remove`).
 */
export const stopSignal = defineSignal<[StopRequest]>('stop');

/** A review was submitted on the issue's pull request (changes requested → a rework round). */
export const prReviewSignal = defineSignal<[PullRequestReview]>('prReview');

/** The issue's pull request was merged (→ issue done, workspace cleaned) or closed unmerged (→ stop). */
export const prClosedSignal = defineSignal<[PullRequestClosed]>('prClosed');

/** A CI check on the pull request finished; the run reads the results from the SCM API. */
export const ciResultSignal = defineSignal<[CiResult]>('ciResult');

/** Ask the dispatcher to poll the tracker now instead of waiting for the next interval. */
export const refreshSignal = defineSignal<[{ reason: string }]>('refresh');

/** Where an IssueWorkflow is. */
export const statusQuery = defineQuery<IssueRunStatus>('status');

/** Workflow type names, for clients that start workflows by name. */
export const ISSUE_WORKFLOW_TYPE = 'IssueWorkflow';
export const DISPATCHER_WORKFLOW_TYPE = 'DispatcherWorkflow';

/** Workflow id of an issue's run: derived from the issue identifier, one per issue. */
export function issueWorkflowId(identifier: string): string {
  return `foreman-issue-${identifier}`;
}

/** Workflow id of the dispatcher of a task queue. */
export function dispatcherWorkflowId(taskQueue: string): string {
  return `foreman-dispatcher-${taskQueue}`;
}
