/**
 * DispatcherWorkflow: decides *what* runs. One per task queue, forever: each tick an activity
 * polls the tracker, applies eligibility, priority and concurrency (Symphony SPEC §8.2/§8.3) and
 * signal-with-starts one IssueWorkflow per selected issue. Ticks come every
 * `polling.interval_ms`, or at once on a `refresh` signal (file watch, policy reload, webhook).
 * History stays small: continue-as-new when Temporal suggests it or after a fixed number of ticks.
 */
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { dispatcherStatusQuery, refreshSignal, type DispatcherStatus } from './definitions.js';

const { dispatchTick } = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 3 },
});

/** Ticks per run before continue-as-new (each tick is ~8 history events). */
const TICKS_PER_RUN = 400;

/** Input of `DispatcherWorkflow`. */
export interface DispatcherInput {
  /** Ticks done in earlier runs (carried across continue-as-new). */
  ticks?: number;
}

/** Polls the tracker and dispatches eligible issues, forever. */
export async function DispatcherWorkflow(input: DispatcherInput = {}): Promise<void> {
  let refreshRequested = false;
  setHandler(refreshSignal, () => {
    refreshRequested = true;
  });
  let status: DispatcherStatus = { lastTickAt: null, skipped: [] };
  setHandler(dispatcherStatusQuery, () => status);

  // What the previous tick started: the next tick counts them as running even when Temporal's
  // visibility list does not show them yet (src/dispatch/tick.ts).
  let recent: string[] = [];
  for (let tick = 0; tick < TICKS_PER_RUN; tick++) {
    refreshRequested = false;
    let waitMs = 30_000;
    try {
      const result = await dispatchTick({ recent });
      recent = result.started;
      waitMs = result.nextPollMs;
      status = { lastTickAt: new Date().toISOString(), skipped: result.skipped };
    } catch {
      // The activity already retried; try again next interval rather than ending the dispatcher.
    }
    await condition(() => refreshRequested, waitMs);
    if (workflowInfo().continueAsNewSuggested) break;
  }
  await condition(allHandlersFinished);
  await continueAsNew<typeof DispatcherWorkflow>({ ticks: (input.ticks ?? 0) + TICKS_PER_RUN });
}
