/**
 * The gateway's calls to the real model endpoint (specs/gateway.md, "Retries"): the real key added,
 * the client's own credentials and hop-by-hop headers dropped, and 408/409/429/5xx/529 answers and
 * connection errors retried by the providers' SDK rules (`x-should-retry`, `retry-after-ms` /
 * `retry-after` up to 60 s, else exponential backoff from 0.5 s capped at 8 s with jitter), at
 * most `maxRetries` times, before any byte goes back to the agent.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { retryAfterMs } from '../agents/rate-limits.js';

/** One provider endpoint the gateway forwards to. */
export interface UpstreamEndpoint {
  /** Base URL: Anthropic without `/v1` (`https://api.anthropic.com`); OpenAI with it (`https://api.openai.com/v1`). */
  baseUrl: string;
  /** The real key; undefined sends none (the endpoint decides). */
  apiKey: string | undefined;
}

/** Where a session's model calls go and how hard to try (built from policy `model`, src/agents/run-role.ts). */
export interface GatewayUpstream {
  anthropic: UpstreamEndpoint;
  openai: UpstreamEndpoint;
  /** Retries of a failed call (policy `model.max_retries`). */
  maxRetries: number;
  /** Time limit of one upstream attempt, body included, ms (policy `model.timeout_ms`). */
  timeoutMs: number;
}

/** The upstream answered (maybe with an error status after the retries ran out). */
export interface UpstreamAnswer {
  response: Response;
  /** Attempts made, 1 + retries. */
  attempts: number;
}

/** The upstream could not be reached after the retries (DNS, refused, reset, timeout). */
export class UpstreamUnreachable extends Error {
  constructor(
    message: string,
    readonly attempts: number,
  ) {
    super(message);
    this.name = 'UpstreamUnreachable';
  }
}

/** Request headers never forwarded: the agent's credentials, hop-by-hop and length/encoding (re-computed). */
const DROP_REQUEST = new Set([
  'host',
  'authorization',
  'x-api-key',
  'api-key',
  'proxy-authorization',
  'cookie',
  'connection',
  'keep-alive',
  'transfer-encoding',
  'content-length',
  'accept-encoding',
  'te',
  'upgrade',
  'expect',
]);

/** The headers for the upstream: the client's minus {@link DROP_REQUEST}, plus the real key. */
export function upstreamHeaders(incoming: IncomingHttpHeaders, apiKey: string | undefined): Headers {
  const out = new Headers();
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined || DROP_REQUEST.has(name.toLowerCase()) || name.startsWith(':')) continue;
    out.set(name, Array.isArray(value) ? value.join(', ') : value);
  }
  out.set('accept-encoding', 'identity'); // bytes pass through as sent: the meter reads them
  if (apiKey) out.set('authorization', `Bearer ${apiKey}`);
  return out;
}

/** True for a status the providers' SDKs retry. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 409 || status === 429 || status >= 500;
}

/** The wait before retry number `retry` (0-based) after `headers` (undefined: a connection error), ms. */
export function retryDelayMs(headers: Headers | undefined, retry: number, random: () => number = Math.random): number {
  const asked = headers ? retryAfterMs(headers) : undefined;
  if (asked !== undefined && asked <= 60_000) return asked;
  const backoff = Math.min(500 * 2 ** retry, 8_000);
  return backoff * (1 - 0.25 * random());
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason as Error);
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal.reason as Error);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Sends the request (`body` for a POST, none for a GET) to `url`, retrying as the module doc says. Resolves with the last response (a
 * success, a non-retryable error, or a retryable one after the retries ran out); the caller owns
 * its body. `onRetry` sees each discarded answer (its headers carry the rate limits).
 * @throws UpstreamUnreachable when no attempt got an answer; `signal.reason` when aborted.
 */
export async function sendWithRetries(o: {
  method: 'GET' | 'POST';
  url: string;
  headers: Headers;
  body: Uint8Array | null;
  maxRetries: number;
  timeoutMs: number;
  signal: AbortSignal;
  onRetry?: (r: { status: number | null; headers: Headers | undefined; waitMs: number }) => void;
}): Promise<UpstreamAnswer> {
  for (let attempt = 1; ; attempt++) {
    const timeout = AbortSignal.timeout(o.timeoutMs);
    let response: Response;
    try {
      response = await fetch(o.url, {
        method: o.method,
        headers: o.headers,
        body: o.method === 'POST' ? o.body : null,
        signal: AbortSignal.any([o.signal, timeout]),
      });
    } catch (err) {
      if (o.signal.aborted) throw o.signal.reason;
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      const why = timeout.aborted
        ? `no answer within ${o.timeoutMs} ms`
        : (cause?.code ?? cause?.message ?? (err as Error).message);
      if (attempt > o.maxRetries) throw new UpstreamUnreachable(why, attempt);
      const waitMs = retryDelayMs(undefined, attempt - 1);
      o.onRetry?.({ status: null, headers: undefined, waitMs });
      await sleep(waitMs, o.signal);
      continue;
    }
    const should = response.headers.get('x-should-retry');
    const retry = !response.ok && (should === 'true' || (should !== 'false' && isRetryableStatus(response.status)));
    if (!retry || attempt > o.maxRetries) return { response, attempts: attempt };
    const waitMs = retryDelayMs(response.headers, attempt - 1);
    o.onRetry?.({ status: response.status, headers: response.headers, waitMs });
    await response.body?.cancel().catch(() => {});
    await sleep(waitMs, o.signal);
  }
}
