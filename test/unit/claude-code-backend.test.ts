/**
 * The `claude-code` backend's pure parts: the CLI's arguments and environment per role, the
 * stream-JSON events it reads, and which session a step starts or resumes.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { claudeArgs, claudeEnv, type ClaudeInvocation } from '../../src/agents/backends/claude-code/args.js';
import { parseEvent, toTranscriptBlocks, userMessageLine } from '../../src/agents/backends/claude-code/events.js';
import { CONTINUE_TEXT, planSession, priorSession } from '../../src/agents/backends/claude-code/session.js';
import { openTranscript } from '../../src/agents/transcript.js';

const base: ClaudeInvocation = {
  role: 'implementer',
  model: 'claude-opus-5-5',
  system: 'You are the implementer.',
  maxTurns: 30,
  mcpUrl: 'http://127.0.0.1:4180/mcp/abc',
  token: 'fgw-token',
  session: { id: '3f1c1a52-1111-4222-8333-444455556666', resume: false },
  sandboxed: true,
  extraArgs: [],
};

const flag = (args: string[], name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};

describe('claudeArgs', () => {
  it('print mode with stream-JSON both ways, the model, the role prompt, turns and a new session id', () => {
    const args = claudeArgs(base);
    expect(args.slice(0, 6)).toEqual([
      '-p',
      '--input-format',
      'stream-json',
      '--output-format',
      'stream-json',
      '--verbose',
    ]);
    expect(flag(args, '--model')).toBe('claude-opus-5-5');
    expect(flag(args, '--append-system-prompt')).toBe('You are the implementer.');
    expect(flag(args, '--max-turns')).toBe('30');
    expect(flag(args, '--session-id')).toBe(base.session.id);
    expect(args).not.toContain('--resume');
    expect(args).toContain('--strict-mcp-config');
    expect(flag(args, '--setting-sources')).toBe('user');
  });

  it('resumes a session with --resume, and puts extra args last', () => {
    const args = claudeArgs({ ...base, session: { id: 'abc', resume: true }, extraArgs: ['--effort', 'high'] });
    expect(flag(args, '--resume')).toBe('abc');
    expect(args).not.toContain('--session-id');
    expect(args.slice(-2)).toEqual(['--effort', 'high']);
  });

  it("points MCP at the gateway session with the token header and names Foreman's server", () => {
    const config = JSON.parse(flag(claudeArgs(base), '--mcp-config')!);
    expect(config).toEqual({
      mcpServers: {
        foreman: { type: 'http', url: base.mcpUrl, headers: { Authorization: 'Bearer fgw-token' } },
      },
    });
  });

  it('bypasses its permission prompts only inside the sandbox; on the host an explicit allowlist', () => {
    expect(flag(claudeArgs(base), '--permission-mode')).toBe('bypassPermissions');
    const host = claudeArgs({ ...base, sandboxed: false });
    expect(flag(host, '--permission-mode')).toBe('dontAsk');
    expect(flag(host, '--allowedTools')!.split(',')).toEqual([
      'Bash',
      'Read',
      'Edit',
      'Write',
      'mcp__foreman__finish',
      'mcp__foreman__escalate',
    ]);
  });

  it('the reviewer: no write tools, read-only git commands and submit_review only, even inside the sandbox', () => {
    const args = claudeArgs({ ...base, role: 'reviewer' });
    expect(flag(args, '--tools')).toBe('Bash,Read');
    expect(flag(args, '--permission-mode')).toBe('dontAsk');
    expect(flag(args, '--allowedTools')!.split(',')).toEqual([
      'Read',
      'Bash(git diff:*)',
      'Bash(git log:*)',
      'Bash(git show:*)',
      'Bash(git status:*)',
      'mcp__foreman__submit_review',
    ]);
    expect(flag(args, '--disallowedTools')).toBe('Write,Edit,NotebookEdit');
  });
});

describe('claudeEnv', () => {
  it('the gateway and the session token as its only endpoint and key, its own HOME, no telemetry or updates', () => {
    const env = claudeEnv({
      base: { PATH: '/usr/bin', CI: 'true' },
      anthropicBaseUrl: 'http://127.0.0.1:4180/anthropic',
      token: 'fgw-token',
      configDir: '/state/DEMO-1/run/implementer.claude-code',
      maxTokens: 8192,
      sandboxed: true,
    });
    expect(env).toMatchObject({
      PATH: '/usr/bin',
      HOME: '/state/DEMO-1/run/implementer.claude-code',
      CLAUDE_CONFIG_DIR: '/state/DEMO-1/run/implementer.claude-code',
      ANTHROPIC_BASE_URL: 'http://127.0.0.1:4180/anthropic',
      ANTHROPIC_API_KEY: 'fgw-token',
      CLAUDE_CODE_MAX_OUTPUT_TOKENS: '8192',
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
      DISABLE_AUTOUPDATER: '1',
      DISABLE_TELEMETRY: '1',
      ENABLE_TOOL_SEARCH: 'false',
      IS_SANDBOX: '1',
    });
    expect(
      claudeEnv({ ...{ base: {}, anthropicBaseUrl: '', token: 't', configDir: '/c', maxTokens: 1 }, sandboxed: false }),
    ).not.toHaveProperty('IS_SANDBOX');
  });
});

describe('stream-JSON events', () => {
  it('reads init, assistant, user and result events, and anything else as other', () => {
    expect(parseEvent('{"type":"system","subtype":"init","session_id":"s1","tools":["Bash",3],"model":"m"}')).toEqual({
      type: 'system',
      subtype: 'init',
      session_id: 's1',
      tools: ['Bash'],
      model: 'm',
    });
    expect(
      parseEvent('{"type":"result","subtype":"success","is_error":false,"num_turns":3,"result":"ok"}'),
    ).toMatchObject({
      type: 'result',
      subtype: 'success',
      is_error: false,
      num_turns: 3,
      result: 'ok',
      api_error_status: null,
    });
    expect(parseEvent('not json').type).toBe('other');
    expect(parseEvent('{"type":"assistant","message":"x"}').type).toBe('other');
    expect(parseEvent('[1]').type).toBe('other');
  });

  it('maps message content to transcript blocks, tool results as text', () => {
    expect(
      toTranscriptBlocks([
        { type: 'text', text: 'hi' },
        { type: 'tool_use', id: 't1', name: 'Write', input: { file_path: '/x' } },
        { type: 'tool_result', tool_use_id: 't1', content: [{ type: 'text', text: 'ok' }], is_error: true },
        { type: 'image', source: {} },
        null,
      ]),
    ).toEqual([
      { type: 'text', text: 'hi' },
      { type: 'tool_use', id: 't1', name: 'Write', input: { file_path: '/x' } },
      { type: 'tool_result', tool_use_id: 't1', content: 'ok', is_error: true },
      { type: 'text', text: '[image block]' },
      { type: 'text', text: '[unknown block]' },
    ]);
    expect(toTranscriptBlocks('plain')).toEqual([{ type: 'text', text: 'plain' }]);
  });

  it('writes a user turn as one stream-JSON line', () => {
    const line = userMessageLine(['a', 'b']);
    expect(line.endsWith('\n')).toBe(true);
    expect(JSON.parse(line)).toEqual({
      type: 'user',
      message: {
        role: 'user',
        content: [
          { type: 'text', text: 'a' },
          { type: 'text', text: 'b' },
        ],
      },
    });
  });
});

describe('which session a step runs', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'foreman-cc-session-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const start = (backend: string | undefined, sessionId?: string) => ({
    type: 'start' as const,
    at: 'now',
    role: 'implementer',
    model: 'm',
    issue: 'DEMO-1',
    system: 's',
    tools: [],
    ...(backend ? { backend } : {}),
    ...(sessionId ? { sessionId } : {}),
  });
  const message = { type: 'message' as const, at: 'now', message: { role: 'user' as const, content: [] } };

  it('no transcript, or a builtin run: a new session with the prompt (and the extra text)', async () => {
    const file = path.join(dir, 'implementer.jsonl');
    expect(await priorSession(file)).toBeNull();
    const t = await openTranscript(file);
    await t.append(start(undefined));
    expect(await priorSession(file)).toBeNull();
    const plan = planSession(null, 'the prompt', { extraUserText: 'an answer' });
    expect(plan).toMatchObject({ resume: false, texts: ['the prompt', 'an answer'] });
    expect(plan.id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('a run that ended with an outcome resumes with the new text; without one it starts afresh', async () => {
    const file = path.join(dir, 'implementer.jsonl');
    const t = await openTranscript(file);
    await t.append(start('claude-code', 'sess-1'));
    await t.append(message);
    await t.append({ type: 'end', at: 'now', outcome: 'escalated' });
    // The gateway's records may come after the end entry.
    await t.append({
      type: 'usage',
      at: 'now',
      usage: { input_tokens: 1, output_tokens: 1, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
    });
    const prior = await priorSession(file);
    expect(prior).toEqual({ id: 'sess-1', endedCleanly: true });
    expect(planSession(prior, 'p', { extraUserText: 'blue' })).toEqual({ id: 'sess-1', resume: true, texts: ['blue'] });
    expect(planSession(prior, 'p', undefined)).toMatchObject({ resume: false, texts: ['p'] });
  });

  it('a run that crashed or failed resumes its session with a note to continue', async () => {
    const file = path.join(dir, 'implementer.jsonl');
    const t = await openTranscript(file);
    await t.append(start('claude-code', 'sess-2'));
    await t.append(message);
    expect(await priorSession(file)).toEqual({ id: 'sess-2', endedCleanly: false });
    await t.append({ type: 'end', at: 'now', outcome: 'error', error: 'agent_stalled' });
    const prior = await priorSession(file);
    expect(prior).toEqual({ id: 'sess-2', endedCleanly: false });
    expect(planSession(prior, 'p', undefined)).toEqual({ id: 'sess-2', resume: true, texts: [CONTINUE_TEXT] });
  });
});
