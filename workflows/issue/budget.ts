/** The budget escalation: a spent budget (tokens, USD, wall time) asks a human for another one. */
import type { AgentRunSummary } from '../../src/agents/results.js';
import { totalTokens } from '../../src/agents/usage.js';
import { escalate } from './escalation.js';
import type { Run } from './run.js';
import { answerTurn, formatAmount } from './texts.js';

/** Escalates a spent budget; Continue (or free text) grants the policy's budget once more. Returns the next user turn. */
export async function budgetEscalation(run: Run, b: AgentRunSummary['budgetExhausted']): Promise<string> {
  const { state, settings: s } = run;
  const what = b?.reason === 'wall' ? 'wall time' : b?.reason === 'usd' ? 'USD' : 'tokens';
  const spent = b
    ? formatAmount(
        b.reason,
        b.reason === 'usd' ? b.spentUsd : b.reason === 'tokens' ? b.spentTokens : Date.now() - state.startedAt,
      )
    : '';
  const limit = b
    ? formatAmount(b.reason, b.reason === 'wall' ? (s.budget.maxWallMs ?? 0) * state.grants : b.limit)
    : '';
  const cost = state.costUsd !== null ? `, $${state.costUsd.toFixed(4)}` : '';
  const { reply } = await escalate(run, {
    kind: 'budget',
    question: `The issue's ${what} budget is spent (${b ? `${spent} of ${limit}` : 'limit reached'}). Grant the same budget again and continue?`,
    options: [
      { label: 'Continue with another budget of the same size', command: 'continue' },
      { label: 'Stop: end this run and move the issue to a terminal state', command: 'stop' },
    ],
    recommendation: null,
    tried: `${state.turns} model turns so far; ${totalTokens(state.usage)} tokens${cost}. The work so far is pushed to the branch.`,
  });
  state.grants++;
  if (s.budget.maxWallMs) state.deadline = Date.now() + s.budget.maxWallMs;
  return answerTurn(reply, 'Your budget ran out; a human granted more.');
}
