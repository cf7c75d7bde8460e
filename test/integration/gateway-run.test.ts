/**
 * Role steps through the model gateway (src/agents/run-role.ts → src/gateway/): the built-in
 * harness's calls go through a session, its usage is the gateway's measurement, the gateway's
 * budget refusal ends the step `budget_exhausted` and the IssueWorkflow escalates it as a budget
 * escalation, and an unreachable upstream is named in the error, not the gateway.
 */
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runRole } from '../../src/agents/run-role.js';
import { readTranscript, type TranscriptExchangeEntry } from '../../src/agents/transcript.js';
import { parsePolicyText } from '../../src/config/load.js';
import { ModelError } from '../../src/errors.js';
import { scrubbedEnv } from '../../src/workspace/shell.js';
import { createRunContext, type RunContext } from '../support/run-context.js';
import { startScriptedModelServer, text, toolUse, type ScriptedModelServer } from '../support/scripted-model-server.js';
import { humanReplySignal, type IssueRunSummary } from '../../workflows/definitions.js';

let ctx: RunContext | undefined;
const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  await ctx?.close();
  ctx = undefined;
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function transcripts(home: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.name.endsWith('.jsonl')) out.push(p);
    }
  };
  await walk(home);
  return out;
}

const exchangesOf = async (file: string) =>
  (await readTranscript(file)).filter((e): e is TranscriptExchangeEntry => e.type === 'exchange');

describe('the built-in harness behind the gateway', () => {
  let dir: string;
  let model: ScriptedModelServer;

  async function setup(script: Parameters<typeof startScriptedModelServer>[0], modelUrl?: string) {
    dir = await mkdtemp(path.join(os.tmpdir(), 'foreman-gw-run-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    model = await startScriptedModelServer(script);
    cleanups.push(() => model.close());
    const ws = path.join(dir, 'ws');
    await mkdir(ws);
    await writeFile(path.join(ws, 'README.md'), 'hello\n');
    const { policy } = parsePolicyText(
      `---\nmodel:\n  base_url: ${modelUrl ?? model.url}\n  api_key: sk-real-upstream-key-1234\n  max_retries: 0\nroles:\n  reviewer:\n    enabled: false\n---\nprompt\n`,
      { file: path.join(dir, 'WORKFLOW.md'), env: {} },
    );
    return { policy, ws };
  }

  function step(policy: ReturnType<typeof parsePolicyText>['policy'], ws: string, maxTokens: number | null = null) {
    return runRole(
      policy,
      {},
      {
        role: 'implementer',
        model: 'claude-sonnet-4-5',
        system: 'You fix things.',
        prompt: 'Fix it.',
        maxTurns: 5,
        maxTokens: 1000,
        transcriptPath: path.join(dir, 'implementer.jsonl'),
        resume: undefined,
        identifier: 'DEMO-1',
        workspace: ws,
        budget: { spentTokens: 0, spentUsd: 0, maxTokens, maxUsd: null, deadline: null },
        env: scrubbedEnv(),
        signal: new AbortController().signal,
      },
    );
  }

  it('usage and cost are what the upstream sent; the upstream sees the real key, the harness the session token', async () => {
    const { policy, ws } = await setup([
      toolUse(
        'read_file',
        { path: 'README.md' },
        { input_tokens: 300, output_tokens: 40, cache_read_input_tokens: 700 },
      ),
      toolUse('finish', { summary: 'Done.' }, { input_tokens: 500, output_tokens: 60 }),
    ]);
    const result = await step(policy, ws);
    expect(result.outcome).toBe('finished');
    expect(result.usage).toEqual({
      input_tokens: 800,
      output_tokens: 100,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 700,
    });
    expect(result.costUsd).toBeCloseTo((800 * 3 + 100 * 15 + 700 * 0.3) / 1e6, 10);
    expect(model.requests.map((r) => r.headers.authorization)).toEqual([
      'Bearer sk-real-upstream-key-1234',
      'Bearer sk-real-upstream-key-1234',
    ]);
    const ex = await exchangesOf(path.join(dir, 'implementer.jsonl'));
    expect(ex.map((e) => [e.status, e.usage?.input_tokens])).toEqual([
      [200, 300],
      [200, 500],
    ]);
  });

  it('the gateway refuses past the token budget and the step ends budget_exhausted', async () => {
    const { policy, ws } = await setup([
      toolUse('read_file', { path: 'README.md' }, { input_tokens: 900, output_tokens: 200 }),
      text('never sent'),
    ]);
    const result = await step(policy, ws, 1000);
    expect(result.outcome).toBe('budget_exhausted');
    expect(result.budgetExhausted).toMatchObject({ reason: 'tokens', spentTokens: 1100, limit: 1000 });
    expect(model.requests).toHaveLength(1);
    const ex = await exchangesOf(path.join(dir, 'implementer.jsonl'));
    expect(ex.at(-1)).toMatchObject({ status: 400, refused: expect.stringContaining('budget.max_tokens 1000') });
    const entries = await readTranscript(path.join(dir, 'implementer.jsonl'));
    expect(entries.at(-1)).toMatchObject({ type: 'end', outcome: 'budget_exhausted' });
  });

  it('an unreachable upstream is model_unreachable naming the upstream, not the gateway', async () => {
    const { policy, ws } = await setup([], 'http://127.0.0.1:9');
    const err = await step(policy, ws).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelError);
    expect(err).toMatchObject({ code: 'model_unreachable' });
    expect((err as Error).message).toContain('http://127.0.0.1:9');
  });
});

describe('budget escalation through the IssueWorkflow', () => {
  it("the gateway's refusal escalates as a budget escalation and the run completes after the answer", async () => {
    const big = { input_tokens: 600, output_tokens: 0 };
    ctx = await createRunContext({
      extraPolicy: 'budget:\n  max_tokens: 1000\nroles:\n  reviewer:\n    enabled: false',
      script: [
        toolUse('write_file', { path: 'NOTES.md', content: 'half done\n' }, big),
        {
          ...toolUse('edit_file', { path: 'add.js', old_text: 'return a - b;', new_text: 'return a + b;' }),
          usage: big,
        },
        toolUse('finish', { summary: 'Done.' }),
      ],
    });
    const handle = await ctx.start();
    await ctx.waitFor('the budget escalation', async () => (await ctx!.status()).phase === 'waiting_for_human');
    expect((await ctx.status()).escalation).toMatchObject({ kind: 'budget' });
    expect(ctx.model.requests).toHaveLength(2);
    const [implementer] = (await transcripts(ctx.home)).filter((f) => f.endsWith('implementer.jsonl'));
    const ex = await exchangesOf(implementer!);
    expect(ex.filter((e) => e.refused)).toHaveLength(1);
    await handle.signal(humanReplySignal, { text: 'go on', author: 'ana', source: 'cli' });
    const summary = (await handle.result()) as IssueRunSummary;
    expect(summary.outcome).toBe('completed');
    expect(summary.escalations[0]).toMatchObject({ kind: 'budget' });
  });
});
