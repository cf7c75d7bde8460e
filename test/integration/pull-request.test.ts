/**
 * The pull request after hand-over, on the real Temporal dev server with a fake GitHub (real
 * Octokit): red CI → CI results from the GitHub API in the evidence and a rework round on the same
 * PR; a PR closed without merging → the run stops and says so, keeping the workspace.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { ciResultSignal, prClosedSignal } from '../../workflows/definitions.js';
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
