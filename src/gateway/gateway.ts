/**
 * The model gateway (specs/gateway.md): one local HTTP server per worker process that every agent
 * backend uses as its model endpoint. It holds the real keys (an agent gets a per-session token
 * that only the gateway accepts), forwards Anthropic Messages (`/anthropic/v1/messages`, and
 * `count_tokens`) and OpenAI Responses (`/openai/v1/responses`) to the session's upstream with
 * bodies unchanged and streams passed through as they arrive, meters usage from each response
 * itself (./meter.ts), refuses calls once the issue's budget is spent, retries by the providers'
 * rules (./upstream.ts), records each exchange in the step's transcript and serves the outcome
 * tools over MCP (`/mcp/<session>`, ./mcp.ts).
 *
 * It listens on 127.0.0.1 (agents on the host, the built-in harness) and on a unix socket in a
 * private directory that a sandbox binds in (src/sandbox/spawn.ts), where a forwarder serves it on
 * a fixed loopback port of the sandbox's own network namespace.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { GatewaySession } from '../agents/backends/types.js';
import type { TranscriptExchangeEntry } from '../agents/transcript.js';
import { describeExhaustion } from '../agents/budget.js';
import { observeModelCall } from '../metrics/operational.js';
import { rateLimitsFromHeaders } from '../agents/rate-limits.js';
import { describeEndpoint } from '../redact.js';
import { FORWARDER_FILE, FORWARDER_SCRIPT } from '../sandbox/forwarder.js';
import { GATEWAY_ERROR_HEADER, GATEWAY_SOCKET, SANDBOX_GATEWAY_PORT, type GatewayEndpoint } from './endpoint.js';
import { handleMcpRequest } from './mcp.js';
import { meterJson, sseMeter, type ProviderApi, type ResponseMeter } from './meter.js';
import { SessionState, type OpenSessionInput } from './session.js';
import { sendWithRetries, UpstreamUnreachable, upstreamHeaders, type UpstreamAnswer } from './upstream.js';

/** A running gateway. */
export interface Gateway {
  readonly endpoint: GatewayEndpoint;
  /** Opens a session for one role step (see ./session.ts `OpenSessionInput`). */
  openSession(input: OpenSessionInput): Promise<GatewaySession>;
  /**
   * Calls `listener` with every exchange of every session as it is recorded (model latency and
   * tokens for metrics), with the session's issue, role and run. Exceptions from it are ignored.
   */
  onExchange(listener: (exchange: GatewayExchange) => void): void;
  /** Stops listening, closes every session and removes the socket directory. */
  close(): Promise<void>;
}

/** One recorded exchange with the session it belongs to. */
export interface GatewayExchange {
  identifier: string;
  role: OpenSessionInput['role'];
  runId: string;
  entry: TranscriptExchangeEntry;
}

/** Largest request body accepted, bytes. */
const MAX_BODY_BYTES = 64 * 1024 * 1024;
/** Largest JSON response body the meter reads (larger ones pass through unmetered), bytes. */
const MAX_METERED_JSON_BYTES = 16 * 1024 * 1024;

/** Response headers not passed back: hop-by-hop, and length/encoding (fetch decoded the body). */
const DROP_RESPONSE = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'content-encoding']);

/** A provider-format error answer. */
function sendError(
  res: ServerResponse,
  api: ProviderApi | 'mcp',
  status: number,
  type: string,
  message: string,
  gatewayError: string,
): void {
  const body =
    api === 'anthropic'
      ? { type: 'error', error: { type, message } }
      : api === 'openai'
        ? { error: { message, type, code: gatewayError, param: null } }
        : { jsonrpc: '2.0', error: { code: -32001, message }, id: null };
  const payload = JSON.stringify(body);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(payload),
    [GATEWAY_ERROR_HEADER]: gatewayError,
  });
  res.end(payload);
}

/** The token a request carries: `x-api-key`, else `Authorization: Bearer`. */
function tokenOf(req: IncomingMessage): string | null {
  const key = req.headers['x-api-key'];
  if (typeof key === 'string' && key) return key;
  const auth = req.headers.authorization;
  const m = typeof auth === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(auth) : null;
  return m ? m[1]! : null;
}

function readBody(req: IncomingMessage): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        resolve(null);
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** A model API route: its provider, method, path at the upstream, and whether it is a metered model call. */
interface ModelRoute {
  api: ProviderApi;
  method: 'GET' | 'POST';
  path: string;
  metered: boolean;
}

/** Routes of the model APIs by gateway path (specs/gateway.md, "Sessions and tokens"). */
const MODEL_ROUTES: Record<string, ModelRoute> = {
  '/anthropic/v1/messages': { api: 'anthropic', method: 'POST', path: '/v1/messages', metered: true },
  '/anthropic/v1/messages/count_tokens': {
    api: 'anthropic',
    method: 'POST',
    path: '/v1/messages/count_tokens',
    metered: false,
  },
  '/anthropic/v1/models': { api: 'anthropic', method: 'GET', path: '/v1/models', metered: false },
  '/openai/v1/responses': { api: 'openai', method: 'POST', path: '/responses', metered: true },
  '/openai/v1/models': { api: 'openai', method: 'GET', path: '/models', metered: false },
};

/** Upstream paths of the metered model calls. */
const METERED_PATHS = new Set(
  Object.values(MODEL_ROUTES)
    .filter((r) => r.metered)
    .map((r) => r.path),
);

/**
 * Starts a gateway on 127.0.0.1 (a free port) and a unix socket in a new private directory. The
 * server does not keep the process alive.
 */
export async function startGateway(): Promise<Gateway> {
  const sessions = new Map<string, SessionState>();
  const socketDir = mkdtempSync(path.join(os.tmpdir(), 'foreman-gateway-'));
  writeFileSync(path.join(socketDir, FORWARDER_FILE), FORWARDER_SCRIPT, { mode: 0o644 });
  const sockets = new Set<Socket>();
  const exchangeListeners: ((exchange: GatewayExchange) => void)[] = [];

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  };
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const pathname = (req.url ?? '/').split('?')[0]!;
    const route = MODEL_ROUTES[pathname];
    const mcp = /^\/mcp\/([0-9a-f]+)\/?$/.exec(pathname);
    const api: ProviderApi | 'mcp' = route
      ? route.api
      : mcp
        ? 'mcp'
        : pathname.startsWith('/openai/')
          ? 'openai'
          : 'anthropic';
    const token = tokenOf(req);
    const session = token ? sessions.get(token) : undefined;
    if (!session || session.closed || (mcp && mcp[1] !== session.id)) {
      req.resume();
      const type = api === 'openai' ? 'invalid_api_key' : 'authentication_error';
      sendError(res, api, 401, type, 'Foreman gateway: missing or unknown session token.', 'unauthorized');
      return;
    }
    if (mcp) {
      const raw = req.method === 'POST' ? await readBody(req) : null;
      let body: unknown;
      try {
        body = raw && raw.length ? JSON.parse(raw.toString('utf8')) : undefined;
      } catch {
        sendError(res, 'mcp', 400, 'parse_error', 'Foreman gateway: the MCP request is not JSON.', 'bad_request');
        return;
      }
      await handleMcpRequest(
        { role: session.input.role, record: (call) => session.recordOutcome(call) },
        req,
        res,
        body,
      );
      return;
    }
    if (!route || req.method !== route.method) {
      req.resume();
      sendError(res, api, 404, 'not_found_error', `Foreman gateway: no route ${req.method} ${pathname}.`, 'not_found');
      return;
    }
    await forward(session, route, req, res);
  };

  const { servers, port } = await listen(handler, path.join(socketDir, GATEWAY_SOCKET), sockets);
  const endpoint: GatewayEndpoint = {
    hostUrl: `http://127.0.0.1:${port}`,
    socketDir,
  };

  return {
    endpoint,
    async openSession(input) {
      const state = await SessionState.open(input, (entry) => {
        observe(input.role, entry);
        for (const l of exchangeListeners)
          l({ identifier: input.identifier, role: input.role, runId: input.runId, entry });
      });
      sessions.set(state.token, state);
      const base = input.reach === 'sandbox' ? `http://127.0.0.1:${SANDBOX_GATEWAY_PORT}` : endpoint.hostUrl;
      return {
        token: state.token,
        anthropicBaseUrl: `${base}/anthropic`,
        openaiBaseUrl: `${base}/openai/v1`,
        mcpUrl: `${base}/mcp/${state.id}`,
        endpoint,
        metered: () => state.metered(),
        budgetExhausted: () => state.exhausted,
        outcome: () => state.outcome,
        onActivity: (l) => state.onActivity(l),
        async close() {
          sessions.delete(state.token);
          await state.close();
        },
      };
    },
    onExchange(listener) {
      exchangeListeners.push(listener);
    },
    async close() {
      await Promise.all([...sessions.values()].map((s) => s.close()));
      sessions.clear();
      for (const s of sockets) s.destroy();
      await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
      rmSync(socketDir, { recursive: true, force: true });
    },
  };
}

/**
 * Serves `handler` on 127.0.0.1 (a free port) and on the unix socket `socketPath`; neither server
 * nor their connections (tracked in `sockets`) keep the process alive.
 */
async function listen(
  handler: http.RequestListener,
  socketPath: string,
  sockets: Set<Socket>,
): Promise<{ servers: http.Server[]; port: number }> {
  const servers = [http.createServer(handler), http.createServer(handler)];
  for (const s of servers) {
    s.on('connection', (socket: Socket) => {
      sockets.add(socket);
      socket.unref();
      socket.once('close', () => sockets.delete(socket));
    });
  }
  const [tcp, unix] = servers as [http.Server, http.Server];
  await new Promise<void>((resolve, reject) => {
    tcp.once('error', reject);
    tcp.listen(0, '127.0.0.1', () => resolve());
  });
  await new Promise<void>((resolve, reject) => {
    unix.once('error', reject);
    unix.listen(socketPath, () => resolve());
  });
  tcp.unref();
  unix.unref();
  return { servers, port: (tcp.address() as AddressInfo).port };
}

/**
 * One model call (not a refused one, not a listing) in the operational metrics: its latency and
 * tokens (src/metrics/operational.ts), whatever backend made it: the gateway is the one meter.
 */
function observe(role: string, entry: TranscriptExchangeEntry): void {
  if (entry.refused !== undefined || !METERED_PATHS.has(entry.path)) return;
  observeModelCall({
    role,
    model: entry.request.model ?? entry.model ?? 'unknown',
    durationMs: entry.latencyMs,
    outcome: entry.status < 400 && entry.error === undefined ? 'ok' : 'error',
    usage: entry.usage,
  });
}

/** What the exchange record says about the request. */
function requestSummary(api: ProviderApi, body: unknown) {
  const b = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
  const items = api === 'anthropic' ? b.messages : b.input;
  const max = api === 'anthropic' ? b.max_tokens : b.max_output_tokens;
  return {
    model: typeof b.model === 'string' ? b.model : null,
    stream: b.stream === true,
    items: Array.isArray(items) ? items.length : typeof items === 'string' ? 1 : null,
    maxTokens: typeof max === 'number' ? max : null,
  };
}

/**
 * One model call: budget check (refused with a 400 in the provider's format), forward with
 * retries, answer passed through as it arrives, usage metered, exchange recorded.
 */
async function forward(
  session: SessionState,
  route: ModelRoute,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const started = performance.now();
  const { api } = route;
  const raw = await readBody(req);
  if (raw === null) {
    sendError(res, api, 413, 'request_too_large', 'Foreman gateway: request body too large.', 'bad_request');
    return;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString('utf8'));
  } catch {
    parsed = undefined;
  }
  const request = requestSummary(api, parsed);
  const base = { api, path: route.path, request } as const;
  const latencyMs = () => Math.round(performance.now() - started);
  session.emit('model_call');
  if (route.metered) {
    const exhausted = session.checkBudget();
    // After the outcome call the step is over: a model call racing the CLI's interrupt is refused
    // (specs/backends.md, "claude-code").
    const why = exhausted
      ? describeExhaustion(exhausted)
      : session.outcome
        ? `the step already has its outcome (${session.outcome.tool}); no more model calls`
        : null;
    if (why) {
      await session.record({
        ...base,
        model: null,
        status: 400,
        attempts: 0,
        latencyMs: latencyMs(),
        usage: null,
        costUsd: null,
        refused: why,
      });
      const code = exhausted ? 'budget_exhausted' : 'outcome_recorded';
      sendError(res, api, 400, 'invalid_request_error', `Foreman gateway: ${why}`, code);
      return;
    }
  }
  const upstream = session.input.upstream;
  const target = api === 'anthropic' ? upstream.anthropic : upstream.openai;
  // The query passes through too (Claude Code asks `/v1/messages?beta=true`).
  const query = (req.url ?? '').includes('?') ? (req.url ?? '').slice((req.url ?? '').indexOf('?')) : '';
  const url = `${target.baseUrl.replace(/\/+$/, '')}${route.path}${query}`;
  const client = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) client.abort(new Error('The agent closed the connection.'));
  });
  const signal = AbortSignal.any([client.signal, session.aborter.signal]);
  let answer: UpstreamAnswer;
  try {
    answer = await sendWithRetries({
      method: route.method,
      url,
      headers: upstreamHeaders(req.headers, target.apiKey),
      body: raw,
      maxRetries: upstream.maxRetries,
      timeoutMs: upstream.timeoutMs,
      signal,
      onRetry: (r) => {
        const limits = r.headers ? rateLimitsFromHeaders(r.headers, r.status ?? 0, new Date().toISOString()) : null;
        if (limits) session.rateLimits = limits;
      },
    });
  } catch (err) {
    const unreachable = err instanceof UpstreamUnreachable;
    const why = unreachable
      ? `Could not reach the model endpoint ${describeEndpoint(target.baseUrl, '(an invalid URL)')}: ${err.message}`
      : `The call was cancelled: ${(err as Error)?.message ?? String(err)}`;
    await session.record({
      ...base,
      model: null,
      status: unreachable ? 502 : 499,
      attempts: unreachable ? err.attempts : 0,
      latencyMs: latencyMs(),
      usage: null,
      costUsd: null,
      error: why,
    });
    if (unreachable) sendError(res, api, 502, 'api_error', why, 'upstream_unreachable');
    else res.destroy();
    return;
  }
  const { response, attempts } = answer;
  const limits = rateLimitsFromHeaders(response.headers, response.status, new Date().toISOString());
  if (limits) session.rateLimits = limits;
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    if (!DROP_RESPONSE.has(name)) headers[name] = value;
  });
  res.writeHead(response.status, headers);
  res.flushHeaders();
  const { meter, failure } = await passThrough(api, route.metered, response, res, session);
  // Metered and recorded before the answer ends, so an agent that got its answer sees it counted.
  // A response that reported usage counts even when it was cut: the tokens were spent.
  const answered = route.metered && response.ok && (meter.usage !== null || failure === undefined);
  const cost = answered ? session.meter(meter.usage, meter.model ?? request.model) : null;
  await session.record({
    ...base,
    model: meter.model,
    status: response.status,
    attempts,
    latencyMs: latencyMs(),
    usage: meter.usage,
    costUsd: cost,
    ...(failure ? { error: failure } : {}),
  });
  if (failure) res.destroy();
  else res.end();
}

/**
 * Writes `response`'s body to the agent chunk by chunk as it arrives (backpressure kept) and reads
 * its usage on the way (`metered`: a 2xx of a metered route). Does not end `res`. `failure` says why
 * the body was cut (the upstream failed, the agent went away).
 */
async function passThrough(
  api: ProviderApi,
  metered: boolean,
  response: Response,
  res: ServerResponse,
  session: SessionState,
): Promise<{ meter: ResponseMeter; failure: string | undefined }> {
  const sse = (response.headers.get('content-type') ?? '').includes('text/event-stream');
  const meterSse = metered && response.ok && sse ? sseMeter(api) : null;
  const jsonChunks: Buffer[] | null = metered && response.ok && !sse ? [] : null;
  let jsonBytes = 0;
  let failure: string | undefined;
  try {
    if (response.body) {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        session.emit('model_response');
        meterSse?.push(chunk);
        if (jsonChunks && jsonBytes + chunk.length <= MAX_METERED_JSON_BYTES) jsonChunks.push(Buffer.from(chunk));
        jsonBytes += chunk.length;
        if (!res.write(chunk)) await new Promise<void>((resolve) => res.once('drain', resolve).once('close', resolve));
        if (res.destroyed) throw new Error('The agent closed the connection.');
      }
    }
  } catch (err) {
    failure = `The answer was cut: ${(err as Error)?.message ?? String(err)}`;
  }
  let meter: ResponseMeter = { usage: null, model: null };
  if (meterSse) meter = meterSse.result();
  else if (jsonChunks && jsonBytes <= MAX_METERED_JSON_BYTES) {
    try {
      meter = meterJson(api, JSON.parse(Buffer.concat(jsonChunks).toString('utf8')));
    } catch {
      // Not JSON: nothing to meter.
    }
  }
  return { meter, failure };
}
