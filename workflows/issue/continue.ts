/**
 * Continue-as-new: a run can wait without bound (a pull request open for weeks with CI and
 * reviews coming in, escalation after escalation in the implement loop), and each wait adds to its
 * event history. At the top of those two loops the run checks its history; past the limit (or when
 * the server suggests it) it continues as new, carrying everything it knows: the issue and
 * settings it started with, the run state, what the signal handlers received and not yet acted on,
 * and where to pick up. docs/architecture.md, "Changing workflow code".
 */
import { continueAsNew, workflowInfo } from '@temporalio/workflow';
import type {
  IssueRunSummary,
  IssueWorkflowInput,
  HumanReply,
  PullRequestClosed,
  PullRequestReview,
  ReworkRequested,
} from '../definitions.js';
import type { RunSettings } from '../../src/config/run-settings.js';
import type { Issue } from '../../src/trackers/types.js';
import type { IssueWorkflow } from '../issue-workflow.js';
import type { Run } from './run.js';
import type { RunState } from './state.js';

/** Events after which a waiting run continues as new (Temporal's hard limit is 51 200). */
export const DEFAULT_HISTORY_LIMIT = 5_000;

/** Counters of the implement loop: implement → QA rounds and review rounds since the last escalation. */
export interface Rounds {
  qa: number;
  review: number;
}

/** Where a continued run picks up: the top of the implement loop, or the wait on the pull request. */
export type Resume =
  | { at: 'implement'; feedback: string | null; rounds: Rounds }
  | { at: 'in_review'; evidence: IssueRunSummary['evidence'] };

/** What one execution hands the next (plain JSON, part of the workflow input). */
export interface CarriedRun {
  issue: Issue;
  settings: RunSettings;
  state: RunState;
  resume: Resume;
  /** Signals received and not yet acted on. */
  inbox: {
    replies: HumanReply[];
    prReviews: PullRequestReview[];
    prClosed: PullRequestClosed | null;
    ci: number;
    /** Absent in runs continued by older code. */
    rework?: ReworkRequested | null;
  };
}

/** True when this execution's history is long enough to continue as new (never while stopping). */
export function shouldContinueAsNew(run: Run): boolean {
  if (run.inbox.stop) return false;
  const info = workflowInfo();
  return info.continueAsNewSuggested || info.historyLength >= (run.input.historyLimit ?? DEFAULT_HISTORY_LIMIT);
}

/** Ends this execution and starts the next with the run carried over; never returns. */
export async function continueRun(run: Run, resume: Resume): Promise<never> {
  const { inbox } = run;
  const input: IssueWorkflowInput = {
    ...run.input,
    carried: {
      issue: run.issue,
      settings: run.settings,
      state: run.state,
      resume,
      inbox: {
        replies: inbox.replies,
        prReviews: inbox.prReviews,
        prClosed: inbox.prClosed,
        ci: inbox.ciEvents - inbox.seenCi,
        rework: inbox.rework,
      },
    },
  };
  return continueAsNew<typeof IssueWorkflow>(input);
}
