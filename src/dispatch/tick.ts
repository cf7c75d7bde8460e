/**
 * One dispatcher tick (the I/O half of dispatching; the rules are in select.ts): read candidates
 * from the tracker, read which issue runs are live from Temporal, select, and signal-with-start one
 * IssueWorkflow per selected issue. Temporal is the only scheduler state: "running" is whatever
 * Temporal says is running, so a restart loses nothing and a duplicate start is harmless.
 */
import { WorkflowIdReusePolicy, type Client } from '@temporalio/client';
import type { Logger } from '../logger.js';
import type { LoadedPolicy } from '../config/load.js';
import type { Issue, Tracker } from '../trackers/types.js';
import {
  humanReplySignal,
  ISSUE_WORKFLOW_TYPE,
  issueUpdatedSignal,
  issueWorkflowId,
  statusQuery,
  stopSignal,
} from '../../workflows/definitions.js';
import { normalizeState, selectForDispatch } from './select.js';
import type { HumanReply, IssueRunStatus, IssueWorkflowInput } from '../../workflows/definitions.js';

/** Result of one dispatcher tick. */
export interface DispatchTickResult {
  /** Wait before the next tick, ms (policy `polling.interval_ms`). */
  nextPollMs: number;
  started: string[];
  skipped: { identifier: string; reason: string }[];
  error: string | null;
}

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

/** The run's status, or null when it cannot answer (no worker, or it just ended). */
async function statusOf(client: Client, workflowId: string): Promise<IssueRunStatus | null> {
  try {
    return await client.workflow.getHandle(workflowId).query(statusQuery);
  } catch {
    return null;
  }
}

/**
 * Reconciles running runs with the tracker (Symphony SPEC §8.5 part B) and with the humans on it:
 * - the issue is now terminal → stop the run and remove its workspace;
 * - the issue is neither active nor one of Foreman's own hand-off states → stop, keep the workspace;
 * - the run waits for an answer → each new human comment since the question becomes a `humanReply`
 *   (Foreman's own comments never count; a comment is sent once).
 * Returns the identifiers of runs waiting for a human (they do not hold an agent slot).
 * A tracker error skips reconciliation this tick (runs keep going).
 */
async function reconcile(
  deps: { client: Client; loaded: LoadedPolicy; tracker: Tracker; log: Logger },
  runs: RunningRun[],
): Promise<Set<string>> {
  const { policy } = deps.loaded;
  const waiting = new Set<string>();
  const withIds = runs.filter((r) => r.issueId);
  let issues: Issue[];
  try {
    issues = await deps.tracker.fetchIssuesByIds(withIds.map((r) => r.issueId!));
  } catch (err) {
    deps.log.warn({ err: (err as Error).message }, 'could not refresh running issues; trying again next tick');
    return waiting;
  }
  const byId = new Map(issues.map((i) => [i.id, i]));
  const terminal = new Set(policy.tracker.terminal_states.map(normalizeState));
  const keepGoing = new Set(
    [
      ...policy.tracker.active_states,
      policy.handoff.in_progress_state,
      policy.handoff.review_state,
      policy.handoff.escalated_state ?? '',
      policy.handoff.parked_state ?? '',
    ].map(normalizeState),
  );
  for (const run of withIds) {
    const issue = byId.get(run.issueId!);
    if (!issue) continue; // not found: leave it be (SPEC §8.4 releases only claims)
    const state = normalizeState(issue.state);
    const handle = deps.client.workflow.getHandle(run.workflowId);
    if (terminal.has(state) || !keepGoing.has(state)) {
      const cleanup = terminal.has(state);
      deps.log.info(
        { issue: run.identifier, state: issue.state, cleanup },
        'stopping the run: the issue left the active states',
      );
      await handle
        .signal(stopSignal, { reason: `the issue moved to "${issue.state}".`, cleanup })
        .catch((err: Error) => deps.log.warn({ issue: run.identifier, err: err.message }, 'could not signal stop'));
      continue;
    }
    const status = await statusOf(deps.client, run.workflowId);
    if (status?.phase !== 'waiting_for_human' || !status.escalation) continue;
    waiting.add(run.identifier);
    let comments;
    try {
      comments = await deps.tracker.fetchComments(issue.id, status.escalation.askedAt);
    } catch (err) {
      deps.log.warn({ issue: run.identifier, err: (err as Error).message }, 'could not read comments');
      continue;
    }
    for (const c of comments) {
      if (c.by_foreman || status.answeredCommentIds.includes(c.id) || !c.body.trim()) continue;
      const reply: HumanReply = { text: c.body, author: c.author, source: 'comment', commentId: c.id };
      await handle.signal(humanReplySignal, reply).catch(() => {});
      deps.log.info({ issue: run.identifier, comment: c.id, author: c.author }, 'answer from a comment delivered');
    }
  }
  return waiting;
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

/** What Temporal says about an issue's latest run. */
type LastRun = 'running' | 'held' | 'none';

/**
 * Describes the issue's latest run (strongly consistent, unlike the visibility list, which may lag
 * a start by a moment). `held`: a run ended (needing a human, failed, terminated, timed out…) and
 * nobody has touched the issue since, so running it again would only repeat that ending and spend
 * tokens; a change to the issue (state, text, labels) makes it eligible again.
 */
async function lastRun(client: Client, issue: Issue): Promise<LastRun> {
  let d;
  try {
    d = await client.workflow.getHandle(issueWorkflowId(issue.identifier)).describe();
  } catch {
    return 'none'; // never ran (not found) or unreadable
  }
  if (d.status.name === 'RUNNING') return 'running';
  if (!d.closeTime) return 'none';
  const updated = issue.updated_at ? Date.parse(issue.updated_at) : 0;
  return updated <= d.closeTime.getTime() ? 'held' : 'none';
}

/** Runs one dispatch tick under the current policy. Never throws for tracker or policy trouble. */
export async function dispatchTick(deps: {
  client: Client;
  taskQueue: string;
  loaded: LoadedPolicy;
  tracker: Tracker;
  log: Logger;
}): Promise<DispatchTickResult> {
  const { policy } = deps.loaded;
  const nextPollMs = policy.polling.interval_ms;
  let candidates: Issue[];
  try {
    candidates = await deps.tracker.fetchIssuesByStates(policy.tracker.active_states);
  } catch (err) {
    deps.log.error({ err: (err as Error).message }, 'tracker poll failed; will retry next tick');
    return { nextPollMs, started: [], skipped: [], error: (err as Error).message };
  }
  // Running = what the visibility list shows (it also covers runs whose issue is no longer a
  // candidate) plus what describing each candidate shows (no lag for a run started a moment ago).
  // Runs waiting for a human's answer run no agent and hold no slot.
  const stateOf = new Map(candidates.map((i) => [i.identifier, i.state]));
  const runs = await listRunningIssues(deps.client, deps.taskQueue);
  const waiting = await reconcile(deps, runs);
  const runningIds = new Set(runs.map((r) => r.identifier));
  const held: { identifier: string; reason: string }[] = [];
  const open: Issue[] = [];
  const last = await Promise.all(candidates.map((issue) => lastRun(deps.client, issue)));
  candidates.forEach((issue, i) => {
    if (last[i] === 'running') runningIds.add(issue.identifier);
    if (last[i] === 'running' || waiting.has(issue.identifier)) return; // not a candidate: it has a run
    if (last[i] === 'held')
      held.push({ identifier: issue.identifier, reason: 'its last run ended; waiting for the issue to change' });
    else open.push(issue);
  });
  const running = [...runningIds]
    .filter((id) => !waiting.has(id))
    .map((identifier) => ({ identifier, state: stateOf.get(identifier) ?? '' }));

  const { selected, skipped } = selectForDispatch({
    candidates: open,
    running,
    activeStates: policy.tracker.active_states,
    terminalStates: policy.tracker.terminal_states,
    requiredLabels: policy.tracker.required_labels,
    maxConcurrentAgents: policy.agent.max_concurrent_agents,
    maxConcurrentAgentsByState: policy.agent.max_concurrent_agents_by_state,
  });
  const started: string[] = [];
  for (const issue of selected) {
    await startIssueRun(deps.client, deps.taskQueue, issue, 'dispatch');
    started.push(issue.identifier);
    deps.log.info({ issue: issue.identifier }, 'dispatched');
  }
  return { nextPollMs, started, skipped: [...held, ...skipped], error: null };
}
