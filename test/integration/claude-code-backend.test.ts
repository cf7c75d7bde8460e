/**
 * The `claude-code` backend alone: the real Claude Code CLI (the pinned dev dependency) in the
 * sandbox, its model calls through the gateway to a scripted Messages API server, Foreman's outcome
 * tools over MCP, a real workspace and a real transcript file.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { claudeCodeBackend, type ClaudeCodeSettings } from '../../src/agents/backends/claude-code/index.js';
import type { BackendRunInput, GatewaySession } from '../../src/agents/backends/types.js';
import { readTranscript } from '../../src/agents/transcript.js';
import type { AgentRole } from '../../src/agents/usage.js';
import { hasCode } from '../../src/errors.js';
import { startGateway, type Gateway } from '../../src/gateway/index.js';
import { gatewayReach } from '../../src/sandbox/spawn.js';
import type { SandboxPolicy } from '../../src/sandbox/policy.js';
import { pidDirFor, scrubbedEnv } from '../../src/workspace/shell.js';
import {
  ccBash,
  ccMcp,
  ccStall,
  ccText,
  ccWrite,
  priorToolCalls,
  startClaudeCodeServer,
  userTexts,
  type ClaudeCodeModelServer,
} from '../support/claude-code-server.js';
import type { ScriptStep } from '../support/scripted-model-server.js';

/** The pinned CLI (a dev dependency). */
export const CLAUDE_BIN = fileURLToPath(new URL('../../node_modules/.bin/claude', import.meta.url));

const SETTINGS: ClaudeCodeSettings = {
  name: 'claude-code',
  command: CLAUDE_BIN,
  extraArgs: [],
  turnTimeoutMs: 120_000,
  stallTimeoutMs: 30_000,
};

/** The default sandbox: bwrap, no network (the gateway is reached through the in-sandbox forwarder). */
const SANDBOX: SandboxPolicy = { mode: 'bwrap', network: 'none', allowHosts: [], roPaths: [] };

/** The real key the gateway holds for the upstream (the scripted server). */
const UPSTREAM_KEY = 'sk-ant-upstream-key-for-the-scripted-server';

let dir: string;
let workspace: string;
let transcriptPath: string;
let server: ClaudeCodeModelServer | undefined;
let gateway: Gateway | undefined;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'foreman-cc-'));
  workspace = path.join(dir, 'ws');
  transcriptPath = path.join(dir, 'home', 'transcripts', 'DEMO-1', 'run-1', 'implementer.jsonl');
  await mkdir(workspace);
});

afterEach(async () => {
  const failures = server?.failures ?? [];
  await server?.close();
  await gateway?.close();
  server = undefined;
  gateway = undefined;
  await rm(dir, { recursive: true, force: true });
  expect(failures).toEqual([]);
});

async function start(script: ScriptStep[] | Parameters<typeof startClaudeCodeServer>[0]): Promise<void> {
  server = await startClaudeCodeServer(script);
  gateway = await startGateway();
}

/** A gateway session for one step, forwarding to the scripted server with `apiKey`. */
function openSession(
  role: AgentRole = 'implementer',
  apiKey = UPSTREAM_KEY,
  maxTokens?: number,
): Promise<GatewaySession> {
  return gateway!.openSession({
    identifier: 'DEMO-1',
    role,
    runId: 'run-1',
    budget: { spentTokens: 0, spentUsd: 0, prices: {}, ...(maxTokens !== undefined ? { maxTokens } : {}) },
    transcriptPath,
    upstream: {
      anthropic: { baseUrl: server!.url, apiKey },
      openai: { baseUrl: `${server!.url}/v1`, apiKey },
      maxRetries: 0,
      timeoutMs: 60_000,
    },
    reach: gatewayReach(SANDBOX),
  });
}

function input(session: GatewaySession, overrides: Partial<BackendRunInput> = {}): BackendRunInput {
  return {
    role: 'implementer' as AgentRole,
    model: 'claude-opus-5-5',
    system: 'You are the implementer in Foreman.',
    prompt: 'DEMO-1: add a file hello.txt that says hi.',
    maxTurns: 10,
    maxTokens: 4096,
    transcriptPath,
    resume: undefined,
    identifier: 'DEMO-1',
    workspace,
    env: scrubbedEnv(),
    sandbox: SANDBOX,
    pidDir: pidDirFor(workspace),
    budget: { spentTokens: 0, spentUsd: 0, prices: {} },
    gateway: session,
    settings: SETTINGS,
    modelCalls: { stream: true, timeoutMs: 60_000, idleTimeoutMs: 60_000, endpointLabel: 'scripted' },
    signal: new AbortController().signal,
    ...overrides,
  };
}

describe('claude-code backend', () => {
  it('a scripted Write then the MCP finish: the file is in the workspace, finished, tokens as the server sent', async () => {
    await start([
      ccWrite(path.join(workspace, 'hello.txt'), 'hi\n', {
        input_tokens: 1200,
        output_tokens: 40,
        cache_read_input_tokens: 7,
      }),
      ccMcp('finish', { summary: 'Added hello.txt.' }, { input_tokens: 1300, output_tokens: 30 }),
    ]);
    const session = await openSession();
    const progress: { turns: number; lastTool: string | null }[] = [];
    const result = await claudeCodeBackend.run(
      input(session, { onProgress: (p) => progress.push({ turns: p.turns, lastTool: p.lastTool }) }),
    );

    expect(await readFile(path.join(workspace, 'hello.txt'), 'utf8')).toBe('hi\n');
    expect(result).toMatchObject({ outcome: 'finished', summary: 'Added hello.txt.', turns: 2, toolCalls: 2 });
    expect(result.usage).toEqual({
      input_tokens: 2500,
      output_tokens: 70,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 7,
    });
    expect(progress.at(-1)).toEqual({ turns: 2, lastTool: 'mcp__foreman__finish' });
    // The CLI was interrupted after the outcome: no third model call.
    expect(server!.agentCalls).toHaveLength(2);
    expect(server!.agentCalls[0]!.body.tools.map((t: { name: string }) => t.name)).toEqual(
      expect.arrayContaining(['Bash', 'Read', 'Edit', 'Write', 'mcp__foreman__finish', 'mcp__foreman__escalate']),
    );
    expect(server!.agentCalls[0]!.body.model).toBe('claude-opus-5-5');

    const entries = await readTranscript(transcriptPath);
    expect(entries[0]).toMatchObject({ type: 'start', backend: 'claude-code', role: 'implementer' });
    expect(entries.filter((e) => e.type === 'end').at(-1)).toMatchObject({
      outcome: 'finished',
      summary: 'Added hello.txt.',
    });
    const tools = entries.flatMap((e) =>
      e.type === 'message' ? e.message.content.flatMap((b) => (b.type === 'tool_use' ? [b.name] : [])) : [],
    );
    expect(tools).toEqual(['Write', 'mcp__foreman__finish']);
    // The session lives next to the transcript, not in the workspace.
    const sessionId = (entries[0] as { sessionId: string }).sessionId;
    const projects = await readdir(path.join(path.dirname(transcriptPath), 'implementer.claude-code', 'projects'));
    expect(projects).toHaveLength(1);
    expect(
      await readdir(path.join(path.dirname(transcriptPath), 'implementer.claude-code', 'projects', projects[0]!)),
    ).toContain(`${sessionId}.jsonl`);
  });

  it('escalate over MCP, then the answer resumes the same session: the server sees the prior turns and the answer', async () => {
    const answer = '<human_answer>blue</human_answer>';
    await start((req) => {
      if (!userTexts(req).includes(answer)) {
        // The first call escalates; a call racing the interrupt after it must not get its tool run.
        return priorToolCalls(req).length === 0
          ? ccMcp('escalate', { question: 'Blue or green?', options: ['blue', 'green'] })
          : ccBash('echo green > color.txt');
      }
      return priorToolCalls(req).includes('Bash')
        ? ccMcp('finish', { summary: 'Blue it is.' })
        : ccBash('echo blue > color.txt');
    });
    const asked = await claudeCodeBackend.run(input(await openSession()));
    expect(asked).toMatchObject({ outcome: 'escalated', escalation: { question: 'Blue or green?' } });
    const calls = server!.agentCalls.length;
    await expect(readFile(path.join(workspace, 'color.txt'), 'utf8')).rejects.toThrow(/ENOENT/);

    const done = await claudeCodeBackend.run(input(await openSession(), { resume: { extraUserText: answer } }));
    expect(done).toMatchObject({ outcome: 'finished', summary: 'Blue it is.' });
    const resumed = server!.agentCalls[calls]!;
    expect(userTexts(resumed)).toEqual(expect.arrayContaining([expect.stringContaining('DEMO-1: add a file'), answer]));
    expect(priorToolCalls(resumed)[0]).toBe('mcp__foreman__escalate');
    expect(resumed.headers['x-claude-code-session-id']).toBe(
      server!.agentCalls[0]!.headers['x-claude-code-session-id'],
    );
    expect(await readFile(path.join(workspace, 'color.txt'), 'utf8')).toBe('blue\n');
    const entries = await readTranscript(transcriptPath);
    expect(entries.filter((e) => e.type === 'start')).toHaveLength(1);
    expect(entries.filter((e) => e.type === 'end').map((e) => e.type === 'end' && e.outcome)).toEqual([
      'escalated',
      'finished',
    ]);
  });

  it('a model endpoint that stops streaming: the turn ends within stall_timeout_ms, and the retry resumes the session', async () => {
    await start((req, i) =>
      i === 0
        ? ccWrite(path.join(workspace, 'a.txt'), 'a\n')
        : i === 1
          ? ccStall()
          : ccMcp('finish', { summary: 'ok' }),
    );
    const stallTimeoutMs = 3_000;
    const settings = { ...SETTINGS, stallTimeoutMs };
    const began = Date.now();
    const err = await claudeCodeBackend.run(input(await openSession(), { settings })).catch((e: unknown) => e);
    const took = Date.now() - began;
    expect(hasCode(err, 'agent_stalled')).toBe(true);
    expect((err as { retryable: boolean }).retryable).toBe(true);
    expect(took).toBeLessThan(stallTimeoutMs + 8_000);
    expect((await readTranscript(transcriptPath)).filter((e) => e.type === 'end').at(-1)).toMatchObject({
      outcome: 'error',
    });

    const retried = await claudeCodeBackend.run(input(await openSession(), { settings }));
    expect(retried.outcome).toBe('finished');
    expect(priorToolCalls(server!.agentCalls[2]!)).toEqual(['Write']);
    expect(userTexts(server!.agentCalls[2]!)).toEqual(
      expect.arrayContaining([expect.stringContaining('Foreman restarted this step')]),
    );
  });

  it('the gateway refuses a call past budget.max_tokens: the step ends budget_exhausted, and nothing more is sent', async () => {
    await start([ccBash('echo one > one.txt', { input_tokens: 900, output_tokens: 200 })]);
    const result = await claudeCodeBackend.run(input(await openSession('implementer', UPSTREAM_KEY, 1_000)));
    expect(result.outcome).toBe('budget_exhausted');
    expect(result.budgetExhausted).toMatchObject({ reason: 'tokens', limit: 1_000, spentTokens: 1_100 });
    expect(result.usage.input_tokens + result.usage.output_tokens).toBe(1_100);
    expect(server!.agentCalls).toHaveLength(1);
    expect(await readFile(path.join(workspace, 'one.txt'), 'utf8')).toBe('one\n');
    const ends = (await readTranscript(transcriptPath)).filter((e) => e.type === 'end');
    expect(ends.at(-1)).toMatchObject({ outcome: 'budget_exhausted' });
  });

  it('the reviewer cannot change the workspace: Write, a write command and a chained one are refused; it answers by submit_review', async () => {
    const reviewerTranscript = path.join(path.dirname(transcriptPath), 'reviewer.jsonl');
    await start([
      ccWrite(path.join(workspace, 'evil.txt'), 'x'),
      ccBash('touch evil2.txt'),
      ccBash('git status; touch evil3.txt'),
      ccBash('git log $(touch evil4.txt)'),
      ccMcp('submit_review', { verdict: 'approve', findings: [] }),
    ]);
    const result = await claudeCodeBackend.run(
      input(await openSession('reviewer'), {
        role: 'reviewer',
        transcriptPath: reviewerTranscript,
        system: 'You are the reviewer in Foreman.',
      }),
    );
    expect(result).toMatchObject({ outcome: 'review_submitted', review: { verdict: 'approve', findings: [] } });
    expect((await readdir(workspace)).filter((f) => f !== '.foreman')).toEqual([]); // .foreman/pids: Foreman's
    const offered = server!.agentCalls[0]!.body.tools.map((t: { name: string }) => t.name);
    expect(offered).not.toContain('Write');
    expect(offered).not.toContain('Edit');
    expect(offered).toContain('mcp__foreman__submit_review');
    expect(offered).not.toContain('mcp__foreman__finish');
  });

  it('a turn that ends without an outcome tool gets one nudge, then max_turns with the last text as the summary', async () => {
    await start([ccText('I think it is done.'), ccText('Really done.')]);
    const result = await claudeCodeBackend.run(input(await openSession()));
    expect(result).toMatchObject({ outcome: 'max_turns', summary: 'Really done.', turns: 2 });
    expect(userTexts(server!.agentCalls[1]!).at(-1)).toContain('without calling a Foreman tool');
  });
});

/** Every file under `root` (following no symlinks), as paths. */
async function filesUnder(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(root, { withFileTypes: true }).catch(() => [])) {
    const full = path.join(root, entry.name);
    if (entry.isDirectory()) out.push(...(await filesUnder(full)));
    else if (entry.isFile()) out.push(full);
  }
  return out;
}

/** The pids whose environment holds `needle` (as root every /proc/<pid>/environ is readable). */
function pidsWithEnv(needle: string): { pid: string; environ: string; cmdline: string }[] {
  const out: { pid: string; environ: string; cmdline: string }[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const environ = readFileSync(`/proc/${pid}/environ`, 'utf8');
      if (environ.includes(needle)) out.push({ pid, environ, cmdline: readFileSync(`/proc/${pid}/cmdline`, 'utf8') });
    } catch {
      // gone, or not readable
    }
  }
  return out;
}

describe('claude-code backend: no real key in the sandbox', () => {
  const CANARY = 'sk-ant-canary-0123456789abcdef-claude-code';
  let saved: string | undefined;
  beforeEach(() => {
    saved = process.env.ANTHROPIC_API_KEY;
    process.env.ANTHROPIC_API_KEY = CANARY;
  });
  afterEach(() => {
    if (saved === undefined) delete process.env.ANTHROPIC_API_KEY;
    else process.env.ANTHROPIC_API_KEY = saved;
  });

  it("the daemon's key never reaches the CLI's environment, its files or its requests: it has the session token only", async () => {
    const opened: { session?: GatewaySession } = {};
    const seen: { pid: string; environ: string; cmdline: string }[] = [];
    await start([
      () => {
        // While the CLI waits for this answer: every process holding the session token is the CLI's.
        seen.push(...pidsWithEnv(opened.session!.token));
        return ccBash('env > env-dump.txt; cat ~/.claude.json > /dev/null 2>&1; true');
      },
      ccMcp('finish', { summary: 'done' }),
    ]);
    const session = (opened.session = await openSession('implementer', CANARY));
    const result = await claudeCodeBackend.run(input(session, { env: scrubbedEnv() }));
    expect(result.outcome).toBe('finished');

    expect(seen.length).toBeGreaterThan(0);
    expect(seen.some((p) => p.cmdline.includes('claude'))).toBe(true);
    for (const p of seen) {
      expect(p.environ).not.toContain(CANARY);
      expect(p.environ).toContain(`ANTHROPIC_API_KEY=${session.token}`);
    }
    const dump = await readFile(path.join(workspace, 'env-dump.txt'), 'utf8');
    expect(dump).toContain(`ANTHROPIC_API_KEY=${session.token}`);
    expect(dump).not.toContain(CANARY);

    const configDir = path.join(path.dirname(transcriptPath), 'implementer.claude-code');
    const files = [...(await filesUnder(configDir)), ...(await filesUnder(workspace))];
    expect(files.length).toBeGreaterThan(2);
    for (const file of files) expect(await readFile(file, 'utf8')).not.toContain(CANARY);
    expect(await readFile(transcriptPath, 'utf8')).not.toContain(CANARY);

    // What reached the model endpoint: the gateway swapped the session token for the real key (the
    // canary here); the CLI never had it, so it is in the auth header the gateway set and nowhere else.
    expect(server!.requests.length).toBeGreaterThan(0);
    for (const req of server!.requests) {
      expect(req.headers.authorization).toBe(`Bearer ${CANARY}`);
      const rest = Object.entries(req.headers).filter(([name]) => name !== 'authorization');
      expect(JSON.stringify(rest)).not.toContain(CANARY);
      expect(JSON.stringify(req.body)).not.toContain(CANARY);
      expect(JSON.stringify(req)).not.toContain(session.token);
    }
  });
});
