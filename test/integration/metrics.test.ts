/**
 * Level-5 and operational metrics end to end on the real Temporal dev server: two issues run
 * through a real worker (local tracker, real git, scripted model), one of them with an escalation
 * answered; the run ledger they write under FOREMAN_HOME is what `GET /api/v1/metrics` and
 * `/metrics` report (specs/metrics.md), checked to the exact value where the run determines it.
 */
import { Hono } from 'hono';
import { afterEach, describe, expect, it } from 'vitest';
import { ISSUE_WORKFLOW_TYPE, humanReplySignal, issueWorkflowId } from '../../workflows/definitions.js';
import type { IssueRunSummary, IssueWorkflowInput } from '../../workflows/definitions.js';
import { backendModel } from '../../src/agents/backends/config.js';
import { issueRunTags } from '../../src/dispatch/runs.js';
import { createHttpApp } from '../../src/server/http.js';
import { collectState, type StateSnapshot } from '../../src/status.js';
import { humanAnswers, workingMs, type MetricsReport } from '../../src/metrics/level5.js';
import { readRunRecords } from '../../src/metrics/record.js';
import { createMetricsRoutes, ledgerReports } from '../../src/metrics/routes.js';
import { writeIssue } from '../support/fixtures.js';
import { recordHistory } from '../support/histories.js';
import { closeRunContext, createRunContext, type RunContext } from '../support/run-context.js';
import { toolUse } from '../support/scripted-model-server.js';

let ctx: RunContext | null = null;
afterEach(async () => {
  const closing = ctx;
  ctx = null;
  await closeRunContext(closing);
});

const FIX = toolUse('edit_file', { path: 'add.js', old_text: 'return a - b;', new_text: 'return a + b;' });
const FINISH = toolUse('finish', { summary: 'Fixed add().' });
const ASK = toolUse('escalate', { question: 'Should add() saturate?', options: ['yes', 'no'], recommendation: 'no' });
const TOKEN = 'metrics-it-token';

describe('metrics from the run ledger', () => {
  it('reports runs (one escalation answered, one issue dispatched again after acceptance) in /api/v1/metrics and /metrics', async () => {
    // Issue 1: fix and finish (2 model calls, 2 tool calls). Issue 2: ask, then fix and finish (3 and 3).
    // Then issue 1 again: finish at once (its branch has the fix).
    ctx = await createRunContext({
      script: [FIX, FINISH, ASK, FIX, FINISH, FINISH],
      extraPolicy: 'roles:\n  reviewer:\n    enabled: false',
    });
    const c = ctx;
    const { client, deployment } = c.runtime;
    const routes = createMetricsRoutes({
      report: ledgerReports(c.home, deployment),
      state: () => collectState(client, deployment),
    });
    const http = createHttpApp(
      { state: async () => ({}) as StateSnapshot, issue: async () => null, refresh: async () => {} },
      new Hono().route('/', routes),
      { token: TOKEN },
    );
    const get = (path: string) => http.request(path, { headers: { authorization: `Bearer ${TOKEN}` } });

    const first = await c.runIssue();
    expect(first.outcome).toBe('completed');

    const second = `${c.identifier.replace(/-1$/, '')}-2`;
    await writeIssue(c.issuesDir, second, { title: 'Fix add() again', state: 'Todo' }, 'add(2, 3) must return 5.');
    const handle = await client.workflow.start(ISSUE_WORKFLOW_TYPE, {
      workflowId: issueWorkflowId(deployment.key, second),
      taskQueue: c.taskQueue,
      args: [{ issueId: second, identifier: second } satisfies IssueWorkflowInput],
      ...issueRunTags(deployment, { id: second, identifier: second }),
      workflowExecutionTimeout: '5 minutes',
    });
    await c.waitFor(
      'the escalation',
      async () => (await collectState(client, deployment)).counts.waiting_for_human === 1,
    );

    // While the question waits: the operational gauges show it; the ledger has the question.
    const waiting = await (await get('/metrics')).text();
    expect(waiting.split('\n')).toContain('foreman_escalations_waiting 1');
    expect(waiting.split('\n')).toContain('foreman_runs_active{phase="waiting_for_human"} 1');
    const asked = (await readRunRecords(c.home)).records.find((r) => r.identifier === second);
    expect(asked).toMatchObject({ checkpoint: 'escalated', outcome: null, handOvers: [] });
    expect(asked?.escalations).toEqual([
      { kind: 'agent_question', askedAt: expect.any(String), answeredAt: null, human: false },
    ]);
    const waitingReport = (await (await get('/api/v1/metrics?days=1')).json()) as MetricsReport;
    expect(waitingReport.current).toMatchObject({ runs: 2, escalation_rate: 0.5, interventions: 0 });

    await handle.signal(humanReplySignal, { text: 'No saturation, just fix the sign.', author: 'ana', source: 'cli' });
    const last = (await handle.result()) as IssueRunSummary;
    await recordHistory(handle, 'metrics-ledger');
    expect(last.outcome).toBe('completed');

    const { records, skipped } = await readRunRecords(c.home);
    expect(skipped).toEqual([]);
    expect(records).toHaveLength(2);
    const r1 = records.find((r) => r.identifier === c.identifier)!;
    const r2 = records.find((r) => r.identifier === second)!;
    for (const r of [r1, r2]) {
      expect(r).toMatchObject({ checkpoint: 'ended', outcome: 'completed', prState: null, taskQueue: c.taskQueue });
      expect(r.handOvers).toHaveLength(1);
    }
    expect([r1.toolCalls, r2.toolCalls]).toEqual([2, 3]);
    expect([r1.turns, r2.turns]).toEqual([2, 3]);
    expect([r1.tokens, r2.tokens]).toEqual([first.tokens.total, last.tokens.total]);
    expect(r1.escalations).toEqual([]);
    expect(r2.escalations).toEqual([
      { kind: 'agent_question', askedAt: expect.any(String), answeredAt: expect.any(String), human: true },
    ]);
    expect(humanAnswers(r2)).toHaveLength(1);

    const res = await get('/api/v1/metrics?days=7');
    expect(res.status).toBe(200);
    const report = (await res.json()) as MetricsReport;
    const round = (v: number) => Math.round(v * 1e6) / 1e6;
    const costs = [first.cost_usd, last.cost_usd];
    const expected = {
      runs: 2,
      accepted_changes: 2,
      interventions: 1,
      mean_time_between_interventions_s: round((workingMs(r1) + workingMs(r2)) / 1000),
      longest_unattended_run_s: round((Date.parse(r1.handOvers[0]!) - Date.parse(r1.startedAt)) / 1000),
      escalation_rate: 0.5,
      auto_approved_share: 0.5,
      escalated_share: 0.5,
      agent_actions_per_instruction: round(5 / 3), // 5 tool calls / (2 issues + 1 answer)
      review_time_s: null, // no pull request (the origin is no GitHub repository)
      rework_rate: 0,
      defect_escape_rate: 0,
      tokens_per_accepted_change: round((first.tokens.total + last.tokens.total) / 2),
      usd_per_accepted_change: costs.includes(null) ? null : round((costs[0]! + costs[1]!) / 2),
    };
    expect(report.current).toEqual(expected);
    expect(report.window_days).toBe(7);
    expect(report.daily).toHaveLength(7);
    expect(report.daily.at(-1)).toEqual({ date: new Date().toISOString().slice(0, 10), ...expected });
    expect(report.daily.slice(0, 6).every((d) => d.runs === 0)).toBe(true);

    const text = (await (await get('/metrics')).text()).split('\n');
    expect(text).toContain('foreman_level5_runs 2');
    expect(text).toContain('foreman_level5_escalation_rate 0.5');
    expect(text).toContain(`foreman_level5_agent_actions_per_instruction ${round(5 / 3)}`);
    expect(text).toContain('foreman_escalations_waiting 0');
    expect(text).toContain('foreman_runs_active{phase="waiting_for_human"} 0');
    // The worker runs in this process: its model gateway metered each of the 5 model calls.
    const model = backendModel(c.store.current().policy, 'implementer');
    expect(text).toContain(
      `foreman_model_call_duration_seconds_count{role="implementer",model="${model}",outcome="ok"} 5`,
    );
    const tokens = text
      .filter((l) => l.startsWith(`foreman_model_tokens_total{role="implementer",model="${model}"`))
      .reduce((n, l) => n + Number(l.split(' ').at(-1)), 0);
    expect(tokens).toBe(first.tokens.total + last.tokens.total);
    // Issue 1 is dispatched again after its work was accepted: a defect escape (1 of 2 accepted changes).
    const again = await c.runIssue();
    expect(again.outcome).toBe('completed');
    const escaped = (await (await get('/api/v1/metrics?days=1')).json()) as MetricsReport;
    expect(escaped.current).toMatchObject({ runs: 3, accepted_changes: 3, defect_escape_rate: round(1 / 3) });

    // Without the token, neither route answers.
    expect((await http.request('/metrics')).status).toBe(401);
    expect((await http.request('/api/v1/metrics')).status).toBe(401);
  });
});
