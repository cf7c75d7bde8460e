/**
 * The `codex` backend alone, on the real pinned `codex app-server` (@openai/codex, a dev
 * dependency) inside the bubblewrap sandbox, driven by the scripted Responses API server through a
 * gateway session. Scripted tool calls use the names codex itself offers (`exec_command`) and the
 * MCP tools as codex namespaces them (`mcp__foreman` + `finish`).
 */
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { realpathSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { codexBackend, CONTINUE_TEXT, type CodexSettings } from '../../src/agents/backends/codex/index.js';
import type { BackendRunInput, GatewaySession } from '../../src/agents/backends/types.js';
import { readTranscript } from '../../src/agents/transcript.js';
import { DEFAULT_SANDBOX } from '../../src/sandbox/policy.js';
import { scrubbedEnv } from '../../src/workspace/shell.js';
import { startGatewayStandin, type StandinGateway } from '../support/gateway-standin.js';
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
  step(o?: { resume?: string; settings?: Partial<CodexSettings>; maxTurns?: number }): Promise<{
    result: Awaited<ReturnType<ReturnType<typeof codexBackend>['run']>>;
    gateway: StandinGateway;
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
  const step: Fixture['step'] = async (o = {}) => {
    const gateway = await startGatewayStandin({ upstream: server.url, upstreamKey: UPSTREAM_KEY, role: 'implementer' });
    cleanups.push(() => gateway.close());
    const env = scrubbedEnv({
      base: { ...process.env, OPENAI_API_KEY: CANARY_OPENAI, ANTHROPIC_API_KEY: CANARY_ANTHROPIC },
    });
    const input: BackendRunInput = {
      role: 'implementer',
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
      // The stand-in gateway listens on the host's loopback; the real one is reached through a socket.
      sandbox: { ...DEFAULT_SANDBOX, network: 'host', roPaths: [path.dirname(path.dirname(path.dirname(CODEX_JS)))] },
      pidDir: path.join(workspace, '.foreman', 'pids'),
      budget: { spentTokens: 0, spentUsd: 0, prices: {} },
      gateway: gateway as GatewaySession,
      signal: new AbortController().signal,
    };
    const result = await codexBackend(settings(o.settings)).run(input);
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
      say('Done.', { input_tokens: 1400, output_tokens: 5 }),
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
});

export { escalate, finish, inputTexts, CONTINUE_TEXT, stat, readdir };
