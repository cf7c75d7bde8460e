/**
 * The DispatcherWorkflow on the real Temporal dev server: it polls the local tracker, starts one
 * IssueWorkflow per eligible issue by priority, and never runs more than
 * `agent.max_concurrent_agents` at once.
 */
import { startTestWorker } from '../support/test-worker.js';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { makeOrigin, tempDir, writeIssue, writePolicy } from '../support/fixtures.js';
import { startDispatcher } from '../support/run-context.js';
import { startScriptedModelServer, toolUse, type CapturedRequest } from '../support/scripted-model-server.js';
import { uniqueTaskQueue } from '../support/temporal.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await Promise.resolve(cleanups.pop()!()).catch(() => {});
});

const FIX = [
  toolUse('edit_file', { path: 'add.js', old_text: 'return a - b;', new_text: 'return a + b;' }),
  toolUse('finish', { summary: 'Fixed.' }),
];

/** The issue identifier a model request is about (from the first user turn). */
function issueOf(req: CapturedRequest, ids: string[]): string | undefined {
  const first = JSON.stringify((req.body.messages as unknown[])[0]);
  return ids.find((id) => first.includes(id));
}

describe('DispatcherWorkflow', () => {
  it('dispatches by priority and holds max_concurrent_agents', async () => {
    const tmp = await tempDir();
    cleanups.push(tmp.cleanup);
    const model = await startScriptedModelServer([...FIX, ...FIX, ...FIX]);
    cleanups.push(() => model.close());
    const origin = await makeOrigin(tmp.dir);
    const issuesDir = path.join(tmp.dir, 'issues');
    const taskQueue = uniqueTaskQueue('dispatch');
    const suffix = taskQueue.slice(-6).toUpperCase();
    const [low, high, other] = [`LOW${suffix}-1`, `HIGH${suffix}-2`, `MID${suffix}-3`];
    // Oldest first, but priority wins: HIGH (1), then MID (2), then LOW (4). A Done issue is ignored.
    await writeIssue(issuesDir, low, { title: 'low', state: 'Todo', priority: 4 });
    await writeIssue(issuesDir, other, { title: 'mid', state: 'Todo', priority: 2 });
    await writeIssue(issuesDir, high, { title: 'high', state: 'Todo', priority: 1 });
    await writeIssue(issuesDir, `DONE${suffix}-4`, { title: 'done', state: 'Done', priority: 1 });
    const policyFile = await writePolicy(tmp.dir, {
      issuesDir,
      workspaceRoot: path.join(tmp.dir, 'workspaces'),
      repo: origin,
      modelUrl: model.url,
      taskQueue,
      extra: 'agent:\n  max_concurrent_agents: 1',
    });

    const env = { ...process.env, FOREMAN_HOME: path.join(tmp.dir, 'home') };
    const { store, runtime } = await startTestWorker({ policyFile, taskQueue, env, cleanups });
    expect(store.current().policy.agent.max_concurrent_agents).toBe(1);
    const dispatcher = await startDispatcher(runtime.client, taskQueue);
    cleanups.push(() => dispatcher.terminate('test over').then(() => undefined));

    const ids = [high, other, low];
    const deadline = Date.now() + 90_000;
    const inReview = async (id: string) =>
      /state: "?Human Review"?/.test(await fs.readFile(path.join(issuesDir, `${id}.md`), 'utf8'));
    while (!(await Promise.all(ids.map(inReview))).every(Boolean)) {
      if (Date.now() > deadline)
        throw new Error(`not all issues reached review; model saw ${model.requests.length} requests`);
      await new Promise((r) => setTimeout(r, 250));
    }

    // Model requests, in arrival order, name the issues HIGH, HIGH, MID, MID, LOW, LOW: one at a
    // time (never interleaved) and by priority.
    expect(model.requests.map((r) => issueOf(r, ids))).toEqual([high, high, other, other, low, low]);
    expect(model.failures).toEqual([]);
    expect(await fs.readFile(path.join(issuesDir, `DONE${suffix}-4.md`), 'utf8')).toContain('state: "Done"');
  });
});
