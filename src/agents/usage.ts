/**
 * Token usage (Anthropic `usage`) and its arithmetic: one place sums, totals and prices usage for
 * the harness, the workflow and the evidence.
 */

/** Token usage summed over the model calls of an agent run (Anthropic `usage`). */
export interface TokenUsage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
}

/** Usage of one role over the run. */
export interface RoleUsage {
  role: 'implementer' | 'reviewer' | 'qa';
  turns: number;
  usage: TokenUsage;
  costUsd: number | null;
}
