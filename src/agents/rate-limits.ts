/**
 * The model endpoint's rate limits as its responses report them: Anthropic's
 * `anthropic-ratelimit-*` headers, OpenAI's `x-ratelimit-*` headers (resets as durations such as
 * `6m0s`), and `retry-after`. The latest snapshot reaches the run status and
 * `foreman status` / the API as `rate_limits` (Symphony SPEC §13.7, "latest rate-limit payload").
 */

/** One snapshot of the rate limits; a field is null when the response did not carry its header. */
export interface RateLimits {
  requests_limit: number | null;
  requests_remaining: number | null;
  /** RFC 3339: when the request limit is fully replenished. */
  requests_reset: string | null;
  tokens_limit: number | null;
  tokens_remaining: number | null;
  tokens_reset: string | null;
  input_tokens_remaining: number | null;
  output_tokens_remaining: number | null;
  /** Seconds the endpoint asked to wait before the next request (`retry-after`). */
  retry_after_s: number | null;
  /** HTTP status of the response that carried them. */
  status: number;
  /** RFC 3339: when Foreman saw them. */
  observed_at: string;
}

const H = 'anthropic-ratelimit-';
const O = 'x-ratelimit-';

/** An OpenAI reset duration (`1s`, `6m0s`, `1h2m3.5s`, `250ms`) in ms; null when not one. */
function durationMs(v: string | null): number | null {
  if (!v || !/^(\d+(\.\d+)?(h|ms|m|s))+$/.test(v.trim())) return null;
  let ms = 0;
  for (const m of v.trim().matchAll(/(\d+(?:\.\d+)?)(h|ms|m|s)/g)) {
    ms += Number(m[1]) * { h: 3_600_000, m: 60_000, s: 1000, ms: 1 }[m[2] as 'h' | 'm' | 's' | 'ms'];
  }
  return ms;
}

/**
 * Reads the rate-limit headers of one response; null when it carries none. `at` is the time seen
 * (RFC 3339). Malformed values are null, never an error.
 */
export function rateLimitsFromHeaders(headers: Headers, status: number, at: string): RateLimits | null {
  const num = (...names: string[]): number | null => {
    for (const name of names) {
      const v = headers.get(name);
      if (v === null || v.trim() === '') continue;
      const n = Number(v);
      return Number.isFinite(n) && n >= 0 ? n : null;
    }
    return null;
  };
  const time = (name: string, openaiName: string): string | null => {
    const v = headers.get(name);
    const ms = v ? Date.parse(v) : NaN;
    if (Number.isFinite(ms)) return new Date(ms).toISOString();
    const after = durationMs(headers.get(openaiName));
    return after === null ? null : new Date(Date.parse(at) + after).toISOString();
  };
  const r: RateLimits = {
    requests_limit: num(`${H}requests-limit`, `${O}limit-requests`),
    requests_remaining: num(`${H}requests-remaining`, `${O}remaining-requests`),
    requests_reset: time(`${H}requests-reset`, `${O}reset-requests`),
    tokens_limit: num(`${H}tokens-limit`, `${O}limit-tokens`),
    tokens_remaining: num(`${H}tokens-remaining`, `${O}remaining-tokens`),
    tokens_reset: time(`${H}tokens-reset`, `${O}reset-tokens`),
    input_tokens_remaining: num(`${H}input-tokens-remaining`),
    output_tokens_remaining: num(`${H}output-tokens-remaining`),
    retry_after_s: num('retry-after'),
    status,
    observed_at: at,
  };
  const any = Object.entries(r).some(([k, v]) => k !== 'status' && k !== 'observed_at' && v !== null);
  return any ? r : null;
}

/** The later of two snapshots (by `observed_at`); either may be null. */
export function latestRateLimits(a: RateLimits | null, b: RateLimits | null): RateLimits | null {
  if (!a) return b;
  if (!b) return a;
  return b.observed_at >= a.observed_at ? b : a;
}

/**
 * The wait a response asked for before the next request, in ms: `retry-after-ms`, else
 * `retry-after` in seconds or as an HTTP date; capped at 10 minutes; undefined when it did not say
 * (or said nothing positive). The rule of Anthropic's and OpenAI's SDKs (specs/gateway.md, "Retries").
 */
export function retryAfterMs(
  headers: Headers | Record<string, string | string[] | null | undefined> | undefined,
): number | undefined {
  const get = (name: string): string | null | undefined => {
    if (headers instanceof Headers) return headers.get(name);
    const v = headers?.[name];
    return Array.isArray(v) ? v[0] : v;
  };
  const ms = Number(get('retry-after-ms'));
  const raw = get('retry-after');
  let wait = Number.isFinite(ms) && ms > 0 ? ms : NaN;
  if (Number.isNaN(wait) && raw) wait = /^\d+(\.\d+)?$/.test(raw) ? Number(raw) * 1000 : Date.parse(raw) - Date.now();
  return Number.isFinite(wait) && wait > 0 ? Math.min(wait, 600_000) : undefined;
}
