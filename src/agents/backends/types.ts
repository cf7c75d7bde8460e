/**
 * The contract every agent backend keeps (specs/backends.md): Foreman's own tool loop (`builtin`),
 * the Claude Code CLI (`claude-code`) and Codex's app server (`codex`). A backend runs one role's
 * step in the workspace, inside the sandbox, with its model calls going through the model
 * gateway (src/gateway/) and Foreman's `escalate` / `finish` / `submit_review` tools served to it
 * over MCP by the gateway. It reports the same {@link AgentRunResult} whatever runs underneath;
 * usage and cost come from the gateway's meter, never from the agent's own summary. Types only.
 */
import type { SandboxPolicy } from '../../sandbox/policy.js';
import type { AgentBudget, AgentRunResult } from '../harness.js';
import type { EscalateInput, Review } from '../tools.js';
import type { TokenUsage, AgentRole } from '../usage.js';
import type { RateLimits } from '../rate-limits.js';

/** Which agent runs a role: policy `roles.<role>.backend` (specs/backends.md). */
export type BackendName = 'builtin' | 'claude-code' | 'codex';

/** The outcome tools a backend's agent may call (served over MCP to the CLIs, natively to `builtin`). */
export type OutcomeCall =
  | { tool: 'finish'; summary: string }
  | { tool: 'escalate'; escalation: EscalateInput }
  | { tool: 'submit_review'; review: Review };

/** What the gateway measured for one session so far (tokens from the responses themselves). */
export interface MeteredUsage {
  /** Model calls forwarded and answered. */
  calls: number;
  /** Token usage summed over those calls. */
  usage: TokenUsage;
  /** USD for those calls; null when a model in them has no price. */
  costUsd: number | null;
  /** The latest rate-limit headers the upstream sent; absent when none. */
  rateLimits?: RateLimits;
  /** Model names seen in the responses, in first-seen order. */
  models: string[];
}

/**
 * One role step's session on the model gateway: a per-run token that only the gateway accepts
 * (the agent never sees a real key), the URLs to give the agent, the meter, the budget verdict and
 * the outcome tool calls received over MCP.
 */
export interface GatewaySession {
  /** Bearer token / API key for the agent; valid for this session only. */
  token: string;
  /**
   * Anthropic Messages base URL (no `/v1`) as reachable from where the agent runs (the session's
   * `reach`: the host's loopback, or the sandbox's forwarder).
   */
  anthropicBaseUrl: string;
  /** OpenAI Responses base URL (ends in `/v1`) as reachable from where the agent runs. */
  openaiBaseUrl: string;
  /**
   * MCP (streamable HTTP) URL serving `escalate`, `finish`, `submit_review` for this session's
   * role; requests carry `token` like model calls (`Authorization: Bearer` or `x-api-key`).
   */
  mcpUrl: string;
  /**
   * Where the gateway listens, for src/sandbox/spawn.ts `spawnSandboxed` (it binds the socket
   * directory into the sandbox and serves it on the loopback port the URLs above name).
   */
  endpoint: import('../../gateway/endpoint.js').GatewayEndpoint;
  /** Usage measured so far. */
  metered(): MeteredUsage;
  /** Set once the gateway refused a call because the budget was spent. */
  budgetExhausted(): import('../harness.js').BudgetExhaustion | null;
  /** The first outcome tool call received (later ones are refused), or null. */
  outcome(): OutcomeCall | null;
  /** Called on every forwarded exchange and outcome call (stall detection and live progress use it). */
  onActivity(listener: (event: { kind: 'model_call' | 'model_response' | 'tool_call'; at: number }) => void): void;
  /** Revokes the token and stops serving this session. */
  close(): Promise<void>;
}

/** What a backend gets for one role step (built by src/agents/run-role.ts). */
export interface BackendRunInput {
  role: AgentRole;
  /** Model name for this role (the backend's own default applies when the policy left it out). */
  model: string;
  /** Role instructions (Foreman's system prompt for the role; CLIs get it appended to theirs). */
  system: string;
  /** The first user turn (ignored when the role's session continues). */
  prompt: string;
  /** Turns allowed in this step (model calls for `builtin`, agent turns for the CLIs). */
  maxTurns: number;
  /** `max_tokens` per model call, in tokens. */
  maxTokens: number;
  /** Foreman's JSONL transcript of this role (src/agents/transcript.ts). */
  transcriptPath: string;
  /** A new user turn for a session that continues (a human's answer, review or QA feedback). */
  resume: { extraUserText: string } | undefined;
  /** Issue identifier, recorded in the transcript. */
  identifier: string;
  /** Absolute workspace path. */
  workspace: string;
  /** Environment of the agent's processes (already scrubbed: no secrets). */
  env: Record<string, string>;
  sandbox: SandboxPolicy;
  /** Where the agent's processes record their process groups (src/workspace/shell.ts `killOrphans`). */
  pidDir: string;
  /** The budget; the gateway enforces it, the backend reports it. */
  budget: AgentBudget;
  /** This step's gateway session. */
  gateway: GatewaySession;
  /** The role's backend and its options (policy `roles.<role>.backend`; src/agents/backends/config.ts). */
  settings: BackendSettings;
  /** How the built-in harness makes its model calls (policy `model`). */
  modelCalls: {
    /** Streaming (SSE) or JSON responses (policy `model.stream`). */
    stream: boolean;
    /** Time limit per model call, ms (policy `model.timeout_ms`). */
    timeoutMs: number;
    /** A response silent this long is aborted and retried, ms (policy `model.idle_timeout_ms`). */
    idleTimeoutMs: number;
    /** The real endpoint behind the gateway, named in error messages (no credentials). */
    endpointLabel: string;
  };
  /** Cancels the step: the agent process is killed and `signal.reason` thrown. */
  signal: AbortSignal;
  /** Called on progress (turns, tokens, last tool call) for heartbeats and live status. */
  onProgress?: (p: { turns: number; usage: TokenUsage; lastTool: string | null }) => void;
}

/** An agent backend: runs one role step to an {@link AgentRunResult}. */
export interface AgentBackend {
  readonly name: BackendName;
  run(input: BackendRunInput): Promise<AgentRunResult>;
}

/**
 * A role's backend as the policy resolves it (`roles.<role>.backend` and its options block, or
 * Symphony's top-level `codex` block for the implementer; specs/backends.md). Built by
 * src/agents/backends/config.ts `backendOf`. Times in ms.
 */
export type BackendSettings =
  | { name: 'builtin' }
  | {
      name: 'claude-code';
      /** Executable (PATH name or path). (Default: `claude`) */
      command: string;
      /** Extra CLI arguments appended after Foreman's own. */
      extraArgs: string[];
      /** A turn (one CLI invocation) longer than this is ended. (Default: 3600000) */
      turnTimeoutMs: number;
      /** No event from the CLI or the gateway for this long → the turn is ended and retried; 0 = off. (Default: 300000) */
      stallTimeoutMs: number;
    }
  | {
      name: 'codex';
      /** Shell command that starts the app server (Symphony `codex.command`). (Default: `codex app-server`) */
      command: string;
      /** Symphony `codex.approval_policy`, passed to thread/start and turn/start. */
      approvalPolicy: unknown;
      /** Symphony `codex.thread_sandbox`. */
      threadSandbox: unknown;
      /** Symphony `codex.turn_sandbox_policy`. */
      turnSandboxPolicy: unknown;
      /** Symphony `codex.turn_timeout_ms`. (Default: 3600000) */
      turnTimeoutMs: number;
      /** Symphony `codex.read_timeout_ms`: a JSON-RPC response slower than this fails. (Default: 5000) */
      readTimeoutMs: number;
      /** Symphony `codex.stall_timeout_ms`; 0 = off. (Default: 300000) */
      stallTimeoutMs: number;
      /** Reasoning effort passed on turn/start when set (Symphony policies often set it). */
      reasoningEffort?: string;
    };
