/**
 * `kill -9` of the worker while the implementer's Claude Code CLI is mid-session, on the real
 * Temporal dev server: the worker is a child process (test/support/worker-process.ts) killed with
 * SIGKILL to its whole process group; the CLI in its sandbox dies with it. A second worker retries
 * the step, which resumes the same CLI session, and the run ends with one commit and one evidence
 * comment.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { expect, it } from 'vitest';
import { loadPolicy } from '../../src/config/load.js';
import { deploymentOf } from '../../src/deployment.js';
import { issueRunTags } from '../../src/dispatch/runs.js';
import { ISSUE_WORKFLOW_TYPE, issueWorkflowId, type IssueRunSummary } from '../../workflows/definitions.js';
import { ccBash, ccMcp, offeredTools, priorToolCalls, userTexts } from '../support/claude-code-server.js';
import { crashTestCleanups, spawnWorker, waitFor } from '../support/crash.js';
import { git, makeOrigin, tempDir, writeIssue, writePolicy } from '../support/fixtures.js';
import { startScriptedModelServer, type CapturedRequest } from '../support/scripted-model-server.js';
import { temporalAddress, temporalNamespace, uniqueTaskQueue } from '../support/temporal.js';

const CLAUDE_BIN = fileURLToPath(new URL('../../node_modules/.bin/claude', import.meta.url));
const FIX = "sed -i 's/return a - b;/return a + b;/' add.js && node test.js";

const cleanups = crashTestCleanups();

it(
  'kill -9 of the worker mid Claude Code session: the step resumes the session; one commit, one evidence comment',
  { timeout: 240_000 },
  async () => {
    const tmp = await tempDir('foreman-cc-crash-');
    cleanups.push(tmp.cleanup);
    const dir = tmp.dir;
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    cleanups.push(() => release());
    const isCli = (req: CapturedRequest) => offeredTools(req).includes('Write');
    let cliCalls = 0;
    const model = await startScriptedModelServer((req) => {
      if (!isCli(req)) throw new Error('only the implementer runs in this test');
      cliCalls++;
      if (priorToolCalls(req).length === 0) return ccBash(FIX);
      if (!userTexts(req).some((t) => t.includes('Foreman restarted this step'))) {
        // The first worker's CLI waits here until the worker is dead; this answer reaches no one.
        return async () => {
          await held;
          return ccMcp('finish', { summary: 'too late' });
        };
      }
      return ccMcp('finish', { summary: 'add() now adds.' });
    });
    cleanups.push(() => model.close());
    const origin = await makeOrigin(dir);
    const issuesDir = path.join(dir, 'issues');
    const identifier = `C${Math.random().toString(36).slice(2, 8).toUpperCase()}-1`;
    await writeIssue(issuesDir, identifier, { title: 'Fix add()', state: 'Todo' }, 'add(2, 3) must return 5.');
    const taskQueue = uniqueTaskQueue('cc-crash');
    const policyFile = await writePolicy(dir, {
      issuesDir,
      workspaceRoot: path.join(dir, 'workspaces'),
      repo: origin,
      modelUrl: model.url,
      taskQueue,
      extra: JSON.stringify({
        budget: { max_attempts: 3 },
        roles: {
          implementer: { backend: 'claude-code', claude_code: { command: CLAUDE_BIN } },
          reviewer: { enabled: false },
        },
      }),
    });
    const deployment = deploymentOf(await loadPolicy(policyFile));
    const workflowId = issueWorkflowId(deployment.key, identifier);
    const connection = await Connection.connect({ address: temporalAddress() });
    const client = new Client({ connection, namespace: temporalNamespace() });
    cleanups.push(async () => {
      await client.workflow
        .getHandle(workflowId)
        .terminate('test over')
        .catch(() => {});
      await connection.close();
    });
    const home = path.join(dir, 'home');
    const worker = async (name: string) => {
      const w = spawnWorker({
        address: temporalAddress(),
        namespace: temporalNamespace(),
        taskQueue,
        policyFile,
        home,
        name,
      });
      await w.ready;
      return w;
    };

    const w1 = await worker('worker 1');
    const handle = await client.workflow.start(ISSUE_WORKFLOW_TYPE, {
      workflowId,
      taskQueue,
      args: [{ issueId: identifier, identifier }],
      ...issueRunTags(deployment, { id: identifier, identifier }),
      workflowExecutionTimeout: '5 minutes',
    });
    await waitFor(
      () => cliCalls >= 2,
      90_000,
      () => `the CLI's second model call; worker output:\n${w1.output()}`,
    );
    await w1.kill9();
    release();

    const w2 = await worker('worker 2');
    const summary = (await handle.result()) as IssueRunSummary;
    await w2.stop();

    expect(summary.outcome, summary.reason ?? '').toBe('completed');
    const branch = `foreman/${identifier}`;
    expect(git(origin, 'show', `${branch}:add.js`)).toContain('return a + b;');
    expect(git(origin, 'rev-list', '--count', `main..${branch}`).trim()).toBe('1');
    const comments = await fs.readFile(path.join(issuesDir, `${identifier}.comments.md`), 'utf8');
    const evidence = comments
      .split(/^(?=--- comment by )/m)
      .filter((b) => b.startsWith('--- comment by foreman') && b.includes('Foreman evidence'));
    expect(evidence).toHaveLength(1);

    // The retried step resumed the killed CLI's session: its id, its Bash call and the restart note.
    const cli = model.requests.filter(isCli);
    const resumed = cli.at(-1)!;
    expect(resumed.headers['x-claude-code-session-id']).toBe(cli[0]!.headers['x-claude-code-session-id']);
    expect(priorToolCalls(resumed)).toContain('Bash');
    expect(userTexts(resumed).some((t) => t.includes('Foreman restarted this step'))).toBe(true);
    expect(model.failures).toEqual([]);
  },
);
