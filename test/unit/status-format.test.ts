/** `foreman status` shows a run that rides out an outage as retrying, with the next attempt, and the latest rate limits. */
import { describe, expect, it } from 'vitest';
import { rateLimitsFromHeaders } from '../../src/agents/rate-limits.js';
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
  rate_limits: null,
  waiting: null,
  ignored_comments: [],
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
      skipped: [],
      totals: { input_tokens: 10, output_tokens: 5, total_tokens: 15 },
      rate_limits: null,
    });
    expect(text).not.toContain('rate limits');
    expect(text).toContain('implementing (retrying)');
    expect(text).toContain('ModelError [model_overloaded]: overloaded; attempt 3 at 2026-12-02T10:05:04.000Z');
  });

  it('lists comments ignored under the waiting issue and issues not started for an untrusted author (specs/trust.md)', () => {
    const text = formatState({
      generated_at: '2026-12-02T10:05:00.000Z',
      task_queue: 'foreman',
      deployment: null,
      counts: { running: 1, waiting_for_human: 1, closed_recently: 0 },
      running: [
        run({
          phase: 'waiting_for_human',
          waiting: {
            question: 'May I change .github/workflows/ci.yml?',
            kind: 'protected_paths',
            asked_at: '2026-12-02T10:00:00.000Z',
            age_ms: 60_000,
            reminded: false,
            parked: false,
          },
          ignored_comments: [{ comment_id: '7', author: 'mallory', reason: 'not trusted' }],
        }),
      ],
      recent: [],
      rate_limits: null,
      skipped: [
        {
          issue_identifier: 'app-9',
          reason: 'author mallory is not trusted; a trusted person must apply the label "foreman"',
        },
        { issue_identifier: 'app-10', reason: 'no_global_slot' },
      ],
      totals: { input_tokens: 10, output_tokens: 5, total_tokens: 15 },
    });
    expect(text).toContain('    ignored a comment from mallory: not trusted');
    expect(text).toContain(
      'Not started:\n  app-9  author mallory is not trusted; a trusted person must apply the label "foreman"',
    );
    expect(text).not.toContain('app-10');
  });
});

describe('rate limits', () => {
  const at = '2026-12-02T10:05:00.000Z';
  it('reads the Anthropic rate-limit headers and retry-after; malformed values are null', () => {
    const h = new Headers({
      'anthropic-ratelimit-requests-limit': '50',
      'anthropic-ratelimit-requests-remaining': '49',
      'anthropic-ratelimit-requests-reset': '2026-12-02T10:06:00Z',
      'anthropic-ratelimit-tokens-limit': '40000',
      'anthropic-ratelimit-tokens-remaining': 'lots',
      'anthropic-ratelimit-input-tokens-remaining': '30000',
      'retry-after': '7',
    });
    expect(rateLimitsFromHeaders(h, 429, at)).toEqual({
      requests_limit: 50,
      requests_remaining: 49,
      requests_reset: '2026-12-02T10:06:00.000Z',
      tokens_limit: 40000,
      tokens_remaining: null,
      tokens_reset: null,
      input_tokens_remaining: 30000,
      output_tokens_remaining: null,
      retry_after_s: 7,
      status: 429,
      observed_at: at,
    });
    expect(rateLimitsFromHeaders(new Headers({ 'content-type': 'application/json' }), 200, at)).toBeNull();
  });

  it('foreman status prints the latest snapshot', () => {
    const limits = rateLimitsFromHeaders(
      new Headers({ 'anthropic-ratelimit-requests-limit': '50', 'anthropic-ratelimit-requests-remaining': '49' }),
      200,
      at,
    );
    const text = formatState({
      generated_at: at,
      task_queue: 'foreman',
      deployment: null,
      counts: { running: 1, waiting_for_human: 0, closed_recently: 0 },
      running: [run({ rate_limits: limits })],
      recent: [],
      totals: { input_tokens: 10, output_tokens: 5, total_tokens: 15 },
      rate_limits: limits,
      skipped: [],
    });
    expect(text).toContain(`Model rate limits (HTTP 200 at ${at}): requests 49/50 left`);
  });
});
