/**
 * What one agent step (implementer, reviewer) reports to the IssueWorkflow, and the budget it is
 * given. Types only. (The QA agent's report is in src/qa/agent-checks.ts.)
 */
import type { RateLimits } from './rate-limits.js';
import type { StepAgent, TokenUsage } from './usage.js';
import type { Finding } from '../review/findings.js';

/** Which budget limit ended an agent step and the totals then (tokens; USD; limit in tokens, USD or epoch ms); null: none. */
export type BudgetExhausted = {
  reason: 'tokens' | 'usd' | 'wall';
  spentTokens: number;
  spentUsd: number;
  limit: number;
} | null;

/** What one implementer activity reports, with the backend and model that ran it. */
export interface AgentRunSummary extends StepAgent {
  outcome: 'finished' | 'escalated' | 'max_turns' | 'budget_exhausted';
  summary: string | null;
  escalation: { question: string; options?: string[]; recommendation?: string } | null;
  budgetExhausted: BudgetExhausted;
  turns: number;
  toolCalls: number;
  usage: TokenUsage;
  /** This run's cost in USD; null when the model has no price. */
  costUsd: number | null;
  transcriptPath: string;
  /** The latest rate-limit snapshot the model endpoint sent; null when none. */
  rateLimits?: RateLimits | null;
}

/** Budget state the implementer checks before every model call. */
export interface BudgetInput {
  spentTokens: number;
  spentUsd: number;
  maxTokens: number | null;
  maxUsd: number | null;
  /** Epoch ms after which no model call starts; null: no wall budget. */
  deadline: number | null;
}

/** What one reviewer activity reports, with the backend and model that ran it. */
export interface ReviewResult extends StepAgent {
  /** Set when the budget ran out before a verdict (the verdict is then `escalate`). */
  budgetExhausted: BudgetExhausted;
  verdict: 'approve' | 'request_changes' | 'escalate';
  findings: Finding[];
  /** The reviewer's own words (model-written). */
  summary: string | null;
  turns: number;
  usage: TokenUsage;
  costUsd: number | null;
  transcriptPath: string;
  /** The latest rate-limit snapshot the model endpoint sent; null when none. */
  rateLimits?: RateLimits | null;
}
