/**
 * A scripted Anthropic Messages API server for tests: real HTTP on 127.0.0.1, the real wire
 * format (JSON responses, or SSE when the request says `stream: true`), driven through the real
 * SDK. Each POST /v1/messages takes the next step of a script: a model response, an HTTP error,
 * or a function of the request (to assert on what the model was sent, or to branch).
 *
 * It does not model anything: tests say exactly what the "model" answers. When the script runs
 * out, or a step function throws, it answers 500 and records the failure in `failures`, so a
 * test can fail loudly (`expect(server.failures).toEqual([])`).
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A content block the scripted model answers with (ids are generated for tool_use). */
export type ScriptBlock =
  { type: 'text'; text: string } | { type: 'tool_use'; name: string; input: Record<string, unknown>; id?: string };

/** Token usage of a scripted response; unset fields default to input 100, output 20, caches 0. */
export interface ScriptUsage {
  input_tokens?: number;
  output_tokens?: number;
  cache_creation_input_tokens?: number;
  cache_read_input_tokens?: number;
}

/** A model response. `stop_reason` defaults to `tool_use` if any block is a tool_use, else `end_turn`. */
export interface ScriptResponse {
  content: ScriptBlock[];
  stop_reason?: 'end_turn' | 'tool_use' | 'max_tokens' | 'stop_sequence' | 'pause_turn' | 'refusal';
  usage?: ScriptUsage;
  /** Extra response headers (e.g. `anthropic-ratelimit-*`). */
  headers?: Record<string, string>;
}

/** An HTTP error in the API's error format, e.g. `{ status: 529, error: { type: 'overloaded_error', message } }`. */
export interface ScriptError {
  status: number;
  error: { type: string; message: string };
  headers?: Record<string, string>;
}

/**
 * A raw HTTP answer, for faults: `body: null` sends the headers and then nothing (a stalled
 * response, held until the client gives up); a string is sent as is (e.g. an HTML page).
 */
export interface ScriptRaw {
  raw: { status: number; headers?: Record<string, string>; body: string | null };
}

/** One request as the server saw it. */
export interface CapturedRequest {
  /** 0-based position among all requests this server received. */
  index: number;
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** Parsed JSON body (`undefined` when it was not JSON). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests poke at arbitrary request fields
  body: any;
}

/** A step of a script: a response, an error, or a function computing one from the request. */
export type ScriptStep =
  | ScriptResponse
  | ScriptError
  | ScriptRaw
  | ((
      req: CapturedRequest,
    ) => ScriptResponse | ScriptError | ScriptRaw | Promise<ScriptResponse | ScriptError | ScriptRaw>);

/** A running scripted server. */
export interface ScriptedModelServer {
  /** Base URL for the SDK (`baseURL`), without `/v1`. */
  url: string;
  /** Every request received, in order. */
  requests: CapturedRequest[];
  /** Script problems (ran out, a step threw); empty when the script went as planned. */
  failures: string[];
  /** Stops the server (and drops open connections). */
  close(): Promise<void>;
}

const DEFAULT_USAGE: Required<ScriptUsage> = {
  input_tokens: 100,
  output_tokens: 20,
  cache_creation_input_tokens: 0,
  cache_read_input_tokens: 0,
};

function newId(prefix: string): string {
  return `${prefix}_${randomBytes(12).toString('hex')}`;
}

/** A response with one tool_use block. */
export function toolUse(name: string, input: Record<string, unknown>, usage?: ScriptUsage): ScriptResponse {
  return { content: [{ type: 'tool_use', name, input }], ...(usage ? { usage } : {}) };
}

/** A text-only response (stop_reason `end_turn`). */
export function text(t: string, usage?: ScriptUsage): ScriptResponse {
  return { content: [{ type: 'text', text: t }], ...(usage ? { usage } : {}) };
}

/** A response with several blocks, e.g. `reply(text('Looking'), toolUse('read_file', {path}))` flattened. */
export function reply(...parts: ScriptResponse[]): ScriptResponse {
  return { content: parts.flatMap((p) => p.content) };
}

/** A 529 overloaded_error. */
export function overloaded(message = 'Overloaded'): ScriptError {
  return { status: 529, error: { type: 'overloaded_error', message } };
}

/** A 401 authentication_error. */
export function unauthorized(message = 'invalid x-api-key'): ScriptError {
  return { status: 401, error: { type: 'authentication_error', message } };
}

/** The tool_result blocks of the last user message of a captured request. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- wire-format blocks
export function lastToolResults(req: CapturedRequest): any[] {
  const last = req.body?.messages?.at(-1);
  if (!last || last.role !== 'user' || !Array.isArray(last.content)) return [];
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- wire-format blocks
  return last.content.filter((b: any) => b.type === 'tool_result');
}

/** The text of a tool_result's content (string or text blocks). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- wire-format block
export function toolResultText(block: any): string {
  if (typeof block?.content === 'string') return block.content;
  if (Array.isArray(block?.content)) {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- wire-format blocks
    return block.content.map((c: any) => (c.type === 'text' ? c.text : '')).join('');
  }
  return '';
}

function isError(step: ScriptResponse | ScriptError | ScriptRaw): step is ScriptError {
  return 'status' in step;
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(payload),
    'request-id': newId('req'),
    ...headers,
  });
  res.end(payload);
}

function sendError(res: ServerResponse, step: ScriptError): void {
  sendJson(res, step.status, { type: 'error', error: step.error }, step.headers);
}

interface BuiltMessage {
  id: string;
  type: 'message';
  role: 'assistant';
  model: string;
  content: Array<
    { type: 'text'; text: string } | { type: 'tool_use'; id: string; name: string; input: Record<string, unknown> }
  >;
  stop_reason: string;
  stop_sequence: null;
  usage: Required<ScriptUsage>;
}

function buildMessage(step: ScriptResponse, model: string): BuiltMessage {
  const content = step.content.map((block) =>
    block.type === 'text'
      ? { type: 'text' as const, text: block.text }
      : { type: 'tool_use' as const, id: block.id ?? newId('toolu'), name: block.name, input: block.input },
  );
  const stop = step.stop_reason ?? (content.some((b) => b.type === 'tool_use') ? 'tool_use' : 'end_turn');
  return {
    id: newId('msg'),
    type: 'message',
    role: 'assistant',
    model,
    content,
    stop_reason: stop,
    stop_sequence: null,
    usage: { ...DEFAULT_USAGE, ...(step.usage ?? {}) },
  };
}

/** Splits a string in two (or leaves it whole) so the client has to accumulate deltas. */
function halves(s: string): string[] {
  if (s.length < 2) return [s];
  const mid = Math.floor(s.length / 2);
  return [s.slice(0, mid), s.slice(mid)];
}

function sendSse(res: ServerResponse, message: BuiltMessage, headers: Record<string, string> = {}): void {
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    'request-id': newId('req'),
    ...headers,
  });
  const event = (type: string, data: unknown): void => {
    res.write(`event: ${type}\ndata: ${JSON.stringify(data)}\n\n`);
  };
  const { usage } = message;
  event('message_start', {
    type: 'message_start',
    message: {
      ...message,
      content: [],
      stop_reason: null,
      usage: { ...usage, output_tokens: 1 },
    },
  });
  event('ping', { type: 'ping' });
  message.content.forEach((block, index) => {
    if (block.type === 'text') {
      event('content_block_start', { type: 'content_block_start', index, content_block: { type: 'text', text: '' } });
      for (const part of halves(block.text)) {
        event('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'text_delta', text: part } });
      }
    } else {
      event('content_block_start', {
        type: 'content_block_start',
        index,
        content_block: { type: 'tool_use', id: block.id, name: block.name, input: {} },
      });
      for (const part of halves(JSON.stringify(block.input))) {
        event('content_block_delta', {
          type: 'content_block_delta',
          index,
          delta: { type: 'input_json_delta', partial_json: part },
        });
      }
    }
    event('content_block_stop', { type: 'content_block_stop', index });
  });
  event('message_delta', {
    type: 'message_delta',
    delta: { stop_reason: message.stop_reason, stop_sequence: null },
    usage: { output_tokens: usage.output_tokens },
  });
  event('message_stop', { type: 'message_stop' });
  res.end();
}

/**
 * Reads a request to the end: method, path, headers and the body parsed as JSON (`undefined` when
 * empty or not JSON). Shared by the scripted servers in test/support.
 */
export function readRequest(req: IncomingMessage): Promise<Omit<CapturedRequest, 'index'>> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: unknown;
      try {
        body = raw === '' ? undefined : JSON.parse(raw);
      } catch {
        body = undefined;
      }
      resolve({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body });
    });
  });
}

/**
 * Starts a scripted Messages API server on 127.0.0.1 (a free port). `script` is a list of steps
 * taken one per POST /v1/messages request, or a function `(req, index) => step`.
 */
export async function startScriptedModelServer(
  script: ScriptStep[] | ((req: CapturedRequest, index: number) => ScriptStep),
): Promise<ScriptedModelServer> {
  const requests: CapturedRequest[] = [];
  const failures: string[] = [];
  let messageCalls = 0;

  const server = createServer((req, res) => {
    void readRequest(req).then(async (read) => {
      const captured: CapturedRequest = { index: requests.length, ...read };
      const body: unknown = read.body;
      requests.push(captured);

      const pathname = (req.url ?? '').split('?')[0];
      if (req.method !== 'POST' || pathname !== '/v1/messages') {
        sendError(res, {
          status: 404,
          error: { type: 'not_found_error', message: `No route ${req.method} ${req.url}` },
        });
        return;
      }
      const index = messageCalls++;
      try {
        let step: ScriptStep | undefined = Array.isArray(script) ? script[index] : script(captured, index);
        if (step === undefined) {
          const msg = `scripted model server: script exhausted; request #${index + 1} has no step (script has ${
            Array.isArray(script) ? script.length : '?'
          } steps)`;
          failures.push(msg);
          sendError(res, { status: 500, error: { type: 'api_error', message: msg } });
          return;
        }
        if (typeof step === 'function') step = await step(captured);
        if (isError(step)) {
          sendError(res, step);
          return;
        }
        if ('raw' in step) {
          res.writeHead(step.raw.status, { 'content-type': 'application/json', ...step.raw.headers });
          res.flushHeaders();
          if (step.raw.body !== null) res.end(step.raw.body);
          return;
        }
        const model =
          typeof (body as { model?: unknown })?.model === 'string' ? (body as { model: string }).model : 'scripted';
        const message = buildMessage(step, model);
        if ((body as { stream?: unknown })?.stream === true) sendSse(res, message, step.headers);
        else sendJson(res, 200, message, step.headers);
      } catch (err) {
        const msg = `scripted model server: step for request #${index + 1} threw: ${(err as Error)?.stack ?? String(err)}`;
        failures.push(msg);
        sendError(res, { status: 500, error: { type: 'api_error', message: msg } });
      }
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    failures,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
