import { describe, expect, it } from 'vitest';
import {
  normalizeState,
  retryBackoffMs,
  selectForDispatch,
  sortForDispatch,
  type DispatchInput,
} from '../../src/dispatch/select.js';
import type { Issue } from '../../src/trackers/types.js';
import { makeIssue } from '../support/issues.js';

function input(candidates: Issue[], over: Partial<DispatchInput> = {}): DispatchInput {
  return {
    candidates,
    running: [],
    activeStates: ['Todo', 'In Progress'],
    terminalStates: ['Done', 'Cancelled'],
    requiredLabels: [],
    maxConcurrentAgents: 10,
    maxConcurrentAgentsByState: {},
    ...over,
  };
}

const ids = (issues: Issue[]) => issues.map((i) => i.identifier);
const reasonOf = (r: ReturnType<typeof selectForDispatch>, identifier: string) =>
  r.skipped.find((s) => s.identifier === identifier)?.reason;

describe('normalizeState', () => {
  it('trims and lowercases', () => {
    expect(normalizeState('  In Progress \n')).toBe('in progress');
  });
});

describe('sortForDispatch', () => {
  it('orders priority 1..4 first, other values and null after', () => {
    const sorted = sortForDispatch([
      makeIssue('A', { priority: null }),
      makeIssue('B', { priority: 0 }),
      makeIssue('C', { priority: 4 }),
      makeIssue('D', { priority: 1 }),
      makeIssue('E', { priority: 7 }),
      makeIssue('F', { priority: 2 }),
    ]);
    expect(ids(sorted).slice(0, 3)).toEqual(['D', 'F', 'C']);
    // 0, 7 and null share the last bucket, so the identifier decides among them.
    expect(ids(sorted).slice(3)).toEqual(['A', 'B', 'E']);
  });

  it('then oldest created_at first (as instants), null last, then identifier', () => {
    const sorted = sortForDispatch([
      makeIssue('Z', { created_at: null }),
      makeIssue('Y', { created_at: '2026-01-02T00:00:00Z' }),
      makeIssue('X', { created_at: '2026-01-02T00:00:00+02:00' }),
      makeIssue('B', { created_at: '2026-01-01T00:00:00Z' }),
      makeIssue('A', { created_at: '2026-01-01T00:00:00Z' }),
      makeIssue('W', { created_at: 'not a date' }),
    ]);
    expect(ids(sorted)).toEqual(['A', 'B', 'X', 'Y', 'W', 'Z']);
  });

  it('does not mutate its input', () => {
    const list = [makeIssue('B'), makeIssue('A')];
    sortForDispatch(list);
    expect(ids(list)).toEqual(['B', 'A']);
  });
});

describe('selectForDispatch eligibility', () => {
  it('selects eligible issues in dispatch order', () => {
    const r = selectForDispatch(
      input([makeIssue('B', { priority: 3 }), makeIssue('A', { priority: 1 }), makeIssue('C')]),
    );
    expect(ids(r.selected)).toEqual(['A', 'B', 'C']);
    expect(r.skipped).toEqual([]);
  });

  it('skips issues missing id, identifier, title or state', () => {
    const r = selectForDispatch(
      input([
        makeIssue('A', { id: '' }),
        makeIssue('B', { title: '  ' }),
        makeIssue('C', { state: '' }),
        makeIssue('', {}),
        makeIssue('E'),
      ]),
    );
    expect(ids(r.selected)).toEqual(['E']);
    expect(r.skipped.filter((s) => s.reason === 'missing_fields')).toHaveLength(4);
  });

  it('requires an active, non-terminal state, compared trimmed and lowercased', () => {
    const r = selectForDispatch(
      input(
        [makeIssue('A', { state: ' todo ' }), makeIssue('B', { state: 'Backlog' }), makeIssue('C', { state: 'DONE' })],
        {
          activeStates: ['Todo', 'Done'],
        },
      ),
    );
    expect(ids(r.selected)).toEqual(['A']);
    expect(reasonOf(r, 'B')).toBe('inactive_state');
    expect(reasonOf(r, 'C')).toBe('terminal_state');
  });

  it('requires dispatchable', () => {
    const r = selectForDispatch(input([makeIssue('A', { dispatchable: false })]));
    expect(reasonOf(r, 'A')).toBe('not_dispatchable');
  });

  it('requires every label, case-insensitive and trimmed', () => {
    const r = selectForDispatch(
      input(
        [
          makeIssue('A', { labels: ['agent', 'backend'] }),
          makeIssue('B', { labels: ['agent'] }),
          makeIssue('C', { labels: ['AGENT ', 'Backend'] }),
        ],
        {
          requiredLabels: [' Agent', 'backend'],
        },
      ),
    );
    expect(ids(r.selected)).toEqual(['A', 'C']);
    expect(reasonOf(r, 'B')).toBe('missing_required_label');
  });

  it('a blank required label matches nothing', () => {
    const r = selectForDispatch(input([makeIssue('A', { labels: ['', 'agent'] })], { requiredLabels: [' '] }));
    expect(r.selected).toEqual([]);
    expect(reasonOf(r, 'A')).toBe('missing_required_label');
  });

  it('skips issues already running and duplicates', () => {
    const r = selectForDispatch(
      input([makeIssue('A'), makeIssue('B'), makeIssue('B')], { running: [{ identifier: 'A', state: 'Todo' }] }),
    );
    expect(ids(r.selected)).toEqual(['B']);
    expect(reasonOf(r, 'A')).toBe('already_running');
    expect(r.skipped).toContainEqual({ identifier: 'B', reason: 'duplicate' });
  });

  it('holds a Todo issue while a blocker is not terminal or unknown', () => {
    const r = selectForDispatch(
      input([
        makeIssue('A', {
          blocked_by: [
            { id: '1', identifier: 'X-1', state: 'Done' },
            { id: '2', identifier: 'X-2', state: ' cancelled' },
          ],
        }),
        makeIssue('B', { blocked_by: [{ id: '1', identifier: 'X-1', state: 'In Progress' }] }),
        makeIssue('C', { blocked_by: [{ id: null, identifier: 'X-9', state: null }] }),
        makeIssue('D', { state: 'In Progress', blocked_by: [{ id: '1', identifier: 'X-1', state: 'In Progress' }] }),
      ]),
    );
    expect(ids(r.selected)).toEqual(['A', 'D']);
    expect(reasonOf(r, 'B')).toBe('blocked');
    expect(reasonOf(r, 'C')).toBe('blocked');
  });
});

describe('selectForDispatch concurrency', () => {
  it('fills only the free global slots, in order', () => {
    const r = selectForDispatch(
      input([makeIssue('C'), makeIssue('A', { priority: 1 }), makeIssue('B', { priority: 2 }), makeIssue('D')], {
        maxConcurrentAgents: 3,
        running: [{ identifier: 'R', state: 'In Progress' }],
      }),
    );
    expect(ids(r.selected)).toEqual(['A', 'B']);
    expect(r.skipped).toEqual([
      { identifier: 'C', reason: 'no_global_slot' },
      { identifier: 'D', reason: 'no_global_slot' },
    ]);
  });

  it('never has negative slots when more run than allowed', () => {
    const r = selectForDispatch(
      input([makeIssue('A')], {
        maxConcurrentAgents: 1,
        running: [
          { identifier: 'R1', state: 'Todo' },
          { identifier: 'R2', state: 'Todo' },
        ],
      }),
    );
    expect(r.selected).toEqual([]);
    expect(reasonOf(r, 'A')).toBe('no_global_slot');
  });

  it('applies per-state caps over running plus selected, keys normalized', () => {
    const r = selectForDispatch(
      input(
        [
          makeIssue('T1', { priority: 1 }),
          makeIssue('T2', { priority: 2 }),
          makeIssue('T3', { priority: 3 }),
          makeIssue('P1', { state: 'In Progress', priority: 4 }),
          makeIssue('P2', { state: 'in progress' }),
        ],
        {
          maxConcurrentAgents: 10,
          maxConcurrentAgentsByState: { ' TODO ': 2, 'In Progress': 1 },
          running: [{ identifier: 'R', state: 'Todo' }],
        },
      ),
    );
    expect(ids(r.selected)).toEqual(['T1', 'P1']);
    expect(reasonOf(r, 'T2')).toBe('no_state_slot');
    expect(reasonOf(r, 'T3')).toBe('no_state_slot');
    expect(reasonOf(r, 'P2')).toBe('no_state_slot');
  });

  it('a state without its own cap uses the global cap', () => {
    const r = selectForDispatch(
      input([makeIssue('A'), makeIssue('B'), makeIssue('C')], {
        maxConcurrentAgents: 2,
        maxConcurrentAgentsByState: { 'in progress': 5 },
      }),
    );
    expect(ids(r.selected)).toEqual(['A', 'B']);
  });

  it('a later issue in another state may use a slot after a per-state skip', () => {
    const r = selectForDispatch(
      input(
        [
          makeIssue('A', { priority: 1 }),
          makeIssue('B', { priority: 2 }),
          makeIssue('C', { state: 'In Progress', priority: 3 }),
        ],
        {
          maxConcurrentAgents: 2,
          maxConcurrentAgentsByState: { todo: 1 },
        },
      ),
    );
    expect(ids(r.selected)).toEqual(['A', 'C']);
    expect(reasonOf(r, 'B')).toBe('no_state_slot');
  });
});

describe('retryBackoffMs', () => {
  it('doubles from 10 s and stops at the cap', () => {
    expect([1, 2, 3, 4, 5].map((a) => retryBackoffMs(a, 300_000))).toEqual([10_000, 20_000, 40_000, 80_000, 160_000]);
    expect(retryBackoffMs(6, 300_000)).toBe(300_000);
    expect(retryBackoffMs(2000, 300_000)).toBe(300_000);
    expect(retryBackoffMs(1, 5_000)).toBe(5_000);
  });

  it('treats attempts below 1 as 1', () => {
    expect(retryBackoffMs(0, 300_000)).toBe(10_000);
    expect(retryBackoffMs(-3, 300_000)).toBe(10_000);
  });
});
