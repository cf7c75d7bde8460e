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
import { findIssueRun, listRunningIssues, startIssueRun } from './runs.js';
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
interface LastRun {
  state: 'running' | 'held' | 'none';
  /**
   * The run id of a latest run that completed (handed over) before the issue changed: a new run
   * is a rework round of it (docs/architecture.md, "Sending work back"); null otherwise.
   */
  reworkOf: string | null;
}

/**
 * Describes the issue's latest run (strongly consistent, unlike the visibility list, which may lag
 * a start by a moment). `held`: a run ended (needing a human, failed, terminated, timed out…) and
 * nobody has touched the issue since, so running it again would only repeat that ending and spend
 * tokens; a change to the issue (state, text, labels) makes it eligible again, and when that run
 * had completed (handed over), the new run reworks it.
 */
async function lastRun(client: Client, deployment: Deployment, issue: Issue): Promise<LastRun> {
  const none: LastRun = { state: 'none', reworkOf: null };
  let d;
  try {
    d = (await findIssueRun(client, deployment, issue.identifier))?.description;
  } catch {
    return none; // unreadable
  }
  if (!d) return none; // never ran
  if (d.status.name === 'RUNNING') return { state: 'running', reworkOf: null };
  if (!d.closeTime) return none;
  const updated = issue.updated_at ? Date.parse(issue.updated_at) : 0;
  if (updated <= d.closeTime.getTime()) return { state: 'held', reworkOf: null };
  const handedOver = d.status.name === 'COMPLETED' && d.memo?.outcome === 'completed';
  return { state: 'none', reworkOf: handedOver ? d.runId : null };
}

/** Runs one dispatch tick under the current policy. Never throws for tracker or policy trouble. */
export async function dispatchTick(deps: {
  client: Client;
  /** The deployment whose runs are read and started (src/deployment.ts). */
  deployment: Deployment;
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
  const runs = await listRunningIssues(deps.client, deps.deployment);
  const waiting = await reconcile(deps, runs);
  const runningIds = new Set(runs.map((r) => r.identifier));
  const held: { identifier: string; reason: string }[] = [];
  const open: Issue[] = [];
  const last = await Promise.all(candidates.map((issue) => lastRun(deps.client, deps.deployment, issue)));
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
