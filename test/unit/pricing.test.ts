/**
 * Model prices: lookup by exact name and dated name, policy entries over the built-in table, and
 * the cost of each usage class at its own rate.
 */
import { describe, expect, it } from 'vitest';
import { costUsd, DEFAULT_PRICES, priceFor, priceTable, type ModelPrice } from '../../src/agents/pricing.js';
import { totalTokens } from '../../src/agents/usage.js';

const usage = {
  input_tokens: 1000,
  output_tokens: 200,
  cache_creation_input_tokens: 3000,
  cache_read_input_tokens: 40_000,
};
const custom: ModelPrice = { input: 2, output: 8, cache_write: 2.5, cache_read: 0.2 };

describe('priceFor', () => {
  it('finds a built-in model by its exact name', () => {
    expect(priceFor('claude-sonnet-4-5', {})).toEqual(DEFAULT_PRICES['claude-sonnet-4-5']);
  });

  it('matches a dated model name to the longest key it starts with', () => {
    const prices = { 'claude-sonnet-4': custom };
    expect(priceFor('claude-sonnet-4-5-20250929', prices)).toEqual(DEFAULT_PRICES['claude-sonnet-4-5']);
    expect(priceFor('claude-sonnet-4-20250514', prices)).toEqual(custom);
    expect(priceFor('claude-haiku-4-5@20251001', {})).toEqual(DEFAULT_PRICES['claude-haiku-4-5']);
  });

  it('does not prefix-match names without a date, nor keys cut mid-word', () => {
    expect(priceFor('claude-sonnet-4-5-preview', {})).toBeNull();
    expect(priceFor('claude-sonnet-4-50-20250929', { 'claude-sonnet-4-5': custom })).toBeNull();
  });

  it('lets policy prices override and add models', () => {
    expect(priceFor('claude-sonnet-4-5', { 'claude-sonnet-4-5': custom })).toEqual(custom);
    expect(priceFor('claude-sonnet-4-5-20250929', { 'claude-sonnet-4-5': custom })).toEqual(custom);
    expect(priceFor('local-llm', { 'local-llm': custom })).toEqual(custom);
    // The other built-ins stay.
    expect(priceFor('claude-opus-4-5', { 'claude-sonnet-4-5': custom })).toEqual(DEFAULT_PRICES['claude-opus-4-5']);
  });

  it('gives the same answer for a raw policy table and a merged one', () => {
    const policy = { 'claude-opus-4-5': custom };
    for (const model of ['claude-opus-4-5', 'claude-opus-4-5-20251101', 'claude-haiku-4-5', 'nope']) {
      expect(priceFor(model, priceTable(policy))).toEqual(priceFor(model, policy));
    }
  });

  it('returns null for an unknown model', () => {
    expect(priceFor('claude-test', {})).toBeNull();
    expect(priceFor('gpt-x-20250101', {})).toBeNull();
  });
});

describe('costUsd', () => {
  it('prices input, output, cache writes and cache reads each at their own rate', () => {
    const price: ModelPrice = { input: 3, output: 15, cache_write: 3.75, cache_read: 0.3 };
    // 1000×3 + 200×15 + 3000×3.75 + 40000×0.3 = 3000 + 3000 + 11250 + 12000 per million.
    expect(costUsd(usage, price)).toBeCloseTo(0.02925, 10);
    const only = (field: keyof ModelPrice): ModelPrice => ({
      input: 0,
      output: 0,
      cache_write: 0,
      cache_read: 0,
      [field]: 1,
    });
    expect(costUsd(usage, only('input'))).toBeCloseTo(0.001, 12);
    expect(costUsd(usage, only('output'))).toBeCloseTo(0.0002, 12);
    expect(costUsd(usage, only('cache_write'))).toBeCloseTo(0.003, 12);
    expect(costUsd(usage, only('cache_read'))).toBeCloseTo(0.04, 12);
  });

  it('is zero for no usage', () => {
    const none = { input_tokens: 0, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };
    expect(costUsd(none, custom)).toBe(0);
  });
});

describe('totalTokens', () => {
  it('sums all four usage classes', () => {
    expect(totalTokens(usage)).toBe(44_200);
  });
});
