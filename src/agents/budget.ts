/**
 * The budget check (policy `budget`, specs/policy.md): the one rule that says whether a
 * model call may start, used by the model gateway before it forwards a call (src/gateway/) and by
 * the harness when it runs without the gateway (src/agents/harness.ts). Pure.
 */
import type { AgentBudget, BudgetExhaustion } from './harness.js';

/**
 * The first limit of `budget` reached, given this step's tokens and cost so far (cost null: a
 * model has no price, so its calls count as $0 and only spending known from earlier steps can
 * reach `maxUsd`), or undefined when a model call may start. `now` is epoch ms.
 */
export function checkBudget(
  budget: Omit<AgentBudget, 'prices'>,
  stepTokens: number,
  stepUsd: number | null,
  now: number = Date.now(),
): BudgetExhaustion | undefined {
  const spentTokens = budget.spentTokens + stepTokens;
  const spentUsd = budget.spentUsd + (stepUsd ?? 0);
  const totals = { spentTokens, spentUsd };
  if (budget.maxTokens !== undefined && spentTokens >= budget.maxTokens) {
    return { reason: 'tokens', ...totals, limit: budget.maxTokens };
  }
  if (budget.maxUsd !== undefined && spentUsd >= budget.maxUsd) {
    return { reason: 'usd', ...totals, limit: budget.maxUsd };
  }
  if (budget.deadline !== undefined && now >= budget.deadline) {
    return { reason: 'wall', ...totals, limit: budget.deadline };
  }
  return undefined;
}

/** One sentence saying which limit ran out (for the transcript and error messages). */
export function describeExhaustion(e: BudgetExhaustion): string {
  switch (e.reason) {
    case 'tokens':
      return `Budget exhausted: ${e.spentTokens} tokens spent of budget.max_tokens ${e.limit}.`;
    case 'usd':
      return `Budget exhausted: $${e.spentUsd.toFixed(4)} spent of budget.max_usd $${e.limit}.`;
    case 'wall':
      return `Budget exhausted: budget.max_wall_ms passed at ${new Date(e.limit).toISOString()}.`;
  }
}
