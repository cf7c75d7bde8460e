/**
 * The crash matrix: an IssueWorkflow survives `kill -9` of its worker process (a) mid agent turn,
 * (b) during QA, (c) right after the push reached the remote but before the evidence comment,
 * (d) while waiting for a human's answer, and (e) a restart of the Temporal dev server (same db
 * file) mid-run. Each ends `completed` with exactly one evidence comment, one branch holding the
 * fix, the issue in review, and no answer lost.
 *
 * Real processes throughout: workers are child processes (test/support/worker-process.ts) killed
 * with SIGKILL to their whole process group; the model is a scripted Messages API server whose
 * step functions hold a response until the test has done its damage. Slow by nature (the agent
 * and QA activities are only retried after their 30 s heartbeat timeout), so the scenarios run
 * one after another and print their timings as `[crash-matrix] …` lines for the lead's notes.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, startDevServer } from '../../src/temporal/dev-server.js';
import { ISSUE_WORKFLOW_TYPE, humanReplySignal, issueWorkflowId, statusQuery } from '../../workflows/definitions.js';
import { pidAlive } from '../../src/file-lock.js';
import { loadPolicy } from '../../src/config/load.js';
import { deploymentOf } from '../../src/deployment.js';
import { issueRunTags } from '../../src/dispatch/runs.js';
import {
  killGroup,
  crashTestCleanups,
  spawnWorker,
  trackProcess,
  waitFor,
  type WorkerProcess,
} from '../support/crash.js';
import { git, makeOrigin, tempDir, writeIssue, writePolicy } from '../support/fixtures.js';
import {
  startScriptedModelServer,
  toolUse,
  type CapturedRequest,
  type ScriptStep,
  type ScriptedModelServer,
} from '../support/scripted-model-server.js';
import { temporalAddress, temporalNamespace, uniqueTaskQueue } from '../support/temporal.js';
import type { IssueRunSummary, IssueWorkflowInput } from '../../workflows/definitions.js';

const FIX = { path: 'add.js', old_text: 'return a - b;', new_text: 'return a + b;' };
/** Upper bound for a retried activity to start on the new worker: heartbeat timeout (30 s) + backoff + slack. */
const RESUME_TIMEOUT_MS = 90_000;
const RESULT_TIMEOUT_MS = 120_000;

/** A promise the test opens by hand, to hold a scripted model response. */
function gate(): { wait: Promise<void>; open(): void } {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => (open = resolve));
  return { wait, open };
}

/** One scenario's world: temp dir, bare origin, local issue, model server, policy, client. */
interface Scenario {
  dir: string;
  origin: string;
  issuesDir: string;
  home: string;
  identifier: string;
  policyFile: string;
  taskQueue: string;
  address: string;
  model: ScriptedModelServer;
  client: Client;
  /** Spawns a worker child on the scenario's address and task queue and waits for READY. */
  worker(name: string): Promise<WorkerProcess>;
  /** Starts the IssueWorkflow for the scenario's issue (no worker needed). */
  start(): Promise<WorkflowHandle>;
  comments(): Promise<string>;
}

const cleanups = crashTestCleanups();
const timings: string[] = [];

/** Prints one labelled line for the lead's notes and keeps it for the summary at the end. */
function report(line: string): void {
  const text = `[crash-matrix] ${line}`;
  timings.push(text);
  console.log(text);
}

afterAll(() => {
  if (timings.length) console.log(`[crash-matrix] summary\n${timings.join('\n')}`);
});

async function setupScenario(opts: {
  script: ScriptStep[] | ((req: CapturedRequest, index: number) => ScriptStep);
  qaCommands?: string[];
  address?: string;
  /** More policy YAML. (Default: none) */
  extra?: string;
}): Promise<Scenario> {
  const tmp = await tempDir('foreman-crash-');
  cleanups.push(tmp.cleanup);
  const dir = tmp.dir;
  const model = await startScriptedModelServer(opts.script);
  cleanups.push(() => model.close());
  const origin = await makeOrigin(dir);
  const issuesDir = path.join(dir, 'issues');
  const identifier = `K${Math.random().toString(36).slice(2, 8).toUpperCase()}-1`;
  await writeIssue(issuesDir, identifier, { title: 'Fix add()', state: 'Todo' }, 'add(2, 3) must return 5.');
  const taskQueue = uniqueTaskQueue('crash');
  const policyFile = await writePolicy(dir, {
    issuesDir,
    workspaceRoot: path.join(dir, 'workspaces'),
    repo: origin,
    modelUrl: model.url,
    taskQueue,
    ...(opts.qaCommands ? { qaCommands: opts.qaCommands } : {}),
    // The kill costs an activity attempt; leave one spare so a slow machine's hiccup doesn't end the run.
    extra: `budget:\n  max_attempts: 3\n${opts.extra ?? ''}`,
  });

  // The worker's deployment (src/deployment.ts): its key names the issue's workflow.
  const deployment = deploymentOf(await loadPolicy(policyFile));
  const workflowId = issueWorkflowId(deployment.key, identifier);
  const address = opts.address ?? temporalAddress();
  const namespace = temporalNamespace();
  const connection = await Connection.connect({ address });
  const client = new Client({ connection, namespace });
  cleanups.push(async () => {
    // A failed test must not leave its run behind on a server another test uses.
    // Bounded: when the test's own server is already gone, the client would retry for ~20 s.
    await connection
      .withDeadline(Date.now() + 3_000, () => client.workflow.getHandle(workflowId).terminate('crash-matrix test over'))
      .catch(() => {});
    await connection.close();
  });
  const home = path.join(dir, 'home');
  return {
    dir,
    origin,
    issuesDir,
    home,
    identifier,
    policyFile,
    taskQueue,
    address,
    model,
    client,
    async worker(name) {
      const w = spawnWorker({ address, namespace, taskQueue, policyFile, home, name: `${name} (${identifier})` });
      await w.ready;
      return w;
    },
    start() {
      const input: IssueWorkflowInput = { issueId: identifier, identifier };
      return client.workflow.start(ISSUE_WORKFLOW_TYPE, {
        workflowId,
        taskQueue,
        args: [input],
        ...issueRunTags(deployment, { id: identifier, identifier }),
        workflowExecutionTimeout: '5 minutes',
      });
    },
    comments: () => fs.readFile(path.join(issuesDir, `${identifier}.comments.md`), 'utf8').catch(() => ''),
  };
}

/** The run's result, failing (with the workers' output) instead of hanging. */
async function resultOf(handle: WorkflowHandle, workers: WorkerProcess[]): Promise<IssueRunSummary> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new Error(
            `the run did not finish within ${RESULT_TIMEOUT_MS} ms; worker output:\n` +
              workers.map((w) => w.output().slice(-3000)).join('\n---\n'),
          ),
        ),
      RESULT_TIMEOUT_MS,
    );
  });
  try {
    return (await Promise.race([handle.result(), timeout])) as IssueRunSummary;
  } finally {
    clearTimeout(timer);
  }
}

/** Foreman comment blocks in the issue's comments file whose body is an evidence packet. */
function evidenceComments(comments: string): string[] {
  return comments
    .split(/^(?=--- comment by )/m)
    .filter((block) => block.startsWith('--- comment by foreman') && block.includes('Foreman evidence'));
}

/** The checks every scenario ends with (the issue's "each ends completed …" sentence). */
async function expectCompletedOnce(s: Scenario, summary: IssueRunSummary): Promise<void> {
  expect(summary.outcome, summary.reason ?? '').toBe('completed');
  expect(summary.pushed).toBe(true);
  const evidence = evidenceComments(await s.comments());
  expect(evidence, await s.comments()).toHaveLength(1);
  expect(evidence[0]).toContain('ready for review');

  const branch = `foreman/${s.identifier}`;
  const refs = git(s.origin, 'for-each-ref', '--format=%(refname)', 'refs/heads/').trim().split('\n');
  expect(refs.filter((r) => r.startsWith('refs/heads/foreman/'))).toEqual([`refs/heads/${branch}`]);
  expect(git(s.origin, 'show', `${branch}:add.js`)).toContain('return a + b;');
  // One commit on top of main: a retried step did not commit twice.
  expect(git(s.origin, 'rev-list', '--count', `main..${branch}`).trim()).toBe('1');
  expect(summary.commit).toBe(git(s.origin, 'rev-parse', branch).trim());

  const issue = await fs.readFile(path.join(s.issuesDir, `${s.identifier}.md`), 'utf8');
  expect(issue).toMatch(/^state: "?Human Review"?$/m);
  expect(s.model.failures).toEqual([]);
}

/** temporal.api.enums.v1.PendingActivityState names. */
const PENDING_STATES: Record<number, string> = {
  1: 'SCHEDULED',
  2: 'STARTED',
  3: 'CANCEL_REQUESTED',
  4: 'PAUSED',
  5: 'PAUSE_REQUESTED',
};

/** Where the run stands, for timeout messages: its pending activities and the workers' output. */
async function stateOf(handle: WorkflowHandle, workers: WorkerProcess[]): Promise<string> {
  const d = await handle.describe().catch(() => null);
  const pending = (d?.raw.pendingActivities ?? []).map((a) => {
    const type = a.activityType?.name ?? '?';
    const started = a.lastStartedTime?.seconds
      ? new Date(Number(a.lastStartedTime.seconds) * 1000).toISOString()
      : 'never';
    const beat = a.lastHeartbeatTime?.seconds
      ? new Date(Number(a.lastHeartbeatTime.seconds) * 1000).toISOString()
      : 'never';
    const state = PENDING_STATES[a.state ?? 0] ?? String(a.state);
    return `${type}: attempt ${a.attempt}, ${state}, last started ${started}, last heartbeat ${beat}, last failure ${a.lastFailure?.message ?? 'none'}`;
  });
  return (
    `workflow ${d?.status.name ?? '?'}; pending activities: ${pending.length ? pending.join(' | ') : 'none'}\n` +
    workers.map((w, i) => `worker ${i + 1} output:\n${w.output().slice(-3000)}`).join('\n')
  );
}

async function historyEvents(handle: WorkflowHandle): Promise<number> {
  const history = await handle.fetchHistory();
  return history.events?.length ?? 0;
}

/** The messages of a captured model request, as JSON (what the model was sent). */
function sent(req: CapturedRequest | undefined): string {
  return JSON.stringify(req?.body?.messages ?? null);
}

describe('crash matrix', () => {
  it('baseline: a run without crashes (history size of a typical issue run)', { timeout: 120_000 }, async () => {
    const s = await setupScenario({
      script: [
        toolUse('read_file', { path: 'test.js' }),
        toolUse('edit_file', FIX),
        toolUse('run_command', { command: 'node test.js' }),
        toolUse('finish', { summary: 'add() now adds.' }),
      ],
    });
    const w = await s.worker('worker');
    const t0 = Date.now();
    const handle = await s.start();
    const summary = await resultOf(handle, [w]);
    const wallMs = Date.now() - t0;
    await expectCompletedOnce(s, summary);
    const events = await historyEvents(handle);
    report(`history events: ${events} (typical run: 4 model calls, 1 QA round, no crash; ${wallMs} ms)`);
    expect(events).toBeGreaterThan(10);
    await w.stop();
  });

  it(
    '(a) kill -9 mid agent turn: the retried activity continues the conversation from the transcript',
    { timeout: 180_000 },
    async () => {
      const hold = gate();
      const s = await setupScenario({
        script: [
          toolUse('read_file', { path: 'test.js' }),
          async () => {
            await hold.wait; // the worker that asked is dead by now: this answer goes nowhere
            return toolUse('edit_file', FIX);
          },
          toolUse('edit_file', FIX),
          toolUse('run_command', { command: 'node test.js' }),
          toolUse('finish', { summary: 'add() now adds.' }),
        ],
      });
      cleanups.push(() => hold.open());
      const w1 = await s.worker('worker 1');
      const handle = await s.start();
      await waitFor(
        () => s.model.requests.length >= 2,
        60_000,
        () => `the 2nd model request; worker output:\n${w1.output()}`,
      );

      const killedAt = Date.now();
      await w1.kill9();
      hold.open();
      const w2 = await s.worker('worker 2');
      await waitFor(
        () => s.model.requests.length >= 3,
        RESUME_TIMEOUT_MS,
        async () => `the retried agent turn; ${await stateOf(handle, [w1, w2])}`,
      );
      const resumeMs = Date.now() - killedAt;

      const summary = await resultOf(handle, [w2]);
      await expectCompletedOnce(s, summary);
      // The retry sent exactly the conversation the killed turn had sent: nothing lost, nothing repeated.
      expect(sent(s.model.requests[2])).toBe(sent(s.model.requests[1]));
      expect(s.model.requests).toHaveLength(5);
      report(
        `a: kill→resume ${resumeMs} ms (agent turn retried after the heartbeat timeout); history events: ${await historyEvents(handle)}`,
      );
      await w2.stop();
    },
  );

  it('(b) kill -9 during QA: QA runs again on the new worker and passes', { timeout: 180_000 }, async () => {
    const tmp = await tempDir('foreman-crash-qa-');
    cleanups.push(tmp.cleanup);
    const marker = path.join(tmp.dir, 'qa-marker');
    const s = await setupScenario({
      script: [toolUse('edit_file', FIX), toolUse('finish', { summary: 'add() now adds.' })],
      // Agent and QA commands run with a scrubbed environment: the marker path is absolute.
      // The first QA run hangs (it would outlive the worker for 2 minutes); later runs do not.
      qaCommands: [
        `echo $$ > ${marker}; if [ ! -e ${marker}.once ]; then touch ${marker}.once; sleep 120; fi; node test.js`,
      ],
      // On the host (sandbox.mode: none): this is the orphan clean-up of unsandboxed commands. In the
      // sandbox the QA shell could not write the marker outside the workspace, and it dies with the
      // worker (bwrap --die-with-parent, PID namespace): test/security/sandbox.test.ts.
      extra: 'sandbox:\n  mode: none\n',
    });
    const w1 = await s.worker('worker 1');
    const handle = await s.start();
    const firstQa = await waitFor(
      () =>
        fs.readFile(marker, 'utf8').then(
          (t) => t.trim() || null,
          () => null,
        ),
      60_000,
      () => `QA to start; worker output:\n${w1.output()}`,
    );

    const killedAt = Date.now();
    await w1.kill9();
    await fs.rm(marker, { force: true });
    // The QA shell runs in its own process group (so a timeout can kill its whole tree), so a
    // kill -9 of the worker does not reach it: it is left running…
    const qaPid = Number(firstQa);
    expect(pidAlive(qaPid)).toBe(true);
    const w2 = await s.worker('worker 2');
    await waitFor(
      () =>
        fs.stat(marker).then(
          () => true,
          () => false,
        ),
      RESUME_TIMEOUT_MS,
      async () => `QA to run again; ${await stateOf(handle, [w1, w2])}`,
    );
    const resumeMs = Date.now() - killedAt;
    // …until the retried QA step starts: it ends what the dead attempt left (never two QA runs at once).
    await waitFor(() => !pidAlive(qaPid), 5_000, `the orphaned QA shell (pid ${qaPid}) to be ended by the retry`);

    const summary = await resultOf(handle, [w2]);
    await expectCompletedOnce(s, summary);
    expect(summary.qa).toEqual([expect.objectContaining({ exitCode: 0, passed: true })]);
    expect(summary.rounds).toBe(1);
    report(
      `b: kill→resume ${resumeMs} ms (QA retried after the heartbeat timeout); the orphaned QA shell was ended by the retry; ` +
        `history events: ${await historyEvents(handle)}`,
    );
    await w2.stop();
  });

  it(
    '(c) kill -9 right after the push reached the remote, before the comment: one branch, one evidence comment',
    { timeout: 180_000 },
    async () => {
      const tmp = await tempDir('foreman-crash-push-');
      cleanups.push(tmp.cleanup);
      const marker = path.join(tmp.dir, 'pushed');
      const hookOff = path.join(tmp.dir, 'hook-off');
      const s = await setupScenario({
        script: [toolUse('edit_file', FIX), toolUse('finish', { summary: 'add() now adds.' })],
      });
      // post-receive runs after the refs are updated; the pushing `git push` waits for it.
      const hook = path.join(s.origin, 'hooks', 'post-receive');
      await fs.writeFile(hook, `#!/bin/sh\n[ -e '${hookOff}' ] && exit 0\necho "$$" > '${marker}'\nsleep 5\n`);
      await fs.chmod(hook, 0o755);

      const w1 = await s.worker('worker 1');
      const handle = await s.start();
      await waitFor(
        () =>
          fs.stat(marker).then(
            () => true,
            () => false,
          ),
        60_000,
        () => `the push to reach the remote; worker output:\n${w1.output()}`,
      );

      const killedAt = Date.now();
      await w1.kill9();
      await fs.writeFile(hookOff, '');
      const branch = `foreman/${s.identifier}`;
      const pushedHead = git(s.origin, 'rev-parse', branch).trim(); // the remote has it; the worker never heard back
      expect(evidenceComments(await s.comments())).toHaveLength(0);

      const w2 = await s.worker('worker 2');
      await waitFor(
        async () => evidenceComments(await s.comments()).length > 0,
        RESUME_TIMEOUT_MS,
        async () => `the evidence comment after the retried push; ${await stateOf(handle, [w1, w2])}`,
      );
      const resumeMs = Date.now() - killedAt;

      const summary = await resultOf(handle, [w2]);
      await expectCompletedOnce(s, summary);
      expect(summary.commit).toBe(pushedHead);
      report(
        `c: kill→resume ${resumeMs} ms (kill → evidence posted after the retried push); history events: ${await historyEvents(handle)}`,
      );
      await w2.stop();
    },
  );

  it(
    '(d) kill -9 while waiting for an answer: the answer sent with no worker running reaches the model',
    { timeout: 180_000 },
    async () => {
      const ANSWER = 'Keep it numeric only; do not coerce strings (answer 7f3a).';
      const s = await setupScenario({
        script: [
          toolUse('escalate', {
            question: 'Should add() also coerce numeric strings?',
            options: ['numbers only', 'coerce strings'],
            recommendation: 'numbers only',
          }),
          toolUse('edit_file', FIX),
          toolUse('run_command', { command: 'node test.js' }),
          toolUse('finish', { summary: 'add() now adds numbers.' }),
        ],
      });
      const w1 = await s.worker('worker 1');
      const handle = await s.start();
      let lastStatus: unknown = null;
      await waitFor(
        async () => {
          const st = await handle.query(statusQuery);
          lastStatus = st;
          return st.phase === 'waiting_for_human' && st.escalation?.kind === 'agent_question';
        },
        60_000,
        async () =>
          `the agent's question to wait for an answer; last status ${JSON.stringify(lastStatus)}; ${await stateOf(handle, [w1])}`,
      );

      await w1.kill9();
      // Signals are durable: delivered with no worker alive, kept in the history.
      const signalledAt = Date.now();
      await handle.signal(humanReplySignal, { text: ANSWER, author: 'crash-matrix', source: 'cli' });
      const w2 = await s.worker('worker 2');
      const readyMs = Date.now() - signalledAt;
      await waitFor(
        () => s.model.requests.length >= 2,
        RESUME_TIMEOUT_MS,
        async () => `the model call after the answer; ${await stateOf(handle, [w1, w2])}`,
      );
      const resumeMs = Date.now() - signalledAt;

      const summary = await resultOf(handle, [w2]);
      await expectCompletedOnce(s, summary);
      expect(sent(s.model.requests[1])).toContain(ANSWER);
      expect(summary.escalations).toEqual([expect.objectContaining({ answer: ANSWER })]);
      expect(s.model.requests).toHaveLength(4);
      // The workflow task the signal makes goes to the dead worker's sticky queue first; the server
      // moves it to the normal queue after the sticky schedule-to-start timeout (SDK default 10 s).
      report(
        `d: answer→resume ${resumeMs} ms (signal sent with no worker alive; worker 2 ready after ${readyMs} ms); ` +
          `history events: ${await historyEvents(handle)}`,
      );
      await w2.stop();
    },
  );

  it(
    '(e) Temporal dev server restart (same db file) mid agent turn: the worker reconnects and the run completes',
    { timeout: 240_000 },
    async () => {
      const tmp = await tempDir('foreman-crash-server-');
      cleanups.push(tmp.cleanup);
      const dbFile = path.join(tmp.dir, 'temporal.db');
      const port = await freePort();
      const startServer = async () => {
        const server = await startDevServer({ dbFile, port, namespace: temporalNamespace() });
        trackProcess('temporal dev server', server.pid, () => server.stop());
        return server;
      };
      const first = await startServer();

      const hold = gate();
      cleanups.push(() => hold.open());
      const s = await setupScenario({
        address: first.address,
        // Lenient after the held turn: if the outage outlasts a heartbeat, the retry resumes the
        // conversation and may ask once more; every later request is answered with finish.
        script: (_req, index) =>
          index === 0
            ? toolUse('read_file', { path: 'test.js' })
            : index === 1
              ? async () => {
                  await hold.wait;
                  return toolUse('edit_file', FIX);
                }
              : index === 2
                ? toolUse('run_command', { command: 'node test.js' })
                : toolUse('finish', { summary: 'add() now adds.' }),
      });
      const w = await s.worker('worker');
      const handle = await s.start();
      await waitFor(
        () => s.model.requests.length >= 2,
        60_000,
        () => `the 2nd model request; worker output:\n${w.output()}`,
      );

      const killedAt = Date.now();
      await killGroup(first.pid);
      // The agent goes on working while the server is down, and finishes its turn: the activity's
      // completion has to reach the restarted server.
      hold.open();
      await waitFor(
        () => s.model.requests.length >= 4,
        60_000,
        () => `the agent to finish its turn; worker output:\n${w.output()}`,
      );
      const second = await startServer();
      const upAt = Date.now();
      expect(second.address).toBe(first.address);

      const summary = await resultOf(handle, [w]);
      const doneAt = Date.now();
      await expectCompletedOnce(s, summary);
      expect(w.output()).not.toMatch(/worker process failed|stopped on its own/);
      report(
        `e: server down ${upAt - killedAt} ms (kill → restarted server answers); server back → run completed ${doneAt - upAt} ms ` +
          `(model requests ${s.model.requests.length}); history events: ${await historyEvents(handle)}`,
      );
      await w.stop();
      await second.stop();
    },
  );
});
