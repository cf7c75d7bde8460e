/**
 * IssueWorkflow: how one issue progresses, durably, as a sequence of phases:
 *
 *   prepare  →  implement ⇄ QA ⇄ contract ⇄ review  →  hand over  →  after hand-over
 *   (run settings,  (./issue/work.ts)                   (pull request,   (review, CI, merge or
 *    workspace, spec)                                     evidence)        close: ./issue/pull-request.ts;
 *                                                                          sent back: ./issue/rework.ts)
 *
 * Manager by exception: whatever needs a human (the implementer's question, QA still failing after
 * `qa.max_rounds`, a spent budget, turns used up, a step that failed for good) becomes an escalation
 * (./issue/escalation.ts): partial work pushed, one comment, a durable wait for a `humanReply`. The
 * answer goes into the spec's Decisions and the same agent conversation resumes with it.
 *
 * A `stop` signal (the tracker moved the issue to a terminal or inactive state, Symphony SPEC §8.5)
 * cancels the work in progress, cleans the workspace when asked, and ends the run as `stopped`.
 * Everything the run knows is one state object (./issue/state.ts) that the status query, the
 * evidence and the summary read. Deterministic code only: all I/O is in activities (imported as
 * types). docs/architecture.md walks through one issue's path.
 */
import {
  ActivityFailure,
  CancellationScope,
  isCancellation,
  log,
  upsertMemo,
  workflowInfo,
} from '@temporalio/workflow';
import type { IssueRunSummary, IssueWorkflowInput, StopRequest } from './definitions.js';
import { boot, issueActivities } from './issue/activities.js';
import { describeFailure } from './issue/failure.js';
import { unlessLost } from './issue/affinity.js';
import { awaitPullRequest, handOver } from './issue/pull-request.js';
import { checkpoint } from './issue/ledger.js';
import { logEvent } from './issue/lifecycle.js';
import { emptyInbox, installHandlers, type Run } from './issue/run.js';
import { initialState, summaryOf } from './issue/state.js';
import { closingMemo } from './issue/report.js';
import { stoppedNotice } from './issue/texts.js';
import { implementLoop, work } from './issue/work.js';
import { reworkOnStart } from './issue/rework.js';
import { publish } from './issue/publish.js';
import type { Resume } from './issue/continue.js';

/** Runs one issue from the tracker to a pushed branch with evidence, and listens to its pull request. */
export async function IssueWorkflow(input: IssueWorkflowInput): Promise<IssueRunSummary> {
  const info = workflowInfo();
  const { carried, ...rest } = input;
  // A continued run (./issue/continue.ts) picks up what the previous execution knew.
  const state = carried?.state ?? initialState(Date.now()); // workflow time: deterministic in the sandbox
  const inbox = emptyInbox(carried?.inbox);
  installHandlers(rest, state, inbox);

  const { issue, settings } =
    carried ?? (await boot.prepareRun({ issueId: input.issueId, identifier: input.identifier }));
  state.startedFor ??= issue.state;
  state.shown ??= {
    title: issue.title,
    repingMs: settings.repingMs,
    parkMs: settings.parkMs,
    parkedState: settings.parkedState,
  };
  publish(state); // what the dispatcher reads (./issue/publish.ts)
  if (!carried && settings.budget.maxWallMs) state.deadline = state.startedAt + settings.budget.maxWallMs;
  const run: Run = {
    input: rest,
    workflowId: info.workflowId,
    runId: info.firstExecutionRunId,
    issue,
    settings,
    state,
    // A continued run's workspace steps go on to the worker holding it (./issue/affinity.ts).
    acts: issueActivities(settings, state.workspace?.queue),
    inbox,
  };
  if (!carried) logEvent(run, 'dispatched', { title: issue.title });
  if (!carried) await checkpoint(run, 'started');

  let posted: IssueRunSummary['evidence'];
  try {
    posted = await CancellationScope.cancellable(async () => {
      inbox.workScope = CancellationScope.current();
      if (inbox.stop) inbox.workScope.cancel(); // a stop that came in before the work began
      // A run the dispatcher started because a human sent the handed-over issue back (./issue/rework.ts).
      let at: Resume | { at: 'enter'; feedback: string | null } = carried?.resume ?? {
        at: 'enter',
        feedback: await reworkOnStart(run),
      };
      for (;;) {
        if (at.at !== 'in_review') {
          const ws =
            at.at === 'enter' ? await work(run, at.feedback) : await implementLoop(run, at.feedback, at.rounds);
          const evidence = await handOver(run, ws);
          if (!state.pr) return evidence; // the run ends here: its 'ended' record has the hand-over
          await checkpoint(run, 'handed_over');
          at = { at: 'in_review', evidence };
        }
        const next = await awaitPullRequest(run, at.evidence);
        if (next === null) return at.evidence;
        at = { at: 'enter', feedback: next }; // a rework round on the same branch and pull request
        state.reworkRounds = (state.reworkRounds ?? 0) + 1;
      }
    });
  } catch (err) {
    if (!(isCancellation(err) && inbox.stop)) throw err;
    const stop = inbox.stop;
    return await CancellationScope.nonCancellable(() => stopRun(run, stop));
  }
  return await finish(run, posted);
}

/** Ends a run whose work is done: `completed`, or `stopped` when its pull request was closed unmerged. */
async function finish(run: Run, posted: IssueRunSummary['evidence']): Promise<IssueRunSummary> {
  const stopped = run.state.prState === 'closed';
  run.state.phase = stopped ? 'stopped' : 'done';
  logEvent(run, stopped ? 'stopped' : 'done', { pull_request: run.state.pr?.url ?? null });
  upsertMemo({ ...closingMemo(run.state, stopped ? 'stopped' : 'completed', Date.now()) });
  await checkpoint(run, 'ended', stopped ? 'stopped' : 'completed');
  const reason = stopped ? 'the pull request was closed without merging.' : null;
  return summaryOf(summaryContext(run), run.state, stopped ? 'stopped' : 'completed', reason, posted);
}

/** Ends the run on the tracker's word: workspace cleaned when asked, a note on the issue. */
async function stopRun(run: Run, req: StopRequest): Promise<IssueRunSummary> {
  const { state, acts, input } = run;
  state.phase = 'stopping';
  if (req.cleanup)
    await unlessLost(run, 'remove the workspace', () =>
      acts.workspace.removeWorkspace({ identifier: input.identifier }),
    );
  try {
    await acts.notify.postComment({
      issueId: input.issueId,
      key: `stopped-${run.runId}`,
      body: stoppedNotice({
        reason: req.reason,
        cleanup: req.cleanup,
        pushedBranch: state.push?.pushed ? state.push.branch : null,
      }),
    });
  } catch (err) {
    // Only a permanent failure gets here (the issue was deleted): the run still ends stopped.
    if (!(err instanceof ActivityFailure)) throw err;
    log.warn('the stop notice could not be posted', { issue: input.identifier, error: describeFailure(err) });
  }
  state.phase = 'stopped';
  logEvent(run, 'stopped', { reason: req.reason });
  upsertMemo({ ...closingMemo(state, 'stopped', Date.now()) });
  await checkpoint(run, 'ended', 'stopped');
  return summaryOf(summaryContext(run), state, 'stopped', req.reason, null);
}

function summaryContext(run: Run) {
  return { identifier: run.input.identifier, workflowId: run.workflowId, runId: run.runId, now: Date.now() };
}
