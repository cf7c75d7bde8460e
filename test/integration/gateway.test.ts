/**
 * The model gateway over real HTTP: the real Anthropic SDK and MCP SDK client in front, a scripted
 * Messages API server (or a raw Responses API server) behind, a real transcript file.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { GatewaySession } from '../../src/agents/backends/types.js';
import { priceTable } from '../../src/agents/pricing.js';
import { createToolbox, ESCALATED_TOOL_RESULT } from '../../src/agents/tools.js';
import { readTranscript, type TranscriptExchangeEntry } from '../../src/agents/transcript.js';
import type { AgentRole } from '../../src/agents/usage.js';
import { GATEWAY_ERROR_HEADER, startGateway, type Gateway, type GatewayUpstream } from '../../src/gateway/index.js';
import {
  overloaded,
  startScriptedModelServer,
  text,
  type ScriptStep,
  type ScriptedModelServer,
} from '../support/scripted-model-server.js';

const REAL_KEY = 'sk-ant-real-key-canary-0123456789';
const OPENAI_KEY = 'sk-openai-real-key-canary-0123456789';

let dir: string;
let gateway: Gateway;
const closers: (() => Promise<void>)[] = [];

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'foreman-gateway-test-'));
  gateway = await startGateway();
});

afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  await gateway.close();
  await rm(dir, { recursive: true, force: true });
});

/** A raw upstream: each request is answered by `answer`; requests are recorded. */
async function rawUpstream(answer: (req: IncomingMessage, body: string, res: ServerResponse) => void | Promise<void>) {
  const requests: { path: string; headers: IncomingMessage['headers']; body: string }[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      requests.push({ path: req.url ?? '', headers: req.headers, body });
      void answer(req, body, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  closers.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { url, requests };
}

function upstreamOf(anthropicUrl: string, openaiUrl = 'http://127.0.0.1:9/v1', maxRetries = 2): GatewayUpstream {
  return {
    anthropic: { baseUrl: anthropicUrl, apiKey: REAL_KEY },
    openai: { baseUrl: openaiUrl, apiKey: OPENAI_KEY },
    maxRetries,
    timeoutMs: 30_000,
  };
}

async function open(
  upstream: GatewayUpstream,
  o: { role?: AgentRole; maxTokens?: number } = {},
): Promise<GatewaySession> {
  const session = await gateway.openSession({
    identifier: 'DEMO-1',
    role: o.role ?? 'implementer',
    runId: 'run-1',
    budget: {
      spentTokens: 0,
      spentUsd: 0,
      prices: priceTable(),
      ...(o.maxTokens !== undefined ? { maxTokens: o.maxTokens } : {}),
    },
    transcriptPath: path.join(dir, 'transcript.jsonl'),
    upstream,
  });
  closers.push(() => session.close());
  return session;
}

async function scripted(script: ScriptStep[]): Promise<ScriptedModelServer> {
  const server = await startScriptedModelServer(script);
  closers.push(() => server.close());
  return server;
}

function sdk(session: GatewaySession, token = session.token): Anthropic {
  return new Anthropic({ apiKey: token, baseURL: session.anthropicBaseUrl, maxRetries: 0 });
}

const ask = { model: 'claude-sonnet-4-5', max_tokens: 100, messages: [{ role: 'user' as const, content: 'hi' }] };

async function exchanges(): Promise<TranscriptExchangeEntry[]> {
  const entries = await readTranscript(path.join(dir, 'transcript.jsonl'));
  return entries.filter((e): e is TranscriptExchangeEntry => e.type === 'exchange');
}

describe('the per-session token', () => {
  it('refuses a missing or wrong token with 401 on every route; the upstream sees nothing', async () => {
    const model = await scripted([text('never')]);
    const session = await open(upstreamOf(model.url));
    const routes = ['/anthropic/v1/messages', '/openai/v1/responses', new URL(session.mcpUrl).pathname];
    const base = new URL(session.anthropicBaseUrl).origin;
    for (const route of routes) {
      for (const headers of [{}, { 'x-api-key': 'fgw-wrong' }, { authorization: `Bearer ${REAL_KEY}` }] as Record<
        string,
        string
      >[]) {
        const res = await fetch(`${base}${route}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body: JSON.stringify(ask),
        });
        expect(res.status, `${route} ${JSON.stringify(headers)}`).toBe(401);
        expect(res.headers.get(GATEWAY_ERROR_HEADER)).toBe('unauthorized');
      }
    }
    await expect(sdk(session, 'fgw-guess').messages.create(ask)).rejects.toMatchObject({ status: 401 });
    expect(model.requests).toHaveLength(0);
  });

  it('a closed session token no longer works', async () => {
    const model = await scripted([text('one'), text('two')]);
    const session = await open(upstreamOf(model.url));
    await sdk(session).messages.create(ask);
    await session.close();
    await expect(sdk(session).messages.create(ask)).rejects.toMatchObject({ status: 401 });
    expect(model.requests).toHaveLength(1);
  });

  it('the upstream gets the real key, never the session token; the agent never sees the real key', async () => {
    const model = await scripted([text('hello')]);
    const session = await open(upstreamOf(model.url));
    const res = await fetch(`${session.anthropicBaseUrl}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': session.token, 'anthropic-version': '2023-06-01' },
      body: JSON.stringify(ask),
    });
    const body = await res.text();
    expect(res.status).toBe(200);
    const seen = model.requests[0]!;
    expect(seen.headers.authorization).toBe(`Bearer ${REAL_KEY}`);
    expect(seen.headers['x-api-key']).toBeUndefined();
    expect(seen.headers['anthropic-version']).toBe('2023-06-01');
    expect(JSON.stringify(seen.headers)).not.toContain(session.token);
    expect(seen.body).toEqual(ask); // passed through unchanged
    expect(body).not.toContain(REAL_KEY);
    expect(JSON.stringify([...res.headers])).not.toContain(REAL_KEY);
  });
});

describe('metering', () => {
  const usage = {
    input_tokens: 1234,
    output_tokens: 56,
    cache_creation_input_tokens: 700,
    cache_read_input_tokens: 8000,
  };

  it('Anthropic JSON and SSE: usage equals what the upstream sent, priced by the answering model', async () => {
    const model = await scripted([text('json answer', usage), text('streamed answer', usage)]);
    const session = await open(upstreamOf(model.url));
    const client = sdk(session);
    const a = await client.messages.create(ask);
    expect(a.content[0]).toMatchObject({ type: 'text', text: 'json answer' });
    const b = await client.messages.stream(ask).finalMessage();
    expect(b.content[0]).toMatchObject({ type: 'text', text: 'streamed answer' });
    const m = session.metered();
    expect(m.calls).toBe(2);
    expect(m.usage).toEqual({
      input_tokens: 2468,
      output_tokens: 112,
      cache_creation_input_tokens: 1400,
      cache_read_input_tokens: 16000,
    });
    expect(m.models).toEqual(['claude-sonnet-4-5']);
    // claude-sonnet-4-5: $3 in, $15 out, $3.75 cache write, $0.30 cache read per million.
    expect(m.costUsd).toBeCloseTo((2468 * 3 + 112 * 15 + 1400 * 3.75 + 16000 * 0.3) / 1e6, 10);
    const ex = await exchanges();
    expect(ex.map((e) => [e.status, e.request.stream, e.usage?.output_tokens])).toEqual([
      [200, false, 56],
      [200, true, 56],
    ]);
    expect(ex[0]!.latencyMs).toBeGreaterThanOrEqual(0);
  });

  it('OpenAI Responses JSON and SSE: cached input tokens are cache reads, the rest input', async () => {
    const respUsage = {
      input_tokens: 5000,
      input_tokens_details: { cached_tokens: 4000 },
      output_tokens: 300,
      output_tokens_details: { reasoning_tokens: 100 },
      total_tokens: 5300,
    };
    const response = {
      id: 'resp_1',
      object: 'response',
      model: 'gpt-5.5',
      status: 'completed',
      output: [],
      usage: respUsage,
    };
    const up = await rawUpstream((_req, body, res) => {
      if ((JSON.parse(body) as { stream?: boolean }).stream) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(
          `event: response.created\ndata: ${JSON.stringify({ type: 'response.created', response: { ...response, usage: null } })}\n\n`,
        );
        res.write(`event: response.completed\ndata: ${JSON.stringify({ type: 'response.completed', response })}\n\n`);
        res.end();
      } else {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(response));
      }
    });
    const session = await open(upstreamOf('http://127.0.0.1:9', `${up.url}/v1`));
    for (const stream of [false, true]) {
      const res = await fetch(`${session.openaiBaseUrl}/responses`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${session.token}` },
        body: JSON.stringify({ model: 'gpt-5.5', input: 'hi', stream }),
      });
      expect(res.status).toBe(200);
      await res.text();
    }
    expect(up.requests.map((r) => [r.path, r.headers.authorization])).toEqual([
      ['/v1/responses', `Bearer ${OPENAI_KEY}`],
      ['/v1/responses', `Bearer ${OPENAI_KEY}`],
    ]);
    const m = session.metered();
    expect(m.calls).toBe(2);
    expect(m.usage).toEqual({
      input_tokens: 2000,
      output_tokens: 600,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 8000,
    });
    expect(m.models).toEqual(['gpt-5.5']);
  });

  it('passes a stream through as it arrives (the first event reaches the agent before the upstream sends the rest)', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const up = await rawUpstream(async (_req, _body, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(
        `event: message_start\ndata: ${JSON.stringify({ type: 'message_start', message: { model: 'm', usage: { input_tokens: 10, output_tokens: 1 } } })}\n\n`,
      );
      await held;
      res.write(
        `event: message_delta\ndata: ${JSON.stringify({ type: 'message_delta', delta: {}, usage: { output_tokens: 9 } })}\n\n`,
      );
      res.end();
    });
    const session = await open(upstreamOf(up.url));
    const res = await fetch(`${session.anthropicBaseUrl}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': session.token },
      body: JSON.stringify({ ...ask, stream: true }),
    });
    const reader = res.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    expect(first).toContain('message_start');
    release();
    while (!(await reader.read()).done);
    expect(session.metered().usage).toMatchObject({ input_tokens: 10, output_tokens: 9 });
  });
});

describe('other routes and listeners', () => {
  it('GET /v1/models passes through unmetered; exchange listeners see every call with its session', async () => {
    const up = await rawUpstream((req, _body, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify(req.method === 'GET' ? { data: [{ id: 'm' }] } : { model: 'm', usage: { input_tokens: 7 } }),
      );
    });
    const seen: string[] = [];
    gateway.onExchange((e) => seen.push(`${e.identifier} ${e.role} ${e.entry.path} ${e.entry.status}`));
    const session = await open(upstreamOf(up.url));
    const models = await fetch(`${session.anthropicBaseUrl}/v1/models?limit=5`, {
      headers: { 'x-api-key': session.token },
    });
    expect(await models.json()).toEqual({ data: [{ id: 'm' }] });
    await fetch(`${session.anthropicBaseUrl}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': session.token },
      body: JSON.stringify(ask),
    }).then((r) => r.text());
    expect(up.requests.map((r) => [r.path, r.headers.authorization])).toEqual([
      ['/v1/models?limit=5', `Bearer ${REAL_KEY}`],
      ['/v1/messages', `Bearer ${REAL_KEY}`],
    ]);
    expect(session.metered()).toMatchObject({ calls: 1, usage: { input_tokens: 7 } });
    expect(seen).toEqual(['DEMO-1 implementer /v1/models 200', 'DEMO-1 implementer /v1/messages 200']);
  });
});

describe('budget refusal', () => {
  it('refuses the call after the budget is spent, in the provider format, and says so', async () => {
    const model = await scripted([text('one', { input_tokens: 90, output_tokens: 20 }), text('never')]);
    const session = await open(upstreamOf(model.url), { maxTokens: 100 });
    await sdk(session).messages.create(ask);
    expect(session.budgetExhausted()).toBeNull();
    const err = await sdk(session)
      .messages.create(ask)
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 400, error: { type: 'error', error: { type: 'invalid_request_error' } } });
    expect((err as Error).message).toContain('budget.max_tokens 100');
    expect(session.budgetExhausted()).toMatchObject({ reason: 'tokens', spentTokens: 110, limit: 100 });
    expect(model.requests).toHaveLength(1);
    const ex = await exchanges();
    expect(ex.at(-1)).toMatchObject({ status: 400, attempts: 0, refused: expect.stringContaining('Budget exhausted') });
  });
});

describe('retries', () => {
  it('529 then 200: one successful call for the agent, after the retry-after-ms wait', async () => {
    const model = await scripted([{ ...overloaded(), headers: { 'retry-after-ms': '400' } }, text('after the retry')]);
    const session = await open(upstreamOf(model.url));
    const t0 = performance.now();
    const answer = await sdk(session).messages.create(ask);
    const waited = performance.now() - t0;
    expect(answer.content[0]).toMatchObject({ text: 'after the retry' });
    expect(model.requests).toHaveLength(2);
    expect(waited).toBeGreaterThanOrEqual(400);
    expect(session.metered().calls).toBe(1);
    expect((await exchanges()).map((e) => [e.status, e.attempts])).toEqual([[200, 2]]);
  });

  it('passes the last error through when the retries run out, and an unreachable upstream as a marked 502', async () => {
    const model = await scripted([overloaded(), overloaded()]);
    const session = await open(upstreamOf(model.url, 'http://127.0.0.1:9/v1', 1));
    await expect(sdk(session).messages.create(ask)).rejects.toMatchObject({ status: 529 });
    expect(model.requests).toHaveLength(2);
    const gone = await open(upstreamOf('http://127.0.0.1:9', 'http://127.0.0.1:9/v1', 0));
    const res = await fetch(`${gone.anthropicBaseUrl}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': gone.token },
      body: JSON.stringify(ask),
    });
    expect(res.status).toBe(502);
    expect(res.headers.get(GATEWAY_ERROR_HEADER)).toBe('upstream_unreachable');
    expect(await res.text()).toContain('127.0.0.1:9');
  });
});

describe('outcome tools over MCP', () => {
  async function mcpClient(session: GatewaySession): Promise<Client> {
    const client = new Client({ name: 'test', version: '1' });
    const transport = new StreamableHTTPClientTransport(new URL(session.mcpUrl), {
      requestInit: { headers: { authorization: `Bearer ${session.token}` } },
    });
    await client.connect(transport);
    closers.push(() => client.close());
    return client;
  }

  it('serves the role outcome tools with the built-in names and schemas; the first call is the outcome', async () => {
    const session = await open(upstreamOf('http://127.0.0.1:9'));
    const client = await mcpClient(session);
    const { tools } = await client.listTools();
    const builtin = createToolbox('implementer', { workspace: dir, env: {} }).definitions;
    expect(tools.map((t) => t.name)).toEqual(['escalate', 'finish']);
    for (const t of tools) {
      const d = builtin.find((b) => b.name === t.name)!;
      expect(t.inputSchema).toEqual(d.input_schema);
      expect(t.description).toBe(d.description);
    }
    const bad = await client.callTool({ name: 'escalate', arguments: { question: '' } });
    expect(bad.isError).toBe(true);
    expect(session.outcome()).toBeNull();
    const unknown = await client.callTool({ name: 'submit_review', arguments: { verdict: 'approve', findings: [] } });
    expect(unknown.isError).toBe(true);
    const ok = await client.callTool({
      name: 'escalate',
      arguments: { question: 'Which port?', options: ['80', '8080'] },
    });
    expect(ok.isError).toBeFalsy();
    expect(ok.content).toEqual([{ type: 'text', text: ESCALATED_TOOL_RESULT }]);
    expect(session.outcome()).toEqual({
      tool: 'escalate',
      escalation: { question: 'Which port?', options: ['80', '8080'] },
    });
    const late = await client.callTool({ name: 'finish', arguments: { summary: 'done' } });
    expect(late.isError).toBe(true);
    expect(session.outcome()).toMatchObject({ tool: 'escalate' });
  });

  it('the reviewer gets submit_review only', async () => {
    const session = await open(upstreamOf('http://127.0.0.1:9'), { role: 'reviewer' });
    const client = await mcpClient(session);
    expect((await client.listTools()).tools.map((t) => t.name)).toEqual(['submit_review']);
    await client.callTool({ name: 'submit_review', arguments: { verdict: 'approve', findings: [] } });
    expect(session.outcome()).toEqual({ tool: 'submit_review', review: { verdict: 'approve', findings: [] } });
  });

  it("another session's token cannot reach this session's MCP endpoint", async () => {
    const a = await open(upstreamOf('http://127.0.0.1:9'));
    const b = await open(upstreamOf('http://127.0.0.1:9'));
    const res = await fetch(a.mcpUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        authorization: `Bearer ${b.token}`,
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    expect(res.status).toBe(401);
  });
});
