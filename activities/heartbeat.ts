/**
 * Heartbeats for long activities: a timer heartbeats while the work runs, so a dead worker is
 * noticed within the heartbeat timeout and a cancellation reaches the activity (Temporal delivers
 * cancellation only to activities that heartbeat).
 */
import { Context } from '@temporalio/activity';

/**
 * Heartbeat interval, ms: well inside the workflows' 30 s heartbeat timeouts, and short because a
 * stop reaches a running activity only with a heartbeat's response (the worker sends them at most
 * every `maxHeartbeatThrottleInterval`, src/temporal/worker.ts).
 */
export const HEARTBEAT_EVERY_MS = 1_000;

/**
 * Runs `work` with the activity's cancellation signal, heartbeating every `HEARTBEAT_EVERY_MS`
 * (with `details()` as heartbeat details, if given) until it settles.
 */
export async function withHeartbeat<R>(work: (signal: AbortSignal) => Promise<R>, details?: () => unknown): Promise<R> {
  const ctx = Context.current();
  ctx.heartbeat(details?.());
  const timer = setInterval(() => ctx.heartbeat(details?.()), HEARTBEAT_EVERY_MS);
  try {
    return await work(ctx.cancellationSignal);
  } finally {
    clearInterval(timer);
  }
}
