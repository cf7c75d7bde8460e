/**
 * The pure parts of the status (docs/architecture.md, "Status and the API"): live progress read
 * back from heartbeat details (hostile or foreign details are no progress), closed-run records from
 * the memo or the summary, the tracker lookup cache, comment links, history events.
 */
import { describe, expect, it } from 'vitest';
import { parseStepProgress, trackProgress } from '../../src/agents/progress.js';
import { cachedIssueLookup, startOfDay } from '../../src/status.js';
import { eventsOf } from '../../src/status/events.js';
import { commentUrl } from '../../src/status/issue.js';
import { closedRecord, endsRun, memoRecord } from '../../src/status/records.js';
import type { Issue } from '../../src/trackers/types.js';
import type { IssueRunSummary } from '../../workflows/definitions.js';

const usage = { input_tokens: 100, output_tokens: 20, cache_creation_input_tokens: 5, cache_read_input_tokens: 0 };

describe('step progress', () => {
  it('tracks turns, tokens and the last tool; a turn without a tool keeps the earlier one', () => {
    let t = Date.parse('2026-12-04T10:00:00Z');
    const p = trackProgress('implementer', 'run-1', () => t);
    expect(p.details()).toMatchObject({
      session_id: 'run-1/implementer',
      turns: 0,
      last_tool: null,
      last_event: 'step_started',
    });
    t += 1000;
    p.update({ turns: 1, usage, lastTool: 'read_file' });
    p.update({ turns: 2, usage, lastTool: null });
    expect(p.details()).toMatchObject({
      turns: 2,
      last_tool: 'read_file',
      last_event: 'turn_completed',
      last_event_at: '2026-12-04T10:00:01.000Z',
      started_at: '2026-12-04T10:00:00.000Z',
    });
    expect(parseStepProgress(JSON.parse(JSON.stringify(p.details())))).toEqual(p.details());
  });

  it('reads foreign or hostile heartbeat details as no progress, and clamps bad values', () => {
    for (const v of [null, 'x', 42, [], {}, { kind: 'agent_step', role: 'admin' }, { role: 'implementer', turns: 3 }])
      expect(parseStepProgress(v)).toBeNull();
    const odd = parseStepProgress({
      kind: 'agent_step',
      role: 'qa',
      turns: -5,
      usage: { input_tokens: 'many', output_tokens: Infinity },
      last_tool: 'x'.repeat(10_000),
      last_event: '<script>',
    })!;
    expect(odd).toMatchObject({ turns: 0, usage: { input_tokens: 0, output_tokens: 0 }, last_event: 'step_started' });
    expect(odd.last_tool).toHaveLength(100);
  });
});

const info = (over: Record<string, unknown> = {}) => ({
  workflowId: 'foreman-k-issue-DEMO-1',
  runId: 'r1',
  memo: { identifier: 'DEMO-1', issueId: 'id-1' } as Record<string, unknown>,
  startTime: new Date('2026-12-04T10:00:00Z'),
  closeTime: new Date('2026-12-04T10:05:00Z'),
  status: { name: 'COMPLETED' } as never,
  ...over,
});

describe('closed-run records', () => {
  const memo = {
    identifier: 'DEMO-1',
    issueId: 'id-1',
    outcome: 'completed',
    phase: 'handed_over',
    state: 'Human Review',
    branch: 'foreman/DEMO-1',
    pr: null,
    tokens: { input_tokens: 105, output_tokens: 20, total_tokens: 125 },
    cost_usd: 0.01,
    turns: 3,
    wall_ms: 300_000,
    started_at: '2026-12-04T10:00:00.000Z',
  };

  it('reads the memo a closing run left, without fetching its result', async () => {
    const r = await closedRecord(info({ memo }), () => Promise.reject(new Error('not needed')));
    expect(r).toMatchObject({ phase: 'handed_over', state: 'Human Review', cost_usd: 0.01, wall_ms: 300_000 });
    expect(r.tokens).toEqual({ input_tokens: 105, output_tokens: 20, total_tokens: 125 });
  });

  it('falls back to the summary for runs from before the memo, and to visibility for failed ones', async () => {
    const summary = {
      outcome: 'completed',
      pr_state: 'merged',
      branch: 'foreman/DEMO-1',
      pr: 'https://github.com/a/b/pull/1',
      tokens: { ...usage, total: 125 },
      cost_usd: null,
      wall_ms: 1000,
    } as unknown as IssueRunSummary;
    const old = await closedRecord(info({ memo: { identifier: 'DEMO-1', outcome: 'completed' } }), async () => summary);
    expect(old).toMatchObject({ phase: 'merged', pr_url: summary.pr, tokens: { total_tokens: 125 }, wall_ms: 1000 });
    const failed = await closedRecord(info({ status: { name: 'TERMINATED' } }), async () => summary);
    expect(failed).toMatchObject({ phase: 'terminated', tokens: null, wall_ms: 300_000 });
    expect(memoRecord({ phase: 'owned', tokens: {} })).toBeNull();
    expect(endsRun({ status: { name: 'CONTINUED_AS_NEW' } } as never)).toBe(false);
  });
});

describe('tracker lookups', () => {
  it('asks the tracker once per id within the TTL, then again', async () => {
    let t = 0;
    const asked: string[][] = [];
    const issue = (id: string) => ({ id, state: 'Todo' }) as Issue;
    const cached = cachedIssueLookup(
      { fetchIssuesByIds: async (ids) => (asked.push(ids), ids.filter((i) => i !== 'gone').map(issue)) },
      5000,
      () => t,
    );
    expect((await cached.fetchIssuesByIds(['a', 'gone'])).map((i) => i.id)).toEqual(['a']);
    t = 4000;
    expect((await cached.fetchIssuesByIds(['a', 'b'])).map((i) => i.id)).toEqual(['a', 'b']);
    t = 9001;
    await cached.fetchIssuesByIds(['a']);
    expect(asked).toEqual([['a', 'gone'], ['b'], ['a']]);
  });

  it('links comments where the format is known, and the day starts at local midnight', () => {
    expect(commentUrl('https://github.com/a/b/issues/7', '123')).toBe(
      'https://github.com/a/b/issues/7#issuecomment-123',
    );
    expect(commentUrl('file:///x/issues/DEMO-1.md', 'c1')).toBe('file:///x/issues/DEMO-1.comments.md');
    expect(commentUrl('https://linear.app/t/issue/ENG-1', 'uuid')).toBeNull();
    expect(commentUrl(null, '1')).toBeNull();
    const now = Date.parse('2026-12-04T15:30:00Z');
    expect(new Date(startOfDay(now)).getHours()).toBe(0);
    expect(startOfDay(now)).toBeLessThanOrEqual(now);
  });
});

describe('history events', () => {
  it('names activities on completion and failure, signals and the end', () => {
    const at = null; // times are Temporal's Long timestamps; none here
    const events = eventsOf([
      { eventId: 1, eventTime: at, workflowExecutionStartedEventAttributes: {} },
      { eventId: 5, eventTime: at, activityTaskScheduledEventAttributes: { activityType: { name: 'runImplementer' } } },
      {
        eventId: 7,
        eventTime: at,
        activityTaskFailedEventAttributes: { scheduledEventId: 5, failure: { message: 'boom' } },
      },
      { eventId: 8, eventTime: at, workflowExecutionSignaledEventAttributes: { signalName: 'humanReply' } },
      { eventId: 9, eventTime: at, activityTaskCompletedEventAttributes: { scheduledEventId: 5 } },
      { eventId: 10, eventTime: at, workflowTaskCompletedEventAttributes: {} },
      { eventId: 11, eventTime: at, workflowExecutionCompletedEventAttributes: {} },
    ] as never);
    expect(events.map((e) => [e.event, e.message])).toEqual([
      ['run_started', null],
      ['activity_scheduled', 'runImplementer'],
      ['activity_failed', 'runImplementer: boom'],
      ['signal', 'humanReply'],
      ['activity_completed', 'runImplementer'],
      ['run_completed', null],
    ]);
  });
});
