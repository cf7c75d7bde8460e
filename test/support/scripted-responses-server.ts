/**
 * A scripted OpenAI Responses API server for tests, the `codex` CLI's wire format: real HTTP on
 * 127.0.0.1, `POST /v1/responses` answered as an SSE stream (`response.created`,
 * `response.output_item.added` / `.done` per output item, `response.completed` with `usage`).
 * Each POST takes the next step of a script: a response (messages and tool calls, named as the
 * CLI itself names its tools in the request's `tools`), an HTTP error, a stall (the stream opens
 * and then says nothing), or a function of the request.
 *
 * It models nothing: tests say exactly what the "model" answers. When the script runs out, or a
 * step function throws, it answers 500 and records the failure in `failures`. Every request is
 * recorded (method, path, headers, parsed body), so tests can check what the CLI sent: the prior
 * turns, the tools, the key.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readRequest, type CapturedRequest } from './scripted-model-server.js';

/** One output item of a scripted response. */
export type ResponsesItem =
  | { type: 'message'; text: string }
  /** A function tool call; `arguments` is sent as its JSON text. */
  | { type: 'function_call'; name: string; arguments: Record<string, unknown>; call_id?: string; namespace?: string }
  /** A freeform (custom) tool call, e.g. codex's `apply_patch` with the patch text as `input`. */
  | { type: 'custom_tool_call'; name: string; input: string; call_id?: string };

/** Token usage of a scripted response; unset fields default to input 100, output 20, cached 0. */
export interface ResponsesUsage {
  input_tokens?: number;
  output_tokens?: number;
  cached_tokens?: number;
}

/** A model response. */
export interface ResponsesReply {
  output: ResponsesItem[];
  usage?: ResponsesUsage;
}

/** An HTTP error with an OpenAI-style error body. */
export interface ResponsesError {
  status: number;
  error: { type: string; message: string; code?: string };
}

/** The stream opens (`response.created`) and then nothing more is sent until the client gives up. */
export interface ResponsesStall {
  stall: true;
}

/** One request as the server saw it (the shape the Messages API server records). */
export type ResponsesRequest = CapturedRequest;

/** A step of a script. */
export type ResponsesStep =
  | ResponsesReply
  | ResponsesError
  | ResponsesStall
  | ((req: ResponsesRequest) => ResponsesReply | ResponsesError | ResponsesStall);

/** A running scripted server. */
export interface ScriptedResponsesServer {
  /** Base URL with `/v1` (codex's `model_providers.<id>.base_url`). */
  url: string;
  /** Every request received, in order. */
  requests: ResponsesRequest[];
  /** The `POST /v1/responses` requests only, in order. */
  responsesCalls(): ResponsesRequest[];
  /** Script problems (ran out, a step threw); empty when the script went as planned. */
  failures: string[];
  /** Token usage sent so far in `response.completed` events (input includes cached). */
  sentUsage: { input_tokens: number; output_tokens: number; cached_tokens: number; responses: number };
  close(): Promise<void>;
}

function newId(prefix: string): string {
  return `${prefix}_${randomBytes(12).toString('hex')}`;
}

/** A response with one assistant message. */
export function say(text: string, usage?: ResponsesUsage): ResponsesReply {
  return { output: [{ type: 'message', text }], ...(usage ? { usage } : {}) };
}

/** A response with one function call. */
export function callTool(
  name: string,
  args: Record<string, unknown>,
  usage?: ResponsesUsage,
  extra: { namespace?: string } = {},
): ResponsesReply {
  return { output: [{ type: 'function_call', name, arguments: args, ...extra }], ...(usage ? { usage } : {}) };
}

/** A response with codex's freeform `apply_patch` call adding `file` with `content` (lines). */
export function applyPatchAdd(file: string, content: string, usage?: ResponsesUsage): ResponsesReply {
  const body = content
    .split('\n')
    .map((l) => `+${l}`)
    .join('\n');
  const patch = `*** Begin Patch\n*** Add File: ${file}\n${body}\n*** End Patch\n`;
  return { output: [{ type: 'custom_tool_call', name: 'apply_patch', input: patch }], ...(usage ? { usage } : {}) };
}

/** The names of the tools a request offered (function, custom and namespaced MCP tools, as `ns.name`). */
export function offeredTools(req: ResponsesRequest): string[] {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- wire-format tools
  const tools: any[] = Array.isArray(req.body?.tools) ? req.body.tools : [];
  return tools.flatMap((t) => {
    if (t?.type === 'namespace' && Array.isArray(t.tools)) {
      // eslint-disable-next-line @typescript-eslint/no-explicit-any -- wire-format tools
      return t.tools.map((inner: any) => `${t.name}.${inner?.name}`);
    }
    return [String(t?.name ?? t?.type)];
  });
}

/** Every text the request's `input` carries (messages and tool outputs), in order. */
export function inputTexts(req: ResponsesRequest): string[] {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- wire-format items
  const items: any[] = Array.isArray(req.body?.input) ? req.body.input : [];
  const out: string[] = [];
  for (const item of items) {
    if (typeof item?.output === 'string') out.push(item.output);
    else if (Array.isArray(item?.output)) {
      for (const c of item.output) if (typeof c?.text === 'string') out.push(c.text);
    }
    if (typeof item?.content === 'string') out.push(item.content);
    else if (Array.isArray(item?.content)) {
      for (const c of item.content) if (typeof c?.text === 'string') out.push(c.text);
    }
  }
  return out;
}

function isError(step: ResponsesReply | ResponsesError | ResponsesStall): step is ResponsesError {
  return 'status' in step;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- wire-format items
function buildItem(item: ResponsesItem): any {
  switch (item.type) {
    case 'message':
      return {
        type: 'message',
        id: newId('msg'),
        role: 'assistant',
        status: 'completed',
        content: [{ type: 'output_text', text: item.text, annotations: [] }],
      };
    case 'function_call':
      return {
        type: 'function_call',
        id: newId('fc'),
        call_id: item.call_id ?? newId('call'),
        name: item.name,
        ...(item.namespace ? { namespace: item.namespace } : {}),
        arguments: JSON.stringify(item.arguments),
        status: 'completed',
      };
    case 'custom_tool_call':
      return {
        type: 'custom_tool_call',
        id: newId('ctc'),
        call_id: item.call_id ?? newId('call'),
        name: item.name,
        input: item.input,
        status: 'completed',
      };
  }
}

function sse(res: ServerResponse, type: string, data: Record<string, unknown>): void {
  res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
}

/**
 * Starts a scripted Responses API server on 127.0.0.1 (a free port). `script` is a list of steps
 * taken one per `POST /v1/responses`, or a function `(req, index) => step`. `GET /v1/models`
 * answers an empty list; other routes 404.
 */
export async function startScriptedResponsesServer(
  script: ResponsesStep[] | ((req: ResponsesRequest, index: number) => ResponsesStep | undefined),
): Promise<ScriptedResponsesServer> {
  const requests: ResponsesRequest[] = [];
  const failures: string[] = [];
  const sentUsage = { input_tokens: 0, output_tokens: 0, cached_tokens: 0, responses: 0 };
  let calls = 0;

  const server = createServer((req, res) => {
    void readRequest(req).then((read) => {
      const captured: ResponsesRequest = { index: requests.length, ...read };
      const body: unknown = read.body;
      requests.push(captured);
      const pathname = (req.url ?? '').split('?')[0];
      if (req.method === 'GET' && pathname === '/v1/models') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ object: 'list', data: [], models: [] }));
        return;
      }
      if (req.method !== 'POST' || pathname !== '/v1/responses') {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { type: 'not_found', message: `No route ${req.method} ${req.url}` } }));
        return;
      }
      const index = calls++;
      const fail = (msg: string): void => {
        failures.push(msg);
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { type: 'server_error', message: msg } }));
      };
      try {
        let step = Array.isArray(script) ? script[index] : script(captured, index);
        if (typeof step === 'function') step = step(captured);
        if (step === undefined) {
          fail(`scripted responses server: script exhausted; request #${index + 1} has no step`);
          return;
        }
        if (isError(step)) {
          res.writeHead(step.status, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: step.error }));
          return;
        }
        const model = typeof (body as { model?: unknown })?.model === 'string' ? (body as { model: string }).model : '';
        const id = newId('resp');
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        const base = { id, object: 'response', created_at: Math.floor(Date.now() / 1000), model };
        sse(res, 'response.created', { response: { ...base, status: 'in_progress', output: [] } });
        if ('stall' in step) return; // held open: the client's stall detection must end it
        const items = step.output.map(buildItem);
        items.forEach((item, output_index) => {
          sse(res, 'response.output_item.added', { output_index, item: { ...item, status: 'in_progress' } });
          sse(res, 'response.output_item.done', { output_index, item });
        });
        const u = { input_tokens: 100, output_tokens: 20, cached_tokens: 0, ...(step.usage ?? {}) };
        sentUsage.input_tokens += u.input_tokens;
        sentUsage.output_tokens += u.output_tokens;
        sentUsage.cached_tokens += u.cached_tokens;
        sentUsage.responses++;
        const usage = {
          input_tokens: u.input_tokens,
          input_tokens_details: { cached_tokens: u.cached_tokens },
          output_tokens: u.output_tokens,
          output_tokens_details: { reasoning_tokens: 0 },
          total_tokens: u.input_tokens + u.output_tokens,
        };
        sse(res, 'response.completed', { response: { ...base, status: 'completed', output: items, usage } });
        res.end();
      } catch (err) {
        fail(
          `scripted responses server: step for request #${index + 1} threw: ${(err as Error)?.stack ?? String(err)}`,
        );
      }
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    responsesCalls: () => requests.filter((r) => r.method === 'POST' && r.path.split('?')[0] === '/v1/responses'),
    failures,
    sentUsage,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
