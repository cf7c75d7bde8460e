/**
 * Deployments on one namespace (docs/architecture.md, "Deployments on one namespace") and one daemon
 * per folder ("One daemon per folder"), as a user meets them: real `foreman start` daemons on the
 * shared Temporal dev server, local issues folders, real git origins and scripted model servers.
 */
import { createHmac, randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterEach, describe, expect, it } from 'vitest';
import { loadPolicy } from '../../src/config/load.js';
import { deploymentOf, type Deployment } from '../../src/deployment.js';
import { DAEMON_LOCK_FILE } from '../../src/daemon-lock.js';
import { hasCode } from '../../src/errors.js';
import { msToTs } from '@temporalio/common/lib/time.js';
import type { DevServer } from '../../src/temporal/dev-server.js';
import { requireSearchAttribute } from '../../src/temporal/server.js';
import type { StateSnapshot } from '../../src/status.js';
import {
  DISPATCHER_WORKFLOW_TYPE,
  ISSUE_WORKFLOW_TYPE,
  dispatcherWorkflowId,
  issueWorkflowId,
  legacyIssueWorkflowId,
  statusQuery,
  type IssueRunSummary,
  type IssueWorkflowInput,
} from '../../workflows/definitions.js';
import { runForeman, spawnForeman } from '../support/cli.js';
import { git, makeOrigin, tempDir, writeIssue, writePolicy } from '../support/fixtures.js';
import { closeRunContext, createRunContext, type RunContext } from '../support/run-context.js';
import {
  startScriptedModelServer,
  toolUse,
  type CapturedRequest,
  type ScriptStep,
} from '../support/scripted-model-server.js';
import { temporalAddress, temporalNamespace, uniqueTaskQueue } from '../support/temporal.js';

const cleanups: (() => Promise<void>)[] = [];
let ctx: RunContext | null = null;
afterEach(async () => {
  const errors: unknown[] = [];
  while (cleanups.length) await cleanups.pop()!().catch((e: unknown) => errors.push(e));
  const closing = ctx;
  ctx = null;
  await closeRunContext(closing);
  if (errors.length) throw errors[0];
});

const lastUserText = (req: CapturedRequest) => JSON.stringify((req.body.messages as unknown[]).at(-1));

/** The model asks `question`, then (recording whether it got `answer`) fixes add() and finishes. */
function askThenFix(question: string, answer: string, seen: { answer: boolean }): ScriptStep[] {
  return [
    toolUse('escalate', { question, options: ['yes', 'no'] }),
    (req) => {
      seen.answer = lastUserText(req).includes(answer);
      return toolUse('edit_file', { path: 'add.js', old_text: 'return a - b;', new_text: 'return a + b;' });
    },
    toolUse('finish', { summary: 'Fixed add() as answered.' }),
  ];
}

/** One project: its own folder, origin, model server, FOREMAN_HOME and policy, on `taskQueue`. */
async function project(name: string, script: ScriptStep[], taskQueue: string, extra = '') {
  const tmp = await tempDir(`foreman-${name}-`);
  cleanups.push(tmp.cleanup);
  const model = await startScriptedModelServer(script);
  cleanups.push(async () => {
    await model.close();
    expect(model.failures).toEqual([]);
  });
  const origin = await makeOrigin(tmp.dir);
  const issuesDir = path.join(tmp.dir, 'issues');
  await fs.mkdir(issuesDir, { recursive: true });
  const policy = await writePolicy(tmp.dir, {
    issuesDir,
    workspaceRoot: path.join(tmp.dir, 'workspaces'),
    repo: origin,
    modelUrl: model.url,
    taskQueue,
    extra: `sandbox:\n  mode: none\n${extra}`,
  });
  const env = {
    ...process.env,
    TEMPORAL_ADDRESS: temporalAddress(),
    FOREMAN_HOME: path.join(tmp.dir, 'home'),
    FOREMAN_LOG_LEVEL: 'info',
  };
  const deployment = deploymentOf(await loadPolicy(policy));
  return { dir: tmp.dir, origin, issuesDir, policy, env, deployment, model };
}

/** Starts `foreman start POLICY` and waits for "Foreman is running"; killed and its workflows ended on cleanup. */
async function startDaemon(policy: string, env: NodeJS.ProcessEnv, deployment: Deployment, flags: string[] = []) {
  const daemon = spawnForeman(['start', policy, ...flags], env);
  cleanups.push(async () => {
    daemon.child.kill('SIGKILL');
    await terminateAll(deployment);
  });
  await waitFor(
    async () => daemon.output().stderr.includes('Foreman is running'),
    60_000,
    () => daemon.output().stderr,
  );
  return daemon;
}

/** Terminates the deployment's dispatcher and issue runs (the shared server outlives the test). */
async function terminateAll(deployment: Deployment, extra: string[] = []): Promise<void> {
  const connection = await Connection.connect({ address: temporalAddress() });
  const client = new Client({ connection, namespace: temporalNamespace() });
  for (const id of [dispatcherWorkflowId(deployment.taskQueue), issueWorkflowId(deployment.key, 'DEMO-1'), ...extra])
    await client.workflow
      .getHandle(id)
      .terminate('test over')
      .catch(() => {});
  await connection.close();
}

async function status(policy: string, env: NodeJS.ProcessEnv): Promise<StateSnapshot> {
  const r = await runForeman(['status', '--json', '--policy', policy], env);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as StateSnapshot;
}

const waitingQuestion = async (policy: string, env: NodeJS.ProcessEnv) =>
  (await status(policy, env)).running.find((r) => r.issue_identifier === 'DEMO-1')?.waiting?.question ?? null;

describe('two deployments on one namespace', () => {
  it(
    'both dispatch DEMO-1; a webhook through A and `foreman answer` through B each reach their own run; each status shows only its own',
    { timeout: 240_000 },
    async () => {
      // The same policy task queue on purpose: the deployment key keeps them apart all the same.
      const taskQueue = uniqueTaskQueue('dep');
      const seenA = { answer: false };
      const seenB = { answer: false };
      // A Linear comment reaches a daemon whose tracker is not Linear only from `trust.users` (specs/trust.md).
      const a = await project(
        'a',
        askThenFix('Question of A?', 'answer for A', seenA),
        taskQueue,
        `trust:\n  users: [${ADA.id}]`,
      );
      const b = await project('b', askThenFix('Question of B?', 'answer for B', seenB), taskQueue);
      expect(a.deployment.key).not.toBe(b.deployment.key);
      await writeIssue(a.issuesDir, 'DEMO-1', { title: 'Fix add() in A', state: 'Todo' }, 'add(2, 3) must be 5');
      await writeIssue(b.issuesDir, 'DEMO-1', { title: 'Fix add() in B', state: 'Todo' }, 'add(2, 3) must be 5');

      const daemonA = await startDaemon(a.policy, { ...a.env, LINEAR_WEBHOOK_SECRET }, a.deployment, ['--port', '0']);
      await waitFor(
        async () => (await waitingQuestion(a.policy, a.env)) !== null,
        90_000,
        () => daemonA.output().stderr,
      );
      // B starts while A's DEMO-1 waits for a human: B's DEMO-1 must still be dispatched.
      const daemonB = await startDaemon(b.policy, b.env, b.deployment);
      await waitFor(
        async () => (await waitingQuestion(b.policy, b.env)) !== null,
        90_000,
        () => daemonB.output().stderr,
      );

      const stateA = await status(a.policy, a.env);
      const stateB = await status(b.policy, b.env);
      expect(stateA.running.map((r) => [r.issue_identifier, r.workflow_id, r.waiting?.question])).toEqual([
        ['DEMO-1', issueWorkflowId(a.deployment.key, 'DEMO-1'), 'Question of A?'],
      ]);
      expect(stateB.running.map((r) => [r.issue_identifier, r.workflow_id, r.waiting?.question])).toEqual([
        ['DEMO-1', issueWorkflowId(b.deployment.key, 'DEMO-1'), 'Question of B?'],
      ]);
      expect(stateA.deployment).toBe(a.deployment.key);
      // `--all` sees both.
      const all = await runForeman(['status', '--json', '--all'], a.env);
      const allIds = (JSON.parse(all.stdout) as StateSnapshot).running.map((r) => r.workflow_id);
      expect(allIds).toEqual(
        expect.arrayContaining([
          issueWorkflowId(a.deployment.key, 'DEMO-1'),
          issueWorkflowId(b.deployment.key, 'DEMO-1'),
        ]),
      );

      // Naming no policy (no ./WORKFLOW.md here) never guesses between them.
      const ambiguous = await runForeman(['answer', 'DEMO-1', 'whose?'], a.env);
      expect(ambiguous.code).toBe(2);
      expect(ambiguous.stderr).toContain('pass --policy');

      // A webhook comment on DEMO-1 through A's daemon reaches A's run; B's stays waiting.
      const url = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(daemonA.output().stderr)?.[1];
      expect(url).toBeTruthy();
      expect((await postLinearComment(url!, 'DEMO-1', 'answer for A')).status).toBe(202);
      await waitFor(
        async () => /state: "?Human Review"?/.test(await fs.readFile(path.join(a.issuesDir, 'DEMO-1.md'), 'utf8')),
        90_000,
        () => daemonA.output().stderr,
      );
      expect(seenA.answer).toBe(true);
      expect(await waitingQuestion(b.policy, b.env)).toBe('Question of B?');
      expect(b.model.requests).toHaveLength(1); // B's model was asked once: nothing resumed B

      // `foreman answer` through B reaches B's run.
      const answeredB = await runForeman(['answer', 'DEMO-1', 'answer for B', '--policy', b.policy], b.env);
      expect(answeredB.code, answeredB.stderr).toBe(0);
      expect(answeredB.stdout).toContain('Question of B?');
      await waitFor(
        async () => /state: "?Human Review"?/.test(await fs.readFile(path.join(b.issuesDir, 'DEMO-1.md'), 'utf8')),
        90_000,
        () => daemonB.output().stderr,
      );
      expect(seenB.answer).toBe(true);
      expect(git(a.origin, 'show', 'foreman/DEMO-1:add.js')).toContain('a + b');
      expect(git(b.origin, 'show', 'foreman/DEMO-1:add.js')).toContain('a + b');
    },
  );
});

describe('runs started before deployment keys', () => {
  it('a run under the legacy id foreman-issue-<identifier> is found by status and reached by answer', async () => {
    const seen = { answer: false };
    ctx = await createRunContext({ script: askThenFix('Legacy question?', 'legacy answer', seen) });
    // Started as the old code did: legacy id, the policy's bare task queue, no search attribute.
    const workflowId = legacyIssueWorkflowId(ctx.identifier);
    const input: IssueWorkflowInput = { issueId: ctx.identifier, identifier: ctx.identifier };
    const handle = await ctx.runtime.client.workflow.start(ISSUE_WORKFLOW_TYPE, {
      workflowId,
      taskQueue: ctx.taskQueue,
      args: [input],
      memo: { identifier: ctx.identifier, issueId: ctx.identifier },
      workflowExecutionTimeout: '5 minutes',
    });
    cleanups.push(() =>
      handle.terminate('test over').then(
        () => undefined,
        () => undefined,
      ),
    );
    await ctx.waitFor('the escalation', async () => (await handle.query(statusQuery)).phase === 'waiting_for_human');
    const env = {
      ...process.env,
      TEMPORAL_ADDRESS: temporalAddress(),
      FOREMAN_HOME: ctx.home,
      FOREMAN_LOG_LEVEL: 'warn',
    };

    // The policy's deployment lists it (visibility lags a start by a moment).
    await ctx.waitFor(
      'the legacy run in status',
      async () => (await status(ctx!.policyFile, env)).running.some((r) => r.workflow_id === workflowId),
      30_000,
    );
    const r = await runForeman(['answer', ctx.identifier, 'legacy answer', '--policy', ctx.policyFile], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('Legacy question?');
    const summary = (await handle.result()) as IssueRunSummary;
    expect(summary.outcome).toBe('completed');
    expect(seen.answer).toBe(true);
    // Another deployment (another folder, its own task queue) does not reach it.
    const other = await project('other', [], uniqueTaskQueue('other'));
    const stranger = await runForeman(['answer', ctx.identifier, 'x', '--policy', other.policy], env);
    expect(stranger.code).toBe(2);
    expect(stranger.stderr).toContain('issue_not_running');
  });
});

describe('upgrading a daemon with runs started before deployment keys', () => {
  it('foreman start polls the old task queue for them, retires the old dispatcher, and answers reach them', async () => {
    const taskQueue = uniqueTaskQueue('legacy');
    const seen = { answer: false };
    const p = await project('legacy', askThenFix('Old question?', 'old answer', seen), taskQueue);
    await writeIssue(p.issuesDir, 'DEMO-1', { title: 'Fix add()', state: 'Todo' }, 'add(2, 3) must be 5');
    // What the old daemon left: a run under the legacy id on the bare queue, and its dispatcher.
    const connection = await Connection.connect({ address: temporalAddress() });
    const client = new Client({ connection, namespace: temporalNamespace() });
    const legacyId = legacyIssueWorkflowId('DEMO-1');
    const oldDispatcher = dispatcherWorkflowId(taskQueue);
    cleanups.push(async () => {
      await terminateAll(p.deployment, [legacyId, oldDispatcher]);
      await connection.close();
    });
    const input: IssueWorkflowInput = { issueId: 'DEMO-1', identifier: 'DEMO-1' };
    const run = await client.workflow.start(ISSUE_WORKFLOW_TYPE, {
      workflowId: legacyId,
      taskQueue,
      args: [input],
      memo: { identifier: 'DEMO-1', issueId: 'DEMO-1' },
    });
    await client.workflow.start(DISPATCHER_WORKFLOW_TYPE, { workflowId: oldDispatcher, taskQueue, args: [{}] });
    await waitFor(
      async () => (await status(p.policy, p.env)).running.some((r) => r.workflow_id === legacyId),
      30_000,
      () => 'the legacy run never showed in status',
    );

    const daemon = await startDaemon(p.policy, p.env, p.deployment);
    expect(daemon.output().stderr).toContain('also polling their task queue');
    await waitFor(
      async () => (await waitingQuestion(p.policy, p.env)) !== null,
      90_000,
      () => daemon.output().stderr,
    );
    expect((await client.workflow.getHandle(oldDispatcher).describe()).status.name).toBe('TERMINATED');
    // One run of DEMO-1: the daemon saw the legacy run and started no second one.
    expect((await status(p.policy, p.env)).running.map((r) => r.workflow_id)).toEqual([legacyId]);

    const answered = await runForeman(['answer', 'DEMO-1', 'old answer', '--policy', p.policy], p.env);
    expect(answered.code, answered.stderr).toBe(0);
    expect(answered.stdout).toContain('Old question?');
    expect(((await run.result()) as IssueRunSummary).outcome).toBe('completed');
    expect(seen.answer).toBe(true);
  });
});

describe('one daemon per issues folder and FOREMAN_HOME', () => {
  it('a second start on the same folder exits naming the first pid; after kill -9 a new start succeeds', async () => {
    const fix: ScriptStep[] = [
      toolUse('edit_file', { path: 'add.js', old_text: 'return a - b;', new_text: 'return a + b;' }),
      toolUse('finish', { summary: 'Fixed add().' }),
    ];
    // The daemon dispatches only labelled issues, so the unlabelled one is `foreman run`'s alone.
    const p = await project('lock', fix, uniqueTaskQueue('lock'), 'tracker:\n  required_labels: [auto]');
    const first = await startDaemon(p.policy, p.env, p.deployment);
    const firstPid = first.child.pid!;

    // `foreman run` takes no lock: it works beside the daemon, on the same task queue.
    await writeIssue(p.issuesDir, 'DEMO-1', { title: 'Fix add()', state: 'Todo' }, 'add(2, 3) must be 5');
    const run = await runForeman(['run', 'DEMO-1', p.policy], p.env, 90_000);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({
      outcome: 'completed',
      workflowId: issueWorkflowId(p.deployment.key, 'DEMO-1'),
    });

    // Another FOREMAN_HOME (as with a second Temporal server), the same issues folder: refused.
    const otherHome = { ...p.env, FOREMAN_HOME: path.join(p.dir, 'home-2') };
    const second = await runForeman(['start', p.policy], otherHome, 60_000);
    expect(second.code).not.toBe(0);
    expect(second.stderr).toContain('daemon_running');
    expect(second.stderr).toContain(`pid ${firstPid}`);
    expect(second.stderr).toContain(p.issuesDir);

    // The same FOREMAN_HOME, another folder: refused too.
    const q = await project('lock-q', [], uniqueTaskQueue('lock'));
    const third = await runForeman(['start', q.policy], { ...q.env, FOREMAN_HOME: p.env.FOREMAN_HOME }, 60_000);
    expect(third.code).not.toBe(0);
    expect(third.stderr).toContain(`pid ${firstPid}`);
    expect(third.stderr).toContain(p.env.FOREMAN_HOME);
    // The refused start left the first one's lock alone.
    expect(JSON.parse(await fs.readFile(path.join(p.issuesDir, DAEMON_LOCK_FILE), 'utf8'))).toMatchObject({
      pid: firstPid,
    });

    // The first dies without cleaning up: its lock is stale and the next start takes it.
    first.child.kill('SIGKILL');
    await first.wait(10_000);
    const next = await startDaemon(p.policy, otherHome, p.deployment);
    expect(JSON.parse(await fs.readFile(path.join(p.issuesDir, DAEMON_LOCK_FILE), 'utf8'))).toMatchObject({
      pid: next.child.pid,
    });
    next.child.kill('SIGTERM');
    expect((await next.wait(40_000)).code).toBe(0);
    // A clean stop removes its locks.
    await expect(fs.stat(path.join(p.issuesDir, DAEMON_LOCK_FILE))).rejects.toThrow();
  });
});

describe('the ForemanDeployment search attribute', () => {
  it('is registered on a dev server, and required with the command to create it on any other', async () => {
    const namespace = `dep-${randomUUID().slice(0, 8)}`;
    const address = temporalAddress();
    const connection = await Connection.connect({ address });
    cleanups.push(() => connection.close());
    await connection.workflowService.registerNamespace({
      namespace,
      workflowExecutionRetentionPeriod: msToTs('1 day'),
    });
    const elsewhere = { address, namespace, devServer: null };
    // A new namespace answers a moment after it is registered.
    let err: unknown = null;
    await waitFor(
      async () =>
        hasCode((err = await requireSearchAttribute(elsewhere).catch((e: unknown) => e)), 'search_attribute_missing'),
      30_000,
      () => String(err),
    );
    expect((err as Error).message).toContain(
      `temporal operator search-attribute create --address ${address} --namespace ${namespace} --name ForemanDeployment --type Keyword`,
    );
    // A dev server Foreman uses gets it added; then the check passes anywhere.
    await requireSearchAttribute({ ...elsewhere, devServer: {} as DevServer });
    await requireSearchAttribute(elsewhere);
  });
});

const LINEAR_WEBHOOK_SECRET = 'lin_wh_deployments';
/** The Linear user whose comment answers (listed in A's `trust.users`). */
const ADA = { id: '6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b', name: 'Ada Lovelace' };

/** Posts a signed Linear `Comment.create` webhook (Linear developer docs "Webhooks") on `identifier`. */
async function postLinearComment(url: string, identifier: string, body: string): Promise<{ status: number }> {
  const issueId = randomUUID();
  const at = new Date().toISOString();
  const payload = JSON.stringify({
    action: 'create',
    type: 'Comment',
    createdAt: at,
    data: {
      id: randomUUID(),
      createdAt: at,
      updatedAt: at,
      body,
      issueId,
      issue: { id: issueId, identifier },
      userId: ADA.id,
      user: ADA,
    },
    actor: { ...ADA, type: 'user' },
    organizationId: randomUUID(),
    webhookTimestamp: Date.now(),
  });
  const res = await fetch(`${url}/webhooks/linear`, {
    method: 'POST',
    body: payload,
    headers: {
      'content-type': 'application/json; charset=utf-8',
      'linear-delivery': randomUUID(),
      'linear-event': 'Comment',
      'linear-signature': createHmac('sha256', LINEAR_WEBHOOK_SECRET).update(payload).digest('hex'),
    },
  });
  return { status: res.status };
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, context: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`timed out after ${timeoutMs} ms; output:\n${context().slice(-4000)}`);
}
