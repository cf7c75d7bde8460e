/**
 * Model prices and what a model call cost: the lookup of a model's price (policy `budget.prices`
 * merged over the built-in `DEFAULT_PRICES` of src/config/schema.ts) and the USD and token
 * totals of a Messages API `usage`. Cache writes and cache reads are priced apart from plain input,
 * because they differ by an order of magnitude (0.1× to 1.25× input).
 *
 * It does not enforce budgets (src/agents/harness.ts checks them before each model call) nor
 * parse the policy (src/config/).
 */
import type { z } from 'zod';
import { DEFAULT_PRICES, type modelPriceSchema } from '../config/schema.js';
import type { TokenUsage } from './usage.js';

/** Price of one model, USD per million tokens of each usage class (policy `budget.prices.<model>`). */
export type ModelPrice = z.infer<typeof modelPriceSchema>;

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
