/**
 * The gateway's reading of usage (src/gateway/meter.ts) and its retry waits (src/gateway/upstream.ts):
 * pure logic over the providers' wire formats.
 */
import { describe, expect, it } from 'vitest';
import { meterJson, sseMeter } from '../../src/gateway/meter.js';
import { isRetryableStatus, retryDelayMs, upstreamHeaders } from '../../src/gateway/upstream.js';
import { rateLimitsFromHeaders } from '../../src/agents/rate-limits.js';

const enc = new TextEncoder();
const sse = (events: [string, unknown][], eol = '\n') =>
  events.map(([e, d]) => `event: ${e}${eol}data: ${JSON.stringify(d)}${eol}${eol}`).join('');

/** Feeds `text` to a meter in chunks of `size` bytes (events split anywhere, even inside a character). */
function feed(api: 'anthropic' | 'openai', text: string, size: number) {
  const m = sseMeter(api);
  const bytes = enc.encode(text);
  for (let i = 0; i < bytes.length; i += size) m.push(bytes.subarray(i, i + size));
  return m.result();
}

describe('Anthropic usage', () => {
  const stream = sse([
    [
      'message_start',
      {
        type: 'message_start',
        message: {
          model: 'claude-x',
          usage: { input_tokens: 10, output_tokens: 1, cache_creation_input_tokens: 5, cache_read_input_tokens: 7 },
        },
      },
    ],
    ['content_block_delta', { type: 'content_block_delta', delta: { type: 'text_delta', text: 'héllo' } }],
    ['message_delta', { type: 'message_delta', usage: { output_tokens: 42 } }],
    ['message_stop', { type: 'message_stop' }],
  ]);

  it('takes message_start and the cumulative message_delta counts, whatever the chunking', () => {
    for (const size of [1, 3, 17, 10_000]) {
      expect(feed('anthropic', stream, size)).toEqual({
        model: 'claude-x',
        usage: { input_tokens: 10, output_tokens: 42, cache_creation_input_tokens: 5, cache_read_input_tokens: 7 },
      });
    }
  });

  it('reads CRLF streams and a JSON message; no usage is null, not zero', () => {
    expect(feed('anthropic', stream.replace(/\n/g, '\r\n'), 5).usage?.output_tokens).toBe(42);
    expect(meterJson('anthropic', { model: 'm', usage: { input_tokens: 3, output_tokens: 4 } })).toEqual({
      model: 'm',
      usage: { input_tokens: 3, output_tokens: 4, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
    });
    expect(meterJson('anthropic', { type: 'error' }).usage).toBeNull();
    expect(feed('anthropic', 'event: ping\ndata: {"type":"ping"}\n\n', 4).usage).toBeNull();
  });

  it('ignores hostile values: negative, non-numeric, not JSON', () => {
    const bad = sse([
      ['message_start', { type: 'message_start', message: { usage: { input_tokens: -5, output_tokens: 'many' } } }],
    ]);
    expect(feed('anthropic', `data: {not json\n\n${bad}`, 7).usage).toEqual({
      input_tokens: 0,
      output_tokens: 0,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
    });
  });
});

describe('OpenAI Responses usage', () => {
  const usage = { input_tokens: 1000, input_tokens_details: { cached_tokens: 600 }, output_tokens: 50 };

  it('splits cached input tokens into cache reads, from response.completed or the JSON response', () => {
    const expected = {
      input_tokens: 400,
      output_tokens: 50,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 600,
    };
    const stream = sse([
      ['response.created', { type: 'response.created', response: { model: 'gpt-x', usage: null } }],
      ['response.output_text.delta', { type: 'response.output_text.delta', delta: 'hi' }],
      ['response.completed', { type: 'response.completed', response: { model: 'gpt-x', usage } }],
    ]);
    expect(feed('openai', stream, 9)).toEqual({ model: 'gpt-x', usage: expected });
    expect(meterJson('openai', { model: 'gpt-x', usage })).toEqual({ model: 'gpt-x', usage: expected });
  });

  it('an incomplete response still counts; cached tokens above the input are capped', () => {
    const stream = sse([
      [
        'response.incomplete',
        {
          type: 'response.incomplete',
          response: { usage: { input_tokens: 10, input_tokens_details: { cached_tokens: 99 }, output_tokens: 1 } },
        },
      ],
    ]);
    expect(feed('openai', stream, 100).usage).toEqual({
      input_tokens: 0,
      output_tokens: 1,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 10,
    });
  });
});

describe('retries and headers', () => {
  it('retries 408, 409, 429, 5xx and 529, not other 4xx', () => {
    expect([408, 409, 429, 500, 502, 529].every(isRetryableStatus)).toBe(true);
    expect([400, 401, 403, 404, 413, 422].some(isRetryableStatus)).toBe(false);
  });

  it('waits retry-after-ms, else retry-after seconds up to 60 s, else backoff from 0.5 s capped at 8 s', () => {
    const none = () => 0;
    expect(retryDelayMs(new Headers({ 'retry-after-ms': '250', 'retry-after': '9' }), 0, none)).toBe(250);
    expect(retryDelayMs(new Headers({ 'retry-after': '2' }), 0, none)).toBe(2000);
    expect(retryDelayMs(new Headers({ 'retry-after': '120' }), 0, none)).toBe(500); // too long: backoff
    expect(retryDelayMs(undefined, 0, none)).toBe(500);
    expect(retryDelayMs(undefined, 2, none)).toBe(2000);
    expect(retryDelayMs(undefined, 10, none)).toBe(8000);
    expect(retryDelayMs(undefined, 1, () => 1)).toBe(750); // up to 25 % jitter
  });

  it("drops the agent's credentials and hop-by-hop headers, keeps the rest, adds the real key", () => {
    const h = upstreamHeaders(
      {
        'x-api-key': 'fgw-token',
        authorization: 'Bearer fgw-token',
        cookie: 'a=b',
        host: '127.0.0.1:4180',
        'content-length': '12',
        'anthropic-version': '2023-06-01',
        'anthropic-beta': 'x,y',
      },
      'real-key',
    );
    expect(Object.fromEntries(h)).toEqual({
      'accept-encoding': 'identity',
      'anthropic-beta': 'x,y',
      'anthropic-version': '2023-06-01',
      authorization: 'Bearer real-key',
    });
  });

  it("reads OpenAI's x-ratelimit-* headers, resets given as durations", () => {
    const at = '2026-12-04T15:00:00.000Z';
    const h = new Headers({
      'x-ratelimit-limit-requests': '500',
      'x-ratelimit-remaining-requests': '499',
      'x-ratelimit-reset-requests': '120ms',
      'x-ratelimit-limit-tokens': '30000',
      'x-ratelimit-remaining-tokens': '29000',
      'x-ratelimit-reset-tokens': '1m2.5s',
    });
    expect(rateLimitsFromHeaders(h, 200, at)).toMatchObject({
      requests_limit: 500,
      requests_remaining: 499,
      requests_reset: '2026-12-04T15:00:00.120Z',
      tokens_limit: 30000,
      tokens_remaining: 29000,
      tokens_reset: '2026-12-04T15:01:02.500Z',
    });
    expect(rateLimitsFromHeaders(new Headers({ 'x-ratelimit-reset-tokens': 'soon' }), 200, at)).toBeNull();
  });
});
