/**
 * Workspace affinity (docs/architecture.md, "Scale"): the steps on an issue's workspace run on the
 * worker that holds it, through that worker's workspace task queue. When that worker is gone (a
 * step waited past `temporal.workspace_start_timeout_ms` on its queue), the work since the last
 * push is gone with it: the run prepares the workspace again on the shared queue (another worker
 * clones it and checks out the pushed issue branch, if any, and writes the spec with the run's
 * decisions), redoes the lap of the implement loop it was in, and says so in the evidence.
 */
import { ActivityFailure, log, TimeoutFailure } from '@temporalio/workflow';
import type { Escalation } from '../../src/evidence/escalation.js';
import type { WorkspaceMove } from '../../src/evidence/render.js';
import type { HumanReply } from '../definitions.js';
import type { WorkspaceInfo } from '../../src/workspace/workspace.js';
import { issueActivities } from './activities.js';
import { describeFailure } from './failure.js';
import { logEvent } from './lifecycle.js';
import { publish } from './publish.js';
import type { Run } from './run.js';

/** A step found the worker holding the workspace gone (thrown by ./step.ts, caught by the implement loop). */
export class WorkspaceLost extends Error {
  constructor(
    /** The step that could not run, e.g. `run QA`. */
    readonly step: string,
    message: string,
  ) {
    super(message);
    this.name = 'WorkspaceLost';
  }
}

/** True when `err` is a step on a workspace queue that no worker took in time: its worker is gone. */
export function isWorkspaceLost(err: unknown): boolean {
  return (
    err instanceof ActivityFailure &&
    err.cause instanceof TimeoutFailure &&
    err.cause.timeoutType === 'SCHEDULE_TO_START'
  );
}

/** The loss `err` stands for (a WorkspaceLost, or a raw lost activity failure of step `step`), or null. */
export function workspaceLostOf(err: unknown, step = 'a step on the workspace'): WorkspaceLost | null {
  if (err instanceof WorkspaceLost) return err;
  return isWorkspaceLost(err) ? new WorkspaceLost(step, describeFailure(err)) : null;
}

/**
 * Takes `ws` as the run's workspace: the steps on it go to the workspace queue it names (a run
 * from before workspace affinity, or a workspace with no queue: the shared queue). The run's
 * WorkspaceInfo object is updated in place, so the phases holding it see the new one.
 */
export function holdWorkspace(run: Run, ws: WorkspaceInfo): WorkspaceInfo {
  const held = run.state.workspace;
  const next = held ? Object.assign(held, { queue: undefined, workerId: undefined }, ws) : ws;
  run.state.workspace = next;
  run.acts = issueActivities(run.settings, next.queue);
  return next;
}

/**
 * Re-creates the workspace after `lost`: prepared again on the shared queue (from the pushed
 * branch when there is one), the run's answered escalations written into the new spec, the move
 * recorded for the evidence. Returns the move. Failures of the prepare step escalate as any step's.
 */
export async function recreateWorkspace(
  run: Run,
  lost: WorkspaceLost,
  step: <T>(name: string, fn: () => Promise<T>) => Promise<T>,
): Promise<WorkspaceMove> {
  const { state } = run;
  const before = state.workspace;
  state.phase = 'preparing';
  publish(state);
  const ws = await step('prepare the workspace', () =>
    run.acts.prepare.prepareWorkspace({ issue: run.issue, runId: run.runId, decisions: state.escalations }),
  );
  const pushed = state.push?.pushed && state.push.commit ? state.push : null;
  const move: WorkspaceMove = {
    step: lost.step,
    lostWorker: before?.workerId ?? null,
    newWorker: ws.workerId ?? null,
    from: pushed
      ? { kind: 'pushed_branch', branch: pushed.branch, commit: pushed.commit }
      : { kind: 'base_branch', branch: ws.baseBranch, commit: ws.baseCommit || null },
    at: new Date(Date.now()).toISOString(),
  };
  holdWorkspace(run, ws);
  (state.workspaceMoves ??= []).push(move);
  logEvent(run, 'workspace re-created', {
    step: move.step,
    lost_worker: move.lostWorker,
    worker: move.newWorker,
    from: move.from.kind,
  });
  return move;
}

/**
 * Runs `fn`, an activity on the workspace whose loss needs no redo (removing the workspace, a
 * decision the next prepare writes anyway): when the worker holding it is gone, logs that and
 * returns null.
 */
export async function unlessLost<T>(run: Run, what: string, fn: () => Promise<T>): Promise<T | null> {
  try {
    return await fn();
  } catch (err) {
    if (!isWorkspaceLost(err)) throw err;
    log.warn('the worker holding the workspace is gone; skipped', {
      issue: run.input.identifier,
      what,
      worker: run.state.workspace?.workerId ?? null,
    });
    return null;
  }
}

/**
 * Records a human's decision (`reply` to `escalation`) in the spec, on the worker holding the
 * workspace; when that worker is gone, the next prepare writes it (the run's escalation records).
 */
export async function recordDecision(run: Run, escalation: Escalation, reply: HumanReply): Promise<void> {
  await unlessLost(run, 'record the decision', () =>
    run.acts.decision.recordDecision({ workspace: run.state.workspace, escalation, reply }),
  );
}
