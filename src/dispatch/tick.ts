/**
 * One dispatcher tick (the I/O half of dispatching; the rules are in select.ts): read candidates
 * from the tracker, read which issue runs are live from Temporal (runs.ts), reconcile them with the
 * tracker (reconcile.ts), select, and signal-with-start one IssueWorkflow per selected issue. Temporal is the only scheduler state: "running" is whatever
 * Temporal says is running, so a restart loses nothing and a duplicate start is harmless.
 *
 * The rest of dispatching: the DispatcherWorkflow that calls this each tick is
 * workflows/dispatcher-workflow.ts (via activities/dispatch.ts); nudging it to tick now is
 * nudge.ts.
 */
import type { Client } from '@temporalio/client';
import type { Logger } from '../logger.js';
import type { LoadedPolicy } from '../config/load.js';
import type { Issue, Tracker } from '../trackers/types.js';
import type { Deployment } from '../deployment.js';
import { trustGateFor } from '../trust/index.js';
import { reconcile } from './reconcile.js';
import { latestClosedRuns, listRunningIssues, startIssueRun, type ClosedRun } from './runs.js';
import { selectForDispatch } from './select.js';

/** Result of one dispatcher tick. */
export interface DispatchTickResult {
  /** Wait before the next tick, ms (policy `polling.interval_ms`). */
  nextPollMs: number;
  started: string[];
  skipped: { identifier: string; reason: string }[];
  error: string | null;
}

/** What Temporal says about an issue's latest run. */
export interface LastRun {
  state: 'running' | 'held' | 'none';
  /**
   * The run id of a latest run that completed (handed over) before the issue changed: a new run
   * is a rework round of it (docs/architecture.md, "Sending work back"); null otherwise.
   */
  reworkOf: string | null;
}

/**
 * The issue's latest run from the visibility lists (no describe): running when the running list
 * has it (or it was started by the previous tick and has not closed since: the list may lag a
 * start by a moment); `held` when a run ended (needing a human, failed, terminated, timed out…)
 * and nobody has touched the issue since, so running it again would only repeat that ending and
 * spend tokens; a change to the issue (state, text, labels) makes it eligible again, and when that
 * run had completed (handed over), the new run reworks it. Pure.
 * @param running Identifiers the running list shows. @param recent Identifiers the previous tick started.
 * @param closed The issue's latest closed run (`latestClosedRuns`), if any.
 */
export function lastRun(
  issue: Pick<Issue, 'identifier' | 'updated_at'>,
  running: Set<string>,
  recent: Set<string>,
  closed?: ClosedRun,
): LastRun {
  if (running.has(issue.identifier)) return { state: 'running', reworkOf: null };
  if (!closed) return { state: recent.has(issue.identifier) ? 'running' : 'none', reworkOf: null };
  const updated = issue.updated_at ? Date.parse(issue.updated_at) : 0;
  if (updated <= closed.closeTime.getTime()) return { state: 'held', reworkOf: null };
  const handedOver = closed.status === 'COMPLETED' && closed.outcome === 'completed';
  return { state: 'none', reworkOf: handedOver ? closed.runId : null };
}

/** Runs one dispatch tick under the current policy. Never throws for tracker or policy trouble. */
export async function dispatchTick(deps: {
  client: Client;
  /** The deployment whose runs are read and started (src/deployment.ts). */
  deployment: Deployment;
  loaded: LoadedPolicy;
  tracker: Tracker;
  log: Logger;
  /** Identifiers the previous tick started (the visibility list may not show them yet). */
  recent?: string[];
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
  // Running = what one visibility list shows (it also covers runs whose issue is no longer a
  // candidate); each run's published memo says what reconciliation needs (no query per run). Runs
  // waiting for a human's answer run no agent and hold no slot. The latest closed runs of the
  // candidates not running come from one more list (per CLOSED_RUNS_PER_QUERY candidates), for
  // the held rule and rework (docs/architecture.md, "What the dispatcher reads").
  const stateOf = new Map(candidates.map((i) => [i.identifier, i.state]));
  const runs = await listRunningIssues(deps.client, deps.deployment);
  const waiting = await reconcile(deps, runs);
  const runningIds = new Set(runs.map((r) => r.identifier));
  const idle = candidates.filter((i) => !runningIds.has(i.identifier)).map((i) => i.identifier);
  const closed = idle.length
    ? await latestClosedRuns(deps.client, deps.deployment, idle)
    : new Map<string, ClosedRun>();
  const recent = new Set(deps.recent ?? []);
  const held: { identifier: string; reason: string }[] = [];
  const open: Issue[] = [];
  const last = candidates.map((issue) => lastRun(issue, runningIds, recent, closed.get(issue.identifier)));
  candidates.forEach((issue, i) => {
    const state = last[i]!.state;
    if (state === 'running') runningIds.add(issue.identifier);
    if (state === 'running' || waiting.has(issue.identifier)) return; // not a candidate: it has a run
    if (state === 'held')
      held.push({ identifier: issue.identifier, reason: 'its last run ended; waiting for the issue to change' });
    else open.push(issue);
  });
  // Who may start work (specs/trust.md): an untrusted author's issue waits for a trusted label.
  const gate = trustGateFor(deps.tracker, policy);
  const decisions = await Promise.all(open.map((issue) => gate.mayStart(issue)));
  const trusted = open.filter((issue, i) => {
    const d = decisions[i]!;
    if (!d.trusted) held.push({ identifier: issue.identifier, reason: d.reason });
    return d.trusted;
  });
  const running = [...runningIds]
    .filter((id) => !waiting.has(id))
    .map((identifier) => ({ identifier, state: stateOf.get(identifier) ?? '' }));

  const { selected, skipped } = selectForDispatch({
    candidates: trusted,
    running,
    activeStates: policy.tracker.active_states,
    terminalStates: policy.tracker.terminal_states,
    requiredLabels: policy.tracker.required_labels,
    maxConcurrentAgents: policy.agent.max_concurrent_agents,
    maxConcurrentAgentsByState: policy.agent.max_concurrent_agents_by_state,
  });
  const started: string[] = [];
  const reworkOf = new Map(candidates.map((issue, i) => [issue.identifier, last[i]!.reworkOf]));
  for (const issue of selected) {
    const previous = reworkOf.get(issue.identifier) ?? null;
    await startIssueRun(deps.client, deps.deployment, issue, 'dispatch', previous ? { runId: previous } : undefined);
    started.push(issue.identifier);
    deps.log.info({ issue: issue.identifier, ...(previous ? { rework_of: previous } : {}) }, 'dispatched');
  }
  return { nextPollMs, started, skipped: [...held, ...skipped], error: null };
}
