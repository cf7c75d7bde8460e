/**
 * The API's shapes (specs/api.md; Symphony SPEC §13.7) over real HTTP against real runs on the
 * Temporal dev server: live progress of an agent step while it runs (heartbeat details), the
 * per-issue route of a finished run (everything `foreman run` prints, the tracker's state), totals
 * that survive the run, a waiting question with its options, and the review verdict.
 */
import fs from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/logger.js';
import { startHttpServer, type HttpServer } from '../../src/server/http.js';
import { collectIssue, collectState, formatState, type IssueDetail, type StateSnapshot } from '../../src/status.js';
import { createClosedRunReader } from '../../src/status/records.js';
import { trackerForPolicy } from '../../src/trackers/index.js';
import { humanReplySignal, type IssueRunSummary } from '../../workflows/definitions.js';
import { closeRunContext, createRunContext, type RunContext } from '../support/run-context.js';
import { overloaded, toolUse, type ScriptStep } from '../support/scripted-model-server.js';
import { runForeman } from '../support/cli.js';
import { temporalAddress } from '../support/temporal.js';

let ctx: RunContext | null = null;
let server: HttpServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
  const closing = ctx;
  ctx = null;
  await closeRunContext(closing);
});

const UI = 'http://127.0.0.1:8233';

/** The real HTTP server over the context's deployment, with the local tracker and a UI URL. */
async function serve(c: RunContext) {
  const opts = {
    tracker: trackerForPolicy(c.store.current(), silentLogger, { ...process.env, FOREMAN_HOME: c.home }),
    temporalUiUrl: UI,
    readClosed: createClosedRunReader(),
    home: c.home,
  };
  server = await startHttpServer(
    {
      state: () => collectState(c.runtime.client, c.runtime.deployment, opts),
      issue: (id) => collectIssue(c.runtime.client, c.runtime.deployment, id, opts),
      refresh: async () => {},
    },
    { port: 0, host: '127.0.0.1' },
  );
  const base = server.url;
  return {
    state: async () => (await (await fetch(`${base}/api/v1/state`)).json()) as StateSnapshot,
    issue: async (id: string) => {
      const res = await fetch(`${base}/api/v1/${id}`);
      expect(res.status).toBe(200);
      return (await res.json()) as IssueDetail;
    },
  };
}

describe('GET /api/v1/state and /api/v1/<identifier>', () => {
  it('shows an agent step’s turns and last tool while it runs, then the finished run as the tracker says', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let firstAnswered = 0;
    ctx = await createRunContext({
      extraPolicy: 'roles: {reviewer: {enabled: false}}',
      script: [
        () => {
          firstAnswered = Date.now();
          return toolUse('read_file', { path: 'add.js' }, { input_tokens: 300, output_tokens: 40 });
        },
        async () => {
          await gate; // the step pauses here, mid-way, until the test has seen its progress
          return toolUse('edit_file', { path: 'add.js', old_text: 'return a - b;', new_text: 'return a + b;' });
        },
        toolUse('finish', { summary: 'Fixed add().' }),
      ],
    });
    const api = await serve(ctx);
    const handle = await ctx.start();
    const runId = (await handle.describe()).runId;

    let row: StateSnapshot['running'][number] | undefined;
    await ctx.waitFor('live progress in /api/v1/state', async () => {
      row = (await api.state()).running.find((r) => r.issue_identifier === ctx!.identifier);
      return (row?.turn_count ?? 0) > 0 && row?.last_tool === 'read_file';
    });
    const seenAfterMs = Date.now() - firstAnswered;
    expect(row).toMatchObject({
      status: 'running',
      phase: 'implementing',
      session_id: `${runId}/implementer`,
      turn_count: 1,
      last_event: 'turn_completed',
      last_message: 'implementer called read_file',
      state: 'In Progress',
      current_step: { activity: 'runImplementer', role: 'implementer', turns: 1, last_tool: 'read_file' },
    });
    expect(row!.tokens.total_tokens).toBe(340);
    expect(row!.issue_url).toMatch(/^file:/);
    expect(row!.temporal_url).toBe(
      `${UI}/namespaces/default/workflows/${encodeURIComponent(ctx.workflowId)}/${runId}/history`,
    );
    const live = await api.state();
    expect(live.counts).toMatchObject({ running: 1, waiting_for_human: 0, open: 1 });
    expect(live.totals.in_flight.total_tokens).toBe(340);
    expect(formatState(live)).toContain('implementer: read_file');
    // `foreman status` (a separate process) shows the same while the step is paused.
    const cli = await runForeman(['status', '--policy', ctx.policyFile], {
      ...process.env,
      TEMPORAL_ADDRESS: temporalAddress(),
      FOREMAN_HOME: ctx.home,
    });
    expect(cli.code, cli.stderr).toBe(0);
    const line = cli.stdout.split('\n').find((l) => l.startsWith(ctx!.identifier))!;
    expect(line).toMatch(/implementing\s+1\s+1\s+340\s+implementer: read_file/);
    const during = await api.issue(ctx.identifier);
    expect(during).toMatchObject({ status: 'running', running: { session_id: `${runId}/implementer` } });
    console.log(`live progress visible ${seenAfterMs} ms after the model's first answer`);

    release();
    const summary = (await handle.result()) as IssueRunSummary;
    expect(summary.outcome).toBe('completed');

    let after = await api.state();
    await ctx.waitFor('visibility to list the run as closed', async () => {
      after = await api.state();
      return after.recent.some((r) => r.issue_identifier === ctx!.identifier);
    });
    expect(after.running.find((r) => r.issue_identifier === ctx!.identifier)).toBeUndefined();
    const closed = after.recent.find((r) => r.issue_identifier === ctx!.identifier)!;
    expect(closed).toMatchObject({ phase: 'handed_over', state: 'Human Review', status: 'COMPLETED' });
    expect(closed.tokens?.total_tokens).toBe(summary.tokens.total);
    // Totals come from the closed run's record: they do not drop to 0 when the run ends.
    expect(after.totals.total_tokens).toBe(summary.tokens.total);
    expect(after.totals.today).toMatchObject({ runs: 1, total_tokens: summary.tokens.total });
    expect(after.codex_totals.total_tokens).toBe(summary.tokens.total);
    expect(after.codex_totals.seconds_running).toBeGreaterThan(0);
    expect(after.counts).toMatchObject({ running: 0, open: 0, done_today: 1, in_review: 1 });

    const t0 = Date.now();
    await api.state();
    const stateMs = Date.now() - t0;
    const t1 = Date.now();
    const detail = await api.issue(ctx.identifier);
    console.log(`GET /api/v1/state ${stateMs} ms, GET /api/v1/<id> ${Date.now() - t1} ms`);
    expect(detail).toMatchObject({
      rework: null,
      issue_identifier: ctx.identifier,
      issue_id: ctx.identifier,
      status: 'handed_over',
      state: 'Human Review',
      outcome: 'completed',
      branch: summary.branch,
      commit: summary.commit,
      pushed: true,
      running: null,
      retry: null,
      qa: { passed: true, rounds: 1 },
      tokens: { total_tokens: summary.tokens.total },
      cost_usd: summary.cost_usd,
      escalations: [],
      tracked: {},
    });
    expect(detail.evidence).toMatchObject({ comment_id: summary.evidence!.commentId, key: summary.evidence!.key });
    expect(detail.evidence!.url).toMatch(/\.comments\.md$/);
    expect(detail.logs.transcripts.map((t) => t.label)).toEqual(['implementer']);
    await fs.access(detail.logs.transcripts[0]!.path);
    const events = detail.recent_events.map((e) => `${e.event} ${e.message ?? ''}`.trim());
    expect(events).toContain('activity_completed runImplementer');
    expect(events.at(-1)).toBe('run_completed');
    expect(detail.attempts).toEqual({ restart_count: 0, current_retry_attempt: 0 });
    expect((await fetch(`${server!.url}/api/v1/NOPE-404`)).status).toBe(404);
  });

  it('shows a waiting question with its options, then the answer and the review verdict of the finished run', async () => {
    ctx = await createRunContext({
      extraPolicy: 'roles: {reviewer: {enabled: true}}',
      script: [
        toolUse('escalate', { question: 'Saturate at MAX_SAFE_INTEGER?', options: ['yes', 'no'] }),
        toolUse('edit_file', { path: 'add.js', old_text: 'return a - b;', new_text: 'return a + b;' }),
        toolUse('finish', { summary: 'Fixed add().' }),
        toolUse('submit_review', { verdict: 'approve', findings: [] }),
      ],
    });
    const api = await serve(ctx);
    const handle = await ctx.start();
    await ctx.waitFor('the question', async () => (await ctx!.status()).phase === 'waiting_for_human');
    const waiting = await api.state();
    expect(waiting.counts).toMatchObject({ running: 0, waiting_for_human: 1, open: 1 });
    const row = waiting.running.find((r) => r.issue_identifier === ctx!.identifier)!;
    expect(row.status).toBe('waiting_for_human');
    expect(row.waiting).toMatchObject({
      question: 'Saturate at MAX_SAFE_INTEGER?',
      n: 1,
      options: [
        { number: 1, label: 'yes' },
        { number: 2, label: 'no' },
      ],
    });
    expect(row.last_event).toBe('escalation asked');

    await handle.signal(humanReplySignal, { text: 'no', author: 'ana', source: 'cli' });
    expect(((await handle.result()) as IssueRunSummary).outcome).toBe('completed');
    // The per-issue route describes by id: strongly consistent, no wait for visibility.
    const detail = await api.issue(ctx.identifier);
    expect(detail.review).toMatchObject({ round: 1, verdict: 'approve', open_findings: 0 });
    expect(detail.escalations).toEqual([
      expect.objectContaining({ question: 'Saturate at MAX_SAFE_INTEGER?', answer: 'no', author: 'ana' }),
    ]);
    expect(detail.status).toBe('handed_over');
  });

  it('lists a run riding out a model outage in retrying[] and counts it as retrying, not running', async () => {
    let firstAt: number | null = null;
    let served = 0;
    const outageMs = 6000;
    const step: ScriptStep = () => {
      firstAt ??= Date.now();
      if (Date.now() - firstAt < outageMs) return overloaded();
      return [
        toolUse('edit_file', { path: 'add.js', old_text: 'return a - b;', new_text: 'return a + b;' }),
        toolUse('finish', { summary: 'Fixed.' }),
      ][served++]!;
    };
    ctx = await createRunContext({
      extraPolicy: 'roles: {reviewer: {enabled: false}}',
      script: Array.from({ length: 60 }, () => step),
    });
    const api = await serve(ctx);
    const handle = await ctx.start();
    let state!: StateSnapshot;
    await ctx.waitFor(
      'retrying[] in /api/v1/state',
      async () => {
        state = await api.state();
        return state.retrying.some((r) => r.issue_identifier === ctx!.identifier);
      },
      30_000,
    );
    const entry = state.retrying.find((r) => r.issue_identifier === ctx!.identifier)!;
    expect(entry.attempt).toBeGreaterThanOrEqual(2);
    expect(entry.error).toMatch(/overloaded/i);
    expect(entry.issue_url).toMatch(/^file:/);
    expect(state.counts).toMatchObject({ retrying: 1, running: 0, open: 1 });
    const detail = await api.issue(ctx.identifier);
    expect(detail.status).toBe('retrying');
    expect(detail.retry?.error).toMatch(/overloaded/i);
    expect(((await handle.result()) as IssueRunSummary).outcome).toBe('completed');
  });
});
