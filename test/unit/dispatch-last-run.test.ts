/**
 * The dispatcher's reading of an issue's latest run from the visibility lists (src/dispatch/tick.ts
 * `lastRun`): running, a start the list does not show yet, held until the issue changes, and a
 * rework of a run that handed over.
 */
import { describe, expect, it } from 'vitest';
import { lastRun } from '../../src/dispatch/tick.js';
import type { ClosedRun } from '../../src/dispatch/runs.js';

const closedAt = new Date('2026-12-01T10:00:00Z');
const closed = (over: Partial<ClosedRun> = {}): ClosedRun => ({
  workflowId: 'foreman-k-issue-A-1',
  runId: 'run-1',
  status: 'COMPLETED',
  closeTime: closedAt,
  outcome: 'completed',
  ...over,
});
const issue = (updated_at: string | null) => ({ identifier: 'A-1', updated_at });
const none = new Set<string>();

describe('lastRun', () => {
  it('is running when the running list shows it, whatever closed before', () => {
    expect(lastRun(issue(null), new Set(['A-1']), none, closed())).toEqual({ state: 'running', reworkOf: null });
  });

  it('counts a start of the previous tick as running while no list shows it', () => {
    expect(lastRun(issue(null), none, new Set(['A-1']))).toEqual({ state: 'running', reworkOf: null });
    expect(lastRun(issue(null), none, none)).toEqual({ state: 'none', reworkOf: null });
  });

  it('holds an issue whose run ended and that nobody touched since (or that has no update time)', () => {
    for (const status of ['FAILED', 'TERMINATED', 'TIMED_OUT', 'COMPLETED']) {
      expect(lastRun(issue('2026-12-01T09:00:00Z'), none, none, closed({ status }))).toEqual({
        state: 'held',
        reworkOf: null,
      });
    }
    expect(lastRun(issue(null), none, none, closed())).toEqual({ state: 'held', reworkOf: null });
    expect(lastRun(issue(closedAt.toISOString()), none, none, closed())).toEqual({ state: 'held', reworkOf: null });
  });

  it('frees an issue changed after its run ended; a run that handed over is reworked', () => {
    const later = issue('2026-12-01T11:00:00Z');
    expect(lastRun(later, none, none, closed())).toEqual({ state: 'none', reworkOf: 'run-1' });
    expect(lastRun(later, none, none, closed({ outcome: 'stopped' }))).toEqual({ state: 'none', reworkOf: null });
    expect(lastRun(later, none, none, closed({ status: 'FAILED', outcome: null }))).toEqual({
      state: 'none',
      reworkOf: null,
    });
  });
});
