/**
 * The `codex` backend alone, on the real pinned `codex app-server` (@openai/codex, a dev
 * dependency) inside the bubblewrap sandbox, driven by the scripted Responses API server through a
 * gateway session. Scripted tool calls use the names codex itself offers (`exec_command`) and the
 * MCP tools as codex namespaces them (`mcp__foreman` + `finish`).
 */
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { readdirSync, readFileSync, realpathSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  codexBackend,
  CONTINUE_TEXT,
  GATEWAY_TOKEN_ENV,
  threadStatePath,
  type CodexSettings,
} from '../../src/agents/backends/codex/index.js';
import type { BackendRunInput, GatewaySession } from '../../src/agents/backends/types.js';
import type { AgentRunResult } from '../../src/agents/harness.js';
import { readTranscript } from '../../src/agents/transcript.js';
import type { AgentRole } from '../../src/agents/usage.js';
import { DEFAULT_SANDBOX, type SandboxPolicy } from '../../src/sandbox/policy.js';
import { scrubbedEnv } from '../../src/workspace/shell.js';
import { startGateway, type Gateway } from '../../src/gateway/index.js';
import { gatewayReach } from '../../src/sandbox/spawn.js';
import {
  callTool,
  inputTexts,
  say,
  startScriptedResponsesServer,
  type ResponsesStep,
  type ScriptedResponsesServer,
} from '../support/scripted-responses-server.js';

/** A model name codex has no catalog entry for: its MCP tools are then offered directly (not behind tool_search). */
const MODEL = 'foreman-scripted';
const CODEX_JS = realpathSync(path.resolve('node_modules/@openai/codex/bin/codex.js'));
const CANARY_OPENAI = 'sk-openai-canary-3c1f9e0d7b2a';
const CANARY_ANTHROPIC = 'sk-ant-canary-8e4d2a6b1c9f';
const UPSTREAM_KEY = 'sk-upstream-real-key-5a7c';

const finish = (summary: string) => callTool('finish', { summary }, undefined, { namespace: 'mcp__foreman' });
const escalate = (question: string, options?: string[]) =>
  callTool('escalate', { question, ...(options ? { options } : {}) }, undefined, { namespace: 'mcp__foreman' });

function settings(over: Partial<CodexSettings> = {}): CodexSettings {
  return {
    name: 'codex',
    command: `${process.env.CODEX_PREFIX ?? ''}${process.execPath} ${CODEX_JS} app-server`,
    // Symphony's elixir/WORKFLOW.md settings: codex's own sandbox runs nested inside Foreman's.
    approvalPolicy: 'never',
    threadSandbox: 'workspace-write',
    turnSandboxPolicy: { type: 'workspaceWrite', networkAccess: true },
    turnTimeoutMs: 120_000,
    readTimeoutMs: 20_000,
    stallTimeoutMs: 60_000,
    ...over,
  };
}

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

interface Fixture {
  server: ScriptedResponsesServer;
  workspace: string;
  transcriptPath: string;
  /** Opens a gateway session (one per step, as run-role does) and runs the backend. */
  step(o?: {
    resume?: string;
    settings?: Partial<CodexSettings>;
    maxTurns?: number;
    sandbox?: Partial<SandboxPolicy>;
    maxTokens?: number;
    signal?: AbortSignal;
    role?: AgentRole;
  }): Promise<{
    result: AgentRunResult;
    gateway: GatewaySession;
    env: Record<string, string>;
  }>;
}

async function fixture(
  script: ResponsesStep[] | ((req: never, i: number) => ResponsesStep | undefined),
): Promise<Fixture> {
  const server = await startScriptedResponsesServer(script as never);
  cleanups.push(() => server.close());
  const root = await mkdtemp(path.join(os.tmpdir(), 'foreman-codex-'));
  cleanups.push(() => rm(root, { recursive: true, force: true }));
  const workspace = path.join(root, 'ws', 'DEMO-1');
  await import('node:fs/promises').then((fs) => fs.mkdir(workspace, { recursive: true }));
  const transcriptPath = path.join(root, 'home', 'transcripts', 'DEMO-1', 'run', 'implementer.jsonl');
  const gw: Gateway = await startGateway();
  cleanups.push(() => gw.close());
  const step: Fixture['step'] = async (o = {}) => {
    const env = scrubbedEnv({
      base: { ...process.env, OPENAI_API_KEY: CANARY_OPENAI, ANTHROPIC_API_KEY: CANARY_ANTHROPIC },
    });
    const sandbox: SandboxPolicy = {
      ...DEFAULT_SANDBOX,
      roPaths: [path.dirname(path.dirname(path.dirname(CODEX_JS)))],
      ...o.sandbox,
    };
    const budget = { spentTokens: 0, spentUsd: 0, prices: {}, ...(o.maxTokens ? { maxTokens: o.maxTokens } : {}) };
    const gateway = await gw.openSession({
      identifier: 'DEMO-1',
      role: o.role ?? 'implementer',
      runId: 'run',
      budget,
      transcriptPath,
      upstream: {
        anthropic: { baseUrl: 'http://127.0.0.1:9', apiKey: undefined },
        openai: { baseUrl: server.url, apiKey: UPSTREAM_KEY },
        maxRetries: 0,
        timeoutMs: 60_000,
      },
      reach: gatewayReach(sandbox),
    });
    cleanups.push(() => gateway.close());
    const input: BackendRunInput = {
      role: o.role ?? 'implementer',
      model: MODEL,
      system: 'You are the implementer.',
      prompt: 'Add HELLO.md saying hello.',
      maxTurns: o.maxTurns ?? 3,
      maxTokens: 4096,
      transcriptPath,
      resume: o.resume ? { extraUserText: o.resume } : undefined,
      identifier: 'DEMO-1',
      workspace,
      env,
      sandbox,
      pidDir: path.join(workspace, '.foreman', 'pids'),
      budget,
      gateway,
      settings: settings(o.settings),
      modelCalls: { stream: true, timeoutMs: 60_000, idleTimeoutMs: 60_000, endpointLabel: server.url },
      signal: o.signal ?? new AbortController().signal,
    };
    const result = await codexBackend.run(input);
    return { result, gateway, env };
  };
  return { server, workspace, transcriptPath, step };
}

describe('codex backend (real codex app-server)', () => {
  it('runs a scripted file edit, then finish over MCP: the file is in the workspace, tokens are what the server sent', async () => {
    const f = await fixture([
      callTool(
        'exec_command',
        { cmd: "printf 'hello from codex\\n' > HELLO.md" },
        { input_tokens: 1200, output_tokens: 40 },
      ),
      callTool(
        'finish',
        { summary: 'Added HELLO.md' },
        { input_tokens: 1300, output_tokens: 30, cached_tokens: 1000 },
        {
          namespace: 'mcp__foreman',
        },
      ),
      { stall: true }, // codex may ask once more before Foreman's interrupt lands: never answered
    ]);
    const { result, gateway } = await f.step();
    expect(f.server.failures).toEqual([]);
    expect(await readFile(path.join(f.workspace, 'HELLO.md'), 'utf8')).toBe('hello from codex\n');
    expect(result.outcome).toBe('finished');
    expect(result.summary).toBe('Added HELLO.md');
    const sent = f.server.sentUsage;
    expect(result.usage.input_tokens + result.usage.cache_read_input_tokens).toBe(sent.input_tokens);
    expect(result.usage.cache_read_input_tokens).toBe(sent.cached_tokens);
    expect(result.usage.output_tokens).toBe(sent.output_tokens);
    expect(result.usage).toEqual(gateway.metered().usage);
    // The transcript holds the command as a tool call with its result, and the MCP call.
    const entries = await readTranscript(f.transcriptPath);
    const tools = entries.flatMap((e) =>
      e.type === 'message' ? e.message.content.flatMap((b) => (b.type === 'tool_use' ? [b.name] : [])) : [],
    );
    expect(tools).toEqual(['exec_command', 'foreman.finish']);
    expect(entries.at(-1)).toMatchObject({ type: 'end', outcome: 'finished' });
  });

  it('the reviewer on codex answers with submit_review over MCP; a turn without it is nudged once more', async () => {
    const review = {
      verdict: 'request_changes',
      findings: [{ severity: 'major', path: 'add.js', message: 'Wrong sign.' }],
    };
    const f = await fixture((req: never, i: number) =>
      i === 0
        ? say('Looks mostly fine.')
        : i === 1
          ? callTool('submit_review', review, undefined, { namespace: 'mcp__foreman' })
          : { stall: true },
    );
    const { result } = await f.step({ role: 'reviewer' });
    expect(result.outcome).toBe('review_submitted');
    expect(result.review).toEqual(review);
    expect(result.turns).toBe(2);
    expect(inputTexts(f.server.responsesCalls()[1]!).join('\n')).toContain('without calling submit_review');
  });

  it('escalate through MCP ends the step; the answer resumes the same thread, which sees the prior turns', async () => {
    // Answers by what the request holds, not by its index: whether codex asks once more after the
    // escalate call, before Foreman's interrupt lands, depends on timing.
    let asked = false;
    let finished = false;
    const f = await fixture((req: never) => {
      if (inputTexts(req).some((t) => t.includes('Use "hi"'))) {
        if (finished) return say('ok');
        finished = true;
        return finish('Used hi');
      }
      if (asked) return say('Waiting for the answer.');
      asked = true;
      return escalate('Which greeting?', ['hello', 'hi']);
    });
    const first = await f.step();
    expect(first.result.outcome).toBe('escalated');
    expect(first.result.escalation).toEqual({ question: 'Which greeting?', options: ['hello', 'hi'] });
    const thread = JSON.parse(await readFile(threadStatePath(f.transcriptPath), 'utf8')) as { threadId: string };

    const second = await f.step({ resume: 'Use "hi".' });
    expect(second.result.outcome).toBe('finished');
    expect(second.result.summary).toBe('Used hi');
    expect(JSON.parse(await readFile(threadStatePath(f.transcriptPath), 'utf8'))).toMatchObject({
      threadId: thread.threadId,
    });
    // The resumed turn's request carries the first prompt, the escalate call's result and the answer.
    const resumed = f.server.responsesCalls().find((r) => inputTexts(r).some((t) => t.includes('Use "hi"')))!;
    const texts = inputTexts(resumed);
    expect(texts.some((t) => t.includes('Add HELLO.md saying hello.'))).toBe(true);
    expect(texts.some((t) => t.includes('Escalated to a human'))).toBe(true);
    expect(f.server.failures).toEqual([]);
  });

  it("codex's request_user_input becomes an escalation; the answer comes back as the next turn", async () => {
    const question = {
      questions: [
        {
          id: 'greeting',
          header: 'Greeting',
          question: 'Which greeting should HELLO.md use?',
          options: [
            { label: 'hello', description: 'formal' },
            { label: 'hi', description: 'casual' },
          ],
        },
      ],
    };
    const f = await fixture((req: never, i: number) => {
      if (i === 0) return callTool('request_user_input', question);
      if (inputTexts(req).some((t) => t.includes('casual please'))) return finish('Used hi');
      return say('ok');
    });
    const first = await f.step();
    expect(first.result.outcome).toBe('escalated');
    expect(first.result.escalation).toEqual({
      question: 'Greeting: Which greeting should HELLO.md use?',
      options: ['hello', 'hi'],
    });
    const second = await f.step({ resume: 'casual please' });
    expect(second.result.outcome).toBe('finished');
  });

  it('stall: a model stream that goes silent ends the turn within stall_timeout_ms; the retried step resumes the thread', async () => {
    const f = await fixture((req: never, i: number) => {
      if (i === 0) return { stall: true };
      if (inputTexts(req).includes(CONTINUE_TEXT)) return finish('Recovered');
      return say('ok');
    });
    const started = Date.now();
    const err = await f.step({ settings: { stallTimeoutMs: 2_000 } }).catch((e: unknown) => e);
    const elapsed = Date.now() - started;
    expect(err).toMatchObject({ code: 'agent_stalled', retryable: true });
    expect(elapsed).toBeLessThan(2_000 + 4_000);
    const retried = await f.step({ settings: { stallTimeoutMs: 2_000 } });
    expect(retried.result.outcome).toBe('finished');
    expect(retried.result.summary).toBe('Recovered');
    const entries = await readTranscript(f.transcriptPath);
    expect(entries.filter((e) => e.type === 'start')).toHaveLength(1);
    expect(
      entries.some((e) => e.type === 'end' && e.outcome === 'error' && /stall_timeout_ms/.test(e.error ?? '')),
    ).toBe(true);
  });

  it('cancel: aborting the step mid-turn kills the app server and throws the abort reason', async () => {
    const f = await fixture(() => ({ stall: true }));
    const ac = new AbortController();
    const reason = new Error('cancelled by the test');
    setTimeout(() => ac.abort(reason), 1_500);
    const started = Date.now();
    await expect(f.step({ signal: ac.signal })).rejects.toBe(reason);
    expect(Date.now() - started).toBeLessThan(1_500 + 4_000);
    // The app server's PID namespace empties right after bwrap ends.
    for (let i = 0; i < 30 && appServerEnviron(f.workspace) !== ''; i++) await new Promise((r) => setTimeout(r, 100));
    expect(appServerEnviron(f.workspace)).toBe('');
  });

  it('approvals by rule: under approval_policy untrusted a command is accepted inside the sandbox, declined without it', async () => {
    const script = (req: never, i: number) =>
      i === 0 ? callTool('exec_command', { cmd: "printf 'hi\\n' > HELLO.md" }) : i === 1 ? finish('done') : say('ok');
    const untrusted = { approvalPolicy: 'untrusted' };
    const inside = await fixture(script);
    expect((await inside.step({ settings: untrusted })).result.outcome).toBe('finished');
    expect(await readFile(path.join(inside.workspace, 'HELLO.md'), 'utf8')).toBe('hi\n');

    const outside = await fixture(script);
    expect((await outside.step({ settings: untrusted, sandbox: { mode: 'none' } })).result.outcome).toBe('finished');
    await expect(stat(path.join(outside.workspace, 'HELLO.md'))).rejects.toThrow(/ENOENT/);
    const declined = outside.server.responsesCalls()[1]!;
    expect(inputTexts(declined).join('\n')).toMatch(/reject|declin|denied/i);
  });

  it('budget: the gateway refuses the call past budget.max_tokens; the step ends budget_exhausted', async () => {
    const f = await fixture((req: never, i: number) =>
      i === 0
        ? callTool('exec_command', { cmd: 'true' }, { input_tokens: 900, output_tokens: 200 })
        : finish('too late'),
    );
    const { result } = await f.step({ maxTokens: 1_000 });
    expect(result.outcome).toBe('budget_exhausted');
    expect(result.budgetExhausted).toMatchObject({ reason: 'tokens', limit: 1_000, spentTokens: 1_100 });
    expect(f.server.responsesCalls()).toHaveLength(1);
    expect(result.usage.input_tokens + result.usage.output_tokens).toBe(1_100);
  });

  it('key canary: no real key in codex environment, its CODEX_HOME files, or any request it sends', async () => {
    let codexEnv = '';
    const f = await fixture((req: never, i: number) => {
      if (i === 0) {
        codexEnv = appServerEnviron(f.workspace);
        return callTool('exec_command', { cmd: 'env > .foreman/agent-env.txt' });
      }
      if (i === 1) return finish('done');
      return say('ok');
    });
    const { result, gateway } = await f.step();
    expect(result.outcome).toBe('finished');
    expect(codexEnv).toContain(`${GATEWAY_TOKEN_ENV}=${gateway.token}`);
    for (const canary of [CANARY_OPENAI, CANARY_ANTHROPIC, UPSTREAM_KEY]) {
      expect(codexEnv).not.toContain(canary);
      for (const file of await filesUnder(path.join(f.workspace, '.foreman'))) {
        expect(await readFile(file, 'utf8').catch(() => ''), file).not.toContain(canary);
      }
      expect(JSON.stringify(f.server.requests.map((r) => r.body))).not.toContain(canary);
    }
    // The agent's own commands do not even see the session token.
    expect(await readFile(path.join(f.workspace, '.foreman', 'agent-env.txt'), 'utf8')).not.toContain(gateway.token);
    // The upstream saw the gateway's key only; codex held the per-run token (checked above).
    expect(new Set(f.server.responsesCalls().map((r) => r.headers.authorization))).toEqual(
      new Set([`Bearer ${UPSTREAM_KEY}`]),
    );
  });
});

/** The environment of the running native codex app server (found through /proc by its command line). */
function appServerEnviron(workspace: string): string {
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (!cmd.includes('app-server') || cmd.includes(CODEX_JS)) continue;
      const env = readFileSync(`/proc/${pid}/environ`, 'utf8');
      if (env.includes(`CODEX_HOME=${workspace}/`)) return env.split('\0').join('\n');
    } catch {
      // gone, or not ours
    }
  }
  return '';
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await filesUnder(p)));
    else if (entry.isFile() && (await stat(p)).size < 5_000_000) out.push(p);
  }
  return out;
}
