/**
 * Parked runs cost almost nothing (docs/architecture.md, "Scale"), on the real Temporal dev server:
 * - with `temporal.max_cached_workflows: 2` (the least Temporal allows), six runs park waiting for a
 *   human; the worker keeps at most two cached, and each answered run is replayed from its history,
 *   resumes its conversation and finishes;
 * - the state snapshot (`GET /api/v1/state`, `foreman status`, `/metrics`), the dashboard's home data
 *   and `foreman ls` make the same Temporal calls with 5 and with 30 runs parked, and query no run:
 *   they read what the runs published (one visibility list), counted at the client's WorkflowService.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { listRuns } from '../../src/cli/runs.js';
import { runSettings } from '../../src/config/run-settings.js';
import { listRunningIssues, startIssueRun } from '../../src/dispatch/runs.js';
import { collectHome, dashboardCaches, type DashboardSource } from '../../src/server/dashboard/data.js';
import { collectState } from '../../src/status.js';
import {
  dispatcherWorkflowId,
  humanReplySignal,
  issueWorkflowId,
  type IssueRunSummary,
} from '../../workflows/definitions.js';
import { writeIssue } from '../support/fixtures.js';
import { countingClient, startParkingWorker, waitFor, type Cleanup } from '../support/parking.js';
import { toolUse, type CapturedRequest } from '../support/scripted-model-server.js';
import { temporalNamespace } from '../support/temporal.js';

const cleanups: Cleanup[] = [];
afterEach(async () => {
  while (cleanups.length) await Promise.resolve(cleanups.pop()!()).catch(() => {});
});

const QUESTION = 'Which way should add() go?';

/** The implementer asks first; once answered it fixes add() and finishes (one conversation per issue). */
function askThenFix(req: CapturedRequest) {
  const sent = JSON.stringify(req.body?.messages ?? []);
  if (!sent.includes('human_answer'))
    return toolUse('escalate', {
      question: QUESTION,
      options: ['numbers only', 'coerce strings'],
      recommendation: 'numbers only',
    });
  if (!sent.includes('"edit_file"'))
    return toolUse('edit_file', { path: 'add.js', old_text: 'return a - b;', new_text: 'return a + b;' });
  return toolUse('finish', { summary: 'Fixed add() as answered.' });
}

/** Starts `count` runs from `from` on and waits until each is parked on its question (as published). */
async function park(s: Awaited<ReturnType<typeof startParkingWorker>>, from: number, count: number) {
  const ids = Array.from({ length: count }, (_, i) => `${s.prefix}-${from + i}`);
  for (const identifier of ids)
    await writeIssue(
      s.issuesDir,
      identifier,
      { title: `Fix add() ${identifier}`, state: 'Todo' },
      'add(2, 3) must be 5',
    );
  await Promise.all(
    ids.map((identifier) =>
      startIssueRun(s.runtime.client, s.runtime.deployment, { id: identifier, identifier }, 'test'),
    ),
  );
  await waitFor(`${from + count} parked runs`, 300_000, async () => {
    const runs = await listRunningIssues(s.runtime.client, s.runtime.deployment);
    return runs.length === from + count && runs.every((r) => r.published?.waiting === true);
  });
  return ids;
}

describe('parked runs', () => {
  it(
    'with two runs cached, six parked runs are each answered, replayed from history, and finish',
    { timeout: 400_000 },
    async () => {
      const s = await startParkingWorker('evict', cleanups, askThenFix, 'temporal:\n  max_cached_workflows: 2');
      expect(s.store.current().policy.temporal.max_cached_workflows).toBe(2);
      const ids = await park(s, 0, 6);
      await waitFor(
        'the worker to evict past its cache',
        60_000,
        async () => s.runtime.worker.getStatus().numCachedWorkflows <= 2,
      );

      for (const identifier of ids) {
        const handle = s.runtime.client.workflow.getHandle(issueWorkflowId(s.runtime.deployment.key, identifier));
        await handle.signal(humanReplySignal, {
          text: 'Numbers only, please.',
          author: 'ana',
          source: 'cli',
          mayApprove: true,
        });
        const summary = (await handle.result()) as IssueRunSummary;
        expect(summary.outcome, identifier).toBe('completed');
        expect(summary.escalations, identifier).toMatchObject([
          { question: QUESTION, answer: 'Numbers only, please.' },
        ]);
        expect(s.runtime.worker.getStatus().numCachedWorkflows).toBeLessThanOrEqual(2);
      }
      // One conversation each: every answered run's next model call carried its own question's tool_use.
      const resumed = s.model.requests.filter((r) => JSON.stringify(r.body?.messages ?? []).includes('human_answer'));
      for (const identifier of ids)
        expect(
          resumed.some((r) => JSON.stringify(r.body.messages).includes(`Fix add() ${identifier}`)),
          identifier,
        ).toBe(true);
      expect(s.model.failures).toEqual([]);
    },
  );

  it(
    'reads the state, the dashboard and ls with the same Temporal calls, querying no run, with 5 and with 30 parked runs',
    { timeout: 500_000 },
    async () => {
      const s = await startParkingWorker('parkread', cleanups, askThenFix, 'agent:\n  max_concurrent_agents: 100');
      const read = async () => {
        const temporal = await countingClient(cleanups);
        const src: DashboardSource = {
          client: temporal.client,
          deployment: s.runtime.deployment,
          home: s.home,
          policy: () => s.store.current().policy,
          namespace: temporalNamespace(),
          temporalUiUrl: null,
        };
        const state = await collectState(temporal.client, s.runtime.deployment);
        const home = await collectHome(src, dashboardCaches(), state);
        const ls = await listRuns(temporal.client, s.runtime.deployment, 20);
        return { state, home, ls, calls: Object.fromEntries(temporal.calls), queried: temporal.queried };
      };

      await park(s, 0, 5);
      const small = await read();
      await park(s, 5, 25);
      const large = await read();

      console.log(
        `reads with 5 parked: ${JSON.stringify(small.calls)}; with 30 parked: ${JSON.stringify(large.calls)}`,
      );
      expect(large.calls).toEqual(small.calls);
      // What those calls are: the open and the closed runs listed for the state and for ls, today's
      // closed runs for the dashboard, and one query, of the dispatcher's skipped list (no run's):
      // no describe and no history read of a parked run.
      expect(small.calls).toEqual({ listWorkflowExecutions: 5, queryWorkflow: 1 });
      expect(large.queried).toEqual([dispatcherWorkflowId(s.runtime.deployment.taskQueue)]);
      // What is served without a query: every parked run with its question, options and rule.
      expect(large.state.counts).toMatchObject({ waiting_for_human: 30, open: 30, running: 0 });
      const settings = runSettings(s.store.current().policy);
      const row = large.state.running.find((r) => r.issue_identifier === `${s.prefix}-7`)!;
      expect(row).toMatchObject({
        status: 'waiting_for_human',
        phase: 'waiting_for_human',
        title: `Fix add() ${s.prefix}-7`,
        round: 1,
        turn_count: 1,
        last_event: 'escalation asked',
        current_step: null,
        waiting: {
          question: QUESTION,
          kind: 'agent_question',
          n: 1,
          options: [
            { number: 1, label: 'numbers only', command: null },
            { number: 2, label: 'coerce strings', command: null },
          ],
          recommendation: 'numbers only',
          reminded: false,
          parked: false,
          rule: { reping_ms: settings.repingMs, park_ms: settings.parkMs, parked_state: settings.parkedState },
        },
      });
      expect(row.tokens.total_tokens).toBeGreaterThan(0);
      expect(row.branch).toBe(`foreman/${s.prefix}-7`);
      expect(large.home.summary).toMatchObject({ waiting: 30, working: 0 });
      expect(large.home.inbox).toHaveLength(30);
      expect(large.home.inbox.find((i) => i.identifier === `${s.prefix}-7`)).toMatchObject({
        title: `Fix add() ${s.prefix}-7`,
        question: QUESTION,
        options: [
          { n: 1, label: 'numbers only', recommended: true },
          { n: 2, label: 'coerce strings', recommended: false },
        ],
      });
      expect(large.ls.filter((r) => r.status === 'running' && r.question === QUESTION)).toHaveLength(30);
    },
  );
});
