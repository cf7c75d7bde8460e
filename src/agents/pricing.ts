/**
 * Model prices and what a model call cost: the built-in price table `DEFAULT_PRICES`, the lookup
 * of a model's price (policy `budget.prices` merged over it), the roles whose model has none, and the USD and token
 * totals of a Messages API `usage`. Cache writes and cache reads are priced apart from plain input,
 * because they differ by an order of magnitude (0.1× to 1.25× input).
 *
 * It does not enforce budgets (src/agents/harness.ts checks them before each model call) nor
 * parse the policy (src/config/).
 */
import type { z } from 'zod';
import type { modelPriceSchema, Policy } from '../config/schema.js';
import { backendModel, roleEnabled, ROLES } from './backends/config.js';
import type { AgentRole, TokenUsage } from './usage.js';

/** Price of one model, USD per million tokens of each usage class (policy `budget.prices.<model>`). */
export type ModelPrice = z.infer<typeof modelPriceSchema>;

/**
 * Built-in prices, USD per million tokens, covering the default model of every backend
 * (specs/backends.md, "Prices"). `cache_write` is the 5-minute cache write (the one the Messages
 * API uses unless told otherwise), `cache_read` a cache hit. A policy's `budget.prices` entries
 * override or add models. Each entry names where its price was read, and when.
 */
export const DEFAULT_PRICES: Readonly<Record<string, ModelPrice>> = {
  // builtin's default. Anthropic, platform.claude.com/docs/models/sonnet-5-5/overview (its zh-CN
  // copy), read 2026-12-04: input $2, output $10, 5m cache write $2.50, cache read $0.20.
  'claude-sonnet-5-5': { input: 2, output: 10, cache_write: 2.5, cache_read: 0.2 },
  // claude-code's default. Anthropic, platform.claude.com/docs/models/opus-5-5/overview (its zh-CN
  // copy), read 2026-12-04: input $4, output $20, 5m cache write $5, cache read $0.20 (0.05× input).
  'claude-opus-5-5': { input: 4, output: 20, cache_write: 5, cache_read: 0.2 },
  // Anthropic, platform.claude.com/docs/models/opus-4-5/overview (zh-TW copy), read 2026-12-04:
  // input $5, output $25, 5m cache write $6.25, cache read $0.50.
  'claude-opus-4-5': { input: 5, output: 25, cache_write: 6.25, cache_read: 0.5 },
  // Anthropic, platform.claude.com/docs/models/haiku-4-5/overview, read 2026-12-04: input $1,
  // output $5; the cache rates there were not in view, these are Anthropic's 1.25× / 0.1× of input.
  'claude-haiku-4-5': { input: 1, output: 5, cache_write: 1.25, cache_read: 0.1 },
  // Kept from the earlier table (Anthropic's list price, 1.25× / 0.1× of input for the cache); not
  // re-read on 2026-12-04: no Anthropic page for it came up.
  'claude-sonnet-4-5': { input: 3, output: 15, cache_write: 3.75, cache_read: 0.3 },
  // codex's default `gpt-5.5` has NO entry: OpenAI's standard price for it was not found on an
  // OpenAI page on 2026-12-04 (openai.com/api-priority-processing lists only the Priority tier,
  // $12.50 / $1.25 cached / $75 per million tokens; third-party pages disagree on the standard
  // price). Until it is added, a policy sets `budget.prices.gpt-5.5` to use `budget.max_usd`.
};

/** A model's release date at the end of its name, e.g. `-20250929` (or Vertex's `@20250929`). */
const DATE_SUFFIX = /[-@]\d{8}$/;

/**
 * The price table to use: `policyPrices` (policy `budget.prices`) merged over `DEFAULT_PRICES`,
 * a policy entry replacing the built-in one of the same model name.
 */
export function priceTable(policyPrices: Record<string, ModelPrice> = {}): Record<string, ModelPrice> {
  return { ...DEFAULT_PRICES, ...policyPrices };
}

/**
 * The price of `model`, looked up in `prices` merged over `DEFAULT_PRICES` (so a policy entry wins
 * over the built-in one of the same name; passing an already merged table is fine). The exact
 * model name first; else, when the name ends in a date (`claude-sonnet-4-5-20250929`), the longest
 * key that is a prefix of it up to a `-`/`@` (→ `claude-sonnet-4-5`). Returns null for an unknown
 * model: its cost cannot be computed and `budget.max_usd` cannot be enforced for it.
 */
export function priceFor(model: string, prices: Record<string, ModelPrice>): ModelPrice | null {
  const table = priceTable(prices);
  if (Object.hasOwn(table, model)) return table[model]!;
  if (!DATE_SUFFIX.test(model)) return null;
  let best: string | undefined;
  for (const key of Object.keys(table)) {
    if (key.length === 0 || !model.startsWith(key)) continue;
    const next = model[key.length];
    if (next !== '-' && next !== '@') continue;
    if (best === undefined || key.length > best.length) best = key;
  }
  return best === undefined ? null : table[best]!;
}

/**
 * The cost in USD of `usage` (tokens) at `price` (USD per million tokens): input, output, cache
 * writes (`cache_creation_input_tokens`) and cache reads (`cache_read_input_tokens`) each at
 * their own rate. The API's `input_tokens` excludes cached tokens, so nothing is counted twice.
 */
export function costUsd(usage: TokenUsage, price: ModelPrice): number {
  return (
    (usage.input_tokens * price.input +
      usage.output_tokens * price.output +
      usage.cache_creation_input_tokens * price.cache_write +
      usage.cache_read_input_tokens * price.cache_read) /
    1_000_000
  );
}

/**
 * The enabled roles (src/agents/backends/config.ts `roleEnabled`) whose model has no price in
 * `budget.prices` merged over {@link DEFAULT_PRICES}: their cost cannot be known, so
 * `budget.max_usd` cannot be enforced for them (specs/backends.md, "Prices").
 */
export function unpricedRoles(policy: Policy): { role: AgentRole; model: string }[] {
  return ROLES.filter((role) => roleEnabled(policy, role))
    .map((role) => ({ role, model: backendModel(policy, role) }))
    .filter(({ model }) => priceFor(model, policy.budget.prices) === null);
}
