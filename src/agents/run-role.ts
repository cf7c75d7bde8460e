/**
 * One agent step of any role, wired from the policy: the model client (base URL and key from the
 * policy, else ANTHROPIC_BASE_URL / ANTHROPIC_API_KEY), the price table, the issue's budget, and
 * clean-up of commands a crashed earlier attempt left running. Owns that wiring; the loop itself is
 * ./harness.ts, the prompts ./roles.ts.
 */
import type { Policy } from '../config/schema.js';
import { isLoopbackHost } from '../server/http.js';
import { killOrphans, pidDirFor } from '../workspace/shell.js';
import { sandboxPolicyOf } from '../sandbox/policy.js';
import { runAgent, type AgentRunResult, type ModelClientOptions, type TurnInfo } from './harness.js';
import { priceTable } from './pricing.js';
import type { BudgetInput } from './results.js';
import type { AgentRole } from './usage.js';

/** What one role's step needs beyond the policy. */
export interface RoleRunInput {
  role: AgentRole;
  model: string;
  system: string;
  /** The first user turn (ignored when the transcript's conversation continues). */
  prompt: string;
  /** Model calls allowed in this step. */
  maxTurns: number;
  /** `max_tokens` per model call. */
  maxTokens: number;
  transcriptPath: string;
  /** A new user turn for an existing conversation (see ./resume.ts). */
  resume: { extraUserText: string } | undefined;
  /** Issue identifier, recorded in the transcript. */
  identifier: string;
  /** Absolute workspace path the tools are confined to. */
  workspace: string;
  budget: BudgetInput;
  /** Environment of the agent's commands (already scrubbed). */
  env: Record<string, string>;
  signal: AbortSignal;
  onTurn?: (info: TurnInfo) => void;
}

/** The key sent to a loopback endpoint when none is set: the SDK needs one, a local endpoint ignores it. */
export const LOCAL_ENDPOINT_KEY = 'foreman-local-endpoint';

/** The model endpoint and key a policy resolves to. */
export interface ModelCredentials {
  /** `model.base_url`, else env ANTHROPIC_BASE_URL; undefined = the SDK default (api.anthropic.com). */
  baseURL: string | undefined;
  /** `model.api_key`, else env ANTHROPIC_API_KEY, else LOCAL_ENDPOINT_KEY for a loopback endpoint. */
  apiKey: string | undefined;
  /** True when the key was set (not the placeholder). */
  keySet: boolean;
  /** True when `baseURL` is an http(s) URL on a loopback host (localhost, 127.0.0.0/8, ::1). */
  local: boolean;
}

/**
 * The endpoint and key under `policy` (`model.*`, else the environment). A loopback endpoint works
 * with no key (it gets {@link LOCAL_ENDPOINT_KEY}) or with a dummy one (specs/policy.md `model`).
 */
export function modelCredentials(policy: Policy, env: NodeJS.ProcessEnv): ModelCredentials {
  const baseURL = policy.model.base_url ?? (env.ANTHROPIC_BASE_URL || undefined);
  const key = policy.model.api_key ?? (env.ANTHROPIC_API_KEY || undefined);
  const local = baseURL !== undefined && isLoopbackUrl(baseURL);
  return { baseURL, apiKey: key ?? (local ? LOCAL_ENDPOINT_KEY : undefined), keySet: key !== undefined, local };
}

function isLoopbackUrl(url: string): boolean {
  try {
    const u = new URL(url);
    return (u.protocol === 'http:' || u.protocol === 'https:') && isLoopbackHost(u.hostname);
  } catch {
    return false;
  }
}

/** How to reach the model endpoint under `policy` (see {@link modelCredentials}). */
export function modelClientOptions(policy: Policy, env: NodeJS.ProcessEnv): ModelClientOptions {
  const { baseURL, apiKey } = modelCredentials(policy, env);
  return {
    baseURL,
    apiKey,
    timeoutMs: policy.model.timeout_ms,
    idleTimeoutMs: policy.model.idle_timeout_ms,
    maxRetries: policy.model.max_retries,
  };
}

/**
 * Runs (or continues) one role's conversation in the workspace.
 * @throws ModelError from the harness (retryable or not by its code), or the abort reason.
 */
export function runRole(policy: Policy, env: NodeJS.ProcessEnv, o: RoleRunInput): Promise<AgentRunResult> {
  const pidDir = pidDirFor(o.workspace);
  killOrphans(pidDir); // what a crashed earlier attempt left running
  return runAgent({
    role: o.role,
    pidDir,
    sandbox: sandboxPolicyOf(policy.sandbox),
    model: o.model,
    system: o.system,
    prompt: o.prompt,
    workspace: o.workspace,
    transcriptPath: o.transcriptPath,
    maxTurns: o.maxTurns,
    maxTokens: o.maxTokens,
    stream: policy.model.stream,
    client: modelClientOptions(policy, env),
    env: o.env,
    ...(o.resume ? { resume: o.resume } : {}),
    ...(o.onTurn ? { onTurn: o.onTurn } : {}),
    budget: {
      spentTokens: o.budget.spentTokens,
      spentUsd: o.budget.spentUsd,
      ...(o.budget.maxTokens !== null ? { maxTokens: o.budget.maxTokens } : {}),
      ...(o.budget.maxUsd !== null ? { maxUsd: o.budget.maxUsd } : {}),
      ...(o.budget.deadline !== null ? { deadline: o.budget.deadline } : {}),
      prices: priceTable(policy.budget.prices),
    },
    signal: o.signal,
    issueIdentifier: o.identifier,
  });
}
