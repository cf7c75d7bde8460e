/**
 * The dispatcher tick's cost does not grow with the runs parked waiting for a human
 * (docs/architecture.md, "What the dispatcher reads"): on the real Temporal dev server, with runs
 * that escalate at once, one tick makes the same Temporal calls and the same tracker calls with 5
 * and with 30 parked runs, counted at the client's WorkflowService and at the tracker. And a parked run that
 * continued as new keeps its escalation and answered-comment state, memo and search attributes.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/logger.js';
import { trackerForPolicy } from '../../src/trackers/index.js';
import type { Tracker } from '../../src/trackers/types.js';
import { dispatchTick } from '../../src/dispatch/tick.js';
import { issueRunTags, latestClosedRuns, listRunningIssues, startIssueRun } from '../../src/dispatch/runs.js';
import {
  ISSUE_WORKFLOW_TYPE,
  issueUpdatedSignal,
  issueWorkflowId,
  runAttributes,
  statusQuery,
} from '../../workflows/definitions.js';
import { writeIssue } from '../support/fixtures.js';
import { countingClient, startParkingWorker, waitFor, type Cleanup } from '../support/parking.js';
import { toolUse } from '../support/scripted-model-server.js';

const cleanups: Cleanup[] = [];
afterEach(async () => {
  while (cleanups.length) await Promise.resolve(cleanups.pop()!()).catch(() => {});
});

const ESCALATE = toolUse('escalate', {
  question: 'Which way should add() go?',
  options: ['numbers only', 'coerce strings'],
  recommendation: 'numbers only',
});

/** A worker and policy on a fresh task queue whose model escalates at every call. */
const setup = (name: string) =>
  startParkingWorker(name, cleanups, () => ESCALATE, 'agent:\n  max_concurrent_agents: 100');

/** `tracker` with every method call counted by name. */
function countingTracker(tracker: Tracker) {
  const calls = new Map<string, number>();
  const proxy = new Proxy(tracker, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function' || typeof prop !== 'string') return value;
      return (...args: unknown[]) => {
        calls.set(prop, (calls.get(prop) ?? 0) + 1);
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { tracker: proxy, calls };
}

describe('the dispatcher tick with parked runs', () => {
  it(
    'makes the same Temporal and tracker calls with 5 and with 30 runs waiting for a human',
    { timeout: 400_000 },
    async () => {
      const s = await setup('scale');
      const deployment = s.runtime.deployment;
      const park = async (from: number, to: number) => {
        const ids = Array.from({ length: to - from }, (_, i) => `${s.prefix}-${from + i}`);
        for (const identifier of ids)
          await writeIssue(s.issuesDir, identifier, { title: identifier, state: 'Todo' }, 'add(2, 3) must be 5');
        await Promise.all(
          ids.map((identifier) => startIssueRun(s.runtime.client, deployment, { id: identifier, identifier }, 'test')),
        );
        await waitFor(`${to} parked runs`, 300_000, async () => {
          const runs = await listRunningIssues(s.runtime.client, deployment);
          return runs.length === to && runs.every((r) => r.published?.waiting === true);
        });
      };
      const tick = async (answer: string) => {
        // One human answer per tick: the batched comment read still delivers it.
        await fs.appendFile(
          path.join(s.issuesDir, `${answer}.comments.md`),
          '\n--- comment by ana ---\nNumbers only, please.\n',
        );
        const temporal = await countingClient(cleanups);
        const tracker = countingTracker(trackerForPolicy(s.store.current(), silentLogger, s.env));
        const startedAt = performance.now();
        const result = await dispatchTick({
          client: temporal.client,
          deployment,
          loaded: s.store.current(),
          tracker: tracker.tracker,
          log: silentLogger,
        });
        expect(result.error).toBeNull();
        expect(result.started).toEqual([]); // every candidate has its run, or is held
        expect(result.skipped).toContainEqual({
          identifier: `${s.prefix}-H`,
          reason: 'its last run ended; waiting for the issue to change',
        });
        const ms = Math.round(performance.now() - startedAt); // printed, not asserted (speed lives in bench/)
        return { ms, temporal: Object.fromEntries(temporal.calls), tracker: Object.fromEntries(tracker.calls) };
      };

      // One issue whose run ended (terminated) and that nobody touched since: held, read from the
      // closed-runs list, not restarted.
      const heldId = `${s.prefix}-H`;
      await writeIssue(s.issuesDir, heldId, { title: heldId, state: 'Todo' }, 'add(2, 3) must be 5');
      await new Promise((r) => setTimeout(r, 1100)); // the run closes after the issue's last change
      await startIssueRun(s.runtime.client, deployment, { id: heldId, identifier: heldId }, 'test');
      await s.runtime.client.workflow.getHandle(issueWorkflowId(deployment.key, heldId)).terminate('test: ended');
      await waitFor('the ended run in the closed list', 60_000, async () =>
        (await latestClosedRuns(s.runtime.client, deployment, [heldId])).has(heldId),
      );
      await park(0, 5);
      const small = await tick(`${s.prefix}-0`);
      await park(5, 30);
      const large = await tick(`${s.prefix}-7`);

      console.log(`tick calls with 5 parked: ${JSON.stringify(small)}; with 30 parked: ${JSON.stringify(large)}`);
      expect(large.temporal).toEqual(small.temporal);
      expect(large.tracker).toEqual(small.tracker);
      // What those calls are: one list of running runs and one of the candidates' closed runs
      // (one page each), one answer signalled; no query, no describe.
      expect(small.temporal).toEqual({ listWorkflowExecutions: 2, signalWorkflowExecution: 1 });
      expect(small.tracker.fetchComments).toBeUndefined();
      expect(small.tracker.fetchCommentsSince).toBe(1);
      // The answered runs resume (and, with this model, ask again: a second escalation).
      for (const id of [`${s.prefix}-0`, `${s.prefix}-7`]) {
        await waitFor(`${id} to take the answer`, 60_000, async () => {
          const st = await s.runtime.client.workflow.getHandle(issueWorkflowId(deployment.key, id)).query(statusQuery);
          return st.answeredCommentIds.length === 1 && st.phase === 'waiting_for_human' && st.escalation?.n === 2;
        });
      }
    },
  );

  it('a parked run that continued as new keeps its escalations, answered comments, memo and search attributes', async () => {
    const s = await setup('canpark');
    const deployment = s.runtime.deployment;
    const identifier = `${s.prefix}-1`;
    await writeIssue(s.issuesDir, identifier, { title: 'issue', state: 'Todo' }, 'add(2, 3) must be 5');
    const workflowId = issueWorkflowId(deployment.key, identifier);
    // historyLimit 1: the implement loop continues as new at its first chance (after the answer).
    const handle = await s.runtime.client.workflow.signalWithStart(ISSUE_WORKFLOW_TYPE, {
      workflowId,
      taskQueue: deployment.taskQueue,
      args: [{ issueId: identifier, identifier, historyLimit: 1 }],
      signal: issueUpdatedSignal,
      signalArgs: [{ source: 'test', at: new Date().toISOString() }],
      ...issueRunTags(deployment, { id: identifier, identifier }),
    });
    const firstRunId = (await handle.describe()).runId;
    const parked = async (n: number) =>
      (await listRunningIssues(s.runtime.client, deployment)).find(
        (r) => r.identifier === identifier && r.published?.waiting === true && r.published.askedAt !== null,
      ) !== undefined && (await handle.query(statusQuery)).escalation?.n === n;
    await waitFor('the first question', 60_000, () => parked(1));
    await fs.appendFile(
      path.join(s.issuesDir, `${identifier}.comments.md`),
      '\n--- comment by ana ---\nNumbers only, please.\n',
    );
    const tick = () =>
      dispatchTick({
        client: s.runtime.client,
        deployment,
        loaded: s.store.current(),
        tracker: trackerForPolicy(s.store.current(), silentLogger, s.env),
        log: silentLogger,
      });
    await tick();
    await waitFor('the second question, in a continued run', 60_000, async () => {
      const d = await s.runtime.client.workflow.getHandle(workflowId).describe();
      return d.runId !== firstRunId && (await parked(2));
    });

    const d = await s.runtime.client.workflow.getHandle(workflowId).describe();
    const status = await handle.query(statusQuery);
    expect(status.answeredCommentIds).toHaveLength(1);
    const run = (await listRunningIssues(s.runtime.client, deployment)).find((r) => r.identifier === identifier)!;
    expect(run.published).toMatchObject({
      phase: 'waiting_for_human',
      waiting: true,
      askedAt: status.escalation!.askedAt,
      startedFor: 'Todo',
      answered: status.answeredCommentIds,
    });
    expect(d.typedSearchAttributes.get(runAttributes.waiting)).toBe(true);
    expect(d.typedSearchAttributes.get(runAttributes.phase)).toBe('waiting_for_human');
    expect(d.typedSearchAttributes.get(runAttributes.askedAt)?.toISOString()).toBe(status.escalation!.askedAt);
    // The answered comment is not sent again: the next tick signals nothing new. (Signals are
    // counted, not all events: the run-ledger checkpoint after publishing may still be completing.)
    const signals = async () =>
      ((await s.runtime.client.workflow.getHandle(workflowId).fetchHistory()).events ?? []).filter(
        (e) => e.workflowExecutionSignaledEventAttributes,
      ).length;
    const before = await signals();
    await tick();
    expect(await signals()).toBe(before);
    // The first execution's escalation is still on record in the continued run: this is the second.
    expect((await handle.query(statusQuery)).escalation?.n).toBe(2);
  });
});
