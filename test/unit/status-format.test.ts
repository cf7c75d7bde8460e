/** `foreman status` shows a run that rides out an outage as retrying, with the next attempt, and the latest rate limits. */
import { describe, expect, it } from 'vitest';
import { rateLimitsFromHeaders } from '../../src/agents/rate-limits.js';
import { formatState, type RunningIssue, type RunTotals, type StateSnapshot } from '../../src/status.js';

const run = (over: Partial<RunningIssue>): RunningIssue => ({
  issue_id: 'DEMO-1',
  issue_identifier: 'DEMO-1',
  issue_url: null,
  title: null,
  state: null,
  status: 'running',
  workflow_id: 'foreman-issue-DEMO-1',
  run_id: 'r1',
  temporal_url: null,
  phase: 'implementing',
  round: 1,
  session_id: null,
  turn_count: 3,
  last_event: null,
  last_message: null,
  last_event_at: null,
  last_tool: null,
  started_at: '2026-12-02T10:00:00.000Z',
  last_error: null,
  retrying: null,
  workspace: null,
  branch: null,
  pr_url: null,
  tokens: { input_tokens: 10, output_tokens: 5, total_tokens: 15 },
  cost_usd: null,
  rate_limits: null,
  current_step: null,
  qa: null,
  review: null,
  waiting: null,
  ignored_comments: [],
  ...over,
});

const totals = (): RunTotals => ({
  input_tokens: 10,
  output_tokens: 5,
  total_tokens: 15,
  cost_usd: 0,
  runs_without_price: 1,
  seconds_running: 300,
  runs: 1,
});

/** A snapshot with one running issue's worth of counts and totals, `over` on top. */
const snap = (over: Partial<StateSnapshot>): StateSnapshot => ({
  generated_at: '2026-12-02T10:05:00.000Z',
  task_queue: 'foreman',
  deployment: null,
  temporal_ui_url: null,
  counts: { running: 1, retrying: 0, waiting_for_human: 0, in_review: 0, done_today: 0, open: 1, closed_recently: 0 },
  running: [],
  retrying: [],
  recent: [],
  skipped: [],
  codex_totals: { input_tokens: 10, output_tokens: 5, total_tokens: 15, seconds_running: 300 },
  totals: { ...totals(), today: { ...totals(), since: '2026-12-02T00:00:00.000Z' }, in_flight: totals() },
  rate_limits: null,
  tracker_error: null,
  ...over,
});

describe('formatState', () => {
  it('marks a retrying run and says when the next attempt is', () => {
    const text = formatState(
      snap({
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
      }),
    );
    expect(text).not.toContain('rate limits');
    expect(text).toContain('implementing (retrying)');
    expect(text).toContain('ModelError [model_overloaded]: overloaded; attempt 3 at 2026-12-02T10:05:04.000Z');
  });

  it('lists comments ignored under the waiting issue and issues not started for an untrusted author (specs/trust.md)', () => {
    const text = formatState(
      snap({
        running: [
          run({
            phase: 'waiting_for_human',
            waiting: {
              question: 'May I change .github/workflows/ci.yml?',
              kind: 'protected_paths',
              n: 1,
              options: [{ number: 1, label: 'Approve', command: 'approve' }],
              recommendation: null,
              asked_at: '2026-12-02T10:00:00.000Z',
              age_ms: 60_000,
              reminded: false,
              parked: false,
              rule: null,
            },
            ignored_comments: [{ comment_id: '7', author: 'mallory', reason: 'not trusted' }],
          }),
        ],
        skipped: [
          {
            issue_identifier: 'app-9',
            reason: 'author mallory is not trusted; a trusted person must apply the label "foreman"',
          },
          { issue_identifier: 'app-10', reason: 'no_global_slot' },
        ],
      }),
    );
    expect(text).toContain('    ignored a comment from mallory: not trusted');
    expect(text).toContain(
      'Not started:\n  app-9  author mallory is not trusted; a trusted person must apply the label "foreman"',
    );
    expect(text).not.toContain('app-10');
  });
});

describe('formatState header', () => {
  it('counts by status, tokens and USD today and all time, the Temporal UI, and what the agent does now', () => {
    const text = formatState(
      snap({
        temporal_ui_url: 'http://127.0.0.1:8233',
        counts: {
          running: 1,
          retrying: 0,
          waiting_for_human: 2,
          in_review: 3,
          done_today: 4,
          open: 6,
          closed_recently: 0,
        },
        running: [
          run({
            last_tool: 'read_file',
            current_step: {
              activity: 'runImplementer',
              role: 'implementer',
              attempt: 1,
              state: 'started',
              started_at: null,
              last_heartbeat_at: null,
              turns: 1,
              tokens: { input_tokens: 1, output_tokens: 1, total_tokens: 2 },
              last_tool: 'read_file',
            },
          }),
        ],
      }),
    );
    const [first, second, third] = text.split('\n');
    expect(first).toBe('1 running, 2 waiting for a human, 0 retrying, 3 in review, 4 done today');
    expect(second).toBe('tokens today 15 ($0.00), in flight 15, all time 15 ($0.00)');
    expect(third).toBe('Temporal UI: http://127.0.0.1:8233');
    expect(text).toMatch(/DEMO-1\s+implementing\s+1\s+3\s+15\s+implementer: read_file/);
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
    const text = formatState(snap({ generated_at: at, running: [run({ rate_limits: limits })], rate_limits: limits }));
    expect(text).toContain(`Model rate limits (HTTP 200 at ${at}): requests 49/50 left`);
  });
});
