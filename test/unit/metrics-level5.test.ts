/**
 * The Level-5 metrics (specs/metrics.md) on fixture ledger records: each computation, the daily
 * cohorts, and the cases where a metric is undefined (null).
 */
import { describe, expect, it } from 'vitest';
import {
  acceptedAt,
  computeMetrics,
  metricValues,
  METRIC_DEFINITIONS,
  METRIC_NAMES,
  workingMs,
} from '../../src/metrics/level5.js';
import type { RunRecord } from '../../src/metrics/record.js';

const T0 = Date.parse('2026-12-01T10:00:00.000Z');
const at = (min: number) => new Date(T0 + min * 60_000).toISOString();

/** A record: started at minute 0, handed over at minute 60, no PR, completed. */
function rec(over: Partial<RunRecord> = {}): RunRecord {
  return {
    version: 1,
    taskQueue: 'q',
    workflowId: 'foreman-k-issue-A-1',
    runId: `run-${Math.random().toString(16).slice(2)}`,
    identifier: 'A-1',
    issueId: 'A-1',
    checkpoint: 'ended',
    updatedAt: at(60),
    startedAt: at(0),
    endedAt: at(60),
    outcome: 'completed',
    handOvers: [at(60)],
    prState: null,
    prClosedAt: null,
    escalations: [],
    reworkRounds: 0,
    reworkOf: null,
    reviewSendBacks: 0,
    toolCalls: 10,
    turns: 5,
    tokens: 1000,
    costUsd: 0.5,
    ...over,
  };
}
const answered = (askedMin: number, answeredMin: number, human = true) => ({
  kind: 'agent_question',
  askedAt: at(askedMin),
  answeredAt: at(answeredMin),
  human,
});

describe('acceptance and working time', () => {
  it('accepts a merged pull request at its merge, a completed run without one at its end, nothing else', () => {
    expect(acceptedAt(rec({ prState: 'merged', prClosedAt: at(90), outcome: 'completed', endedAt: at(90) }))).toBe(
      T0 + 90 * 60_000,
    );
    expect(acceptedAt(rec())).toBe(T0 + 60 * 60_000);
    expect(acceptedAt(rec({ prState: 'open', outcome: null, endedAt: null }))).toBeNull();
    expect(acceptedAt(rec({ prState: 'closed', prClosedAt: at(90), outcome: 'stopped' }))).toBeNull();
    expect(acceptedAt(rec({ outcome: 'stopped' }))).toBeNull();
  });

  it('counts working time from start to first hand-over minus the time questions waited', () => {
    // 60 min to hand-over, a question open from minute 10 to 40: 30 min of work.
    expect(workingMs(rec({ escalations: [answered(10, 40)] }))).toBe(30 * 60_000);
    // A question still open at the latest record counts as waiting until then.
    const open = rec({ handOvers: [], endedAt: null, outcome: null, updatedAt: at(50) });
    open.escalations = [{ kind: 'budget', askedAt: at(20), answeredAt: null, human: false }];
    expect(workingMs(open)).toBe(20 * 60_000);
    // After a rework round, only the time up to the first hand-over counts.
    expect(workingMs(rec({ handOvers: [at(60), at(200)] }))).toBe(60 * 60_000);
  });
});

describe('metricValues', () => {
  it('computes every metric on a mixed set of runs', () => {
    const a = rec({ identifier: 'A-1', toolCalls: 10, tokens: 1000, costUsd: 0.5 }); // accepted, unattended 60 min
    const b = rec({
      identifier: 'B-1',
      escalations: [answered(10, 40), answered(45, 50, false)], // one human answer, one by the probe
      toolCalls: 20,
      tokens: 3000,
      costUsd: 1.5,
      prState: 'merged',
      handOvers: [at(60), at(100)],
      prClosedAt: at(130),
      endedAt: at(130),
      reworkRounds: 1,
    });
    const c = rec({
      identifier: 'C-1',
      outcome: 'stopped',
      handOvers: [],
      endedAt: at(20),
      escalations: [{ kind: 'error', askedAt: at(5), answeredAt: at(10), human: true }],
      toolCalls: 6,
      tokens: 2000,
      costUsd: 1,
      reviewSendBacks: 1,
    });
    const v = metricValues([a, b, c], [a, b, c]);
    expect(v.runs).toBe(3);
    expect(v.accepted_changes).toBe(2);
    expect(v.interventions).toBe(2);
    // Working time: a 60 min; b 60 − 30 − 5 = 25 min; c 20 − 5 = 15 min → 100 min over 2 answers.
    expect(v.mean_time_between_interventions_s).toBe(3000);
    // b had a human answer before its hand-over: only a counts.
    expect(v.longest_unattended_run_s).toBe(3600);
    expect(v.escalation_rate).toBe(1); // 3 escalations / 3 runs
    expect(v.auto_approved_share).toBe(0.5); // a of {a, b}
    expect(v.escalated_share).toBe(0.5);
    // 36 tool calls / (3 issues + 2 answers + 1 rework round)
    expect(v.agent_actions_per_instruction).toBe(6);
    expect(v.review_time_s).toBe(1800); // b: last hand-over 100 → merge 130
    expect(v.rework_rate).toBe(round(2 / 3)); // b (rework round), c (reviewer sent back)
    expect(v.defect_escape_rate).toBe(0);
    expect(v.tokens_per_accepted_change).toBe(3000); // 6000 / 2
    expect(v.usd_per_accepted_change).toBe(1.5); // 3 / 2
  });

  it('counts a defect escape when an accepted issue is dispatched again after its acceptance', () => {
    const first = rec({ identifier: 'A-1' }); // accepted at minute 60
    const again = rec({
      identifier: 'A-1',
      startedAt: at(120),
      handOvers: [at(150)],
      endedAt: at(150),
      updatedAt: at(150),
    });
    const before = rec({ identifier: 'B-1' });
    const sameTime = rec({ identifier: 'B-1', startedAt: at(30) }); // started before B's acceptance: no escape
    const v = metricValues([first, before], [first, again, before, sameTime]);
    expect(v.defect_escape_rate).toBe(0.5);
  });

  it('takes work sent back after its run ended (a later run reworks it) as rework, not as accepted or escaped', () => {
    const handedOver = rec({ identifier: 'A-1' }); // completed without a pull request at minute 60
    const rework = rec({
      identifier: 'A-1',
      reworkOf: handedOver.runId,
      startedAt: at(120),
      handOvers: [at(150)],
      endedAt: at(150),
      updatedAt: at(150),
    });
    const v = metricValues([handedOver, rework], [handedOver, rework]);
    expect(acceptedAt(handedOver, new Set([handedOver.runId]))).toBeNull();
    expect(v.accepted_changes).toBe(1); // the rework run's hand-over
    expect(v.rework_rate).toBe(0.5);
    expect(v.defect_escape_rate).toBe(0);
    // 20 tool calls / (2 runs: the issue and the send-back)
    expect(v.agent_actions_per_instruction).toBe(10);
  });

  it('gives null where a metric is undefined, and an unknown price makes the USD metric null', () => {
    const none = metricValues([], []);
    for (const name of METRIC_NAMES.filter((n) => !['runs', 'accepted_changes', 'interventions'].includes(n)))
      expect(none[name], name).toBeNull();
    expect(none.runs).toBe(0);
    const unpriced = metricValues([rec({ costUsd: null }), rec()], []);
    expect(unpriced.usd_per_accepted_change).toBeNull();
    expect(unpriced.tokens_per_accepted_change).toBe(1000);
    expect(unpriced.mean_time_between_interventions_s).toBeNull(); // no interventions
    const running = metricValues([rec({ outcome: null, endedAt: null, handOvers: [] })], []);
    expect(running.accepted_changes).toBe(0);
    expect(running.tokens_per_accepted_change).toBeNull();
    expect(running.auto_approved_share).toBeNull();
  });
});

describe('computeMetrics', () => {
  it('puts each run in the UTC day it started, over the window ending today', () => {
    const now = Date.parse('2026-12-03T12:00:00.000Z');
    const day1 = rec({
      startedAt: '2026-12-01T23:30:00.000Z',
      handOvers: ['2026-12-02T00:30:00.000Z'],
      endedAt: '2026-12-02T00:30:00.000Z',
    });
    const day3 = rec({
      startedAt: '2026-12-03T08:00:00.000Z',
      handOvers: ['2026-12-03T09:00:00.000Z'],
      endedAt: '2026-12-03T09:00:00.000Z',
      tokens: 500,
    });
    const old = rec({ startedAt: '2026-11-20T08:00:00.000Z' });
    const report = computeMetrics([day1, day3, old], { now, days: 3 });
    expect(report.generated_at).toBe('2026-12-03T12:00:00.000Z');
    expect(report.window_days).toBe(3);
    expect(report.definitions).toEqual(METRIC_DEFINITIONS);
    expect(report.daily.map((d) => d.date)).toEqual(['2026-12-01', '2026-12-02', '2026-12-03']);
    expect(report.daily.map((d) => d.runs)).toEqual([1, 0, 1]);
    expect(report.daily[1]!.tokens_per_accepted_change).toBeNull();
    expect(report.daily[2]!.tokens_per_accepted_change).toBe(500);
    expect(report.current.runs).toBe(2); // the November run is outside the window
    expect(report.current.tokens_per_accepted_change).toBe(750);
  });

  it('refuses a window that is not 1 to 366 whole days', () => {
    for (const days of [0, -1, 1.5, 367, Number.NaN])
      expect(() => computeMetrics([], { now: T0, days })).toThrow(RangeError);
  });

  it('defines every metric it reports', () => {
    expect(Object.keys(METRIC_DEFINITIONS)).toEqual([...METRIC_NAMES]);
  });
});

function round(v: number) {
  return Math.round(v * 1e6) / 1e6;
}
