/**
 * The `codex` backend through the IssueWorkflow on the real Temporal dev server: a Symphony
 * `WORKFLOW.md` (the shape of Symphony's elixir/WORKFLOW.md: tracker, polling, workspace, hooks,
 * agent, codex, a Liquid prompt) runs as-is on the real `codex app-server` in the sandbox, through
 * the model gateway, against the scripted Responses API server; and an `escalate` over MCP waits
 * durably for `foreman answer`, after which the same codex thread resumes with the answer.
 */
import { startTestWorker } from '../support/test-worker.js';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { realpathSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { threadStatePath } from '../../src/agents/backends/codex/index.js';
import { transcriptPath } from '../../src/home.js';
import { issueRunTags } from '../../src/dispatch/runs.js';
import {
  ISSUE_WORKFLOW_TYPE,
  issueWorkflowId,
  statusQuery,
  type IssueRunSummary,
  type IssueWorkflowInput,
} from '../../workflows/definitions.js';
import { runForeman } from '../support/cli.js';
import { makeOrigin, tempDir, writeIssue } from '../support/fixtures.js';
import {
  callTool,
  inputTexts,
  say,
  startScriptedResponsesServer,
  type ResponsesRequest,
  type ResponsesStep,
} from '../support/scripted-responses-server.js';
import { temporalAddress, uniqueTaskQueue } from '../support/temporal.js';

/** The native codex binary's directory: on PATH, so `codex` in `codex.command` is found and bound into the sandbox. */
const CODEX_BIN_DIR = path.join(
  realpathSync(path.resolve('node_modules/@openai/codex-linux-x64')),
  'vendor/x86_64-unknown-linux-musl/bin',
);
/** A model codex has no metadata for, so its MCP tools are listed directly (specs/backends.md, "codex"). */
const MODEL = 'foreman-scripted';
const OPENAI_KEY = 'sk-openai-upstream-canary-71d2';

const finish = (summary: string) => callTool('finish', { summary }, undefined, { namespace: 'mcp__foreman' });

/** Symphony's elixir/WORKFLOW.md, adapted to the local tracker and a local origin. */
function symphonyWorkflow(o: {
  issuesDir: string;
  workspaceRoot: string;
  origin: string;
  taskQueue: string;
  stallTimeoutMs: number;
}): string {
  return `---
tracker:
  kind: local
  provider:
    path: ${o.issuesDir}
  required_labels: []
  active_states:
    - Todo
    - In Progress
  terminal_states:
    - Closed
    - Cancelled
    - Done
polling:
  interval_ms: 5000
workspace:
  root: ${o.workspaceRoot}
hooks:
  after_create: |
    git clone --depth 1 file://${o.origin} .
agent:
  max_concurrent_agents: 10
  max_turns: 4
codex:
  command: codex --config shell_environment_policy.inherit=all --config 'model="${MODEL}"' --config model_reasoning_effort=high app-server
  approval_policy: never
  thread_sandbox: workspace-write
  turn_sandbox_policy:
    type: workspaceWrite
    networkAccess: true
  stall_timeout_ms: ${o.stallTimeoutMs}
roles:
  reviewer:
    enabled: false
temporal:
  task_queue: ${o.taskQueue}
---

You are working on a ticket \`{{ issue.identifier }}\`

{% if attempt %}
Follow-up context: this is follow-up attempt #{{ attempt }}. Resume from the current workspace state.
{% endif %}

Issue context:
Identifier: {{ issue.identifier }}
Title: {{ issue.title }}
Current status: {{ issue.state }}

Description:
{% if issue.description %}
{{ issue.description }}
{% else %}
No description provided.
{% endif %}
`;
}

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

async function setup(script: (req: ResponsesRequest, i: number) => ResponsesStep | undefined, stallTimeoutMs = 60_000) {
  const tmp = await tempDir('foreman-codex-wf-');
  cleanups.push(() => tmp.cleanup());
  const origin = await makeOrigin(tmp.dir);
  const issuesDir = path.join(tmp.dir, 'issues');
  const workspaceRoot = path.join(tmp.dir, 'workspaces');
  const home = path.join(tmp.dir, 'home');
  const identifier = `CX${randomUUID().slice(0, 4).toUpperCase()}-1`;
  await writeIssue(issuesDir, identifier, { title: 'Fix add()', state: 'Todo' }, 'add(2, 3) must return 5.');
  const server = await startScriptedResponsesServer(script);
  cleanups.push(() => server.close());
  const taskQueue = uniqueTaskQueue('codex');
  const policyFile = path.join(tmp.dir, 'WORKFLOW.md');
  await fs.writeFile(policyFile, symphonyWorkflow({ issuesDir, workspaceRoot, origin, taskQueue, stallTimeoutMs }));
  const env = {
    ...process.env,
    FOREMAN_HOME: home,
    PATH: `${CODEX_BIN_DIR}:${process.env.PATH ?? ''}`,
    OPENAI_BASE_URL: server.url,
    OPENAI_API_KEY: OPENAI_KEY,
  };
  const { runtime } = await startTestWorker({ policyFile, taskQueue, env, cleanups });
  const workflowId = issueWorkflowId(runtime.deployment.key, identifier);
  const input: IssueWorkflowInput = { issueId: identifier, identifier };
  const handle = await runtime.client.workflow.start(ISSUE_WORKFLOW_TYPE, {
    workflowId,
    taskQueue,
    args: [input],
    ...issueRunTags(runtime.deployment, { id: identifier, identifier }),
    workflowExecutionTimeout: '5 minutes',
  });
  cleanups.push(() => handle.terminate('test over').catch(() => undefined));
  return { tmp, origin, issuesDir, workspaceRoot, home, identifier, server, policyFile, env, runtime, handle };
}

describe('codex backend in the IssueWorkflow', () => {
  it("runs Symphony's WORKFLOW.md as-is on codex: branch pushed, evidence names the backend, tokens as sent", async () => {
    const fix = "sed -i 's/a - b/a + b/' add.js";
    const ctx = await setup((req, i) =>
      i === 0
        ? callTool('exec_command', { cmd: fix }, { input_tokens: 900, output_tokens: 30 })
        : i === 1
          ? finish('Fixed add()')
          : { stall: true },
    );
    const summary = (await ctx.handle.result()) as IssueRunSummary;
    expect(ctx.server.failures).toEqual([]);
    expect(summary.outcome).toBe('completed');
    expect(summary.pushed).toBe(true);
    const branch = summary.branch!;
    const pushed = execFileSync('git', ['--git-dir', ctx.origin, 'show', `${branch}:add.js`], { encoding: 'utf8' });
    expect(pushed).toContain('a + b');
    const comments = await fs.readFile(path.join(ctx.issuesDir, `${ctx.identifier}.comments.md`), 'utf8');
    expect(comments).toContain(`implementer: \`codex\` (\`${MODEL}\`)`);
    const sent = ctx.server.sentUsage;
    expect(summary.tokens.input_tokens + summary.tokens.cache_read_input_tokens).toBe(sent.input_tokens);
    expect(summary.tokens.output_tokens).toBe(sent.output_tokens);
    // The upstream saw the real key; codex's requests carried the gateway's per-run token only.
    for (const r of ctx.server.responsesCalls()) expect(r.headers.authorization).toBe(`Bearer ${OPENAI_KEY}`);
  }, 240_000);

  it('escalate over MCP waits durably; `foreman answer` resumes the same codex thread with the answer', async () => {
    const ctx = await setup((req, i) => {
      const texts = inputTexts(req);
      if (i === 0) {
        return callTool('escalate', { question: 'Saturate at MAX_SAFE_INTEGER?', options: ['yes', 'no'] }, undefined, {
          namespace: 'mcp__foreman',
        });
      }
      if (!texts.some((t) => t.includes('just fix the sign'))) return say('Waiting.');
      // After the answer: the same thread, so the request carries the question's turn too.
      if (!JSON.stringify(req.body.input).includes('Saturate at MAX_SAFE_INTEGER?'))
        return say('the prior turns are missing');
      if (texts.some((t) => /exited with code 0/.test(t))) return finish('Fixed the sign');
      return callTool('exec_command', { cmd: "sed -i 's/a - b/a + b/' add.js" });
    });
    const waiting = async () => (await ctx.handle.query(statusQuery)).phase === 'waiting_for_human';
    const deadline = Date.now() + 60_000;
    while (!(await waiting().catch(() => false))) {
      if (Date.now() > deadline)
        throw new Error(
          'no escalation: ' +
            JSON.stringify(await ctx.handle.query(statusQuery)).slice(0, 1500) +
            JSON.stringify(ctx.server.responsesCalls().map((r) => inputTexts(r).slice(-2))).slice(0, 3000),
        );
      await new Promise((r) => setTimeout(r, 200));
    }
    const runId = ctx.handle.firstExecutionRunId;
    const tPath = transcriptPath(ctx.home, ctx.identifier, runId, 'implementer');
    const thread = JSON.parse(await fs.readFile(threadStatePath(tPath), 'utf8')) as { threadId: string };
    const env = { ...ctx.env, TEMPORAL_ADDRESS: temporalAddress(), FOREMAN_LOG_LEVEL: 'warn' };
    const r = await runForeman(['answer', ctx.identifier, 'No, just fix the sign.', '--policy', ctx.policyFile], env);
    expect(r.code, r.stderr).toBe(0);
    const summary = (await ctx.handle.result()) as IssueRunSummary;
    expect(summary.outcome).toBe('completed');
    expect(ctx.server.failures).toEqual([]);
    expect(JSON.parse(await fs.readFile(threadStatePath(tPath), 'utf8'))).toMatchObject({ threadId: thread.threadId });
  }, 240_000);

  it('stall: a model stream that goes silent ends the turn within stall_timeout_ms; the retried step finishes on the same thread', async () => {
    const ctx = await setup(
      (req, i) =>
        i === 0
          ? { stall: true }
          : inputTexts(req).some((t) => t.includes('Foreman restarted this step'))
            ? i === 1
              ? callTool('exec_command', { cmd: "sed -i 's/a - b/a + b/' add.js" })
              : i === 2
                ? finish('Fixed after the stall')
                : { stall: true }
            : say('unexpected'),
      2_000,
    );
    const summary = (await ctx.handle.result()) as IssueRunSummary;
    expect(summary.outcome).toBe('completed');
    expect(ctx.server.failures).toEqual([]);
    const tPath = transcriptPath(ctx.home, ctx.identifier, ctx.handle.firstExecutionRunId, 'implementer');
    const lines = (await fs.readFile(tPath, 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { type: string; outcome?: string; error?: string });
    expect(lines.filter((e) => e.type === 'start')).toHaveLength(1);
    expect(
      lines.some((e) => e.type === 'end' && e.outcome === 'error' && /stall_timeout_ms 2000/.test(e.error ?? '')),
    ).toBe(true);
    expect(lines.at(-1)).toMatchObject({ type: 'end', outcome: 'finished' });
  }, 240_000);
});
