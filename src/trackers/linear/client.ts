/**
 * The Linear tracker's transport: `@linear/sdk`'s `LinearClient.client.rawRequest` (the SDK's
 * model classes dereference nested data and load relations lazily, one request each) with a time
 * limit per request, one short wait on a rate limit, cursor pagination, response-shape checks, and
 * the mapping of transport/auth/rate-limit/payload failures to `TrackerError` codes (Symphony SPEC
 * §11.4). The API key never reaches a message or a log line (src/redact.ts).
 */
import { LinearClient, LinearError } from '@linear/sdk';
import { z } from 'zod';
import { TrackerError } from '../../errors.js';
import { createRedactor, type Redactor } from '../../redact.js';
import { isRecord } from '../shared.js';
import { connectionSchema } from './queries.js';

/** The subset of a logger the adapter uses (pino's `Logger` fits). */
export interface LinearTrackerLog {
  warn(obj: object, msg: string): void;
  debug?(obj: object, msg: string): void;
}

/** A `TrackerError` with code `tracker_rate_limited` carries how long to wait, when Linear said. */
export type LinearRateLimitedError = TrackerError & { retryAfterMs?: number };

/** A listing that pages more than this is broken (a cursor loop), not big. */
const MAX_PAGES = 2000;

/** Options of `createLinearClient` (already checked by the adapter). */
export interface LinearClientOptions {
  apiKey: string;
  /** GraphQL endpoint URL. */
  endpoint: string;
  /** Page size of list queries, 1..250. */
  pageSize: number;
  /** Time limit of one HTTP request in ms. */
  timeoutMs: number;
  /** Longest rate-limit wait (ms) retried once; longer ones fail at once. */
  maxRateLimitWaitMs: number;
  log: LinearTrackerLog | undefined;
}

/** The GraphQL calls the adapter makes; every failure is a `TrackerError`. */
export interface LinearApi {
  /** Removes the API key (and URL credentials) from text. */
  redact: Redactor;
  /** One GraphQL request; resolves to its `data` object. */
  request(op: string, query: string, variables: Record<string, unknown>): Promise<Record<string, unknown>>;
  /** `data` checked against `schema` (`tracker_payload_invalid` when it does not match). */
  parse<T>(op: string, schema: z.ZodType<T>, data: unknown): T;
  /** Every node of the connection at `data[root]`, following `endCursor` until the last page. */
  paginate(op: string, query: string, root: string, variables: Record<string, unknown>): Promise<unknown[]>;
}

/** Creates the transport; no request is made until the first call. */
export function createLinearClient(opts: LinearClientOptions): LinearApi {
  const { endpoint, timeoutMs, maxRateLimitWaitMs, log } = opts;
  const client = new LinearClient({ apiKey: opts.apiKey, apiUrl: endpoint });
  // Server text may echo what it was sent; the key must never reach a message or a log line.
  const redact = createRedactor({ secrets: [opts.apiKey], minLength: 1, replacement: '[redacted]' });

  const request: LinearApi['request'] = async (op, query, variables) => {
    for (let attempt = 0; ; attempt++) {
      let timer: NodeJS.Timeout | undefined;
      try {
        const timeout = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new RequestTimeout()), timeoutMs);
          timer.unref();
        });
        const res = await Promise.race([
          client.client.rawRequest<unknown, Record<string, unknown>>(query, variables),
          timeout,
        ]);
        if (!isRecord(res.data)) {
          throw new TrackerError('tracker_payload_invalid', `Linear ${op}: the response has no data object`, {
            retryable: true,
          });
        }
        log?.debug?.({ op }, 'linear request ok');
        return res.data;
      } catch (err) {
        const mapped = toTrackerError(err, op, endpoint, redact);
        const wait = (mapped as LinearRateLimitedError).retryAfterMs;
        if (
          mapped.code === 'tracker_rate_limited' &&
          attempt === 0 &&
          wait !== undefined &&
          wait <= maxRateLimitWaitMs
        ) {
          log?.warn({ op, wait_ms: wait }, 'Linear rate limit reached; waiting before one retry');
          await sleep(wait);
          continue;
        }
        throw mapped;
      } finally {
        clearTimeout(timer);
      }
    }
  };

  const parse = <T>(op: string, schema: z.ZodType<T>, data: unknown): T => {
    const result = schema.safeParse(data);
    if (result.success) return result.data;
    throw new TrackerError(
      'tracker_payload_invalid',
      `Linear ${op}: unexpected response shape (${redact(summarizeZod(result.error))})`,
      { retryable: false },
    );
  };

  const paginate: LinearApi['paginate'] = async (op, query, root, variables) => {
    const nodes: unknown[] = [];
    const seen = new Set<string>();
    let after: string | null = null;
    for (let page = 0; page < MAX_PAGES; page++) {
      const data = await request(op, query, { ...variables, first: opts.pageSize, after });
      const conn = parse(op, connectionOf(root), data)[root] as z.infer<typeof connectionSchema>;
      nodes.push(...conn.nodes);
      if (!conn.pageInfo.hasNextPage) return nodes;
      const cursor = conn.pageInfo.endCursor;
      if (!cursor || seen.has(cursor)) {
        throw new TrackerError(
          'tracker_payload_invalid',
          `Linear ${op}: pagination is broken (hasNextPage without a new endCursor)`,
          { retryable: false },
        );
      }
      seen.add(cursor);
      after = cursor;
    }
    throw new TrackerError(
      'tracker_payload_invalid',
      `Linear ${op}: more than ${MAX_PAGES} pages; pagination looks broken`,
      { retryable: false },
    );
  };

  return { redact, request, parse, paginate };
}

/** The schema of a `{ [root]: connection }` answer. */
function connectionOf(root: string) {
  return z.object({ [root]: connectionSchema });
}

/** A mutation that answered `success: false` (permanent). */
export function unsuccessful(op: string): TrackerError {
  return new TrackerError('tracker_payload_invalid', `Linear ${op}: the mutation reported success: false`, {
    retryable: false,
  });
}

// ---------------------------------------------------------------------------------------------
// Errors

class RequestTimeout extends Error {}

interface GraphQLErrorLike {
  message?: string;
  extensions?: { code?: string; type?: string; userPresentableMessage?: string };
}

/**
 * Maps what `rawRequest` throws to a `TrackerError`. The SDK's own classification treats any 4xx
 * without a GraphQL error as an authentication error, so the status and `extensions.code` are read
 * here instead.
 */
function toTrackerError(err: unknown, op: string, endpoint: string, redact: (s: string) => string): TrackerError {
  if (err instanceof TrackerError) return err;
  const host = safeHost(endpoint);
  if (err instanceof RequestTimeout) {
    return new TrackerError('tracker_request_failed', `Linear ${op}: no answer from ${host} in time; retrying later`, {
      cause: err,
    });
  }
  if (err instanceof LinearError) {
    const raw = (err.raw ?? {}) as {
      response?: { errors?: GraphQLErrorLike[]; headers?: Headers; error?: string; status?: number };
    };
    const response = raw.response ?? {};
    const status = err.status ?? response.status;
    const errors = Array.isArray(response.errors) ? response.errors : [];
    const codes = new Set(errors.map((e) => String(e?.extensions?.code ?? '').toUpperCase()));
    const types = new Set(errors.map((e) => String(e?.extensions?.type ?? '').toLowerCase()));
    const detail = redact(
      errors
        .map((e) => e?.extensions?.userPresentableMessage ?? e?.message ?? '')
        .filter(Boolean)
        .join('; '),
    );
    const statusText = status === undefined ? '' : ` (HTTP ${status})`;

    if (status === 429 || codes.has('RATELIMITED') || types.has('ratelimited')) {
      const retryAfterMs = retryAfterFrom(response.headers);
      const when = retryAfterMs === undefined ? 'later' : `in ${Math.ceil(retryAfterMs / 1000)} s`;
      const e: LinearRateLimitedError = new TrackerError(
        'tracker_rate_limited',
        `Linear ${op}: rate limited${statusText}; retry ${when}`,
        {
          cause: err,
        },
      );
      if (retryAfterMs !== undefined) e.retryAfterMs = retryAfterMs;
      return e;
    }
    if (status === 401 || codes.has('AUTHENTICATION_ERROR') || types.has('authentication error')) {
      return new TrackerError(
        'tracker_unauthorized',
        `Linear ${op}: the API key was rejected${statusText}. Set LINEAR_API_KEY or tracker.provider.api_key ($VAR allowed) to a valid Linear API key`,
        { cause: err, retryable: false },
      );
    }
    if (status === 403 || codes.has('FORBIDDEN') || types.has('forbidden')) {
      return new TrackerError(
        'tracker_unauthorized',
        `Linear ${op}: the API key may not do this${statusText}${detail ? `: ${detail}` : ''}. Set LINEAR_API_KEY or tracker.provider.api_key to a key with access to the team/project`,
        { cause: err, retryable: false },
      );
    }
    if (status !== undefined && status >= 500) {
      return new TrackerError(
        'tracker_request_failed',
        `Linear ${op}: server error${statusText} from ${host}; retrying later`,
        { cause: err },
      );
    }
    if (errors.length > 0) {
      if (/not found|could not find/i.test(detail)) {
        return new TrackerError('tracker_not_found', `Linear ${op}: ${detail}`, { cause: err, retryable: false });
      }
      const transient =
        codes.has('INTERNAL_SERVER_ERROR') ||
        codes.has('LOCK_TIMEOUT') ||
        types.has('internal error') ||
        types.has('lock timeout');
      return new TrackerError(
        'tracker_payload_invalid',
        `Linear ${op}: GraphQL error${statusText}: ${detail || 'no message'}`,
        {
          cause: err,
          retryable: transient,
        },
      );
    }
    if (status !== undefined && status >= 200 && status < 300) {
      return new TrackerError(
        'tracker_payload_invalid',
        `Linear ${op}: the response${statusText} is not GraphQL JSON`,
        { cause: err },
      );
    }
    const retryable = status === undefined || status === 408 || status === 409 || status === 425;
    return new TrackerError(
      'tracker_request_failed',
      `Linear ${op}: request rejected${statusText} by ${host}; check tracker.provider.endpoint (it must be Linear's GraphQL URL)`,
      { cause: err, retryable },
    );
  }
  if (err instanceof SyntaxError) {
    return new TrackerError(
      'tracker_payload_invalid',
      `Linear ${op}: the response is not valid JSON (${redact(err.message)})`,
      { cause: err },
    );
  }
  const reason = redact(describeNetworkError(err));
  return new TrackerError('tracker_request_failed', `Linear ${op}: cannot reach ${host} (${reason}); retrying later`, {
    cause: err,
  });
}

/** Wait in ms from `Retry-After` (seconds or HTTP date) or `X-RateLimit-Requests-Reset` (epoch ms). */
function retryAfterFrom(headers: Headers | undefined): number | undefined {
  if (!headers || typeof headers.get !== 'function') return undefined;
  const now = Date.now();
  const retryAfter = headers.get('retry-after');
  if (retryAfter !== null && retryAfter.trim() !== '') {
    const seconds = Number(retryAfter);
    if (Number.isFinite(seconds)) return Math.max(0, Math.round(seconds * 1000));
    const at = Date.parse(retryAfter);
    if (!Number.isNaN(at)) return Math.max(0, at - now);
  }
  for (const name of ['x-ratelimit-requests-reset', 'x-ratelimit-complexity-reset']) {
    const value = Number(headers.get(name) ?? Number.NaN);
    if (!Number.isFinite(value) || value <= 0) continue;
    // Linear sends epoch milliseconds; accept epoch seconds and plain seconds too.
    if (value > 1e12) return Math.max(0, Math.round(value - now));
    if (value > 1e9) return Math.max(0, Math.round(value * 1000 - now));
    return Math.round(value * 1000);
  }
  return undefined;
}

function describeNetworkError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as { cause?: unknown }).cause;
  const code = (cause as NodeJS.ErrnoException | undefined)?.code;
  return code ? `${err.message}: ${code}` : err.message;
}
function safeHost(endpoint: string): string {
  try {
    return new URL(endpoint).host;
  } catch {
    return 'the Linear endpoint';
  }
}

function summarizeZod(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
    .join('; ');
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
