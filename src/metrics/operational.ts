/**
 * Operational metrics a process observes as it works, for Prometheus (`/metrics`, specs/metrics.md
 * "Operational"): activity failures (from the activity interceptor) and model calls (latency and
 * tokens, from the model gateway that every backend calls through, src/gateway/). Counters
 * of this process since it started, as Prometheus expects: the Level-5 metrics, which must survive
 * restarts, come from the run ledger instead (./level5.ts).
 */
import { Counter, Histogram, Registry } from 'prom-client';
import type { TokenUsage } from '../agents/usage.js';

/** The registry of this process's operational metrics (merged into every `/metrics` answer). */
export const operationalRegistry = new Registry();

const activityFailures = new Counter({
  name: 'foreman_activity_failures_total',
  help: 'Failed activity attempts in this worker, by activity and error code (other: not a Foreman error; cancelled).',
  labelNames: ['activity', 'code'] as const,
  registers: [operationalRegistry],
});

const modelLatency = new Histogram({
  name: 'foreman_model_call_duration_seconds',
  help: 'Duration of model calls (request sent to response complete, SDK retries included), by role, model and outcome.',
  labelNames: ['role', 'model', 'outcome'] as const,
  buckets: [0.25, 0.5, 1, 2, 5, 10, 20, 40, 80, 160, 320],
  registers: [operationalRegistry],
});

const modelTokens = new Counter({
  name: 'foreman_model_tokens_total',
  help: 'Tokens of model calls by role, model and kind (input, output, cache_creation_input, cache_read_input).',
  labelNames: ['role', 'model', 'kind'] as const,
  registers: [operationalRegistry],
});

/** One model call as a meter saw it. */
export interface ModelCallObservation {
  /** The agent role (`implementer`, `reviewer`, `qa`) or another caller's name. */
  role: string;
  model: string;
  /** Wall time of the call, ms. */
  durationMs: number;
  /** `ok`: a response came; `error`: the call failed (after the SDK's retries). */
  outcome: 'ok' | 'error';
  /** The call's usage in tokens; null when it failed. */
  usage: TokenUsage | null;
}

/**
 * Records one model call: its latency in `foreman_model_call_duration_seconds` and its tokens in
 * `foreman_model_tokens_total`. Called by the model gateway (src/gateway/) after each call of any
 * backend (one meter per call). Never throws.
 */
export function observeModelCall(o: ModelCallObservation): void {
  const labels = { role: o.role, model: o.model };
  modelLatency.observe({ ...labels, outcome: o.outcome }, Math.max(0, o.durationMs) / 1000);
  if (!o.usage) return;
  modelTokens.inc({ ...labels, kind: 'input' }, o.usage.input_tokens);
  modelTokens.inc({ ...labels, kind: 'output' }, o.usage.output_tokens);
  modelTokens.inc({ ...labels, kind: 'cache_creation_input' }, o.usage.cache_creation_input_tokens);
  modelTokens.inc({ ...labels, kind: 'cache_read_input' }, o.usage.cache_read_input_tokens);
}

/**
 * Counts one failed activity attempt in `foreman_activity_failures_total`: `code` is the Foreman
 * error's stable code (specs/error-codes.md), `cancelled`, or `other`. Never throws.
 */
export function observeActivityFailure(activity: string, code: string): void {
  activityFailures.inc({ activity, code });
}
