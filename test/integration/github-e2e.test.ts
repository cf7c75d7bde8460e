/**
 * Issue 5's end to end, on the real Temporal dev server with the real daemon (`foreman start` as a
 * subprocess), the real Octokit against a local fake GitHub, and webhooks signed with
 * @octokit/webhooks: a GitHub issue arrives by webhook → run → PR opened → review "changes
 * requested" → rework (same PR) → merged → issue closed, workspace cleaned.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Webhooks } from '@octokit/webhooks';
import examples from '@octokit/webhooks-examples';
import { Client, Connection } from '@temporalio/client';
import { afterEach, expect, it } from 'vitest';
import { dispatcherWorkflowId, issueWorkflowId } from '../../workflows/definitions.js';
import { loadPolicy } from '../../src/config/load.js';
import { deploymentOf } from '../../src/deployment.js';
import { spawnForeman } from '../support/cli.js';
import { startFakeGitHub } from '../support/fake-github.js';
import { git, makeOrigin, tempDir, writePolicy } from '../support/fixtures.js';
import { startScriptedModelServer, toolUse, type ScriptStep } from '../support/scripted-model-server.js';
import { temporalAddress, uniqueTaskQueue } from '../support/temporal.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => {});
});

const SECRET = 'webhook-secret-for-tests';

/** The reviewer's answer: approve, after checking it is the reviewer asking. */
const reviewerApproves: ScriptStep = (req) => {
  if (!JSON.stringify(req.body.system ?? '').includes('You are the reviewer')) throw new Error('expected the reviewer');
  return toolUse('submit_review', { verdict: 'approve', findings: [] });
};

/** A real example payload of `event.action`, with this repo and these fields put in. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- example payloads are untyped JSON patched in place
type Json = Record<string, any>;
function payload(event: string, action: string, patch: (p: Json) => void): string {
  const group = (examples as unknown as { name: string; examples: Json[] }[]).find((g) => g.name === event)!;
  const base = structuredClone(group.examples.find((e) => e.action === action) ?? group.examples[0]!);
  base.action = action;
  base.repository = {
    ...base.repository,
    name: 'app',
    full_name: 'acme/app',
    owner: { ...base.repository.owner, login: 'acme' },
  };
  // A pull request's head lives in the same repository (a fork's PR changes nothing: specs/trust.md).
  if (base.pull_request?.head) base.pull_request.head.repo = { ...base.pull_request.head.repo, full_name: 'acme/app' };
  patch(base);
  return JSON.stringify(base);
}

async function waitFor(
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs: number,
  context: () => string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await Promise.resolve(check()).catch(() => false))) {
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}; daemon output:\n${context().slice(-4000)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

it(
  'GitHub issue by webhook → PR → changes requested → rework → merged → issue closed, workspace cleaned',
  { timeout: 240_000 },
  async () => {
    const tmp = await tempDir();
    cleanups.push(tmp.cleanup);
    const github = await startFakeGitHub({ owner: 'acme', repo: 'app' });
    cleanups.push(() => github.close());
    let sawReview = false;
    const model = await startScriptedModelServer([
      toolUse('edit_file', { path: 'add.js', old_text: 'return a - b;', new_text: 'return a + b;' }),
      toolUse('finish', { summary: 'Fixed the sign.' }),
      // The default policy's reviewer (on by default) approves each round before the hand-off.
      reviewerApproves,
      async (req) => {
        const last = JSON.stringify((req.body.messages as unknown[]).at(-1));
        sawReview =
          last.includes('Please also test negative numbers') &&
          last.includes('test.js:3 (lead): Cover add(-2, -3) here.');
        return toolUse('edit_file', {
          path: 'test.js',
          old_text: "console.log('ok: add(2, 3) === 5');",
          new_text: "if (add(-2, -3) !== -5) process.exit(1);\nconsole.log('ok: add(2, 3) === 5');",
        });
      },
      toolUse('finish', { summary: 'Added the negative test.' }),
      reviewerApproves,
    ]);
    cleanups.push(() => model.close());
    const origin = await makeOrigin(tmp.dir);
    const workspaces = path.join(tmp.dir, 'workspaces');
    const taskQueue = uniqueTaskQueue('gh-e2e');
    const policy = await writePolicy(tmp.dir, {
      issuesDir: path.join(tmp.dir, 'unused'),
      workspaceRoot: workspaces,
      repo: origin,
      modelUrl: model.url,
      taskQueue,
      defaultReviewer: true,
      extra: JSON.stringify({
        tracker: { kind: 'github', provider: { repo: 'acme/app', token: github.token, endpoint: github.url } },
        polling: { interval_ms: 600_000 }, // only the webhook can start this run
        scm: { github: { repo: 'acme/app', base_url: github.url } },
      }),
    });
    const env = {
      ...process.env,
      TEMPORAL_ADDRESS: temporalAddress(),
      FOREMAN_HOME: path.join(tmp.dir, 'home'),
      FOREMAN_LOG_LEVEL: 'info',
      GITHUB_WEBHOOK_SECRET: SECRET,
    };
    const deployment = deploymentOf(await loadPolicy(policy));
    const daemon = spawnForeman(['start', policy, '--port', '0'], env);
    cleanups.push(async () => {
      daemon.child.kill('SIGKILL');
      const connection = await Connection.connect({ address: temporalAddress() });
      const client = new Client({ connection });
      await client.workflow
        .getHandle(dispatcherWorkflowId(deployment.taskQueue))
        .terminate('test over')
        .catch(() => {});
      await client.workflow
        .getHandle(issueWorkflowId(deployment.key, 'app-1'))
        .terminate('test over')
        .catch(() => {});
      await connection.close();
    });
    await waitFor(
      'the daemon',
      () => daemon.output().stderr.includes('Foreman is running'),
      90_000,
      () => daemon.output().stderr,
    );
    const url = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(daemon.output().stderr)![1]!;

    const webhooks = new Webhooks({ secret: SECRET });
    const deliver = async (event: string, body: string) => {
      const res = await fetch(`${url}/webhooks/github`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-github-event': event,
          'x-github-delivery': randomUUID(),
          'x-hub-signature-256': await webhooks.sign(body),
        },
        body,
      });
      expect(res.status, await res.text()).toBeLessThan(300);
    };

    // 1. The issue is filed after the daemon's first poll; only the webhook tells Foreman.
    const issue = github.addIssue({ title: 'Fix add()', body: 'add(2, 3) must be 5' });
    expect(issue.number).toBe(1);
    await deliver(
      'issues',
      payload('issues', 'opened', (p) =>
        Object.assign(p.issue, { number: 1, title: 'Fix add()', state: 'open', labels: [] }),
      ),
    );

    // 2. The run opens a PR with the evidence as its body and moves the issue to review.
    await waitFor(
      'the pull request',
      () => github.pulls().length === 1,
      90_000,
      () => daemon.output().stderr,
    );
    const pr = github.pulls()[0]!;
    expect(pr.head).toBe('foreman/app-1');
    expect(pr.body).toContain('Refs #1');
    expect(pr.body).toContain('Foreman evidence');
    // The evidence names the backend and model of each role that ran.
    expect(pr.body).toContain(
      '**Agents:** implementer: `builtin` (`claude-sonnet-5-5`) · reviewer: `builtin` (`claude-sonnet-5-5`)',
    );
    await waitFor(
      'the review state label',
      () => github.issues.get(1)!.labels.includes('state: Human Review'),
      30_000,
      () => daemon.output().stderr,
    );
    expect(git(origin, 'show', 'foreman/app-1:add.js')).toContain('a + b');

    // 3. A human requests changes on the PR: a rework round on the same branch and PR.
    const firstHead = git(origin, 'rev-parse', 'foreman/app-1').trim();
    github.addReviewComment(pr.number, { path: 'test.js', line: 3, body: 'Cover add(-2, -3) here.', user: 'lead' });
    await deliver(
      'pull_request_review',
      payload('pull_request_review', 'submitted', (p) => {
        Object.assign(p.review, {
          state: 'changes_requested',
          body: 'Please also test negative numbers.',
          user: { ...p.review.user, login: 'lead' },
        });
        Object.assign(p.pull_request, { number: pr.number, head: { ...p.pull_request.head, ref: 'foreman/app-1' } });
      }),
    );
    await waitFor(
      'the reworked push',
      () => git(origin, 'rev-parse', 'foreman/app-1').trim() !== firstHead,
      90_000,
      () => daemon.output().stderr,
    );
    expect(sawReview).toBe(true);
    expect(git(origin, 'show', 'foreman/app-1:test.js')).toContain('add(-2, -3)');
    await waitFor(
      'the review state again',
      () => github.issues.get(1)!.labels.includes('state: Human Review'),
      30_000,
      () => daemon.output().stderr,
    );
    expect(github.pulls(true)).toHaveLength(1); // updated, never a second PR

    // 4. Merged: the issue is closed and the workspace removed.
    await deliver(
      'pull_request',
      payload('pull_request', 'closed', (p) => {
        Object.assign(p.pull_request, {
          number: pr.number,
          merged: true,
          state: 'closed',
          head: { ...p.pull_request.head, ref: 'foreman/app-1' },
        });
      }),
    );
    await waitFor(
      'the issue to close',
      () => github.issues.get(1)!.state === 'closed',
      60_000,
      () => daemon.output().stderr,
    );
    await waitFor(
      'the workspace removal',
      () =>
        fs.stat(path.join(workspaces, 'app-1')).then(
          () => false,
          () => true,
        ),
      30_000,
      () => daemon.output().stderr,
    );
    const foremanComments = github.commentsOn(1).filter((c) => c.body.includes('Foreman evidence'));
    expect(foremanComments).toHaveLength(1); // edited in place across both rounds
    expect(model.failures).toEqual([]);
    // Every scripted step was used: the default reviewer approved both rounds.
    expect(model.requests).toHaveLength(6);

    daemon.child.kill('SIGTERM');
    expect((await daemon.wait(40_000)).code).toBe(0);
  },
);
