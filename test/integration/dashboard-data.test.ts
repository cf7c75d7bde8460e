/**
 * The dashboard's data from the real Temporal dev server (docs/architecture.md, "Dashboard"): a run
 * riding out a model outage is in the summary's `retrying` count and the retry queue with its next
 * attempt time; once it completes, it counts as done today with its tokens, and its issue view has
 * the timeline from history (rounds, durations, the end), the evidence packet and its links.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  collectHome,
  collectIssueView,
  dashboardCaches,
  type DashboardSource,
} from '../../src/server/dashboard/data.js';
import { renderHome } from '../../src/server/dashboard/render.js';
import { collectState } from '../../src/status.js';
import type { IssueRunSummary } from '../../workflows/definitions.js';
import { closeRunContext, createRunContext, type RunContext } from '../support/run-context.js';
import { overloaded, toolUse, type ScriptStep } from '../support/scripted-model-server.js';
import { temporalNamespace } from '../support/temporal.js';

let ctx: RunContext | null = null;
afterEach(async () => {
  const closing = ctx;
  ctx = null;
  await closeRunContext(closing);
});

const FIX = toolUse('edit_file', { path: 'add.js', old_text: 'return a - b;', new_text: 'return a + b;' });

describe('dashboard data', () => {
  it('lists a run riding out an outage in the retry queue, then as done today with its evidence', async () => {
    let firstAt: number | null = null;
    let served = 0;
    const step: ScriptStep = () => {
      firstAt ??= Date.now();
      if (Date.now() - firstAt < 5000) return overloaded();
      return [FIX, toolUse('finish', { summary: 'Fixed.' })][served++]!;
    };
    ctx = await createRunContext({
      script: Array.from({ length: 60 }, () => step),
      extraPolicy: 'roles:\n  reviewer:\n    enabled: false\n',
    });
    const c = ctx;
    const src: DashboardSource = {
      client: c.runtime.client,
      deployment: c.runtime.deployment,
      home: c.home,
      policy: () => c.store.current().policy,
      namespace: temporalNamespace(),
      temporalUiUrl: 'http://127.0.0.1:8233',
    };
    const caches = dashboardCaches();
    const home = async () => collectHome(src, caches, await collectState(src.client, src.deployment));
    const handle = await c.start();
    await c.waitFor('the retry queue', async () => (await home()).retry.length === 1, 30_000);
    const retrying = await home();
    expect(retrying.summary).toMatchObject({ retrying: 1, working: 1, waiting: 0 });
    expect(retrying.retry[0]).toMatchObject({
      identifier: c.identifier,
      step: 'run the implementer',
      error: expect.stringContaining('model_overloaded'),
      next_attempt_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    expect((await renderHome(retrying)).retry).toContain('run the implementer');

    const summary = (await handle.result()) as IssueRunSummary;
    expect(summary.outcome).toBe('completed');
    const done = await home();
    expect(done.summary.done_today).toBeGreaterThanOrEqual(1);
    expect(done.summary.tokens_today).toBeGreaterThanOrEqual(summary.tokens.total);
    expect(done.retry).toEqual([]);

    const view = await collectIssueView(src, caches, c.identifier);
    expect(view).toMatchObject({ status: 'completed', phase: 'completed', title: 'Fix add()' });
    const labels = view!.timeline.map((t) => t.label);
    expect(labels[0]).toBe('Run started');
    expect(labels).toContain('Implementer (round 1)');
    expect(labels).toContain('QA commands (round 1)');
    expect(labels).toContain('Evidence posted');
    expect(labels.at(-1)).toBe('Run ended: completed');
    expect(view!.timeline.find((t) => t.label === 'Implementer (round 1)')?.ms).toBeGreaterThan(0);
    expect(view!.evidence).toContain(c.identifier);
    expect(view!.links.temporal).toBe(
      `http://127.0.0.1:8233/namespaces/${encodeURIComponent(temporalNamespace())}/workflows/${encodeURIComponent(c.workflowId)}`,
    );
    expect(view!.links.branch).toBe(summary.branch);
    expect(await collectIssueView(src, caches, 'NEVER-1')).toBeNull();
  }, 120_000);
});
