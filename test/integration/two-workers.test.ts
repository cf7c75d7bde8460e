/**
 * Scale-out with workspace affinity (docs/architecture.md, "Scale"): two worker processes, each
 * with its own FOREMAN_HOME and workspace root (two hosts), on one Temporal dev server with one
 * local tracker folder, a scripted model and a real origin. 20 issues are each completed once (one
 * branch, one commit, one evidence comment), and the histories show every step on an issue's
 * workspace running on the worker that prepared it. Half of them run to the end at once; the
 * other half wait mid agent step until `kill -9` of the worker holding most of them: its issues
 * finish on the other, whose evidence says the workspace was re-created. A worker gone while its
 * issue waits for an answer: the worker that takes over re-creates the workspace from the pushed
 * partial work and writes the decision into its spec.
 * And `foreman start --worker-only`: what it refuses, what it polls, what it locks.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { describe, expect, it } from 'vitest';
import { loadPolicy } from '../../src/config/load.js';
import { deploymentOf } from '../../src/deployment.js';
import { issueRunTags } from '../../src/dispatch/runs.js';
import { DAEMON_LOCK_FILE } from '../../src/daemon-lock.js';
import { ISSUE_WORKFLOW_TYPE, humanReplySignal, issueWorkflowId, statusQuery } from '../../workflows/definitions.js';
import { createPolicyStore } from '../../src/config/store.js';
import { specFile } from '../../src/home.js';
import { silentLogger } from '../../src/logger.js';
import { createWorkerRuntime, type WorkerRuntime } from '../../src/temporal/worker.js';
import { workspaceKey } from '../../src/workspace/key.js';
import type { IssueRunSummary, IssueWorkflowInput } from '../../workflows/definitions.js';
import { spawnForeman } from '../support/cli.js';
import { crashTestCleanups, spawnWorker, waitFor, type WorkerProcess } from '../support/crash.js';
import { recordHistory } from '../support/histories.js';
import { git, makeOrigin, tempDir, writeIssue, writePolicy } from '../support/fixtures.js';
import {
  lastToolResults,
  startScriptedModelServer,
  toolResultText,
  toolUse,
  type CapturedRequest,
} from '../support/scripted-model-server.js';
import { temporalAddress, temporalNamespace, uniqueTaskQueue } from '../support/temporal.js';

const ISSUES = 20;
const FIX = { path: 'add.js', old_text: 'return a - b;', new_text: 'return a + b;' };
/** The activities that read or write an issue's workspace (or its spec and transcripts under FOREMAN_HOME). */
const WORKSPACE_STEPS = new Set([
  'runImplementer',
  'runReviewer',
  'runQaAgent',
  'runQa',
  'checkContract',
  'commitAndPush',
  'rebaseOnRemote',
  'checkoutConflict',
  'pushToNewBranch',
  'removeWorkspace',
  'recordDecision',
]);

const cleanups = crashTestCleanups();
const noop = () => {};

/**
 * One scheduled activity as the history shows it: its type, the task queue it was scheduled on,
 * the worker that ran its last attempt (null: none started; a history records only the last
 * attempt's start) and, when it timed out, how.
 */
interface ActivityStep {
  type: string;
  taskQueue: string;
  /** The worker id (the part of the worker identity before `/`, src/temporal/worker.ts). */
  worker: string | null;
  timeout: string | null;
}

/** Every activity the run `workflowId` scheduled, in history order. */
async function activitySteps(client: Client, workflowId: string): Promise<ActivityStep[]> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const steps = new Map<string, ActivityStep>();
  for (const e of history.events ?? []) {
    const s = e.activityTaskScheduledEventAttributes;
    if (s) {
      const step = {
        type: s.activityType?.name ?? '?',
        taskQueue: s.taskQueue?.name ?? '?',
        worker: null,
        timeout: null,
      };
      steps.set(String(e.eventId), step);
    }
    const started = e.activityTaskStartedEventAttributes;
    const step = started && steps.get(String(started.scheduledEventId));
    if (step) step.worker = (started.identity ?? '').split('/')[0]!;
    const timedOut = e.activityTaskTimedOutEventAttributes;
    const late = timedOut && steps.get(String(timedOut.scheduledEventId));
    const type = timedOut?.failure?.timeoutFailureInfo?.timeoutType;
    if (late) late.timeout = type == null ? '?' : (temporal.api.enums.v1.TimeoutType[type] ?? String(type));
  }
  return [...steps.values()];
}

/** Foreman comment blocks in an issue's comments file whose body is an evidence packet. */
function evidenceComments(comments: string): string[] {
  return comments
    .split(/^(?=--- comment by )/m)
    .filter((block) => block.startsWith('--- comment by foreman') && block.includes('Foreman evidence'));
}

/** What a step run by `worker` on its workspace queue looks like. */
function ranOn(taskQueue: string, worker: string): Partial<ActivityStep> {
  return { taskQueue: `${taskQueue}@${worker}`, worker, timeout: null };
}

describe('two workers', () => {
  it(
    `share ${ISSUES} issues with workspace affinity, and finish a killed worker's issues on the other`,
    { timeout: 300_000 },
    async () => {
      const t0 = Date.now();
      const tmp = await tempDir('foreman-two-workers-');
      cleanups.push(tmp.cleanup);
      const dir = tmp.dir;
      const origin = await makeOrigin(dir);
      const issuesDir = path.join(dir, 'issues');
      const prefix = `W${Math.random().toString(36).slice(2, 6).toUpperCase()}`;
      const identifiers = Array.from({ length: ISSUES }, (_, i) => `${prefix}-${i + 1}`);
      for (const id of identifiers) {
        await writeIssue(issuesDir, id, { title: `Fix add() (${id})`, state: 'Todo' }, 'add(2, 3) must return 5.');
      }

      // The first model call of every even-numbered issue waits until the test lets go (after the
      // kill): those issues are then mid agent step on their workers, while the odd-numbered ones
      // run to the end on theirs. The answers depend only on the conversation.
      let holding = true;
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      cleanups.push(() => release());
      const issueOf = (req: CapturedRequest) => /Work on (W\w+-(\d+))/.exec(JSON.stringify(req.body?.messages ?? []));
      const edited = (req: CapturedRequest) => JSON.stringify(req.body?.messages ?? []).includes('"tool_result"');
      const isHeld = (req: CapturedRequest) => Number(issueOf(req)?.[2] ?? 1) % 2 === 0;
      const heldCalls = () => model.requests.filter((r) => isHeld(r) && !edited(r)).length;
      const model = await startScriptedModelServer((req) => {
        if (edited(req)) return toolUse('finish', { summary: 'add() now adds.' });
        if (!holding || !isHeld(req)) return toolUse('edit_file', FIX);
        return async () => {
          await released;
          return toolUse('edit_file', FIX);
        };
      });
      cleanups.push(() => model.close());

      const taskQueue = uniqueTaskQueue('two');
      const hosts = ['host-a', 'host-b'] as const;
      const policyFiles: Record<string, string> = {};
      for (const host of hosts) {
        const hostDir = path.join(dir, host);
        await fs.mkdir(hostDir, { recursive: true });
        policyFiles[host] = await writePolicy(hostDir, {
          issuesDir,
          workspaceRoot: path.join(hostDir, 'workspaces'),
          repo: origin,
          modelUrl: model.url,
          taskQueue,
          // A dead worker's queue fails a workspace step after 5 s here (default 2 min).
          extra: 'temporal:\n  workspace_start_timeout_ms: 5000\nagent:\n  max_concurrent_agents: 20\n',
        });
      }

      const deployment = deploymentOf(await loadPolicy(policyFiles['host-a']!));
      expect(deploymentOf(await loadPolicy(policyFiles['host-b']!)).key).toBe(deployment.key);
      const address = temporalAddress();
      const namespace = temporalNamespace();
      const connection = await Connection.connect({ address });
      const client = new Client({ connection, namespace });
      const workflowIds = identifiers.map((id) => issueWorkflowId(deployment.key, id));
      cleanups.push(async () => {
        for (const id of workflowIds)
          await client.workflow
            .getHandle(id)
            .terminate('test over')
            .catch(() => {});
        await connection.close();
      });

      const workers: Record<string, WorkerProcess> = {};
      for (const host of hosts) {
        workers[host] = spawnWorker({
          address,
          namespace,
          taskQueue,
          policyFile: policyFiles[host]!,
          home: path.join(dir, host, 'home'),
          env: { ...process.env, FOREMAN_LOG_LEVEL: 'warn', FOREMAN_WORKER_ID: host },
          name: `worker ${host}`,
        });
      }
      await Promise.all(Object.values(workers).map((w) => w.ready));
      const output = () => hosts.map((h) => `${h}:\n${workers[h]!.output().slice(-3000)}`).join('\n---\n');

      const handles: WorkflowHandle[] = [];
      for (const [i, identifier] of identifiers.entries()) {
        const input: IssueWorkflowInput = { issueId: identifier, identifier };
        handles.push(
          await client.workflow.start(ISSUE_WORKFLOW_TYPE, {
            workflowId: workflowIds[i]!,
            taskQueue,
            args: [input],
            ...issueRunTags(deployment, { id: identifier, identifier }),
            workflowExecutionTimeout: '5 minutes',
          }),
        );
      }
      const odd = handles.filter((_, i) => i % 2 === 0); // W…-1, W…-3, …
      const even = handles.filter((_, i) => i % 2 === 1);
      const oddDone = await Promise.race([
        Promise.all(odd.map((h) => h.result() as Promise<IssueRunSummary>)),
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error(`the odd-numbered runs did not finish; ${output()}`)), 150_000).unref(),
        ),
      ]);
      expect(oddDone.map((r) => r.outcome)).toEqual(odd.map(() => 'completed'));
      await waitFor(
        () => heldCalls() >= even.length,
        120_000,
        () => `${even.length} held agent steps to call the model (${heldCalls()} did); ${output()}`,
      );
      const heldAt = Date.now();

      // Who prepared (and so holds) each issue's workspace.
      const holder = new Map<string, string>();
      for (const [i, id] of workflowIds.entries()) {
        const prepared = (await activitySteps(client, id)).filter((r) => r.type === 'prepareWorkspace');
        expect(prepared, identifiers[i]).toHaveLength(1);
        expect(prepared[0]!.taskQueue).toBe(taskQueue); // any worker may prepare
        holder.set(id, prepared[0]!.worker!);
      }
      const on = (host: string, ids: string[] = workflowIds) => ids.filter((id) => holder.get(id) === host);
      const evenIds = even.map((h) => h.workflowId);
      expect(on('host-a').length + on('host-b').length).toBe(ISSUES);
      expect(on('host-a').length, 'both workers took issues').toBeGreaterThan(0);
      expect(on('host-b').length, 'both workers took issues').toBeGreaterThan(0);
      // Kill the worker holding the most issues mid step.
      const victim = on('host-a', evenIds).length >= on('host-b', evenIds).length ? 'host-a' : 'host-b';
      const survivor = victim === 'host-a' ? 'host-b' : 'host-a';
      expect(on(victim, evenIds).length).toBeGreaterThan(0);

      await workers[victim]!.kill9();
      const killedAt = Date.now();
      holding = false;
      release();

      const summaries = await Promise.race([
        Promise.all(handles.map((h) => h.result() as Promise<IssueRunSummary>)),
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error(`the runs did not all finish; ${output()}`)), 200_000).unref(),
        ),
      ]);
      const doneAt = Date.now();

      // Each issue completed once: one branch with one commit holding the fix, one evidence comment.
      const refs = git(origin, 'for-each-ref', '--format=%(refname)', 'refs/heads/foreman/').trim().split('\n');
      expect(refs.sort()).toEqual(identifiers.map((id) => `refs/heads/foreman/${id}`).sort());
      for (const [i, id] of identifiers.entries()) {
        const summary = summaries[i]!;
        expect(summary.outcome, `${id}: ${summary.reason ?? ''}`).toBe('completed');
        expect(summary.pushed, id).toBe(true);
        const branch = `foreman/${id}`;
        expect(git(origin, 'rev-list', '--count', `main..${branch}`).trim(), id).toBe('1');
        expect(git(origin, 'show', `${branch}:add.js`), id).toContain('return a + b;');
        expect(summary.commit, id).toBe(git(origin, 'rev-parse', branch).trim());
        const comments = await fs.readFile(path.join(issuesDir, `${id}.comments.md`), 'utf8');
        const evidence = evidenceComments(comments);
        expect(evidence, `${id}:\n${comments}`).toHaveLength(1);

        // Every step on the workspace was scheduled on, and run by, the worker that held it.
        const all = await activitySteps(client, workflowIds[i]!);
        const onWorkspace = all.filter((r) => WORKSPACE_STEPS.has(r.type));
        expect(onWorkspace.length, id).toBeGreaterThan(0);
        const first = holder.get(workflowIds[i]!)!;
        const lost = first === victim && evenIds.includes(workflowIds[i]!);
        if (!lost) {
          // Finished before the kill, or held by the worker that stayed: all on the worker that prepared it.
          for (const r of onWorkspace) expect(r, `${id} ${r.type}`).toMatchObject(ranOn(taskQueue, first));
          expect(
            onWorkspace.map((r) => r.type),
            id,
          ).toEqual(['runImplementer', 'runQa', 'checkContract', 'commitAndPush']);
          expect(evidence[0], id).not.toContain('The workspace was re-created');
        } else {
          // The killed worker's issue: its implementer step, scheduled on the killed worker's queue,
          // timed out there unstarted; the workspace was prepared again (by the other worker) and
          // every later step ran there.
          const [lostStep, ...later] = onWorkspace;
          expect(lostStep, id).toEqual({
            type: 'runImplementer',
            taskQueue: `${taskQueue}@${victim}`,
            worker: null,
            timeout: 'TIMEOUT_TYPE_SCHEDULE_TO_START',
          });
          const prepared = all.filter((r) => r.type === 'prepareWorkspace');
          expect(
            prepared.map((r) => r.worker),
            id,
          ).toEqual([victim, survivor]);
          for (const r of later) expect(r, `${id} ${r.type}`).toMatchObject(ranOn(taskQueue, survivor));
          expect(
            later.map((r) => r.type),
            id,
          ).toEqual(['runImplementer', 'runQa', 'checkContract', 'commitAndPush']);
          expect(evidence[0], id).toContain(
            `worker \`${victim}\`, which held it, was lost during "run the implementer". Foreman prepared it again ` +
              `on worker \`${survivor}\` from the base branch \`main\``,
          );
        }
      }
      expect(model.failures).toEqual([]);
      // Replay fixtures (test/unit/replay.test.ts): a run with affinity, and one whose workspace was re-created.
      const [kept] = workflowIds.filter((id) => holder.get(id) === survivor);
      const [moved] = on(victim, evenIds);
      await recordHistory(client.workflow.getHandle(kept!), 'workspace-affinity');
      await recordHistory(client.workflow.getHandle(moved!), 'workspace-recreated');
      console.log(
        `[two-workers] ${ISSUES} issues: ${on('host-a').length} prepared on host-a, ${on('host-b').length} on host-b; ` +
          `odd ones completed and even ones mid agent step ${heldAt - t0} ms after setup began; killed ${victim} ` +
          `holding ${on(victim, evenIds).length} of them; all completed ${doneAt - killedAt} ms after the kill`,
      );
      await workers[survivor]!.stop();
    },
  );

  it('a worker gone while its issue waits for an answer: the other re-creates the workspace from the pushed partial work, with the decision in its spec', async () => {
    const tmp = await tempDir('foreman-two-workers-answer-');
    cleanups.push(tmp.cleanup);
    const dir = tmp.dir;
    const origin = await makeOrigin(dir);
    const issuesDir = path.join(dir, 'issues');
    const identifier = `WA${Math.random().toString(36).slice(2, 6).toUpperCase()}-1`;
    await writeIssue(issuesDir, identifier, { title: 'Fix add()', state: 'Todo' }, 'add(2, 3) must return 5.');
    const ANSWER = 'Numbers only, no coercion (answer 5c1e).';
    // ws-a's implementer fixes add() and then asks (the fix is pushed as partial work); the
    // implementer on ws-b tries the same edit, finds it made (its workspace came from the pushed
    // branch), and finishes.
    const model = await startScriptedModelServer((req, index) => {
      if (index === 1)
        return toolUse('escalate', {
          question: 'Coerce numeric strings?',
          options: ['no', 'yes'],
          recommendation: 'no',
        });
      return lastToolResults(req).length && index > 1
        ? toolUse('finish', { summary: 'add() now adds.' })
        : toolUse('edit_file', FIX);
    });
    cleanups.push(() => model.close());
    const taskQueue = uniqueTaskQueue('two-answer');
    const address = temporalAddress();
    const namespace = temporalNamespace();
    const runtimes: Record<string, WorkerRuntime> = {};
    for (const host of ['ws-a', 'ws-b']) {
      const hostDir = path.join(dir, host);
      await fs.mkdir(hostDir, { recursive: true });
      const policyFile = await writePolicy(hostDir, {
        issuesDir,
        workspaceRoot: path.join(hostDir, 'workspaces'),
        repo: origin,
        modelUrl: model.url,
        taskQueue,
        extra: 'temporal:\n  workspace_start_timeout_ms: 2000\n',
      });
      const home = path.join(hostDir, 'home');
      const env = { ...process.env, FOREMAN_HOME: home };
      const store = await createPolicyStore(policyFile, { env, watch: false });
      cleanups.push(() => store.close());
      const runtime = await createWorkerRuntime({
        address,
        namespace,
        taskQueue,
        policyStore: store,
        home,
        log: silentLogger,
        env,
        workerId: host,
      });
      cleanups.push(() => runtime.shutdown());
      runtimes[host] = runtime;
    }
    const a = runtimes['ws-a']!;
    const b = runtimes['ws-b']!;
    void a.run(); // only ws-a at first: it prepares the workspace
    const deployment = a.deployment;
    const workflowId = issueWorkflowId(deployment.key, identifier);
    const input: IssueWorkflowInput = { issueId: identifier, identifier };
    await b.client.workflow.start(ISSUE_WORKFLOW_TYPE, {
      workflowId,
      taskQueue,
      args: [input],
      ...issueRunTags(deployment, { id: identifier, identifier }),
      workflowExecutionTimeout: '5 minutes',
    });
    const handle = b.client.workflow.getHandle(workflowId); // ws-a's client closes with it
    cleanups.push(() => handle.terminate('test over').then(noop, noop));
    await waitFor(async () => (await handle.query(statusQuery)).phase === 'waiting_for_human', 60_000, 'the question');

    const partial = git(origin, 'rev-parse', `foreman/${identifier}`).trim(); // the partial work, pushed
    expect(git(origin, 'show', `${partial}:add.js`)).toContain('return a + b;');
    void b.run();
    await a.shutdown(); // ws-a is gone while the run waits
    await handle.signal(humanReplySignal, { text: ANSWER, author: 'ana', source: 'cli' });
    const summary = (await handle.result()) as IssueRunSummary;
    expect(summary.outcome, summary.reason ?? '').toBe('completed');
    expect(summary.pushed).toBe(true);
    expect(summary.escalations).toEqual([expect.objectContaining({ answer: ANSWER, author: 'ana' })]);

    // The decision could not be written on ws-a; ws-b wrote it into the spec it made.
    const steps = await activitySteps(b.client, workflowId);
    expect(steps.find((r) => r.type === 'recordDecision')).toEqual({
      type: 'recordDecision',
      taskQueue: `${taskQueue}@ws-a`,
      worker: null,
      timeout: 'TIMEOUT_TYPE_SCHEDULE_TO_START',
    });
    expect(steps.filter((r) => r.type === 'prepareWorkspace').map((r) => r.worker)).toEqual(['ws-a', 'ws-b']);
    const spec = await fs.readFile(specFile(path.join(dir, 'ws-b', 'home'), workspaceKey(identifier)), 'utf8');
    expect(spec).toMatch(/## Decisions\n- \*\*Q1\*\* \(agent_question[^\n]*Coerce numeric strings\?/);
    expect(spec).toContain(`> ${ANSWER}`);
    const copy = path.join(dir, 'ws-b', 'workspaces', identifier, '.foreman', 'spec.md');
    expect(await fs.readFile(copy, 'utf8')).toContain(`> ${ANSWER}`);
    // The implementer on ws-b started over with the note and the answer, in a workspace holding the pushed fix.
    const after = JSON.stringify(model.requests[2]?.body?.messages ?? []);
    expect(after).toContain('Foreman lost the worker that held your workspace');
    expect(after).toContain(`the last push of the issue branch foreman/${identifier}`);
    expect(after).toContain(ANSWER);
    expect(toolResultText(lastToolResults(model.requests[3]!)[0])).toContain('old_text occurs 0 times in add.js');
    const comments = await fs.readFile(path.join(issuesDir, `${identifier}.comments.md`), 'utf8');
    const [evidence] = evidenceComments(comments);
    expect(evidence).toContain(
      'worker `ws-a`, which held it, was lost during "run the implementer". Foreman prepared it again on worker ' +
        `\`ws-b\` from the pushed branch \`foreman/${identifier}\` at \`${partial.slice(0, 12)}\``,
    );
    expect(git(origin, 'show', `foreman/${identifier}:add.js`)).toContain('return a + b;');
    expect(model.failures).toEqual([]);
  });

  it('foreman start --worker-only: refuses without TEMPORAL_ADDRESS or with a bad worker id; polls its queues; locks only its home', async () => {
    const tmp = await tempDir('foreman-worker-only-');
    cleanups.push(tmp.cleanup);
    const dir = tmp.dir;
    const origin = await makeOrigin(dir);
    const model = await startScriptedModelServer([]);
    cleanups.push(() => model.close());
    const issuesDir = path.join(dir, 'issues');
    await fs.mkdir(issuesDir, { recursive: true });
    const taskQueue = uniqueTaskQueue('wo');
    const policyFile = await writePolicy(dir, {
      issuesDir,
      workspaceRoot: path.join(dir, 'workspaces'),
      repo: origin,
      modelUrl: model.url,
      taskQueue,
    });
    const home = path.join(dir, 'home');
    const base: NodeJS.ProcessEnv = { ...process.env, FOREMAN_HOME: home, FOREMAN_LOG_LEVEL: 'info' };
    delete base.TEMPORAL_ADDRESS;

    const noAddress = await spawnForeman(['start', '--worker-only', policyFile], base).wait(60_000);
    expect(noAddress.code, noAddress.stderr).toBe(2);
    expect(noAddress.stderr).toContain('error[temporal_address_missing]');
    const env = { ...base, TEMPORAL_ADDRESS: temporalAddress(), TEMPORAL_NAMESPACE: temporalNamespace() };
    const badId = await spawnForeman(['start', '--worker-only', policyFile], {
      ...env,
      FOREMAN_WORKER_ID: 'a b/../c',
    }).wait(60_000);
    expect(badId.code, badId.stderr).toBe(2);
    expect(badId.stderr).toContain('error[worker_id_invalid]');

    const proc = spawnForeman(['start', '--worker-only', policyFile], { ...env, FOREMAN_WORKER_ID: 'wo-1' });
    cleanups.push(() => void proc.child.kill('SIGKILL'));
    await waitFor(
      () => /Foreman worker is running/.test(proc.output().stdout + proc.output().stderr),
      90_000,
      () => `the worker-only process to be ready:\n${proc.output().stdout}\n${proc.output().stderr}`,
    );
    const out = proc.output().stdout + proc.output().stderr;
    const deployment = deploymentOf(await loadPolicy(policyFile));
    expect(out).toContain(`wo-1 polls ${deployment.taskQueue} and ${deployment.taskQueue}@wo-1`);
    expect(out).not.toContain('Temporal dev server ready');
    // Only FOREMAN_HOME's lock: other worker processes (other homes) share the issues folder.
    await expect(fs.stat(path.join(home, DAEMON_LOCK_FILE))).resolves.toBeTruthy();
    await expect(fs.stat(path.join(issuesDir, DAEMON_LOCK_FILE))).rejects.toThrow();
    const connection = await Connection.connect({ address: temporalAddress() });
    cleanups.push(() => connection.close());
    const pollers = async (queue: string) =>
      (
        await connection.workflowService.describeTaskQueue({
          namespace: temporalNamespace(),
          taskQueue: { name: queue },
          taskQueueType: 2, // TASK_QUEUE_TYPE_ACTIVITY
        })
      ).pollers?.length ?? 0;
    await waitFor(
      async () => (await pollers(`${deployment.taskQueue}@wo-1`)) > 0,
      30_000,
      'a poller on the workspace queue',
    );
    proc.child.kill('SIGTERM');
    const ended = await proc.wait(60_000);
    expect(ended.code, ended.stderr).toBe(0);
    await expect(fs.stat(path.join(home, DAEMON_LOCK_FILE))).rejects.toThrow();
  });
});
