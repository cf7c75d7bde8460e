/**
 * Reading usage out of model responses as they pass through the gateway (specs/gateway.md,
 * "What it measures"): Anthropic Messages (`usage` of a JSON message; `message_start` then the
 * cumulative `message_delta` usage of a stream) and OpenAI Responses (`usage` of a JSON response or
 * of the `response.completed` / `response.incomplete` / `response.failed` event). OpenAI's
 * `input_tokens` include cached ones; they are split into `input_tokens` and
 * `cache_read_input_tokens` so both APIs price the same way (src/agents/pricing.ts). Pure.
 */
import { emptyUsage, type TokenUsage } from '../agents/usage.js';

/** Which provider API an exchange used. */
export type ProviderApi = 'anthropic' | 'openai';

/** What one response said about itself. */
export interface ResponseMeter {
  /** Token usage; null when the response carried none (an error, a cut stream). */
  usage: TokenUsage | null;
  /** The model that answered; null when not said. */
  model: string | null;
}

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : 0);
const obj = (v: unknown): Record<string, unknown> | null =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;

/** Anthropic `usage` → TokenUsage; fields absent stay as in `base`. */
function anthropicUsage(u: Record<string, unknown>, base: TokenUsage = emptyUsage()): TokenUsage {
  const out = { ...base };
  for (const k of Object.keys(out) as (keyof TokenUsage)[]) if (k in u && u[k] !== null) out[k] = num(u[k]);
  return out;
}

/** OpenAI Responses `usage` → TokenUsage (cached input tokens as cache reads). */
function openaiUsage(u: Record<string, unknown>): TokenUsage {
  const cached = num(obj(u.input_tokens_details)?.cached_tokens);
  const input = num(u.input_tokens);
  return {
    input_tokens: Math.max(0, input - cached),
    output_tokens: num(u.output_tokens),
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: Math.min(cached, input),
  };
}

/** The usage and model of a complete JSON response body of `api`; nulls when it has none. */
export function meterJson(api: ProviderApi, body: unknown): ResponseMeter {
  const b = obj(body);
  const u = obj(b?.usage);
  const model = typeof b?.model === 'string' ? b.model : null;
  if (!u) return { usage: null, model };
  return { usage: api === 'anthropic' ? anthropicUsage(u) : openaiUsage(u), model };
}

/**
 * An incremental reader of an SSE stream of `api`: feed it the bytes as they pass, read the meter
 * at the end. Lines are split on LF (CRLF tolerated); only `data:` lines are read, as JSON.
 */
export function sseMeter(api: ProviderApi): { push(chunk: Uint8Array): void; result(): ResponseMeter } {
  const decoder = new TextDecoder();
  let buffered = '';
  let data: string[] = [];
  let usage: TokenUsage | null = null;
  let model: string | null = null;
  const onEvent = (text: string): void => {
    let event: Record<string, unknown> | null;
    try {
      event = obj(JSON.parse(text));
    } catch {
      return;
    }
    if (!event) return;
    if (api === 'anthropic') {
      if (event.type === 'message_start') {
        const m = obj(event.message);
        if (typeof m?.model === 'string') model = m.model;
        const u = obj(m?.usage);
        if (u) usage = anthropicUsage(u);
      } else if (event.type === 'message_delta') {
        const u = obj(event.usage);
        if (u) usage = anthropicUsage(u, usage ?? emptyUsage()); // cumulative counts
      }
      return;
    }
    if (
      event.type === 'response.completed' ||
      event.type === 'response.incomplete' ||
      event.type === 'response.failed'
    ) {
      const r = obj(event.response);
      if (typeof r?.model === 'string') model = r.model;
      const u = obj(r?.usage);
      if (u) usage = openaiUsage(u);
    } else if (event.type === 'response.created') {
      const r = obj(event.response);
      if (typeof r?.model === 'string') model ??= r.model;
    }
  };
  const line = (l: string): void => {
    const text = l.endsWith('\r') ? l.slice(0, -1) : l;
    if (text === '') {
      if (data.length) onEvent(data.join('\n'));
      data = [];
    } else if (text.startsWith('data:')) {
      data.push(text.slice(5).replace(/^ /, ''));
    }
  };
  return {
    push(chunk) {
      buffered += decoder.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        line(buffered.slice(0, nl));
        buffered = buffered.slice(nl + 1);
      }
    },
    result() {
      buffered += decoder.decode();
      if (buffered) line(buffered);
      line('');
      buffered = '';
      return { usage, model };
    },
  };
}
