/**
 * The model gateway's cost (src/gateway/; specs/gateway.md, "Cost of the hop"): wall time of one
 * model call made with the Anthropic SDK straight to a local scripted Messages API endpoint, and
 * through a gateway session in front of it, JSON and streaming, median of 200 calls each (alternating)
 * after 10 warm-ups. Target: the gateway adds < 10 ms per call (median; about 2–5 ms measured on a loaded 2-core machine).
 */
import os from 'node:os';
import path from 'node:path';
import { mkdtemp, rm } from 'node:fs/promises';
import Anthropic from '@anthropic-ai/sdk';
import { priceTable } from '../src/agents/pricing.js';
import { startGateway } from '../src/gateway/index.js';
import { startScriptedModelServer, text } from '../test/support/scripted-model-server.js';
import type { BenchResult } from './sandbox.js';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Medians of `a` and `b`, called alternately (so machine load drifts over both alike). */
async function timePairs(n: number, a: () => Promise<unknown>, b: () => Promise<unknown>): Promise<[number, number]> {
  for (let i = 0; i < 10; i++) await Promise.all([a(), b()]);
  const runs: [number[], number[]] = [[], []];
  for (let i = 0; i < n; i++) {
    for (const [k, call] of [a, b].entries()) {
      const t0 = performance.now();
      await call();
      runs[k]!.push(performance.now() - t0);
    }
  }
  return [median(runs[0]), median(runs[1])];
}

/** Median wall time per call direct and through the gateway; the difference is what the gateway adds. */
export async function benchGateway(n = 200): Promise<BenchResult[]> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'foreman-bench-gateway-'));
  const model = await startScriptedModelServer(() => text('A short answer from the scripted model.'));
  const gateway = await startGateway();
  try {
    const session = await gateway.openSession({
      identifier: 'BENCH-1',
      role: 'implementer',
      runId: 'bench',
      budget: { spentTokens: 0, spentUsd: 0, prices: priceTable() },
      transcriptPath: path.join(dir, 'transcript.jsonl'),
      upstream: {
        anthropic: { baseUrl: model.url, apiKey: 'bench-key' },
        openai: { baseUrl: 'http://127.0.0.1:9/v1', apiKey: 'bench-key' },
        maxRetries: 0,
        timeoutMs: 30_000,
      },
    });
    const direct = new Anthropic({ apiKey: 'bench-key', baseURL: model.url, maxRetries: 0 });
    const viaGateway = new Anthropic({ apiKey: session.token, baseURL: session.anthropicBaseUrl, maxRetries: 0 });
    const params = {
      model: 'claude-sonnet-4-5',
      max_tokens: 100,
      messages: [{ role: 'user' as const, content: 'Say something short.' }],
    };
    const out: BenchResult[] = [];
    for (const stream of [false, true]) {
      const call = (c: Anthropic) => () =>
        stream ? c.messages.stream(params).finalMessage() : c.messages.create(params);
      const [d, g] = await timePairs(n, call(direct), call(viaGateway));
      const kind = stream ? 'streaming' : 'JSON';
      console.log(
        `gateway ${kind}: direct ${d.toFixed(2)} ms, through the gateway ${g.toFixed(2)} ms (median of ${n})`,
      );
      out.push({
        name: `gateway: added per ${kind} model call (median of ${n})`,
        value: g - d,
        target: 10,
        unit: 'ms',
      });
    }
    await session.close();
    return out;
  } finally {
    await gateway.close();
    await model.close();
    await rm(dir, { recursive: true, force: true });
  }
}
