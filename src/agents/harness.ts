/**
 * The agent harness: Foreman's own tool-use loop over the Anthropic Messages API. Each call sends
 * the full history (no server-side threads), so any Messages-API-compatible endpoint works,
 * streaming or not. Every message goes to the JSONL transcript as it happens, which is what lets a
 * run resume after an escalation, a crash or a retried activity.
 *
 * It owns the loop, outcome detection (finish / escalate / submit_review / max turns / budget),
 * usage and cost totals, the per-issue budget check before each model call and the mapping of SDK
 * errors to `ModelError`. It does not own the tools (src/agents/tools.ts), the prompts
 * (src/agents/roles.ts), prices (src/agents/pricing.ts), where transcripts live, or what happens
 * once a budget runs out (the caller escalates: never a silent kill).
 * The API key goes to the SDK only: never to the transcript, tool output or error messages.
 */
import { stat } from 'node:fs/promises';
import Anthropic, {
  APIConnectionError,
  APIError,
  APIUserAbortError,
  AnthropicError,
  AuthenticationError,
  BadRequestError,
  InternalServerError,
  PermissionDeniedError,
  RateLimitError,
} from '@anthropic-ai/sdk';
import type {
  ContentBlock,
  ContentBlockParam,
  Message,
  MessageCreateParamsNonStreaming,
  MessageParam,
  ToolResultBlockParam,
} from '@anthropic-ai/sdk/resources/messages';
import { ForemanError, hasCode, ModelError, ToolError } from '../errors.js';
import { createRedactor, describeEndpoint, redact as redactKnown } from '../redact.js';
import { GATEWAY_ERROR_HEADER } from '../gateway/endpoint.js';
import { idleTimeoutFetch, type FetchLike } from './idle-fetch.js';
import { rateLimitsFromHeaders, retryAfterMs, type RateLimits } from './rate-limits.js';
import { costUsd, priceFor, type ModelPrice } from './pricing.js';
import { checkBudget, describeExhaustion } from './budget.js';
import type { SandboxPolicy } from '../sandbox/policy.js';
import { createToolbox, type EscalateInput, type Review, type ToolControl, type Toolbox } from './tools.js';
import {
  currentRun,
  openTranscript,
  readTranscript,
  rebuildConversation,
  type Transcript,
  type TranscriptEntry,
} from './transcript.js';
import { addUsage, emptyUsage, totalTokens, type AgentRole, type TokenUsage } from './usage.js';

/** How to reach the model endpoint. */
export interface ModelClientOptions {
  /** Endpoint without `/v1`. (Default: ANTHROPIC_BASE_URL, else https://api.anthropic.com) */
  baseURL?: string;
  /** API key. (Default: ANTHROPIC_API_KEY, read by the SDK) */
  apiKey?: string;
  /** Per-request timeout in ms. (Default: the SDK's, 600000) */
  timeoutMs?: number;
  /** SDK retries of 408/409/429/5xx and connection errors. (Default: 2) */
  maxRetries?: number;
  /** Abort and retry a response that sends no bytes for this long, ms. (Default: 60000) */
  idleTimeoutMs?: number;
  /**
   * The endpoint error messages name, when `baseURL` is the model gateway in front of it
   * (src/gateway/). (Default: `baseURL`)
   */
  displayBaseURL?: string;
}

/** What {@link runAgent} reports after each model response (Foreman heartbeats here). */
export interface TurnInfo {
  /** Model calls made so far in this run (1-based). */
  turn: number;
  /** Usage summed over this run so far, in tokens. */
  usage: TokenUsage;
  /** The response's `stop_reason`. */
  stopReason: string | null;
  /** Tool calls executed so far in this run. */
  toolCalls: number;
  /** Name of the last tool the model called in this turn; null when it called none. */
  lastTool: string | null;
}

/**
 * The issue's budget (policy `budget`), checked before every model call of a run: spent-before
 * plus this run's spending against each limit. A limit left out is not enforced.
 */
export interface AgentBudget {
  /** Tokens (all four usage classes) already spent on this issue before this run. */
  spentTokens: number;
  /** USD already spent on this issue before this run (0 when unknown). */
  spentUsd: number;
  /** Token limit of the issue, all four usage classes (policy `budget.max_tokens`). */
  maxTokens?: number;
  /** USD limit of the issue (policy `budget.max_usd`); a model without a price adds $0, so only `spentUsd` can reach it. */
  maxUsd?: number;
  /** Epoch ms after which no model call may start (issue start + budget.max_wall_ms). */
  deadline?: number;
  /** Price table (policy merged over defaults, see `priceTable`), USD per million tokens. */
  prices: Record<string, ModelPrice>;
}

/** Which budget limit ended a run, and the totals at that point. */
export interface BudgetExhaustion {
  /** `tokens` (`maxTokens`), `usd` (`maxUsd`) or `wall` (`deadline`). */
  reason: 'tokens' | 'usd' | 'wall';
  /** Tokens spent on the issue, including this run. */
  spentTokens: number;
  /** USD spent on the issue, including this run (this run counted as 0 when the model has no price). */
  spentUsd: number;
  /** The limit reached: tokens, USD, or for `wall` the deadline in epoch ms. */
  limit: number;
}

/** Options of {@link runAgent}. */
export interface AgentRunOptions {
  role: AgentRole;
  /** Model name, e.g. `claude-sonnet-4-5`. */
  model: string;
  /** System prompt (sent as one block with `cache_control: ephemeral`). */
  system: string;
  /** The first user turn (ignored when an existing conversation is continued). */
  prompt: string;
  /** Workspace root the tools are confined to. */
  workspace: string;
  /** JSONL transcript file (created with its parent directories). */
  transcriptPath: string;
  /** Model calls allowed in this invocation; then the outcome is `max_turns`. */
  maxTurns: number;
  /** `max_tokens` of each model call, in tokens. */
  maxTokens: number;
  /** Use the streaming endpoint (SSE) instead of one JSON response. */
  stream: boolean;
  client: ModelClientOptions;
  /** Environment for `run_command` (build it with `scrubbedEnv`). */
  env: Record<string, string>;
  /**
   * Continue the transcript's conversation with a new user turn (e.g. a human's answer or review
   * feedback). Without a transcript, the text is added to the first user turn instead, so the
   * answer is not lost when the run moved to a host without the file.
   */
  resume?: { extraUserText: string };
  /** Where the agent's commands record their process groups (shell.ts `killOrphans`). (Default: not recorded) */
  pidDir?: string;
  /** The sandbox `run_command` runs in (policy `sandbox`). (Default: bwrap, no network) */
  sandbox?: SandboxPolicy;
  /** Called after each model response; an exception from it ends the run. */
  onTurn?: (info: TurnInfo) => void;
  /** Cancels the run: an in-flight model call or command is aborted and `signal.reason` thrown. */
  signal?: AbortSignal;
  /** Issue identifier, recorded in the transcript (e.g. `DEMO-1`). */
  issueIdentifier: string;
  /** Per-issue limits checked before every model call. (Default: none = unlimited) */
  budget?: AgentBudget;
  /**
   * The model gateway's budget verdict (src/gateway/, which enforces the budget when the harness
   * runs behind it): when a model call fails and this returns a limit, the outcome is
   * `budget_exhausted` instead of an error. (Default: none)
   */
  budgetRefused?: () => BudgetExhaustion | null;
}

/** How a run ended. */
export type AgentOutcome = 'finished' | 'escalated' | 'review_submitted' | 'max_turns' | 'budget_exhausted';

/** What {@link runAgent} returns. */
export interface AgentRunResult {
  outcome: AgentOutcome;
  /** The `finish` summary. */
  summary?: string;
  /** The `escalate` call, when the outcome is `escalated`. */
  escalation?: EscalateInput;
  /** The validated `submit_review` call, when the outcome is `review_submitted`. */
  review?: Review;
  /** Model calls made in this invocation. */
  turns: number;
  /** Token usage summed over this invocation's model calls. */
  usage: TokenUsage;
  transcriptPath: string;
  /** Tool calls executed in this invocation (including failed ones). */
  toolCalls: number;
  /** USD cost of this invocation's model calls; null when the model has no price. */
  costUsd: number | null;
  /** Which limit ran out, when the outcome is `budget_exhausted`. */
  budgetExhausted?: BudgetExhaustion;
  /** The latest rate-limit headers the model endpoint sent in this invocation; absent when none. */
  rateLimits?: RateLimits;
}

function usageOf(message: Message): TokenUsage {
  const u = message.usage as Partial<Record<keyof TokenUsage, number | null>> | undefined;
  const n = (v: number | null | undefined): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
  return {
    input_tokens: n(u?.input_tokens),
    output_tokens: n(u?.output_tokens),
    cache_creation_input_tokens: n(u?.cache_creation_input_tokens),
    cache_read_input_tokens: n(u?.cache_read_input_tokens),
  };
}

/** A response block as a request param: drops response-only fields (e.g. `citations: null`). */
function toParam(block: ContentBlock): ContentBlockParam {
  switch (block.type) {
    case 'text':
      return { type: 'text', text: block.text };
    case 'tool_use':
      return { type: 'tool_use', id: block.id, name: block.name, input: block.input };
    case 'thinking':
      return { type: 'thinking', thinking: block.thinking, signature: block.signature };
    case 'redacted_thinking':
      return { type: 'redacted_thinking', data: block.data };
    default:
      return JSON.parse(JSON.stringify(block)) as ContentBlockParam;
  }
}

/**
 * Maps an SDK error to `ModelError` (codes from src/errors.ts): 401/403 → `model_unauthorized`,
 * 429 → `model_rate_limited`, 5xx/529 → `model_overloaded`, connection errors and timeouts (and
 * the model gateway's `upstream_unreachable` answer) → `model_unreachable`, other 4xx →
 * `model_bad_request`. A missing credential is
 * `model_unauthorized`. Other errors are returned unchanged. Messages name the base URL, never the key.
 */
export function toModelError(err: unknown, baseURL: string, redact: (text: string) => string = (t) => t): unknown {
  if (err instanceof ModelError) return err;
  const stalled = stalledCause(err);
  if (stalled) return stalled;
  const where = describeEndpoint(baseURL);
  // Trailing periods trimmed: the detail sits mid-sentence in the messages below.
  const detail = (e: Error): string => redact(e.message).trim().replace(/\.+$/, '');
  if (err instanceof APIError && err.headers?.get(GATEWAY_ERROR_HEADER) === 'upstream_unreachable') {
    return new ModelError(
      'model_unreachable',
      `Could not reach the model endpoint ${where} (through Foreman's model gateway). Check ANTHROPIC_BASE_URL / model.base_url and the network.`,
      { cause: err },
    );
  }
  if (err instanceof AuthenticationError || err instanceof PermissionDeniedError) {
    return new ModelError(
      'model_unauthorized',
      `The model endpoint ${where} rejected the credentials (${err.status}: ${detail(err)}). Set ANTHROPIC_API_KEY or model.api_key.`,
      { cause: err, retryable: false },
    );
  }
  if (err instanceof RateLimitError) {
    return new ModelError('model_rate_limited', `The model endpoint ${where} is rate limiting (429: ${detail(err)}).`, {
      cause: err,
      ...retryAfter(err.headers),
    });
  }
  if (err instanceof InternalServerError) {
    return new ModelError(
      'model_overloaded',
      `The model endpoint ${where} failed or is overloaded (${err.status}: ${detail(err)}).`,
      { cause: err, ...retryAfter(err.headers) },
    );
  }
  if (err instanceof APIConnectionError) {
    return new ModelError(
      'model_unreachable',
      `Could not reach the model endpoint ${where}: ${detail(err)}. Check ANTHROPIC_BASE_URL / model.base_url and the network.`,
      { cause: err },
    );
  }
  if (err instanceof BadRequestError) {
    return new ModelError(
      'model_bad_request',
      `The model endpoint ${where} rejected the request (400: ${detail(err)}).`,
      {
        cause: err,
        retryable: false,
      },
    );
  }
  if (err instanceof APIError && !(err instanceof APIUserAbortError)) {
    const status = err.status;
    if (status === undefined) {
      // An `error` event in the middle of a stream: classify by the error type it carries.
      const code =
        err.type === 'rate_limit_error'
          ? 'model_rate_limited'
          : err.type === 'overloaded_error' || err.type === 'api_error'
            ? 'model_overloaded'
            : err.type === 'authentication_error' || err.type === 'permission_error'
              ? 'model_unauthorized'
              : err.type === 'invalid_request_error'
                ? 'model_bad_request'
                : 'model_unreachable';
      const retryable = code !== 'model_unauthorized' && code !== 'model_bad_request';
      return new ModelError(code, `The model endpoint ${where} ended the stream with an error: ${detail(err)}.`, {
        cause: err,
        retryable,
      });
    }
    if (status === 408 || status === 409 || status >= 500) {
      return new ModelError('model_overloaded', `The model endpoint ${where} failed (${status}: ${detail(err)}).`, {
        cause: err,
      });
    }
    return new ModelError(
      'model_bad_request',
      `The model endpoint ${where} rejected the request (${status}: ${detail(err)}).`,
      {
        cause: err,
        retryable: false,
      },
    );
  }
  if (err instanceof Error && /could not resolve authentication|api ?key|credential/i.test(err.message)) {
    return new ModelError(
      'model_unauthorized',
      `No credentials for the model endpoint ${where}. Set ANTHROPIC_API_KEY or model.api_key.`,
      { cause: err, retryable: false },
    );
  }
  if (err instanceof AnthropicError && /streaming is required/i.test(err.message)) {
    return new ModelError(
      'model_bad_request',
      `Non-streaming calls with this max_tokens may exceed 10 minutes; set model.stream: true or model.timeout_ms.`,
      { cause: err, retryable: false },
    );
  }
  if (err instanceof AnthropicError && !(err instanceof APIUserAbortError)) {
    return new ModelError('model_unreachable', `The model call to ${where} failed: ${detail(err)}.`, { cause: err });
  }
  return err;
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new ForemanError('agent_aborted', 'The agent run was cancelled.', { retryable: true });
}

function nudgeText(toolbox: Toolbox, stopReason: string | null): string {
  const names = toolbox.names as readonly string[];
  const end = names.includes('submit_review')
    ? 'When your review is complete, call submit_review with your verdict and findings.'
    : names.includes('escalate')
      ? 'When the work is done, call finish with a summary; if you need a human decision, call escalate.'
      : 'When you are done, call finish with a summary.';
  const why =
    stopReason === 'max_tokens'
      ? 'Your last response was cut off at max_tokens; keep responses shorter.'
      : 'You ended your turn without calling a tool.';
  return `${why} Continue the task using the tools. ${end}`;
}

/** The request's copy of the conversation, with a cache breakpoint on the newest block. */
function withCacheBreakpoint(messages: MessageParam[]): MessageParam[] {
  const last = messages.at(-1);
  if (!last || typeof last.content === 'string' || last.content.length === 0) return messages;
  const blocks = [...last.content];
  const tail = blocks.at(-1)!;
  if (tail.type !== 'text' && tail.type !== 'tool_result') return messages;
  blocks[blocks.length - 1] = { ...tail, cache_control: { type: 'ephemeral' } };
  return [...messages.slice(0, -1), { ...last, content: blocks } as MessageParam];
}

async function readIfExists(path: string): Promise<TranscriptEntry[]> {
  const exists = await stat(path).then(
    () => true,
    () => false,
  );
  return exists ? readTranscript(path) : [];
}

/** True when the transcript's current run ended with an outcome (not an error, not a crash). */
function endedCleanly(entries: TranscriptEntry[]): boolean {
  const last = currentRun(entries)
    .filter((e) => e.type !== 'usage' && e.type !== 'exchange')
    .at(-1);
  return last?.type === 'end' && last.outcome !== 'error';
}

function now(): string {
  return new Date().toISOString();
}

/**
 * Runs one agent to an outcome: calls the model with the full history, executes the tools it
 * asks for (in order, results in one user message; a failing tool becomes an `is_error` result),
 * and stops on `finish` (→ `finished`), `escalate` (→ `escalated`), a valid `submit_review`
 * (→ `review_submitted`) or after `maxTurns` model calls (→ `max_turns`). A response without tool
 * calls gets a user turn asking to continue.
 *
 * Budget (`opts.budget`, policy `budget`): before every model call, the issue's tokens, USD and
 * wall time so far are checked against their limits; when one is reached, no call is made and the
 * outcome is `budget_exhausted` with `budgetExhausted` saying which, for the caller to escalate.
 * The conversation then ends with a complete user turn, so a later `resume` with a larger budget
 * continues it.
 *
 * Transcript: an existing conversation is continued when `resume` is given, or when the last run
 * in the file did not end cleanly (a crash or a model error), from its last complete state;
 * otherwise a new run starts in the same file.
 *
 * Throws `ModelError` (see {@link toModelError}) when the model call fails after the SDK's
 * retries; `signal.reason` when aborted; `ForemanError` `transcript_invalid` for a corrupt file.
 */
export async function runAgent(opts: AgentRunOptions): Promise<AgentRunResult> {
  const apiKey = opts.client.apiKey || undefined;
  // Text bound for the model or disk loses the API key, credential-named env values and URL credentials.
  // The process's redactor adds the policy's secrets and every token shape (src/redact.ts).
  const local = createRedactor({ secrets: [apiKey ?? process.env.ANTHROPIC_API_KEY], env: process.env });
  const redact = (text: string): string => redactKnown(local(text));
  const fallbackBase = opts.client.baseURL || process.env.ANTHROPIC_BASE_URL || 'https://api.anthropic.com';
  const toolbox = createToolbox(opts.role, {
    workspace: opts.workspace,
    env: opts.env,
    ...(opts.pidDir ? { pidDir: opts.pidDir } : {}),
    ...(opts.sandbox ? { sandbox: opts.sandbox } : {}),
  });
  let rateLimits: RateLimits | undefined;
  const client = createClient(opts.client, apiKey, fallbackBase, redact, (r) => (rateLimits = r));
  const baseURL = opts.client.displayBaseURL ?? client.baseURL;

  const prior = await readIfExists(opts.transcriptPath);
  const transcript = await openTranscript(opts.transcriptPath);
  const messages: MessageParam[] = [];

  const appendMessage = async (role: 'user' | 'assistant', content: ContentBlockParam[]): Promise<void> => {
    const last = messages.at(-1);
    if (last && last.role === role && Array.isArray(last.content)) last.content = [...last.content, ...content];
    else messages.push({ role, content });
    await transcript.append({ type: 'message', at: now(), message: { role, content } });
  };

  const previous = rebuildConversation(prior);
  if (previous.length > 0 && (opts.resume || !endedCleanly(prior))) {
    messages.push(...previous);
    if (opts.resume) await appendMessage('user', [{ type: 'text', text: opts.resume.extraUserText }]);
  } else {
    await transcript.append({
      type: 'start',
      at: now(),
      role: opts.role,
      model: opts.model,
      issue: opts.issueIdentifier,
      system: opts.system,
      tools: [...toolbox.names],
    });
    const first: ContentBlockParam[] = [{ type: 'text', text: opts.prompt }];
    if (opts.resume) first.push({ type: 'text', text: opts.resume.extraUserText });
    await appendMessage('user', first);
  }
  if (messages.at(-1)?.role === 'assistant') {
    await appendMessage('user', [{ type: 'text', text: nudgeText(toolbox, null) }]);
  }

  const usage = emptyUsage();
  let turns = 0;
  let toolCalls = 0;
  const price = priceFor(opts.model, opts.budget?.prices ?? {});
  const runCost = (): number | null => (price ? costUsd(usage, price) : null);

  const end = async (
    outcome: AgentOutcome,
    extra: Pick<AgentRunResult, 'summary' | 'escalation' | 'review' | 'budgetExhausted'> = {},
    summary?: string,
  ): Promise<AgentRunResult> => {
    await transcript.append({ type: 'end', at: now(), outcome, ...(summary ? { summary } : {}) });
    return {
      outcome,
      ...extra,
      turns,
      usage: { ...usage },
      transcriptPath: opts.transcriptPath,
      toolCalls,
      costUsd: runCost(),
      ...(rateLimits ? { rateLimits } : {}),
    };
  };

  while (turns < opts.maxTurns) {
    if (opts.signal?.aborted) throw abortReason(opts.signal);
    // Checked here, with the conversation ending in a complete user turn, so a resume continues it.
    const exhausted = opts.budget ? checkBudget(opts.budget, totalTokens(usage), runCost()) : undefined;
    if (exhausted) return end('budget_exhausted', { budgetExhausted: exhausted }, describeExhaustion(exhausted));
    let response: Message;
    try {
      response = await callModel(client, opts, toolbox, messages);
    } catch (err) {
      if (opts.signal?.aborted) throw abortReason(opts.signal);
      const refused = opts.budgetRefused?.();
      if (refused) return end('budget_exhausted', { budgetExhausted: refused }, describeExhaustion(refused));
      throw await endWithError(transcript, modelFailure(err, baseURL, redact, rateLimits), redact);
    }
    turns++;
    const callUsage = usageOf(response);
    addUsage(usage, callUsage);
    const content = (response.content ?? []).map(toParam);
    if (content.length === 0) content.push({ type: 'text', text: '(empty response)' });
    await appendMessage('assistant', content);
    await transcript.append({ type: 'usage', at: now(), usage: callUsage });
    const toolUses = content.filter(
      (b): b is Extract<ContentBlockParam, { type: 'tool_use' }> => b.type === 'tool_use',
    );
    const lastTool = toolUses.at(-1)?.name ?? null;
    opts.onTurn?.({ turn: turns, usage: { ...usage }, stopReason: response.stop_reason ?? null, toolCalls, lastTool });
    if (toolUses.length === 0) {
      await appendMessage('user', [{ type: 'text', text: nudgeText(toolbox, response.stop_reason ?? null) }]);
      continue;
    }

    const { results, control, calls } = await executeToolUses(toolbox, toolUses, redact, opts.signal);
    toolCalls += calls;
    await appendMessage('user', results);

    if (control?.kind === 'finish') return end('finished', { summary: control.summary }, control.summary);
    if (control?.kind === 'escalate') {
      return end('escalated', { escalation: control.escalation }, `Escalated: ${control.escalation.question}`);
    }
    if (control?.kind === 'review') {
      return end('review_submitted', { review: control.review }, `Review: ${control.review.verdict}`);
    }
  }
  return end('max_turns');
}

/**
 * The Anthropic SDK client for a run; a bad option is a ModelError (see {@link toModelError}).
 * `onRateLimits` gets the rate-limit headers of every response that carries them.
 */
function createClient(
  o: AgentRunOptions['client'],
  apiKey: string | undefined,
  fallbackBase: string,
  redact: (text: string) => string,
  onRateLimits: (r: RateLimits) => void,
): Anthropic {
  try {
    return new Anthropic({
      apiKey,
      baseURL: o.baseURL || undefined,
      maxRetries: o.maxRetries,
      timeout: o.timeoutMs,
      fetch: withRateLimits(idleTimeoutFetch(o.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS), onRateLimits),
    });
  } catch (err) {
    throw toModelError(err, fallbackBase, redact);
  }
}

/** Records the run's end with `err` (redacted) in the transcript; returns `err` to throw. */
async function endWithError(transcript: Transcript, err: unknown, redact: (text: string) => string): Promise<unknown> {
  const text = err instanceof Error ? err.message : String(err);
  await transcript.append({ type: 'end', at: now(), outcome: 'error', error: redact(text) });
  return err;
}

/** {@link toModelError}, carrying the rate limits the endpoint sent before the failure (a 429 has them). */
function modelFailure(
  err: unknown,
  baseURL: string,
  redact: (text: string) => string,
  rateLimits: RateLimits | undefined,
): unknown {
  const mapped = toModelError(err, baseURL, redact);
  if (mapped instanceof ModelError && rateLimits) mapped.rateLimits = rateLimits;
  return mapped;
}

/** Wraps `base` so every response's rate-limit headers (Symphony SPEC §13.7) go to `seen`. */
function withRateLimits(base: FetchLike, seen: (r: RateLimits) => void): FetchLike {
  return async (input, init) => {
    const res = await base(input, init);
    const r = rateLimitsFromHeaders(res.headers, res.status, new Date().toISOString());
    if (r) seen(r);
    return res;
  };
}

/**
 * Runs one response's tool calls in order and returns their `tool_result` blocks (redacted) and
 * the first control call (`finish`, `escalate`, `submit_review`); calls after a control call are
 * answered "not run". A tool error becomes an `is_error` result; an abort is rethrown.
 */
async function executeToolUses(
  toolbox: Toolbox,
  toolUses: Extract<ContentBlockParam, { type: 'tool_use' }>[],
  redact: (text: string) => string,
  signal: AbortSignal | undefined,
): Promise<{ results: ToolResultBlockParam[]; control: ToolControl | undefined; calls: number }> {
  const results: ToolResultBlockParam[] = [];
  let control: ToolControl | undefined;
  let calls = 0;
  for (const use of toolUses) {
    if (control) {
      results.push({
        type: 'tool_result',
        tool_use_id: use.id,
        content: `Not run: an earlier ${control.kind} call in this response ended the run.`,
        is_error: true,
      });
      continue;
    }
    calls++;
    try {
      const out = await toolbox.execute(use.name, use.input, { signal });
      results.push({ type: 'tool_result', tool_use_id: use.id, content: redact(out.content) });
      control = out.control;
    } catch (err) {
      if (signal?.aborted) throw abortReason(signal);
      // A machine that cannot sandbox is not the model's problem: fail the step, with the fix.
      if (hasCode(err, 'sandbox_unavailable')) throw err;
      const message =
        err instanceof ToolError
          ? err.message
          : `${use.name} failed unexpectedly: ${(err as Error)?.message ?? String(err)}`;
      results.push({ type: 'tool_result', tool_use_id: use.id, content: redact(message), is_error: true });
    }
  }
  return { results, control, calls };
}

async function callModel(
  client: Anthropic,
  opts: AgentRunOptions,
  toolbox: Toolbox,
  messages: MessageParam[],
): Promise<Message> {
  const params: MessageCreateParamsNonStreaming = {
    model: opts.model,
    max_tokens: opts.maxTokens,
    system: [{ type: 'text', text: opts.system, cache_control: { type: 'ephemeral' } }],
    tools: toolbox.definitions,
    messages: withCacheBreakpoint(messages),
  };
  const requestOptions = opts.signal ? { signal: opts.signal } : {};
  const response: unknown = opts.stream
    ? await client.messages.stream(params, requestOptions).finalMessage()
    : await client.messages.create(params, requestOptions);
  if (!isMessage(response)) {
    const seen = typeof response === 'string' ? response : JSON.stringify(response);
    throw new ModelError(
      'model_bad_response',
      `The model endpoint answered 200 with something that is not a Messages API response: ${seen.slice(0, 200)}`,
      { retryable: true },
    );
  }
  return response;
}

/** {@link retryAfterMs} as ModelError options; empty when the response did not say. */
function retryAfter(headers: Headers | Record<string, string | null | undefined> | undefined): {
  retryAfterMs?: number;
} {
  const wait = retryAfterMs(headers);
  return wait === undefined ? {} : { retryAfterMs: wait };
}

/** The `model_stalled` error an SDK error wraps (./idle-fetch.ts aborted the request), if any. */
function stalledCause(err: unknown): ModelError | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof ModelError && e.code === 'model_stalled') return e;
  }
  return undefined;
}

/** Default of `ModelClientOptions.idleTimeoutMs`, ms (the policy's `model.idle_timeout_ms`). */
export const DEFAULT_IDLE_TIMEOUT_MS = 60_000;

/** True for a Messages API message object (the shape the harness reads). */
function isMessage(v: unknown): v is Message {
  const m = v as Partial<Message> | null;
  return typeof m === 'object' && m !== null && m.type === 'message' && Array.isArray(m.content);
}
