/**
 * The agent backends by name (specs/backends.md): `builtin` (Foreman's own tool loop,
 * src/agents/harness.ts, its model calls through the gateway like every backend), `claude-code`
 * and `codex`. src/agents/run-role.ts picks one per role step.
 */
import { ForemanError } from '../../errors.js';
import { runAgent } from '../harness.js';
import { claudeCodeBackend } from './claude-code/index.js';
import { codexBackend } from './codex/index.js';
import type { AgentBackend, BackendName } from './types.js';

/**
 * Foreman's own tool loop: the harness's client points at the session's Anthropic URL with the
 * session token; the gateway retries upstream failures (so the client does not) and enforces the
 * budget (a refused call ends the step `budget_exhausted`); usage is metered by the gateway.
 */
export const builtinBackend: AgentBackend = {
  name: 'builtin',
  run(input) {
    return runAgent({
      role: input.role,
      pidDir: input.pidDir,
      sandbox: input.sandbox,
      model: input.model,
      system: input.system,
      prompt: input.prompt,
      workspace: input.workspace,
      transcriptPath: input.transcriptPath,
      maxTurns: input.maxTurns,
      maxTokens: input.maxTokens,
      stream: input.modelCalls.stream,
      client: {
        baseURL: input.gateway.anthropicBaseUrl,
        apiKey: input.gateway.token,
        timeoutMs: input.modelCalls.timeoutMs,
        idleTimeoutMs: input.modelCalls.idleTimeoutMs,
        maxRetries: 0,
        displayBaseURL: input.modelCalls.endpointLabel,
      },
      env: input.env,
      ...(input.resume ? { resume: input.resume } : {}),
      ...(input.onProgress
        ? {
            onTurn: (t) => input.onProgress!({ turns: t.turn, usage: t.usage, lastTool: t.lastTool }),
          }
        : {}),
      // Prices only: the gateway enforces the limits (budgetRefused reports its verdict).
      budget: { spentTokens: 0, spentUsd: 0, prices: input.budget.prices },
      budgetRefused: () => input.gateway.budgetExhausted(),
      signal: input.signal,
      issueIdentifier: input.identifier,
    });
  },
};

/** The registered backends; the CLI backends add themselves here. */
const BACKENDS: Partial<Record<BackendName, AgentBackend>> = {
  builtin: builtinBackend,
  'claude-code': claudeCodeBackend,
  codex: codexBackend,
};

/**
 * The backend named `name`.
 * @throws ForemanError `backend_unavailable` (not retryable) when this build has no such backend.
 */
export function backendFor(name: BackendName): AgentBackend {
  const backend = BACKENDS[name];
  if (!backend) {
    throw new ForemanError(
      'backend_unavailable',
      `The agent backend '${name}' is not available in this build of Foreman.`,
      {
        retryable: false,
      },
    );
  }
  return backend;
}
