/**
 * The pull request after hand-over, on the real Temporal dev server with a fake GitHub (real
 * Octokit): red CI → CI results from the GitHub API in the evidence and a rework round on the same
 * PR; a PR closed without merging → the run stops and says so, keeping the workspace.
 */
import { deploymentAttribute } from '../../src/dispatch/runs.js';
import { metricValues } from '../../src/metrics/level5.js';
import { readRunRecords } from '../../src/metrics/record.js';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { ciResultSignal, prClosedSignal, prReviewSignal } from '../../workflows/definitions.js';
import { startFakeGitHub, type FakeGitHub } from '../support/fake-github.js';
import { git } from '../support/fixtures.js';
import { recordHistory } from '../support/histories.js';
import { closeRunContext, createRunContext, type RunContext } from '../support/run-context.js';
import { toolUse } from '../support/scripted-model-server.js';
import type { IssueRunSummary } from '../../workflows/definitions.js';

let ctx: RunContext | null = null;
let github: FakeGitHub | null = null;
afterEach(async () => {
  const closing = ctx;
  ctx = null;
  await closeRunContext(closing);
  await github?.close();
  github = null;
});

it('red CI sends the work back on the same PR; a PR closed unmerged stops the run', { timeout: 180_000 }, async () => {
  github = await startFakeGitHub({ owner: 'acme', repo: 'app' });
  let sawCi = false;
  ctx = await createRunContext({
    extraPolicy: JSON.stringify({
      scm: { draft: true, github: { repo: 'acme/app', token: github.token, base_url: github.url } },
    }),
    script: [
      toolUse('edit_file', { path: 'add.js', old_text: 'return a - b;', new_text: 'return a + b;' }),
      toolUse('finish', { summary: 'Fixed.' }),
      async (req) => {
        sawCi = JSON.stringify((req.body.messages as unknown[]).at(-1)).includes(
          'CI failed on the pull request: lint (failure',
        );
        return toolUse('write_file', { path: 'NOTES.md', content: 'lint fixed\n' });
      },
      toolUse('finish', { summary: 'Fixed lint.' }),
    ],
  });
  const branch = `foreman/${ctx.identifier}`;
  const handle = await ctx.start();
  await ctx.waitFor('the pull request', async () => github!.pulls().length === 1);
  const pr = github.pulls()[0]!;
  expect(pr).toMatchObject({ head: branch, base: 'main', draft: true });
  expect(pr.body).toContain('Foreman evidence');
  await ctx.waitFor('hand-over', async () => (await ctx!.status()).phase === 'in_review');

  // CI goes red: the run reads CI from the GitHub API and goes back to the implementer.
  const firstHead = git(ctx.origin, 'rev-parse', branch).trim();
  github.addCheckRun({
    ref: branch,
    name: 'lint',
    status: 'completed',
    conclusion: 'failure',
    html_url: 'https://ci.example/lint/1',
  });
  await handle.signal(ciResultSignal, { sha: firstHead, name: 'lint', conclusion: 'failure' });
  await ctx.waitFor('the rework push', async () => git(ctx!.origin, 'rev-parse', branch).trim() !== firstHead);
  expect(sawCi).toBe(true);
  await ctx.waitFor('hand-over again', async () => (await ctx!.status()).phase === 'in_review');
  expect(github.pulls(true)).toHaveLength(1);
  const comments = await ctx.commentsText();
  expect(comments).toContain('### CI on the pull request (from the GitHub API)');
  expect(comments).toContain('[lint](https://ci.example/lint/1)');
  expect(github.pulls()[0]!.body).toContain('### CI on the pull request');

  // Closed without merging: stop, say so, keep the workspace.
  await handle.signal(prClosedSignal, { prNumber: pr.number, merged: false });
  const summary = (await handle.result()) as IssueRunSummary;
  await recordHistory(handle, 'pr-rework-closed');
  expect(summary).toMatchObject({
    outcome: 'stopped',
    pr_state: 'closed',
    pr: expect.stringContaining(`/pull/${pr.number}`),
  });
  expect(await ctx.commentsText()).toContain('was closed without merging');
  await expect(fs.stat(path.join(ctx.workspaceRoot, ctx.identifier))).resolves.toBeTruthy();
});

it(
  'a run waiting on its pull request continues as new, carrying its state, and still reworks and finishes',
  { timeout: 180_000 },
  async () => {
    github = await startFakeGitHub({ owner: 'acme', repo: 'app' });
    let resumedConversation = false;
    ctx = await createRunContext({
      historyLimit: 1, // every lap of a wait after the first continues as new
      extraPolicy: JSON.stringify({
        scm: { github: { repo: 'acme/app', token: github.token, base_url: github.url } },
      }),
      script: [
        toolUse('edit_file', { path: 'add.js', old_text: 'return a - b;', new_text: 'return a + b;' }),
        toolUse('finish', { summary: 'Fixed.' }),
        async (req) => {
          // The rework turn lands in the same implementer conversation, across executions.
          resumedConversation = JSON.stringify(req.body.messages).includes('Fixed.');
          return toolUse('write_file', { path: 'NOTES.md', content: 'lint fixed\n' });
        },
        toolUse('finish', { summary: 'Fixed lint.' }),
      ],
    });
    const branch = `foreman/${ctx.identifier}`;
    const handle = await ctx.start();
    const firstRunId = (await handle.describe()).runId;
    await ctx.waitFor('hand-over', async () => (await ctx!.status()).phase === 'in_review');
    const before = await ctx.status();
    expect(before.turns).toBeGreaterThan(0);

    // An approving review is no work: the run goes on listening, and continues as new first.
    const pr = github.pulls()[0]!;
    await handle.signal(prReviewSignal, { prNumber: pr.number, state: 'approved', author: 'lead', body: 'ok' });
    await ctx.waitFor('a continued execution', async () => (await handle.describe()).runId !== firstRunId);
    const continued = await handle.describe();
    expect(continued.memo).toMatchObject({ identifier: ctx.identifier });
    // The deployment's search attribute goes with it (docs/architecture.md, "Deployments on one namespace").
    expect(continued.typedSearchAttributes.get(deploymentAttribute)).toBe(ctx.runtime.deployment.key);
    const after = await ctx.status();
    expect(after).toMatchObject({ phase: 'in_review', turns: before.turns, transcripts: before.transcripts });

    // Red CI after the continue: the rework round runs on the carried workspace and pull request.
    const firstHead = git(ctx.origin, 'rev-parse', branch).trim();
    github.addCheckRun({ ref: branch, name: 'lint', status: 'completed', conclusion: 'failure' });
    await handle.signal(ciResultSignal, { sha: firstHead, name: 'lint', conclusion: 'failure' });
    await ctx.waitFor('the rework push', async () => git(ctx!.origin, 'rev-parse', branch).trim() !== firstHead);
    await ctx.waitFor('hand-over again', async () => (await ctx!.status()).phase === 'in_review');
    expect(resumedConversation).toBe(true);
    expect(github.pulls(true)).toHaveLength(1);

    await handle.signal(prClosedSignal, { prNumber: pr.number, merged: true });
    const summary = (await handle.result()) as IssueRunSummary;
    expect(summary).toMatchObject({ outcome: 'completed', pr_state: 'merged', runId: firstRunId });
    expect(summary.tokens.total).toBeGreaterThan(0);
    expect(summary.evidence).not.toBeNull();
    // One comment per key: the evidence was edited in place across executions, never posted twice.
    expect((await ctx.commentsText()).split('## Foreman evidence:').length - 1).toBe(1);
    // One run ledger record across the executions, keyed by the first run id (specs/metrics.md).
    const { records } = await readRunRecords(ctx.home);
    expect(records).toHaveLength(1);
    const r = records[0]!;
    expect(r).toMatchObject({
      runId: firstRunId,
      checkpoint: 'ended',
      prState: 'merged',
      reworkRounds: 1,
      toolCalls: 4,
    });
    expect(r.handOvers).toHaveLength(2);
    const metrics = metricValues([r], [r]);
    const reviewS = (Date.parse(r.prClosedAt!) - Date.parse(r.handOvers[1]!)) / 1000;
    expect(metrics.review_time_s).toBe(Math.round(reviewS * 1e6) / 1e6);
    // 4 tool calls / (the issue + the CI rework round)
    expect(metrics).toMatchObject({ accepted_changes: 1, rework_rate: 1, agent_actions_per_instruction: 2 });
  },
);
