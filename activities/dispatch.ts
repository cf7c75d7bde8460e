/**
 * Dispatch activities: one dispatcher tick (src/dispatch/tick.ts) under a freshly re-read policy.
 */
import { dispatchTick, type DispatchTickResult } from '../src/dispatch/tick.js';
import type { ActivityContext } from './context.js';

/** Builds the dispatch activities. */
export function createDispatchActivities(ctx: ActivityContext) {
  return {
    /** One dispatcher tick: poll, reconcile, select, start (see src/dispatch/tick.ts). */
    async dispatchTick(input: { recent?: string[] } = {}): Promise<DispatchTickResult> {
      const loaded = await ctx.deps.policyStore.reload(); // defensive re-read (Symphony SPEC §6.2); keeps the last good
      return dispatchTick({
        client: ctx.deps.client,
        deployment: ctx.deps.deployment,
        loaded,
        tracker: ctx.tracker(loaded),
        log: ctx.log,
        recent: input.recent ?? [],
      });
    },
  };
}

/** The dispatch activities (types only on the workflow side). */
export type DispatchActivities = ReturnType<typeof createDispatchActivities>;
