/**
 * The agent harness end to end: the real SDK against a scripted Messages API server over real
 * HTTP, real tools in a temporary project, real child processes and a real transcript file.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runAgent, type AgentRunOptions } from '../../src/agents/harness.js';
import { openTranscript, readTranscript, rebuildConversation } from '../../src/agents/transcript.js';
import { ModelError } from '../../src/errors.js';
import { scrubbedEnv } from '../../src/workspace/shell.js';
import {
  lastToolResults,
  overloaded,
  startScriptedModelServer,
  text,
  toolResultText,
  toolUse,
  unauthorized,
  type ScriptStep,
  type ScriptedModelServer,
} from '../support/scripted-model-server.js';

const ADD_JS = 'module.exports = function add(a, b) {\n  return a - b;\n};\n';
const TEST_JS = [
  "const add = require('./add.js');",
  'const got = add(2, 3);',
  "if (got !== 5) { console.error('FAIL: add(2, 3) = ' + got); process.exit(1); }",
  "console.log('PASS: add(2, 3) = 5');",
  '',
].join('\n');

let dir: string;
let workspace: string;
let transcriptPath: string;
let server: ScriptedModelServer | undefined;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'foreman-harness-'));
  workspace = path.join(dir, 'ws');
  transcriptPath = path.join(dir, 'home', 'transcripts', 'DEMO-1', 'implementer.jsonl');
  await mkdir(workspace);
  await writeFile(path.join(workspace, 'add.js'), ADD_JS);
  await writeFile(path.join(workspace, 'test.js'), TEST_JS);
});

afterEach(async () => {
  const failures = server?.failures ?? [];
  await server?.close();
  server = undefined;
  await rm(dir, { recursive: true, force: true });
  expect(failures).toEqual([]);
});

async function start(script: ScriptStep[]): Promise<ScriptedModelServer> {
  server = await startScriptedModelServer(script);
  return server;
}

function options(overrides: Partial<AgentRunOptions> = {}): AgentRunOptions {
  return {
    role: 'implementer',
    model: 'claude-test',
    system: 'You are the implementer. Fix the bug.',
    prompt: 'DEMO-1: add(2, 3) returns the wrong value. Make `node test.js` pass.',
    workspace,
    transcriptPath,
    maxTurns: 10,
    maxTokens: 1024,
    stream: false,
    client: { baseURL: server?.url, apiKey: 'sk-test-key-000', maxRetries: 0, timeoutMs: 20_000 },
    env: scrubbedEnv(),
    issueIdentifier: 'DEMO-1',
    ...overrides,
  };
}

/** Runs `fn` with environment variables set (or removed, for `undefined`), then restores them. */
async function withEnv(vars: Record<string, string | undefined>, fn: () => Promise<void>): Promise<void> {
  const saved = Object.fromEntries(Object.keys(vars).map((name) => [name, process.env[name]]));
  const apply = (values: Record<string, string | undefined>): void => {
    for (const [name, value] of Object.entries(values)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  };
  apply(vars);
  try {
    await fn();
  } finally {
    apply(saved);
  }
}

function resultTextOf(server: ScriptedModelServer, requestIndex: number): string {
  const results = lastToolResults(server.requests[requestIndex]!);
  expect(results).toHaveLength(1);
  return toolResultText(results[0]);
}

describe.each([
  { stream: false, label: 'JSON responses' },
  { stream: true, label: 'streaming (SSE)' },
])('fixing a bug with $label', ({ stream }) => {
  it('reads, runs the failing test, edits, re-runs and finishes', async () => {
    const s = await start([
      toolUse(
        'read_file',
        { path: 'test.js' },
        { input_tokens: 1000, output_tokens: 10, cache_creation_input_tokens: 900 },
      ),
      toolUse(
        'run_command',
        { command: 'node test.js' },
        { input_tokens: 1100, output_tokens: 11, cache_read_input_tokens: 900 },
      ),
      {
        content: [
          { type: 'text', text: 'add subtracts; fixing it.' },
          { type: 'tool_use', name: 'edit_file', input: { path: 'add.js', old_text: 'a - b', new_text: 'a + b' } },
        ],
        usage: { input_tokens: 1200, output_tokens: 12, cache_read_input_tokens: 1000 },
      },
      toolUse(
        'run_command',
        { command: 'node test.js' },
        { input_tokens: 1300, output_tokens: 13, cache_read_input_tokens: 1100 },
      ),
      toolUse('finish', { summary: 'add() now adds; node test.js passes.' }, { input_tokens: 1400, output_tokens: 14 }),
    ]);
    const turnsSeen: number[] = [];
    const result = await runAgent(options({ stream, onTurn: (t) => turnsSeen.push(t.turn) }));

    expect(result.outcome).toBe('finished');
    expect(result.summary).toBe('add() now adds; node test.js passes.');
    expect(result.turns).toBe(5);
    expect(result.toolCalls).toBe(5);
    expect(turnsSeen).toEqual([1, 2, 3, 4, 5]);
    expect(result.usage).toEqual({
      input_tokens: 6000,
      output_tokens: 60,
      cache_creation_input_tokens: 900,
      cache_read_input_tokens: 3000,
    });
    expect(await readFile(path.join(workspace, 'add.js'), 'utf8')).toBe(ADD_JS.replace('a - b', 'a + b'));

    // What the model was sent: the full history each time, the real tool output.
    expect(s.requests).toHaveLength(5);
    const first = s.requests[0]!;
    expect(first.headers.authorization).toBe('Bearer sk-test-key-000');
    expect(first.body.model).toBe('claude-test');
    expect(first.body.max_tokens).toBe(1024);
    expect(Boolean(first.body.stream)).toBe(stream);
    expect(first.body.system).toEqual([
      { type: 'text', text: 'You are the implementer. Fix the bug.', cache_control: { type: 'ephemeral' } },
    ]);
    expect(first.body.tools.map((t: { name: string }) => t.name)).toEqual([
      'read_file',
      'list_files',
      'search',
      'write_file',
      'edit_file',
      'run_command',
      'escalate',
      'finish',
    ]);
    expect(first.body.messages).toHaveLength(1);
    expect(resultTextOf(s, 1)).toBe(TEST_JS);
    const failing = resultTextOf(s, 2);
    expect(failing).toMatch(/^exit code 1 \(\d+ms\)\n/);
    expect(failing).toContain('FAIL: add(2, 3) = -1');
    expect(resultTextOf(s, 3)).toBe('Edited add.js: replaced 1 occurrence.');
    const passing = resultTextOf(s, 4);
    expect(passing).toMatch(/^exit code 0 \(\d+ms\)\nPASS: add\(2, 3\) = 5\n$/);
    expect(s.requests[4]!.body.messages).toHaveLength(9);
    // The tool_use ids the model sent come back on the results.
    const lastAssistant = s.requests[4]!.body.messages.at(-2);
    expect(lastAssistant.role).toBe('assistant');
    expect(lastToolResults(s.requests[4]!)[0].tool_use_id).toBe(lastAssistant.content[0].id);

    // The transcript rebuilds the conversation.
    const entries = await readTranscript(transcriptPath);
    expect(entries[0]).toMatchObject({ type: 'start', role: 'implementer', model: 'claude-test', issue: 'DEMO-1' });
    expect(entries.at(-1)).toMatchObject({
      type: 'end',
      outcome: 'finished',
      summary: 'add() now adds; node test.js passes.',
    });
    expect(entries.filter((e) => e.type === 'usage')).toHaveLength(5);
    const conversation = rebuildConversation(entries);
    expect(conversation).toHaveLength(11);
    conversation.forEach((m, i) => expect(m.role).toBe(i % 2 === 0 ? 'user' : 'assistant'));
    expect(JSON.stringify(conversation)).toContain('FAIL: add(2, 3) = -1');
    const raw = await readFile(transcriptPath, 'utf8');
    expect(raw.endsWith('\n')).toBe(true);
    expect(raw).not.toContain('sk-test-key-000');
  });
});

describe('runAgent', () => {
  it('returns a tool error to the model and keeps going', async () => {
    const s = await start([
      toolUse('read_file', { path: '../outside' }),
      toolUse('edit_file', { path: 'add.js', old_text: 'nothing like this', new_text: 'x' }),
      toolUse('finish', { summary: 'gave up politely' }),
    ]);
    const result = await runAgent(options());
    expect(result.outcome).toBe('finished');
    const [outside] = lastToolResults(s.requests[1]!);
    expect(outside.is_error).toBe(true);
    expect(toolResultText(outside)).toContain('outside the workspace');
    const [edit] = lastToolResults(s.requests[2]!);
    expect(edit.is_error).toBe(true);
    expect(toolResultText(edit)).toContain('0 times');
  });

  it('nudges a model that stops without a tool call (each nudge is a turn)', async () => {
    const s = await start([text('I think I am done.'), toolUse('finish', { summary: 'done' })]);
    const result = await runAgent(options());
    expect(result).toMatchObject({ outcome: 'finished', turns: 2 });
    const last = s.requests[1]!.body.messages.at(-1);
    expect(last.role).toBe('user');
    expect(last.content[0].text).toContain('call finish');
  });

  it('stops at max_turns', async () => {
    await start([toolUse('list_files', {}), toolUse('list_files', {})]);
    const result = await runAgent(options({ maxTurns: 2 }));
    expect(result).toMatchObject({ outcome: 'max_turns', turns: 2, toolCalls: 2 });
    const entries = await readTranscript(transcriptPath);
    expect(entries.at(-1)).toMatchObject({ type: 'end', outcome: 'max_turns' });
  });

  it('escalates, then resumes with the human answer as the newest user turn', async () => {
    const s = await start([
      toolUse('escalate', {
        question: 'Should add() also accept strings?',
        options: ['numbers only', 'coerce strings'],
        recommendation: 'numbers only',
      }),
      (req) => {
        const last = req.body.messages.at(-1);
        expect(last.role).toBe('user');
        expect(last.content.at(-1)).toMatchObject({ type: 'text', text: 'Numbers only, please.' });
        return toolUse('finish', { summary: 'numbers only, as decided' });
      },
    ]);
    const escalated = await runAgent(options());
    expect(escalated.outcome).toBe('escalated');
    expect(escalated.escalation).toEqual({
      question: 'Should add() also accept strings?',
      options: ['numbers only', 'coerce strings'],
      recommendation: 'numbers only',
    });
    expect(escalated.turns).toBe(1);
    const afterEscalation = rebuildConversation(await readTranscript(transcriptPath));
    expect(afterEscalation.at(-1)).toMatchObject({
      role: 'user',
      content: [{ type: 'tool_result', content: 'Escalated to a human; wait for their answer.' }],
    });

    const resumed = await runAgent(options({ resume: { extraUserText: 'Numbers only, please.' } }));
    expect(resumed).toMatchObject({ outcome: 'finished', summary: 'numbers only, as decided', turns: 1 });
    const second = s.requests[1]!.body.messages;
    expect(second).toHaveLength(3);
    expect(second[0].content[0].text).toContain('DEMO-1');
    expect(second[2].content[0]).toMatchObject({ type: 'tool_result', tool_use_id: second[1].content[0].id });
    const conversation = rebuildConversation(await readTranscript(transcriptPath));
    conversation.forEach((m, i) => expect(m.role).toBe(i % 2 === 0 ? 'user' : 'assistant'));
    expect((await readTranscript(transcriptPath)).filter((e) => e.type === 'start')).toHaveLength(1);
  });

  it.each([false, true])('continues an interrupted run from its last complete state (stream: %s)', async (stream) => {
    const s = await start([
      toolUse('read_file', { path: 'add.js' }),
      overloaded(),
      toolUse('finish', { summary: 'ok' }),
    ]);
    await expect(runAgent(options({ stream }))).rejects.toMatchObject({ code: 'model_overloaded', retryable: true });
    const result = await runAgent(options({ stream }));
    expect(result).toMatchObject({ outcome: 'finished', turns: 1 });
    // The retry sent the same conversation the failed call had: prompt, read_file, its result.
    expect(s.requests[2]!.body.messages).toEqual(s.requests[1]!.body.messages);
  });

  it.each([false, true])(
    'aborts a response that stalls after its headers, as a retryable error, well within the request timeout (stream: %s)',
    async (stream) => {
      const s = await start([{ raw: { status: 200, body: null } }, toolUse('finish', { summary: 'ok' })]);
      const client = { baseURL: s.url, apiKey: 'k', maxRetries: 0, timeoutMs: 60_000, idleTimeoutMs: 300 };
      const started = Date.now();
      await expect(runAgent(options({ stream, client }))).rejects.toMatchObject({
        code: 'model_stalled',
        retryable: true,
      });
      expect(Date.now() - started).toBeLessThan(10_000); // not the 60 s request timeout
      // The retry (Temporal's, of the activity) goes on from the transcript.
      expect(await runAgent(options({ stream, client }))).toMatchObject({ outcome: 'finished' });
      expect(s.requests).toHaveLength(2);
    },
  );

  it('a 200 that is not a Messages API response is a typed, retryable ModelError', async () => {
    const s = await start([
      { raw: { status: 200, headers: { 'content-type': 'text/html' }, body: '<html>proxy login</html>' } },
    ]);
    const err = await runAgent(options({ client: { baseURL: s.url, apiKey: 'k', maxRetries: 0 } })).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ModelError);
    expect(err).toMatchObject({ code: 'model_bad_response', retryable: true });
  });

  it.each([false, true])(
    'maps a 401 to a non-retryable ModelError naming the endpoint, not the key (stream: %s)',
    async (stream) => {
      const s = await start([unauthorized()]);
      const err = await runAgent(options({ stream })).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ModelError);
      expect(err).toMatchObject({ code: 'model_unauthorized', retryable: false });
      expect((err as Error).message).toContain(s.url);
      expect((err as Error).message).toContain('ANTHROPIC_API_KEY');
      expect((err as Error).message).not.toContain('sk-test-key-000');
      expect(s.requests).toHaveLength(1);
      expect(await readFile(transcriptPath, 'utf8')).not.toContain('sk-test-key-000');
    },
  );

  it('maps an unreachable endpoint to a retryable model_unreachable', async () => {
    await start([]);
    const url = server!.url;
    await server!.close();
    server = undefined;
    await expect(runAgent(options({ client: { baseURL: url, apiKey: 'k', maxRetries: 0 } }))).rejects.toMatchObject({
      code: 'model_unreachable',
      retryable: true,
    });
  });

  it('asks for a key when there is none', async () => {
    const s = await start([]);
    // No key, no token, and an empty SDK config dir so no profile can supply one.
    await withEnv(
      {
        ANTHROPIC_API_KEY: undefined,
        ANTHROPIC_AUTH_TOKEN: undefined,
        ANTHROPIC_PROFILE: undefined,
        ANTHROPIC_CONFIG_DIR: dir,
      },
      async () => {
        await expect(runAgent(options({ client: { baseURL: s.url, maxRetries: 0 } }))).rejects.toMatchObject({
          code: 'model_unauthorized',
          retryable: false,
          message: expect.stringContaining('Set ANTHROPIC_API_KEY or model.api_key'),
        });
      },
    );
    expect(s.requests).toHaveLength(0);
  });

  it('stops a running command and the run when aborted', async () => {
    await start([toolUse('run_command', { command: 'sleep 30' })]);
    const controller = new AbortController();
    const reason = new Error('cancelled by test');
    const started = Date.now();
    setTimeout(() => controller.abort(reason), 300);
    await expect(runAgent(options({ signal: controller.signal }))).rejects.toBe(reason);
    expect(Date.now() - started).toBeLessThan(5_000);
    const entries = await readTranscript(transcriptPath);
    expect(entries.some((e) => e.type === 'end')).toBe(false);
  });

  it('keeps secrets out of commands, requests and the transcript', async () => {
    await withEnv({ ANTHROPIC_API_KEY: 'sk-secret-123', FOREMAN_TEST_TOKEN: 'x' }, async () => {
      const s = await start([
        toolUse('run_command', { command: 'env' }),
        toolUse('finish', { summary: 'looked around' }),
      ]);
      // No apiKey option: the SDK takes ANTHROPIC_API_KEY from the daemon's environment.
      const result = await runAgent(options({ client: { baseURL: s.url, maxRetries: 0 }, env: scrubbedEnv() }));
      expect(result.outcome).toBe('finished');
      expect(s.requests[0]!.headers.authorization).toBe('Bearer sk-secret-123');
      const envOutput = resultTextOf(s, 1);
      expect(envOutput).toContain('CI=true');
      expect(envOutput).toContain('GIT_TERMINAL_PROMPT=0');
      for (const leaked of ['sk-secret-123', 'ANTHROPIC_API_KEY', 'FOREMAN_TEST_TOKEN']) {
        expect(JSON.stringify(s.requests.map((r) => r.body))).not.toContain(leaked);
        expect(await readFile(transcriptPath, 'utf8')).not.toContain(leaked);
      }
    });
  });

  it('gives the reviewer read-only tools and returns its validated review', async () => {
    const s = await start([
      toolUse('run_command', { command: 'rm -rf add.js' }),
      toolUse('submit_review', { verdict: 'approve', findings: [{ severity: 'urgent', message: 'x' }] }),
      toolUse('submit_review', {
        verdict: 'request_changes',
        findings: [{ severity: 'blocker', path: 'add.js', line: 2, message: 'Subtracts instead of adding.' }],
      }),
    ]);
    const result = await runAgent(options({ role: 'reviewer', system: 'Review the change.' }));
    expect(result.outcome).toBe('review_submitted');
    expect(result.review).toEqual({
      verdict: 'request_changes',
      findings: [{ severity: 'blocker', path: 'add.js', line: 2, message: 'Subtracts instead of adding.' }],
    });
    expect(await readFile(path.join(workspace, 'add.js'), 'utf8')).toBe(ADD_JS);
    const [refused] = lastToolResults(s.requests[1]!);
    expect(refused.is_error).toBe(true);
    const [malformed] = lastToolResults(s.requests[2]!);
    expect(malformed.is_error).toBe(true);
    expect(toolResultText(malformed)).toContain('severity');
    expect(s.requests[0]!.body.tools.map((t: { name: string }) => t.name)).toEqual([
      'read_file',
      'list_files',
      'search',
      'run_command',
      'submit_review',
    ]);
  });
});

describe('budget', () => {
  const perCall = { input_tokens: 500, output_tokens: 100 }; // 600 tokens a call
  const noLimits = { spentTokens: 0, spentUsd: 0, prices: {} };

  it('stops before the call that would start past budget.max_tokens', async () => {
    const s = await start([toolUse('list_files', {}, perCall), toolUse('read_file', { path: 'add.js' }, perCall)]);
    const result = await runAgent(options({ budget: { ...noLimits, spentTokens: 100, maxTokens: 1000 } }));
    // Before call 2: 100 + 600 < 1000, so it happens; before call 3: 100 + 1200 >= 1000.
    expect(result).toMatchObject({
      outcome: 'budget_exhausted',
      turns: 2,
      toolCalls: 2,
      costUsd: null,
      budgetExhausted: { reason: 'tokens', spentTokens: 1300, spentUsd: 0, limit: 1000 },
    });
    expect(s.requests).toHaveLength(2);
    const entries = await readTranscript(transcriptPath);
    expect(entries.at(-1)).toMatchObject({
      type: 'end',
      outcome: 'budget_exhausted',
      summary: expect.stringContaining('budget.max_tokens'),
    });
    // The conversation ends with the complete tool results of the last call, ready to resume.
    const conversation = rebuildConversation(entries);
    expect(conversation).toHaveLength(5);
    expect(conversation.at(-1)).toMatchObject({ role: 'user', content: [{ type: 'tool_result' }] });
  });

  it('counts cache writes and reads as tokens', async () => {
    const s = await start([
      toolUse(
        'list_files',
        {},
        { input_tokens: 10, output_tokens: 10, cache_creation_input_tokens: 400, cache_read_input_tokens: 580 },
      ),
    ]);
    const result = await runAgent(options({ budget: { ...noLimits, maxTokens: 1000 } }));
    expect(result.budgetExhausted).toEqual({ reason: 'tokens', spentTokens: 1000, spentUsd: 0, limit: 1000 });
    expect(s.requests).toHaveLength(1);
  });

  it('stops at budget.max_usd, pricing each call from the price table', async () => {
    // $10 / $50 per million: 500 in + 100 out = $0.005 + $0.005 = $0.01 a call.
    const prices = { 'claude-test': { input: 10, output: 50, cache_write: 12.5, cache_read: 1 } };
    const s = await start([toolUse('list_files', {}, perCall), toolUse('list_files', {}, perCall)]);
    const result = await runAgent(options({ budget: { ...noLimits, spentUsd: 0.005, maxUsd: 0.02, prices } }));
    // Before call 2: $0.015 < $0.02; before call 3: $0.025 >= $0.02.
    expect(result.outcome).toBe('budget_exhausted');
    expect(result.turns).toBe(2);
    expect(result.costUsd).toBeCloseTo(0.02, 10);
    expect(result.budgetExhausted).toMatchObject({ reason: 'usd', spentTokens: 1200, limit: 0.02 });
    expect(result.budgetExhausted!.spentUsd).toBeCloseTo(0.025, 10);
    expect(s.requests).toHaveLength(2);
  });

  it('reports the cost for a dated name of a built-in model', async () => {
    await start([toolUse('finish', { summary: 'done' }, { input_tokens: 1_000_000, output_tokens: 0 })]);
    const result = await runAgent(options({ model: 'claude-haiku-4-5-20251001' }));
    expect(result.outcome).toBe('finished');
    expect(result.costUsd).toBeCloseTo(1, 10);
  });

  it('cannot enforce budget.max_usd for a model without a price: runs on, costUsd null', async () => {
    const s = await start([toolUse('list_files', {}, perCall), toolUse('finish', { summary: 'done' }, perCall)]);
    const result = await runAgent(options({ budget: { ...noLimits, maxUsd: 0.000001 } }));
    expect(result).toMatchObject({ outcome: 'finished', turns: 2, costUsd: null });
    expect(result.budgetExhausted).toBeUndefined();
    expect(s.requests).toHaveLength(2);
  });

  it('makes no model call once the wall-time deadline has passed', async () => {
    const s = await start([]);
    const deadline = Date.now() - 1;
    const result = await runAgent(options({ budget: { ...noLimits, deadline } }));
    expect(result).toMatchObject({
      outcome: 'budget_exhausted',
      turns: 0,
      toolCalls: 0,
      budgetExhausted: { reason: 'wall', spentTokens: 0, spentUsd: 0, limit: deadline },
    });
    expect(s.requests).toHaveLength(0);
    const entries = await readTranscript(transcriptPath);
    expect(entries.map((e) => e.type)).toEqual(['start', 'message', 'end']);
  });

  it('resumes the same conversation after a human grants more budget', async () => {
    const s = await start([
      toolUse('list_files', {}, perCall),
      toolUse('read_file', { path: 'add.js' }, perCall),
      toolUse('finish', { summary: 'finished on the larger budget' }, perCall),
    ]);
    const exhausted = await runAgent(options({ budget: { ...noLimits, maxTokens: 1000 } }));
    expect(exhausted.outcome).toBe('budget_exhausted');
    expect(s.requests).toHaveLength(2);

    const resumed = await runAgent(
      options({
        resume: { extraUserText: 'Budget raised to 5000 tokens; carry on.' },
        budget: { ...noLimits, spentTokens: exhausted.budgetExhausted!.spentTokens, maxTokens: 5000 },
      }),
    );
    expect(resumed).toMatchObject({ outcome: 'finished', summary: 'finished on the larger budget', turns: 1 });

    const before = s.requests[1]!.body.messages;
    const after = s.requests[2]!.body.messages;
    expect(after).toHaveLength(5);
    // The earlier messages, unchanged (the last one only lost its cache breakpoint).
    expect(after.slice(0, 2)).toEqual(before.slice(0, 2));
    const { cache_control: _moved, ...firstResults } = before[2].content.at(-1);
    expect(after[2].content).toEqual([...before[2].content.slice(0, -1), firstResults]);
    // Then the second call's tool use, its result and the human's text in one user turn.
    expect(after[3].role).toBe('assistant');
    expect(after[3].content[0]).toMatchObject({ type: 'tool_use', name: 'read_file' });
    expect(after[4].role).toBe('user');
    expect(after[4].content[0]).toMatchObject({ type: 'tool_result', tool_use_id: after[3].content[0].id });
    expect(toolResultText(after[4].content[0])).toBe(ADD_JS);
    expect(after[4].content.at(-1)).toMatchObject({ type: 'text', text: 'Budget raised to 5000 tokens; carry on.' });

    const entries = await readTranscript(transcriptPath);
    expect(entries.filter((e) => e.type === 'start')).toHaveLength(1);
    const outcomes = entries.flatMap((e) => (e.type === 'end' ? [e.outcome] : []));
    expect(outcomes).toEqual(['budget_exhausted', 'finished']);
  });
});

describe('transcript', () => {
  it('ignores and repairs a torn last line, and drops tool calls that never got results', async () => {
    const t = await openTranscript(transcriptPath);
    const at = new Date().toISOString();
    await t.append({
      type: 'start',
      at,
      role: 'implementer',
      model: 'm',
      issue: 'DEMO-1',
      system: 's',
      tools: ['finish'],
    });
    await t.append({ type: 'message', at, message: { role: 'user', content: [{ type: 'text', text: 'go' }] } });
    await t.append({
      type: 'message',
      at,
      message: {
        role: 'assistant',
        content: [{ type: 'tool_use', id: 'toolu_1', name: 'run_command', input: { command: 'ls' } }],
      },
    });
    await writeFile(transcriptPath, (await readFile(transcriptPath, 'utf8')) + '{"type":"message","at":"');
    const entries = await readTranscript(transcriptPath);
    expect(entries).toHaveLength(3);
    // The run died while running the tool: the last complete state is the prompt alone.
    expect(rebuildConversation(entries)).toEqual([{ role: 'user', content: [{ type: 'text', text: 'go' }] }]);

    const reopened = await openTranscript(transcriptPath);
    await reopened.append({
      type: 'message',
      at,
      message: { role: 'user', content: [{ type: 'text', text: 'more' }] },
    });
    const repaired = await readTranscript(transcriptPath);
    expect(repaired).toHaveLength(4);
    expect(rebuildConversation(repaired)).toEqual([
      {
        role: 'user',
        content: [
          { type: 'text', text: 'go' },
          { type: 'text', text: 'more' },
        ],
      },
    ]);
  });
});
