/**
 * What a run publishes for the list views (workflows/issue/publish.ts `viewOf`) and how the list
 * views read it back (src/status/running.ts `reportOfMemo`, `runningRow`; docs/architecture.md,
 * "Scale"): texts are cut and lists bounded so a hostile question cannot bloat the memo; a memo that
 * is missing or malformed is not trusted (the run is asked with its status query instead).
 */
import { describe, expect, it } from 'vitest';
import { MAX_PUBLISHED_OPTIONS, MAX_PUBLISHED_TEXT, publishedOf, viewOf } from '../../workflows/issue/publish.js';
import { initialState, type RunState } from '../../workflows/issue/state.js';
import { PUBLISHED_MEMO_KEY, RUN_VIEW_MEMO_KEY } from '../../workflows/definitions.js';
import { reportOfMemo, runningRow } from '../../src/status/running.js';

const T0 = Date.parse('2026-12-04T10:00:00.000Z');

function waitingState(question: string, options: string[]): RunState {
  const state = initialState(T0);
  state.phase = 'waiting_for_human';
  state.round = 2;
  state.turns = 7;
  state.usage.input_tokens = 100;
  state.usage.output_tokens = 20;
  state.usage.cache_read_input_tokens = 30;
  state.costUsd = 0.25;
  state.shown = { title: 'Fix add()', repingMs: 3_600_000, parkMs: 86_400_000, parkedState: 'Parked' };
  state.openEscalation = {
    n: 1,
    kind: 'agent_question',
    question,
    options,
    recommendation: options[0] ?? null,
    tried: 'read add.js',
    askedAt: '2026-12-04T10:05:00.000Z',
    reminded: false,
    parked: false,
  };
  state.lastEvent = { event: 'escalation asked', at: '2026-12-04T10:05:00.000Z', message: question.slice(0, 200) };
  return state;
}

/** The memo the run leaves: what `publish` and `publishView` upsert, as JSON. */
const memoOf = (state: RunState) =>
  JSON.parse(
    JSON.stringify({
      identifier: 'DEMO-1',
      issueId: 'id-1',
      [PUBLISHED_MEMO_KEY]: publishedOf(state),
      [RUN_VIEW_MEMO_KEY]: viewOf(state),
    }),
  ) as Record<string, unknown>;

describe('the published view', () => {
  it('is read back as the running row the status query would give, without a query', () => {
    const memo = memoOf(waitingState('Numbers only?', ['numbers only', 'coerce strings']));
    const report = reportOfMemo(memo)!;
    const row = runningRow(
      { workflowId: 'wf', runId: 'r1', memo, startTime: new Date(T0) },
      report,
      [],
      Date.parse('2026-12-04T10:15:00.000Z'),
    );
    expect(row).toMatchObject({
      issue_id: 'id-1',
      issue_identifier: 'DEMO-1',
      title: 'Fix add()',
      status: 'waiting_for_human',
      phase: 'waiting_for_human',
      round: 2,
      turn_count: 7,
      tokens: { input_tokens: 130, output_tokens: 20, total_tokens: 150 },
      cost_usd: 0.25,
      started_at: '2026-12-04T10:00:00.000Z',
      last_event: 'escalation asked',
      waiting: {
        question: 'Numbers only?',
        n: 1,
        options: [
          { number: 1, label: 'numbers only', command: null },
          { number: 2, label: 'coerce strings', command: null },
        ],
        recommendation: 'numbers only',
        age_ms: 600_000,
        rule: { reping_ms: 3_600_000, park_ms: 86_400_000, parked_state: 'Parked' },
      },
    });
  });

  it('cuts a huge question, its options and recommendation, and lists at most MAX_PUBLISHED_OPTIONS options', () => {
    const long = 'x'.repeat(100_000);
    const view = viewOf(
      waitingState(
        long,
        Array.from({ length: 50 }, (_, i) => `${i}${long}`),
      ),
    );
    expect(view.question!.question).toHaveLength(MAX_PUBLISHED_TEXT);
    expect(view.question!.question.endsWith('…')).toBe(true);
    expect(view.question!.options).toHaveLength(MAX_PUBLISHED_OPTIONS);
    for (const o of view.question!.options) expect(o.label.length).toBeLessThanOrEqual(MAX_PUBLISHED_TEXT);
    expect(view.question!.recommendation!.length).toBe(MAX_PUBLISHED_TEXT);
    expect(JSON.stringify(view).length).toBeLessThan(16 * MAX_PUBLISHED_TEXT);
  });

  it('shows no question once the run no longer waits, even if the view still holds one', () => {
    const state = waitingState('Numbers only?', ['a', 'b']);
    const view = viewOf(state);
    state.phase = 'implementing';
    state.openEscalation = null;
    const memo = { ...memoOf(state), [RUN_VIEW_MEMO_KEY]: JSON.parse(JSON.stringify(view)) };
    const report = reportOfMemo(memo)!;
    expect(report.escalation).toBeNull();
    expect(runningRow({ workflowId: 'wf', runId: 'r1', memo, startTime: new Date(T0) }, report, [], T0).status).toBe(
      'running',
    );
  });

  it('is not trusted when missing or malformed: the run is then asked with its status query', () => {
    const memo = memoOf(waitingState('q', ['a']));
    expect(reportOfMemo(undefined)).toBeNull();
    expect(reportOfMemo({ ...memo, [RUN_VIEW_MEMO_KEY]: undefined })).toBeNull();
    expect(reportOfMemo({ ...memo, [PUBLISHED_MEMO_KEY]: undefined })).toBeNull();
    expect(reportOfMemo({ ...memo, [RUN_VIEW_MEMO_KEY]: 'view' })).toBeNull();
    expect(reportOfMemo({ ...memo, [RUN_VIEW_MEMO_KEY]: { startedAt: 5 } })).toBeNull();
  });
});
