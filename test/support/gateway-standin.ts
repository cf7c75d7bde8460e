/**
 * A stand-in for the model gateway's session (src/agents/backends/types.ts `GatewaySession`) until
 * the gateway (src/gateway/) is on main: real HTTP on 127.0.0.1 that takes a per-session token,
 * forwards `POST /openai/v1/responses` to an upstream (the scripted Responses server) with the
 * upstream key, meters usage from the SSE `response.completed` events it passes through, refuses
 * calls past a token budget (400 with an OpenAI error body), and serves the outcome tools over MCP
 * (stateless streamable HTTP) at `/mcp`. Deleted once the gateway lands.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { GatewaySession, MeteredUsage, OutcomeCall } from '../../src/agents/backends/types.js';
import type { BudgetExhaustion } from '../../src/agents/harness.js';
import { ESCALATED_TOOL_RESULT, escalationSchema, reviewSchema } from '../../src/agents/tools.js';
import { emptyUsage, totalTokens } from '../../src/agents/usage.js';
import type { AgentRole } from '../../src/agents/usage.js';

type Activity = { kind: 'model_call' | 'model_response' | 'tool_call'; at: number };

/** A stand-in session plus what tests inspect. */
export interface StandinGateway extends GatewaySession {
  /** Headers of every request the stand-in received from the agent. */
  received: { path: string; authorization: string | undefined }[];
}

/**
 * Starts a stand-in session for `role` forwarding to `upstream` (a base URL ending in `/v1`) with
 * `upstreamKey`. `maxTokens` refuses calls once that many tokens were metered.
 */
export async function startGatewayStandin(opts: {
  upstream: string;
  upstreamKey: string;
  role: AgentRole;
  maxTokens?: number;
}): Promise<StandinGateway> {
  const token = `fgw_${randomBytes(16).toString('hex')}`;
  const usage = emptyUsage();
  const models: string[] = [];
  let calls = 0;
  let outcome: OutcomeCall | null = null;
  let exhausted: BudgetExhaustion | null = null;
  const listeners: ((e: Activity) => void)[] = [];
  const emit = (kind: Activity['kind']): void => listeners.forEach((l) => l({ kind, at: Date.now() }));
  const received: StandinGateway['received'] = [];

  const authorized = (req: IncomingMessage): boolean => req.headers.authorization === `Bearer ${token}`;

  const forward = async (req: IncomingMessage, res: ServerResponse, body: string): Promise<void> => {
    if (opts.maxTokens !== undefined && totalTokens(usage) >= opts.maxTokens) {
      exhausted = { reason: 'tokens', spentTokens: totalTokens(usage), spentUsd: 0, limit: opts.maxTokens };
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          error: { type: 'invalid_request_error', code: 'budget_exhausted', message: 'Budget spent.' },
        }),
      );
      return;
    }
    emit('model_call');
    const up = await fetch(`${opts.upstream}/responses`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${opts.upstreamKey}` },
      body,
    });
    res.writeHead(up.status, { 'content-type': up.headers.get('content-type') ?? 'application/json' });
    let pending = '';
    const decoder = new TextDecoder();
    for await (const chunk of up.body as unknown as AsyncIterable<Uint8Array>) {
      res.write(chunk);
      emit('model_response');
      pending += decoder.decode(chunk, { stream: true });
      let cut: number;
      while ((cut = pending.indexOf('\n\n')) >= 0) {
        const event = pending.slice(0, cut);
        pending = pending.slice(cut + 2);
        const data = event.split('\n').find((l) => l.startsWith('data: '));
        if (!data) continue;
        const parsed = JSON.parse(data.slice(6)) as {
          type?: string;
          response?: {
            model?: string;
            usage?: { input_tokens: number; output_tokens: number; input_tokens_details?: { cached_tokens?: number } };
          };
        };
        if (parsed.type === 'response.completed' && parsed.response?.usage) {
          const u = parsed.response.usage;
          const cached = u.input_tokens_details?.cached_tokens ?? 0;
          usage.input_tokens += u.input_tokens - cached;
          usage.cache_read_input_tokens += cached;
          usage.output_tokens += u.output_tokens;
          calls++;
          const model = parsed.response.model;
          if (model && !models.includes(model)) models.push(model);
        }
      }
    }
    res.end();
  };

  const mcp = async (req: IncomingMessage, res: ServerResponse, body: unknown): Promise<void> => {
    const server = new McpServer({ name: 'foreman', version: '1.0.0' });
    const record = (call: OutcomeCall, text: string) => {
      emit('tool_call');
      if (outcome)
        return {
          content: [{ type: 'text' as const, text: 'Refused: an outcome was already recorded.' }],
          isError: true,
        };
      outcome = call;
      return { content: [{ type: 'text' as const, text }] };
    };
    if (opts.role === 'reviewer') {
      server.registerTool(
        'submit_review',
        { description: 'Submit the review.', inputSchema: reviewSchema.shape },
        (review) => record({ tool: 'submit_review', review }, 'Review recorded.'),
      );
    } else {
      server.registerTool(
        'finish',
        {
          description: 'Declare the work ready for QA and review.',
          inputSchema: { summary: escalationSchema.shape.question },
        },
        ({ summary }) => record({ tool: 'finish', summary }, 'Finished; stop now.'),
      );
      server.registerTool(
        'escalate',
        { description: 'Ask a human.', inputSchema: escalationSchema.shape },
        (escalation) => record({ tool: 'escalate', escalation }, ESCALATED_TOOL_RESULT),
      );
    }
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    res.on('close', () => void transport.close().then(() => server.close()));
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const path = (req.url ?? '').split('?')[0] ?? '';
        received.push({ path, authorization: req.headers.authorization });
        if (!authorized(req)) {
          res.writeHead(401, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: { type: 'invalid_request_error', message: 'bad token' } }));
          return;
        }
        const body = Buffer.concat(chunks).toString('utf8');
        if (req.method === 'POST' && path === '/openai/v1/responses') return forward(req, res, body);
        if (path === '/mcp') return mcp(req, res, body ? JSON.parse(body) : undefined);
        res.writeHead(404).end();
      })().catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500);
        res.end(String(err));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const base = `http://127.0.0.1:${port}`;
  return {
    token,
    anthropicBaseUrl: `${base}/anthropic`,
    openaiBaseUrl: `${base}/openai/v1`,
    mcpUrl: `${base}/mcp`,
    received,
    metered: (): MeteredUsage => ({ calls, usage: { ...usage }, costUsd: null, models: [...models] }),
    budgetExhausted: () => exhausted,
    outcome: () => outcome,
    onActivity: (l) => void listeners.push(l),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
