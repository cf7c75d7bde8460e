/**
 * The cheap call an outage escalation makes to learn that the model endpoint is back (issue
 * "ride out outages"; docs/architecture.md, "Glossary" escalation): one Messages API request for
 * one output token, no SDK retries, a short timeout.
 */
import Anthropic from '@anthropic-ai/sdk';
import type { ModelClientOptions } from './harness.js';

/** Longest a probe request may take, ms. */
export const PROBE_TIMEOUT_MS = 30_000;

/**
 * True when the model endpoint answers a one-token request with a message; false on any error
 * (overloaded, rate limited, unreachable, a bad key). Never throws. `model` is the model id.
 */
export async function probeModel(client: ModelClientOptions, model: string): Promise<boolean> {
  try {
    const anthropic = new Anthropic({
      apiKey: client.apiKey,
      baseURL: client.baseURL || undefined,
      maxRetries: 0,
      timeout: Math.min(client.timeoutMs ?? PROBE_TIMEOUT_MS, PROBE_TIMEOUT_MS),
    });
    const m = await anthropic.messages.create({ model, max_tokens: 1, messages: [{ role: 'user', content: 'ping' }] });
    return m.type === 'message';
  } catch {
    return false;
  }
}
