/**
 * A crash mid-rework loses nothing (docs/architecture.md, "Sending work back"): the worker process
 * is killed (`kill -9` of its process group) while the implementer works the rework round a human
 * asked for by moving the issue back; a new worker retries the step after the heartbeat timeout,
 * the request still in the conversation, and the round ends on the same branch. Real processes:
 * the worker is test/support/worker-process.ts, the dispatcher runs on it, the model is scripted.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { expect, it } from 'vitest';
import { loadPolicy } from '../../src/config/load.js';
import { deploymentOf } from '../../src/deployment.js';
import { dispatcherWorkflowId, issueWorkflowId, type IssueRunSummary } from '../../workflows/definitions.js';
import { crashTestCleanups, spawnWorker, waitFor } from '../support/crash.js';
import { git, makeOrigin, tempDir, writeIssue, writePolicy } from '../support/fixtures.js';
import { startDispatcher } from '../support/run-context.js';
import { startScriptedModelServer, toolUse, type CapturedRequest } from '../support/scripted-model-server.js';
import { temporalAddress, temporalNamespace, uniqueTaskQueue } from '../support/temporal.js';

const cleanups = crashTestCleanups();

const lastTurn = (req: CapturedRequest | undefined) => JSON.stringify((req?.body.messages as unknown[]).at(-1));

it(
  'kill -9 of the worker mid-rework: a new worker finishes the round with the request',
  { timeout: 240_000 },
  async () => {
    const tmp = await tempDir('foreman-rework-crash-');
    cleanups.push(tmp.cleanup);
    let release!: () => void;
    const hold = new Promise<void>((resolve) => (release = resolve));
    cleanups.push(() => release());
    const model = await startScriptedModelServer([
      toolUse('edit_file', { path: 'add.js', old_text: 'return a - b;', new_text: 'return a + b;' }),
      toolUse('finish', { summary: 'Fixed the sign.' }),
      async () => {
        await hold; // the worker that asked is dead by now: this answer goes nowhere
        return toolUse('write_file', { path: 'HELLO.md', content: 'Hi\n' });
      },
      toolUse('write_file', { path: 'HELLO.md', content: 'Hi\n' }),
      toolUse('finish', { summary: 'Said Hi.' }),
    ]);
    cleanups.push(() => model.close());
    const origin = await makeOrigin(tmp.dir);
    const issuesDir = path.join(tmp.dir, 'issues');
    const identifier = `RW${Math.random().toString(36).slice(2, 7).toUpperCase()}-1`;
    const issueFile = await writeIssue(issuesDir, identifier, { title: 'Fix add()', state: 'Todo' }, 'add(2, 3) = 5');
    const taskQueue = uniqueTaskQueue('rework-crash');
    const policyFile = await writePolicy(tmp.dir, {
      issuesDir,
      workspaceRoot: path.join(tmp.dir, 'workspaces'),
      repo: origin,
      modelUrl: model.url,
      taskQueue,
      extra: 'budget:\n  max_attempts: 3\nroles:\n  reviewer:\n    enabled: false',
    });
    const workflowId = issueWorkflowId(deploymentOf(await loadPolicy(policyFile)).key, identifier);
    const connection = await Connection.connect({ address: temporalAddress() });
    const client = new Client({ connection, namespace: temporalNamespace() });
    cleanups.push(async () => {
      await client.workflow
        .getHandle(workflowId)
        .terminate('test over')
        .catch(() => {});
      await client.workflow
        .getHandle(dispatcherWorkflowId(taskQueue))
        .terminate('test over')
        .catch(() => {});
      await connection.close();
    });
    const worker = async (name: string) => {
      const w = spawnWorker({
        address: temporalAddress(),
        namespace: temporalNamespace(),
        taskQueue,
        policyFile,
        home: path.join(tmp.dir, 'home'),
        name,
      });
      await w.ready;
      return w;
    };
    const latest = async () => client.workflow.getHandle(workflowId).describe();
    const w1 = await worker('worker 1');
    await startDispatcher(client, taskQueue);

    const first = await waitFor(
      async () => ((await latest()).status.name === 'COMPLETED' ? (await latest()).runId : null),
      90_000,
      () => `the first hand-over; worker output:\n${w1.output()}`,
    );
    await fs.appendFile(
      path.join(issuesDir, `${identifier}.comments.md`),
      `\n--- comment by jane at ${new Date().toISOString()} ---\nPlease say Hi instead\n`,
    );
    const text = await fs.readFile(issueFile, 'utf8');
    await fs.writeFile(issueFile, text.replace(/^state: .*$/m, 'state: "Todo"'));

    // The rework's first model call is held; the worker dies under it.
    await waitFor(
      () => model.requests.length >= 3,
      60_000,
      () => `the rework's model call; ${w1.output()}`,
    );
    expect(lastTurn(model.requests[2])).toContain('Please say Hi instead');
    const killedAt = Date.now();
    await w1.kill9();
    release();
    const w2 = await worker('worker 2');
    await waitFor(
      () => model.requests.length >= 4,
      90_000,
      () => `the retried rework step; ${w2.output()}`,
    );
    const resumeMs = Date.now() - killedAt;
    // The retried step sends the same conversation, the request in it: nothing lost, nothing repeated.
    expect(JSON.stringify(model.requests[3]!.body.messages)).toBe(JSON.stringify(model.requests[2]!.body.messages));

    const done = await waitFor(
      async () => {
        const d = await latest();
        return d.runId !== first && d.status.name === 'COMPLETED' ? d : null;
      },
      90_000,
      () => `the rework hand-over; ${w2.output()}`,
    );
    const summary = (await client.workflow.getHandle(workflowId, done.runId).result()) as IssueRunSummary;
    expect(summary).toMatchObject({ outcome: 'completed', rework: { round: 1, conversationRunId: first } });
    const branch = `foreman/${identifier}`;
    expect(git(origin, 'rev-list', '--count', `main..${branch}`).trim()).toBe('2');
    expect(git(origin, 'show', `${branch}:HELLO.md`)).toBe('Hi\n');
    const comments = await fs.readFile(path.join(issuesDir, `${identifier}.comments.md`), 'utf8');
    expect(comments.split('(rework round 1)').length - 1).toBe(1); // one evidence comment for the round
    expect(model.failures).toEqual([]);
    console.log(`[rework-crash] kill→resume ${resumeMs} ms`);
    await w2.stop();
  },
);
