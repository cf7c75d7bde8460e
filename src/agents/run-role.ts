/**
 * One agent step of any role, wired from the policy: the role's backend (builtin, claude-code,
 * codex: ./backends/), a session on the process's model gateway (src/gateway/) with the upstream
 * endpoints and keys (base URL and key from the policy, else ANTHROPIC_* / OPENAI_* in the
 * environment), the price table, the budget, and clean-up of what a crashed earlier attempt
 * left running. Usage and cost are the gateway's measurement. Owns that wiring; the backends own
 * their loops, ./roles.ts the prompts.
 */
import type { Policy } from '../config/schema.js';
import { sharedGateway, type Gateway, type GatewayUpstream } from '../gateway/index.js';
import { isLoopbackHost } from '../server/http.js';
import { killOrphans, pidDirFor } from '../workspace/shell.js';
import { sandboxPolicyOf } from '../sandbox/policy.js';
import { gatewayReach } from '../sandbox/spawn.js';
import { backendOf } from './backends/config.js';
import { backendFor } from './backends/index.js';
import type { AgentRunResult, ModelClientOptions } from './harness.js';
import { priceTable } from './pricing.js';
import type { BudgetInput } from './results.js';
import type { BackendRunInput } from './backends/types.js';

/**
 * What one role's step needs beyond the policy: the backend's input (./backends/types.ts) less
 * what this module derives from the policy (sandbox, pid dir, settings, gateway session), with the
 * issue's budget as the workflow carries it.
 */
export type RoleRunInput = Pick<
  BackendRunInput,
  | 'role'
  | 'model'
  | 'system'
  | 'prompt'
  | 'maxTurns'
  | 'maxTokens'
  | 'transcriptPath'
  | 'resume'
  | 'identifier'
  | 'workspace'
  | 'env'
  | 'signal'
  | 'onProgress'
> & {
  budget: BudgetInput;
  /** The workflow run the step belongs to (for the gateway's logs). (Default: none) */
  runId?: string;
  /** The model gateway to use. (Default: this process's, src/gateway/index.ts `sharedGateway`) */
  gateway?: Gateway;
};

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

/** The OpenAI Responses endpoint and key a policy resolves to (the `codex` backend's upstream). */
export function openaiCredentials(
  policy: Policy,
  env: NodeJS.ProcessEnv,
): { baseURL: string; apiKey: string | undefined } {
  const baseURL = policy.model.openai_base_url ?? (env.OPENAI_BASE_URL || DEFAULT_OPENAI_BASE_URL);
  const key = policy.model.openai_api_key ?? (env.OPENAI_API_KEY || undefined);
  return { baseURL, apiKey: key ?? (isLoopbackUrl(baseURL) ? LOCAL_ENDPOINT_KEY : undefined) };
}

/** OpenAI's public Responses endpoint. */
export const DEFAULT_OPENAI_BASE_URL = 'https://api.openai.com/v1';
/** Anthropic's public Messages endpoint (the SDK's default). */
export const DEFAULT_ANTHROPIC_BASE_URL = 'https://api.anthropic.com';

/** Where the gateway forwards a session's calls under `policy` (`model.*`, else the environment). */
export function gatewayUpstream(policy: Policy, env: NodeJS.ProcessEnv): GatewayUpstream {
  const anthropic = modelCredentials(policy, env);
  const openai = openaiCredentials(policy, env);
  return {
    anthropic: { baseUrl: anthropic.baseURL ?? DEFAULT_ANTHROPIC_BASE_URL, apiKey: anthropic.apiKey },
    openai: { baseUrl: openai.baseURL, apiKey: openai.apiKey },
    maxRetries: policy.model.max_retries,
    timeoutMs: policy.model.timeout_ms,
  };
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
 * Runs (or continues) one role's step on its backend, through a new gateway session that is closed
 * when the step ends. The result's usage, cost and rate limits are the gateway's measurement.
 * @throws ModelError from the backend (retryable or not by its code), ForemanError
 *   `backend_unavailable`, or the abort reason.
 */
export async function runRole(policy: Policy, env: NodeJS.ProcessEnv, o: RoleRunInput): Promise<AgentRunResult> {
  const pidDir = pidDirFor(o.workspace);
  killOrphans(pidDir); // what a crashed earlier attempt left running
  const settings = backendOf(policy, o.role);
  const backend = backendFor(settings.name);
  const sandbox = sandboxPolicyOf(policy.sandbox);
  const gateway = o.gateway ?? (await sharedGateway());
  const upstream = gatewayUpstream(policy, env);
  const budget = {
    spentTokens: o.budget.spentTokens,
    spentUsd: o.budget.spentUsd,
    ...(o.budget.maxTokens !== null ? { maxTokens: o.budget.maxTokens } : {}),
    ...(o.budget.maxUsd !== null ? { maxUsd: o.budget.maxUsd } : {}),
    ...(o.budget.deadline !== null ? { deadline: o.budget.deadline } : {}),
    prices: priceTable(policy.budget.prices),
  };
  const session = await gateway.openSession({
    identifier: o.identifier,
    role: o.role,
    runId: o.runId ?? '',
    budget,
    transcriptPath: o.transcriptPath,
    upstream,
    // The built-in harness runs in Foreman's process; a CLI runs in the sandbox.
    reach: settings.name === 'builtin' ? 'host' : gatewayReach(sandbox),
  });
  try {
    const result = await backend.run({
      role: o.role,
      model: o.model,
      system: o.system,
      prompt: o.prompt,
      maxTurns: o.maxTurns,
      maxTokens: o.maxTokens,
      transcriptPath: o.transcriptPath,
      resume: o.resume,
      identifier: o.identifier,
      workspace: o.workspace,
      env: o.env,
      sandbox,
      pidDir,
      budget,
      gateway: session,
      settings,
      modelCalls: {
        stream: policy.model.stream,
        timeoutMs: policy.model.timeout_ms,
        idleTimeoutMs: policy.model.idle_timeout_ms,
        endpointLabel: settings.name === 'codex' ? upstream.openai.baseUrl : upstream.anthropic.baseUrl,
      },
      signal: o.signal,
      ...(o.onProgress ? { onProgress: o.onProgress } : {}),
    });
    const metered = session.metered();
    const rateLimits = metered.rateLimits ?? result.rateLimits;
    return {
      ...result,
      usage: metered.usage,
      costUsd: metered.costUsd,
      ...(rateLimits ? { rateLimits } : {}),
    };
  } finally {
    await session.close();
  }
}
