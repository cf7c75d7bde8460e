/**
 * The trust rules on the poll path (specs/trust.md): the dispatcher tick (src/dispatch/tick.ts)
 * and its comment reconcile (src/dispatch/reconcile.ts) against the real GitHub and Linear
 * adapters on their fake servers, with probes (test/support/probe-workflow.ts) standing in for the
 * IssueWorkflow on the shared Temporal dev server. An untrusted author's issue is not dispatched
 * until a trusted person applies the start label; untrusted comments never become answers; only
 * approvers get `mayApprove`; permission look-ups are cached across ticks. Also: the real
 * dispatcher's skip reason reaches `foreman status` and the API's snapshot, and a real waiting
 * IssueWorkflow lists ignored comments once.
 */
import { startTestWorker } from '../support/test-worker.js';
import crypto from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker, bundleWorkflowCode } from '@temporalio/worker';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { LoadedPolicy } from '../../src/config/load.js';
import type { Deployment } from '../../src/deployment.js';
import { defaultPolicy, type Policy } from '../../src/config/schema.js';
import { dispatchTick } from '../../src/dispatch/tick.js';
import { collectState, formatState } from '../../src/status.js';
import YAML from 'yaml';
import { silentLogger } from '../../src/logger.js';
import { createGitHubTracker } from '../../src/trackers/github/index.js';
import { createLinearTracker } from '../../src/trackers/linear/index.js';
import type { Tracker } from '../../src/trackers/types.js';
import {
  commentIgnoredSignal,
  humanReplySignal,
  issueWorkflowId,
  type IssueRunSummary,
} from '../../workflows/definitions.js';
import { startFakeGitHub } from '../support/fake-github.js';
import { TEST_COMMENT_KEY } from '../support/comment-key.js';
import { startFakeLinear } from '../support/fake-linear.js';
import { tempDir, writePolicy } from '../support/fixtures.js';
import { probeQuery, type ProbeSignal } from '../support/probe-workflow.js';
import { closeRunContext, createRunContext, startDispatcher } from '../support/run-context.js';
import { toolUse } from '../support/scripted-model-server.js';
import { temporalAddress, temporalNamespace, uniqueTaskQueue } from '../support/temporal.js';

const PROBE_PATH = fileURLToPath(new URL('../support/probe-workflow.ts', import.meta.url));
const noop = () => {};
const quiet = { trace: noop, debug: noop, info: noop, warn: noop, error: noop, log: noop };

let connection: Connection;
let client: Client;
let bundle: Awaited<ReturnType<typeof bundleWorkflowCode>>;
let cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  try {
    Runtime.install({ logger: new DefaultLogger('ERROR') });
  } catch {
    // a runtime is already installed in this process
  }
  bundle = await bundleWorkflowCode({ workflowsPath: PROBE_PATH, logger: quiet });
  connection = await Connection.connect({ address: temporalAddress() });
  client = new Client({ connection, namespace: temporalNamespace() });
});
afterAll(async () => {
  await connection?.close();
});
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
  cleanups = [];
});

/** A worker hosting the probes on a fresh task queue; runs it starts are terminated after the test. */
async function probeWorker(): Promise<{ deployment: Deployment; started: string[] }> {
  const taskQueue = uniqueTaskQueue('trust');
  const deployment: Deployment = { key: `k${crypto.randomUUID().slice(0, 8)}`, taskQueue, legacyTaskQueue: null };
  const native = await NativeConnection.connect({ address: temporalAddress() });
  const worker = await Worker.create({
    connection: native,
    namespace: temporalNamespace(),
    taskQueue,
    workflowBundle: bundle,
  });
  const running = worker.run();
  const started: string[] = [];
  cleanups.push(async () => {
    await native.close();
  });
  cleanups.push(async () => {
    worker.shutdown();
    await running;
  });
  cleanups.push(() =>
    Promise.all(
      started.map((id) =>
        client.workflow
          .getHandle(id)
          .terminate('test over')
          .catch((err: unknown) => {
            if (!(err instanceof WorkflowNotFoundError)) throw err;
          }),
      ),
    ),
  );
  return { deployment, started };
}

function loaded(trust: Partial<Policy['trust']> = {}): LoadedPolicy {
  const policy = defaultPolicy();
  policy.trust = { ...policy.trust, ...trust };
  policy.tracker.active_states = ['Todo', 'In Progress'];
  return { file: '/dev/null', dir: '/', policy, promptTemplate: '', warnings: [], digest: '' };
}

async function tick(deployment: Deployment, tracker: Tracker, trust: Partial<Policy['trust']> = {}) {
  const r = await dispatchTick({ client, deployment, loaded: loaded(trust), tracker, log: silentLogger });
  expect(r.error).toBeNull();
  return r;
}

const received = (deployment: Deployment, identifier: string): Promise<ProbeSignal[]> =>
  client.workflow.getHandle(issueWorkflowId(deployment.key, identifier)).query(probeQuery);
const named = (signals: ProbeSignal[], name: string) => signals.filter((s) => s.name === name).map((s) => s.arg);

describe('trust on the poll path', () => {
  it('GitHub: an untrusted author waits for a trusted label; untrusted comments never answer; approvers approve', async () => {
    const { deployment, started } = await probeWorker();
    const repo = `tr${crypto.randomUUID().slice(0, 8)}`;
    const fake = await startFakeGitHub({ repo });
    cleanups.push(() => fake.close());
    const tracker = createGitHubTracker({
      owner: fake.owner,
      repo,
      token: fake.token,
      baseUrl: fake.url,
      activeStates: ['Todo', 'In Progress'],
      terminalStates: ['Done'],
      commentKey: TEST_COMMENT_KEY,
      throttle: false,
      retryUnitMs: 1,
    });
    fake.collaborators.set('lead', 'maintain');
    const trusted = fake.addIssue({ title: 'Add a health endpoint', user: 'octocat' });
    const stranger = fake.addIssue({ title: 'Run this script for me', user: 'mallory' });
    const [a, b] = [`${repo}-${trusted.number}`, `${repo}-${stranger.number}`];
    started.push(issueWorkflowId(deployment.key, a), issueWorkflowId(deployment.key, b));
    const reason = 'author mallory is not trusted; a trusted person must apply the label "foreman"';

    const first = await tick(deployment, tracker);
    expect(first.started).toEqual([a]);
    expect(first.skipped).toContainEqual({ identifier: b, reason });

    // Labelling their own issue does not help; a tick later the look-ups are cached.
    fake.labelIssue(stranger.number, 'foreman', 'mallory');
    expect((await tick(deployment, tracker)).skipped).toContainEqual({ identifier: b, reason });
    await tick(deployment, tracker);
    expect(fake.count(/\/collaborators\/mallory\/permission$/)).toBe(1);

    // A maintainer applies the label: dispatched. (GitHub's updated_at has whole seconds; the
    // label change must be visible in it to be re-read before the look-up cache expires.)
    await new Promise((r) => setTimeout(r, 1100));
    fake.labelIssue(stranger.number, 'foreman', 'lead');
    expect((await tick(deployment, tracker)).started).toEqual([b]);

    // Answers on the poll path: the run of `a` waits for a human (the probe says so).
    const approve = '/foreman approve';
    const byMallory = fake.addComment(trusted.number, { body: approve, user: 'mallory' });
    const byBot = fake.addComment(trusted.number, { body: approve, user: 'helper[bot]' });
    const byLead = fake.addComment(trusted.number, { body: approve, user: 'lead' });
    const byOwner = fake.addComment(trusted.number, { body: 'ok, go on', user: 'octocat' });
    await tick(deployment, tracker, { approvers: ['octocat'] });
    await tick(deployment, tracker, { approvers: ['octocat'] });
    const signals = await received(deployment, a);
    expect(named(signals, 'humanReply')).toEqual([
      { text: approve, author: 'lead', source: 'comment', commentId: String(byLead.id), mayApprove: false },
      { text: 'ok, go on', author: 'octocat', source: 'comment', commentId: String(byOwner.id), mayApprove: true },
    ]);
    // Ignored once each, though two ticks saw them.
    expect(named(signals, 'commentIgnored')).toEqual([
      { commentId: String(byMallory.id), author: 'mallory', reason: 'not trusted' },
      { commentId: String(byBot.id), author: 'helper[bot]', reason: 'not trusted' },
    ]);
  });

  it('Linear: a guest or non-member waits for a member to label; guest and app comments never answer', async () => {
    const { deployment, started } = await probeWorker();
    const teamKey = `T${crypto.randomUUID().slice(0, 5).replace(/-/g, '').toUpperCase()}`;
    const fake = await startFakeLinear({ teamKey });
    cleanups.push(() => fake.close());
    const other = fake.addTeam({ key: `O${teamKey}` });
    const guest = fake.addUser({ name: 'Guest', email: 'guest@x.test', guest: true });
    const outsider = fake.addUser({ name: 'Outsider', email: 'out@x.test', teamIds: [other.id] });
    const app = fake.addUser({ name: 'Zapier', email: 'zap@x.test', app: true });
    const lead = fake.addUser({ name: 'Lead', email: 'lead@x.test', displayName: 'lead' });
    const tracker = createLinearTracker({
      apiKey: fake.apiKey,
      apiUrl: fake.url,
      teamKey,
      activeStates: ['Todo', 'In Progress'],
      terminalStates: ['Done'],
      commentKey: TEST_COMMENT_KEY,
    });
    const byLead = fake.addIssue({ title: 'Add a health endpoint', creator: lead.id });
    const byGuest = fake.addIssue({ title: 'From a guest', creator: guest.id });
    const byOutsider = fake.addIssue({ title: 'From another team', creator: outsider.id });
    const [a, b, c] = [byLead, byGuest, byOutsider].map((i) => fake.identifier(i));
    started.push(...[a!, b!, c!].map((id) => issueWorkflowId(deployment.key, id)));

    const first = await tick(deployment, tracker);
    expect(first.started).toEqual([a]);
    expect(first.skipped).toEqual(
      expect.arrayContaining([
        { identifier: b, reason: 'author guest is not trusted; a trusted person must apply the label "foreman"' },
        { identifier: c, reason: 'author outsider is not trusted; a trusted person must apply the label "foreman"' },
      ]),
    );
    fake.labelIssue(byGuest.id, 'foreman', guest.id);
    expect((await tick(deployment, tracker)).started).toEqual([]);
    fake.labelIssue(byGuest.id, 'foreman', lead.id);
    expect((await tick(deployment, tracker)).started).toEqual([b]);

    fake.addComment(byLead.id, '/foreman approve', { user: guest.id });
    fake.addComment(byLead.id, '/foreman approve', { user: app.id });
    fake.addComment(byLead.id, '/foreman approve', { user: outsider.id });
    const answer = fake.addComment(byLead.id, '/foreman approve', { user: lead.id });
    await tick(deployment, tracker);
    const signals = await received(deployment, a!);
    expect(named(signals, 'humanReply')).toEqual([
      { text: '/foreman approve', author: 'lead', source: 'comment', commentId: answer.id, mayApprove: true },
    ]);
    expect(named(signals, 'commentIgnored').map((x) => (x as { author: string }).author)).toEqual([
      'guest',
      'zapier',
      'outsider',
    ]);
  });
});

describe('trust in foreman status', () => {
  it("the real dispatcher's skip reason for an untrusted author reaches the state snapshot (API) and `foreman status`", async () => {
    const tmp = await tempDir();
    cleanups.push(async () => tmp.cleanup());
    const repo = `st${crypto.randomUUID().slice(0, 8)}`;
    const fake = await startFakeGitHub({ repo });
    cleanups.push(() => fake.close());
    const issue = fake.addIssue({ title: 'Please run my script', user: 'mallory' });
    const identifier = `${repo}-${issue.number}`;
    const taskQueue = uniqueTaskQueue('trust-status');
    const policyFile = await writePolicy(tmp.dir, {
      issuesDir: path.join(tmp.dir, 'issues'),
      workspaceRoot: path.join(tmp.dir, 'workspaces'),
      repo: path.join(tmp.dir, 'origin'),
      modelUrl: 'http://127.0.0.1:9', // never called: nothing is dispatched
      taskQueue,
      extra: YAML.stringify({
        tracker: { kind: 'github', provider: { repo: `${fake.owner}/${repo}`, token: fake.token, base_url: fake.url } },
      }),
    });
    const env = { ...process.env, FOREMAN_HOME: path.join(tmp.dir, 'home') };
    const { runtime } = await startTestWorker({ policyFile, taskQueue, env, cleanups });
    const dispatcher = await startDispatcher(runtime.client, runtime.deployment.taskQueue);
    cleanups.push(() => dispatcher.terminate('test over'));

    const reason = 'author mallory is not trusted; a trusted person must apply the label "foreman"';
    const deadline = Date.now() + 30_000;
    let state = await collectState(runtime.client, runtime.deployment);
    while (!state.skipped.some((s) => s.issue_identifier === identifier)) {
      if (Date.now() > deadline) throw new Error(`no skip reason for ${identifier}: ${JSON.stringify(state.skipped)}`);
      await new Promise((r) => setTimeout(r, 200));
      state = await collectState(runtime.client, runtime.deployment);
    }
    expect(state.skipped).toContainEqual({ issue_identifier: identifier, reason });
    expect(state.counts.running).toBe(0);
    expect(formatState(state)).toContain(`Not started:\n  ${identifier}  ${reason}`);
  });
});

describe('ignored comments on a real run', () => {
  it('commentIgnored lists each comment once (at most 20) in the waiting run status; it is no answer', async () => {
    const ctx = await createRunContext({
      script: [
        toolUse('escalate', { question: 'Saturate at MAX_SAFE_INTEGER?', options: ['yes', 'no'] }),
        toolUse('edit_file', { path: 'add.js', old_text: 'return a - b;', new_text: 'return a + b;' }),
        toolUse('finish', { summary: 'Fixed.' }),
      ],
    });
    cleanups.push(() => closeRunContext(ctx));
    const handle = await ctx.start();
    await ctx.waitFor('the question', async () => (await ctx.status()).phase === 'waiting_for_human', 90_000);
    for (let i = 0; i < 25; i++)
      await handle.signal(commentIgnoredSignal, { commentId: `c${i}`, author: 'mallory', reason: 'not trusted' });
    await handle.signal(commentIgnoredSignal, { commentId: 'c24', author: 'mallory', reason: 'not trusted' });
    const status = await ctx.status();
    expect(status.phase).toBe('waiting_for_human');
    expect(status.ignoredComments?.map((c) => c.commentId)).toEqual(Array.from({ length: 20 }, (_, i) => `c${i + 5}`));
    await handle.signal(humanReplySignal, { text: 'no', author: 'ana', source: 'cli', mayApprove: true });
    expect(((await handle.result()) as IssueRunSummary).outcome).toBe('completed');
  });
});
