/**
 * Token usage (Anthropic Messages API `usage`) and its arithmetic: the one place that builds, adds
 * and totals usage, for the harness (per model call), the IssueWorkflow (per role and run) and the
 * evidence. Prices live in ./pricing.ts.
 *
 * Workflow-safe: pure, type imports only, so workflow code may import it (the lint rule in
 * eslint.config.js allows exactly the modules listed there).
 */
import type { BackendName } from './backends/types.js';

/** Token usage summed over model calls (Anthropic `usage`), in tokens. */
export interface TokenUsage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
}

/** The agent roles of a run. */
export type AgentRole = 'implementer' | 'reviewer' | 'qa';

/** Usage of one role over the run. */
export interface RoleUsage {
  role: AgentRole;
  /** Model calls. */
  turns: number;
  usage: TokenUsage;
  /** USD; null when a model of the role had no price. */
  costUsd: number | null;
  /** The backend that ran the role's latest step (specs/backends.md); absent in runs before it was recorded. */
  backend?: BackendName;
  /** The model of the role's latest step; absent in runs before it was recorded. */
  model?: string;
}

/** Which backend and model ran an agent step (specs/backends.md); every agent step's result carries it. */
export interface StepAgent {
  /** Absent in results recorded before it was added. */
  backend?: BackendName;
  /** The model the step ran with (from the policy now; the gateway may report the one it metered). */
  model?: string;
}

/** Usage of nothing. */
export function emptyUsage(): TokenUsage {
  return { input_tokens: 0, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };
}

/** Adds `more` into `total` (mutates `total`). */
export function addUsage(total: TokenUsage, more: TokenUsage): void {
  total.input_tokens += more.input_tokens;
  total.output_tokens += more.output_tokens;
  total.cache_creation_input_tokens += more.cache_creation_input_tokens;
  total.cache_read_input_tokens += more.cache_read_input_tokens;
}

/** All tokens of `usage`: input + output + cache writes + cache reads (what `budget.max_tokens` counts). */
export function totalTokens(usage: TokenUsage): number {
  return usage.input_tokens + usage.output_tokens + usage.cache_creation_input_tokens + usage.cache_read_input_tokens;
}

/** Adds two costs in USD; unknown (null) stays unknown. */
export function addCost(a: number | null, b: number | null): number | null {
  return a === null || b === null ? null : a + b;
}
