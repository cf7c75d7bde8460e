/** `foreman status` shows a run that rides out an outage as retrying, with the next attempt. */
import { describe, expect, it } from 'vitest';
import { formatState, type RunningIssue } from '../../src/status.js';

const run = (over: Partial<RunningIssue>): RunningIssue => ({
  issue_id: 'DEMO-1',
  issue_identifier: 'DEMO-1',
  workflow_id: 'foreman-issue-DEMO-1',
  run_id: 'r1',
  phase: 'implementing',
  round: 1,
  turn_count: 3,
  started_at: '2026-12-02T10:00:00.000Z',
  last_error: null,
  retrying: null,
  workspace: null,
  branch: null,
  tokens: { input_tokens: 10, output_tokens: 5, total_tokens: 15 },
  waiting: null,
  ...over,
});

describe('formatState', () => {
  it('marks a retrying run and says when the next attempt is', () => {
    const text = formatState({
      generated_at: '2026-12-02T10:05:00.000Z',
      task_queue: 'foreman',
      deployment: null,
      counts: { running: 1, waiting_for_human: 0, closed_recently: 0 },
      running: [
        run({
          retrying: {
            step: 'run the implementer',
            attempt: 2,
            error: 'ModelError [model_overloaded]: overloaded',
            next_attempt_at: '2026-12-02T10:05:04.000Z',
          },
        }),
      ],
      recent: [],
      totals: { input_tokens: 10, output_tokens: 5, total_tokens: 15 },
    });
    expect(text).toContain('implementing (retrying)');
    expect(text).toContain('ModelError [model_overloaded]: overloaded; attempt 3 at 2026-12-02T10:05:04.000Z');
  });
});
