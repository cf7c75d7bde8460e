/**
 * Test-only workflow that records every Foreman signal it receives and answers `probeQuery` with
 * them. It needs no activities, so tests can watch what reaches "the issue's run" or "the
 * dispatcher" without running either. Exported also as `IssueWorkflow` and `DispatcherWorkflow`
 * (the worker resolves a workflow type by export name), so code that starts or lists those types
 * by name — the webhook router, `listRunningIssues`, `startIssueRun` — finds a probe.
 *
 * Bundle with `bundleWorkflowCode({ workflowsPath })`; it is never part of workflows/index.ts.
 */
import { condition, defineQuery, setHandler } from '@temporalio/workflow';
import {
  ciResultSignal,
  commentIgnoredSignal,
  humanReplySignal,
  issueUpdatedSignal,
  prClosedSignal,
  prReviewSignal,
  refreshSignal,
  statusQuery,
  stopSignal,
  type IgnoredComment,
  type IssueRunStatus,
} from '../../workflows/definitions.js';

/** One received signal: its name, its argument, and the workflow time it was handled (epoch ms). */
export interface ProbeSignal {
  name: string;
  arg: unknown;
  at: number;
}

/** Every signal received so far, in order. */
export const probeQuery = defineQuery<ProbeSignal[]>('probe');

/**
 * Records signals until a `stop` signal arrives (tests usually terminate it instead). Answers
 * `statusQuery` with the parts the router and the poll read: always waiting for a human (asked in
 * 2000), `answeredCommentIds` (from `humanReply`), `ignoredComments` (from `commentIgnored`) and
 * `prNumber` (the argument; null when absent).
 */
export async function ProbeWorkflow(opts: { prNumber?: number } = {}): Promise<void> {
  const received: ProbeSignal[] = [];
  let stopped = false;
  const record =
    (name: string) =>
    (arg: unknown): void => {
      received.push({ name, arg, at: Date.now() });
    };
  setHandler(issueUpdatedSignal, record('issueUpdated'));
  setHandler(humanReplySignal, record('humanReply'));
  setHandler(prReviewSignal, record('prReview'));
  setHandler(prClosedSignal, record('prClosed'));
  setHandler(ciResultSignal, record('ciResult'));
  setHandler(refreshSignal, record('refresh'));
  setHandler(stopSignal, (arg) => {
    record('stop')(arg);
    stopped = true;
  });
  setHandler(commentIgnoredSignal, record('commentIgnored'));
  setHandler(probeQuery, () => received);
  setHandler(
    statusQuery,
    () =>
      ({
        phase: 'waiting_for_human',
        escalation: { question: 'probe', kind: 'probe', askedAt: '2000-01-01T00:00:00.000Z' },
        prNumber: opts.prNumber ?? null,
        answeredCommentIds: received
          .filter((r) => r.name === 'humanReply')
          .map((r) => (r.arg as { commentId?: string }).commentId)
          .filter((id): id is string => id !== undefined),
        ignoredComments: received.filter((r) => r.name === 'commentIgnored').map((r) => r.arg as IgnoredComment),
      }) as unknown as IssueRunStatus,
  );
  await condition(() => stopped);
}

export { ProbeWorkflow as IssueWorkflow, ProbeWorkflow as DispatcherWorkflow };
