/**
 * Nudging the dispatcher: asks a task queue's DispatcherWorkflow to poll now. Used by the daemon
 * (start, tracker watch, policy reload, `POST /api/v1/refresh`), the webhook router and every
 * schedule tick (the `nudgeDispatcher` activity).
 */
import { WorkflowIdConflictPolicy, type Client } from '@temporalio/client';
import type { Logger } from '../logger.js';
import type { NudgeDispatcherInput } from '../schedules/types.js';
import { DISPATCHER_WORKFLOW_TYPE, dispatcherWorkflowId, refreshSignal } from '../../workflows/definitions.js';

/**
 * Asks the task queue's DispatcherWorkflow to poll now: a `refresh` signal-with-start (conflict
 * policy USE_EXISTING), so a dispatcher that is not running (failed, terminated, never started)
 * is started. Same call as the daemon's `refresh`.
 */
export async function nudgeDispatcher(client: Client, input: NudgeDispatcherInput): Promise<void> {
  await client.workflow.signalWithStart(DISPATCHER_WORKFLOW_TYPE, {
    workflowId: dispatcherWorkflowId(input.taskQueue),
    taskQueue: input.taskQueue,
    args: [{}],
    signal: refreshSignal,
    signalArgs: [{ reason: input.reason }],
    workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
  });
}

/**
 * The daemon's `refresh(reason)`: `nudgeDispatcher` on `taskQueue` that never throws; a failure
 * (Temporal unreachable) is logged at warn and the dispatcher's own timer catches up.
 */
export function createDispatcherRefresh(
  client: Client,
  taskQueue: string,
  log: Pick<Logger, 'warn'>,
): (reason: string) => Promise<void> {
  return async (reason) => {
    try {
      await nudgeDispatcher(client, { taskQueue, reason });
    } catch (err) {
      log.warn({ err: (err as Error).message, reason }, 'could not signal the dispatcher');
    }
  };
}
