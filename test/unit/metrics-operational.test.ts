/**
 * The operational metrics' sources (specs/metrics.md, "Operational metrics"): the activity
 * interceptor counts each failed attempt by activity and code, and `observeModelCall` meters
 * latency and tokens.
 */
import type { Context } from '@temporalio/activity';
import { CancelledFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { failureInterceptor } from '../../activities/interceptor.js';
import { TrackerError } from '../../src/errors.js';
import { observeModelCall, operationalRegistry } from '../../src/metrics/operational.js';

/** The value of series `series` (default: `name`) of metric `name` with `labels`. */
async function sample(name: string, labels: Record<string, string>, series = name): Promise<number | undefined> {
  const metric = (await operationalRegistry.getMetricsAsJSON()).find((m) => m.name === name);
  const values = (metric?.values ?? []) as {
    labels: Record<string, string | number>;
    value: number;
    metricName?: string;
  }[];
  return values.find(
    (v) =>
      (v.metricName ?? name) === series && Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want),
  )?.value;
}

describe('activity failures', () => {
  it('counts every failed attempt by activity and error code, and passes the failure on', async () => {
    const interceptors = failureInterceptor({ info: { activityType: 'fetchThings' } } as Context);
    const execute = interceptors.inbound!.execute!;
    const fail = (err: unknown) => execute({ args: [], headers: {} }, async () => Promise.reject(err));
    await expect(fail(new TrackerError('tracker_rate_limited', 'slow down'))).rejects.toMatchObject({
      type: 'TrackerError',
    });
    await expect(fail(new TrackerError('tracker_rate_limited', 'slow down'))).rejects.toBeDefined();
    await expect(fail(new Error('boom'))).rejects.toThrow('boom');
    await expect(fail(new CancelledFailure('cancelled'))).rejects.toBeDefined();
    await expect(execute({ args: [], headers: {} }, async () => 'ok')).resolves.toBe('ok');
    const count = (code: string) => sample('foreman_activity_failures_total', { activity: 'fetchThings', code });
    expect(await count('tracker_rate_limited')).toBe(2);
    expect(await count('other')).toBe(1);
    expect(await count('cancelled')).toBe(1);
  });
});

describe('model calls', () => {
  it('observes latency per outcome and tokens per kind; a failed call has no tokens', async () => {
    const labels = { role: 'reviewer', model: 'op-test-model' };
    const usage = { input_tokens: 7, output_tokens: 3, cache_creation_input_tokens: 2, cache_read_input_tokens: 11 };
    observeModelCall({ ...labels, durationMs: 2500, outcome: 'ok', usage });
    observeModelCall({ ...labels, durationMs: 300, outcome: 'error', usage: null });
    const hist = 'foreman_model_call_duration_seconds';
    expect(await sample(hist, { ...labels, outcome: 'ok' }, `${hist}_count`)).toBe(1);
    expect(await sample(hist, { ...labels, outcome: 'ok' }, `${hist}_sum`)).toBe(2.5);
    expect(await sample(hist, { ...labels, outcome: 'error' }, `${hist}_count`)).toBe(1);
    const tokens = (kind: string) => sample('foreman_model_tokens_total', { ...labels, kind });
    expect([await tokens('input'), await tokens('output')]).toEqual([7, 3]);
    expect([await tokens('cache_creation_input'), await tokens('cache_read_input')]).toEqual([2, 11]);
  });
});
