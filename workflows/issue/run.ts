/**
 * One IssueWorkflow run as the phases see it: the input, the issue and settings it started with,
 * its state (./state.ts), its activity proxies (./activities.ts) and the inbox the signal handlers
 * fill. The handlers are installed here, once.
 */
import { setHandler, type CancellationScope } from '@temporalio/workflow';
import {
  ciResultSignal,
  commentIgnoredSignal,
  humanReplySignal,
  issueUpdatedSignal,
  prClosedSignal,
  prReviewSignal,
  reworkRequestedSignal,
  statusQuery,
  stopSignal,
  type HumanReply,
  type IssueWorkflowInput,
  type PullRequestClosed,
  type PullRequestReview,
  type ReworkRequested,
  type StopRequest,
} from '../definitions.js';
import type { RunSettings } from '../../src/config/run-settings.js';
import type { Issue } from '../../src/trackers/types.js';
import type { IssueActivities } from './activities.js';
import type { CarriedRun } from './continue.js';
import type { EvidenceData } from '../../src/evidence/render.js';
import type { WorkspaceInfo } from '../../src/workspace/workspace.js';
import { publish, publishView } from './publish.js';
import { evidenceOf, recordIgnoredComment, type RunState } from './state.js';
import { statusOf } from './report.js';

/** What the signals brought in and the run has not acted on yet. */
export interface Inbox {
  /** Answers to the open escalation, in arrival order. */
  replies: HumanReply[];
  /** Reviews on the pull request, in arrival order. */
  prReviews: PullRequestReview[];
  prClosed: PullRequestClosed | null;
  /** CI results signalled so far, and how many of them the run has read. */
  ciEvents: number;
  seenCi: number;
  /** The issue was moved back to an active state while the run waits on its pull request (taken once). */
  rework: ReworkRequested | null;
  /** The tracker's stop, once it came. */
  stop: StopRequest | null;
  /** The scope of the work a stop cancels (set when the work begins). */
  workScope: CancellationScope | null;
}

/** One run of an issue. */
export interface Run {
  input: IssueWorkflowInput;
  workflowId: string;
  /** The first execution's run id: stable across continue-as-new (comment keys, transcripts). */
  runId: string;
  issue: Issue;
  settings: RunSettings;
  state: RunState;
  acts: IssueActivities;
  inbox: Inbox;
}

/** An empty inbox, or one holding what the previous execution received and had not acted on. */
export function emptyInbox(carried?: CarriedRun['inbox']): Inbox {
  return {
    replies: carried?.replies ?? [],
    prReviews: carried?.prReviews ?? [],
    prClosed: carried?.prClosed ?? null,
    ciEvents: carried?.ci ?? 0,
    seenCi: 0,
    rework: carried?.rework ?? null,
    stop: null,
    workScope: null,
  };
}

/**
 * Installs the query and signal handlers over `state` and `inbox`. A human reply counts only while
 * a question is open, and a tracker comment only once (by `commentId`). A stop cancels the work in
 * progress.
 */
export function installHandlers(input: IssueWorkflowInput, state: RunState, inbox: Inbox): void {
  setHandler(statusQuery, () => statusOf(input, state));
  // Start and every later dispatch or webhook deliver it; the status query shows the latest, so an
  // operator sees that the tracker reported a change the run has not acted on (steps re-read the
  // issue from the tracker when they need it).
  setHandler(issueUpdatedSignal, (update) => {
    state.issueUpdated = update;
  });
  setHandler(humanReplySignal, (reply) => {
    if (state.phase !== 'waiting_for_human') return;
    if (reply.commentId) {
      if (state.answeredCommentIds.includes(reply.commentId)) return;
      state.answeredCommentIds.push(reply.commentId);
      publish(state); // so the dispatcher does not send it again (./publish.ts)
    }
    inbox.replies.push(reply);
  });
  setHandler(commentIgnoredSignal, (c) => {
    recordIgnoredComment(state, c);
    publish(state);
    publishView(state);
  });
  setHandler(prReviewSignal, (review) => {
    inbox.prReviews.push(review);
  });
  setHandler(prClosedSignal, (closed) => {
    inbox.prClosed = closed;
  });
  setHandler(ciResultSignal, () => {
    inbox.ciEvents++;
  });
  // Reconciliation repeats it every tick while the issue is active and the run waits on its pull
  // request; at any other time the run is working already (docs/architecture.md, "Sending work back").
  setHandler(reworkRequestedSignal, (req) => {
    if (state.phase === 'in_review') inbox.rework = req;
  });
  setHandler(stopSignal, (req) => {
    if (inbox.stop) return;
    inbox.stop = req;
    inbox.workScope?.cancel();
  });
}

/**
 * The run id under which the agents' transcripts live, i.e. whose conversations the agent steps
 * continue: the run's own, or for a rework round in a new run the first run of the issue's chain
 * (./rework.ts).
 */
export function conversationOf(run: Run): string {
  return run.state.conversationRunId ?? run.runId;
}

/** The evidence packet's data as it stands now (rendered by an activity, never by the model). */
export function evidence(run: Run, ws: WorkspaceInfo, stage: EvidenceData['stage']): EvidenceData {
  const o = {
    identifier: run.input.identifier,
    title: run.issue.title,
    workflowId: run.workflowId,
    runId: run.runId,
    settings: run.settings,
    now: Date.now(),
  };
  return evidenceOf(o, run.state, ws, stage);
}
