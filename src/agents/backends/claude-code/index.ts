/**
 * The `claude-code` backend (specs/backends.md, "claude-code"): one role step run by the Claude Code
 * CLI in print mode with stream-JSON input and output, inside the sandbox, its model calls going
 * through the model gateway with the session's token and Foreman's outcome tools served to it over
 * MCP. One CLI session per role per issue run, resumed with `--resume` after an answer, a rework
 * round or a crash. It maps the CLI's stream to the JSONL transcript and progress, ends a turn that
 * stalls, and reports the outcome the gateway received; usage and cost come from the gateway's
 * meter, never from the CLI's own `result`.
 */
import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { ForemanError, ModelError, type ModelErrorCode } from '../../../errors.js';
import { redact } from '../../../redact.js';
import type { AgentOutcome, AgentRunResult } from '../../harness.js';
import { openTranscript, type Transcript } from '../../transcript.js';
import type { AgentBackend, BackendRunInput, BackendSettings, OutcomeCall } from '../types.js';
import { claudeArgs, claudeEnv, mcpToolName, OUTCOME_TOOLS, ROLE_TOOLS } from './args.js';
import { interruptLine, parseEvent, toTranscriptBlocks, userMessageLine, type ClaudeEvent } from './events.js';
import { BACKEND, configDirFor, planSession, priorSession, type SessionPlan } from './session.js';
import { cliBinds, resolveCommand, spawnAgentProcess, type SpawnAgent } from './spawn.js';

/** The `claude-code` settings of a role (src/agents/backends/types.ts). */
export type ClaudeCodeSettings = Extract<BackendSettings, { name: 'claude-code' }>;

/** The user turn sent when the CLI ended its turn without an outcome tool (once per step). */
export const NUDGE_TEXT =
  'You ended your turn without calling a Foreman tool. Continue the task; when it is done call the finish tool ' +
  '(the reviewer: submit_review), or escalate if a human must decide.';

/** How long the CLI may take to exit after its stdin is closed before it is killed, ms. */
const EXIT_GRACE_MS = 10_000;

/** Turn counters shared by the invocations of one step. */
interface StepState {
  transcript: Transcript;
  turns: number;
  toolCalls: number;
  lastTool: string | null;
  lastText: string | null;
  messageIds: Set<string>;
}

/** How one CLI invocation ended. */
interface Invocation {
  result: Extract<ClaudeEvent, { type: 'result' }> | null;
  /** The CLI said the session to resume does not exist (another host, or it never got persisted). */
  sessionMissing: boolean;
  exit: { code: number | null; signal: string | null };
  stderrTail: string;
}

/**
 * The `claude-code` backend; it reads the role's options from `input.settings`. `spawnAgent` starts
 * the CLI (default: in the policy's sandbox, ./spawn.ts).
 */
export function createClaudeCodeBackend(spawnAgent: SpawnAgent = spawnAgentProcess): AgentBackend {
  return {
    name: 'claude-code',
    run: (input) => {
      if (input.settings.name !== 'claude-code') {
        throw new TypeError(`the claude-code backend got settings for '${input.settings.name}'`);
      }
      return runClaudeCode(input.settings, spawnAgent, input);
    },
  };
}

/** The `claude-code` backend of the registry (src/agents/backends/index.ts). */
export const claudeCodeBackend: AgentBackend = createClaudeCodeBackend();

/**
 * Runs one role step. Outcomes: the gateway's outcome call (`finished`, `escalated`,
 * `review_submitted`), `budget_exhausted` when the gateway refused a call on budget, else
 * `max_turns` with the CLI's last text as the summary.
 * @throws ForemanError `agent_stalled` / `agent_turn_timeout` / `agent_cli_failed` (retryable; the
 *   retry resumes the session), ModelError when the CLI gave up on the endpoint, the abort reason.
 */
async function runClaudeCode(
  settings: ClaudeCodeSettings,
  spawnAgent: SpawnAgent,
  input: BackendRunInput,
): Promise<AgentRunResult> {
  const command = await resolveCommand(settings.command, input.env.PATH ?? process.env.PATH ?? '');
  const prior = await priorSession(input.transcriptPath);
  const transcript = await openTranscript(input.transcriptPath);
  const state: StepState = {
    transcript,
    turns: 0,
    toolCalls: 0,
    lastTool: null,
    lastText: null,
    messageIds: new Set(),
  };
  let plan = planSession(prior, input.prompt, input.resume);
  try {
    if (!plan.resume) await writeStart(transcript, input, plan.id);
    let run = await invoke(settings, spawnAgent, command, input, plan, state);
    if (run.sessionMissing && !input.gateway.outcome()) {
      // The CLI lost the session: start a new one that gets the prompt again with the new text.
      const texts = prior && input.resume ? [input.prompt, input.resume.extraUserText] : [input.prompt];
      plan = { id: randomUUID(), resume: false, texts };
      await writeStart(transcript, input, plan.id);
      run = await invoke(settings, spawnAgent, command, input, plan, state);
    }
    const result = outcomeOf(input, run, state);
    await transcript.append({
      type: 'end',
      at: new Date().toISOString(),
      outcome: result.outcome,
      ...(result.summary ? { summary: result.summary } : {}),
    });
    return result;
  } catch (err) {
    const text = err instanceof Error ? err.message : String(err);
    await transcript.append({ type: 'end', at: new Date().toISOString(), outcome: 'error', error: redact(text) });
    throw err;
  }
}

async function writeStart(transcript: Transcript, input: BackendRunInput, sessionId: string): Promise<void> {
  await transcript.append({
    type: 'start',
    at: new Date().toISOString(),
    role: input.role,
    model: input.model,
    issue: input.identifier,
    system: input.system,
    tools: [...ROLE_TOOLS[input.role], ...OUTCOME_TOOLS[input.role].map(mcpToolName)],
    backend: BACKEND,
    sessionId,
  });
}

/** The step's result from what the gateway received and how the CLI ended. */
function outcomeOf(input: BackendRunInput, run: Invocation, state: StepState): AgentRunResult {
  const { gateway } = input;
  const metered = gateway.metered();
  const base = {
    turns: state.turns,
    usage: { ...metered.usage },
    transcriptPath: input.transcriptPath,
    toolCalls: state.toolCalls,
    costUsd: metered.costUsd,
    ...(metered.rateLimits ? { rateLimits: metered.rateLimits } : {}),
  };
  const call = gateway.outcome();
  if (call) return { ...base, ...fromCall(call) };
  const exhausted = gateway.budgetExhausted();
  if (exhausted) return { ...base, outcome: 'budget_exhausted', budgetExhausted: exhausted };
  const result = run.result;
  if (result?.is_error && result.api_error_status) throw modelError(result.api_error_status, result.result);
  if (!result || (result.is_error && result.subtype !== 'error_max_turns')) {
    const how = run.exit.signal ? `signal ${run.exit.signal}` : `exit code ${run.exit.code}`;
    throw new ForemanError(
      'agent_cli_failed',
      `Claude Code ended (${how}) without finishing its turn${result ? ` (${result.subtype})` : ''}: ` +
        `${redact(run.stderrTail.trim()) || 'no output on stderr'}`,
      { retryable: true },
    );
  }
  const outcome: AgentOutcome = 'max_turns';
  return { ...base, outcome, ...(state.lastText ? { summary: state.lastText } : {}) };
}

function fromCall(call: OutcomeCall): Pick<AgentRunResult, 'outcome' | 'summary' | 'escalation' | 'review'> {
  switch (call.tool) {
    case 'finish':
      return { outcome: 'finished', summary: call.summary };
    case 'escalate':
      return { outcome: 'escalated', escalation: call.escalation, summary: `Escalated: ${call.escalation.question}` };
    case 'submit_review':
      return { outcome: 'review_submitted', review: call.review, summary: `Review: ${call.review.verdict}` };
  }
}

/** The ModelError for an API error status the CLI gave up on (codes as in src/agents/harness.ts). */
function modelError(status: number, detail: string | undefined): ModelError {
  const code: ModelErrorCode =
    status === 401 || status === 403
      ? 'model_unauthorized'
      : status === 429
        ? 'model_rate_limited'
        : status === 408 || status >= 500
          ? 'model_overloaded'
          : 'model_bad_request';
  const retryable = code !== 'model_unauthorized' && code !== 'model_bad_request';
  return new ModelError(code, `Claude Code's model calls failed (${status}): ${redact(detail ?? '').slice(0, 500)}`, {
    retryable,
  });
}

/**
 * One CLI invocation: starts it with the plan's session, sends the plan's user turn, maps its
 * events to the transcript and progress, interrupts it once the gateway has an outcome or refused
 * on budget, nudges it once when it ends a turn without one, and ends it on stall, turn timeout or
 * abort (killing its process group).
 */
async function invoke(
  settings: ClaudeCodeSettings,
  spawnAgent: SpawnAgent,
  command: string,
  input: BackendRunInput,
  plan: SessionPlan,
  state: StepState,
): Promise<Invocation> {
  const configDir = configDirFor(input.transcriptPath, input.role);
  const sandboxed = input.sandbox.mode === 'bwrap';
  const argv = [
    command,
    ...claudeArgs({
      role: input.role,
      model: input.model,
      system: input.system,
      maxTurns: input.maxTurns,
      mcpUrl: input.gateway.mcpUrl,
      token: input.gateway.token,
      session: { id: plan.id, resume: plan.resume },
      sandboxed,
      extraArgs: settings.extraArgs,
    }),
  ];
  const env = claudeEnv({
    base: input.env,
    anthropicBaseUrl: input.gateway.anthropicBaseUrl,
    token: input.gateway.token,
    configDir,
    maxTokens: input.maxTokens,
    sandboxed,
  });
  await mkdir(configDir, { recursive: true, mode: 0o700 });
  const proc = await spawnAgent({
    argv,
    workspace: input.workspace,
    env,
    sandbox: input.sandbox,
    pidDir: input.pidDir,
    gateway: input.gateway.endpoint,
    binds: cliBinds(command, configDir),
  });
  return drive(settings, input, plan, state, proc);
}

type Proc = Awaited<ReturnType<SpawnAgent>>;

/** The body of {@link invoke} once the process runs. */
async function drive(
  settings: ClaudeCodeSettings,
  input: BackendRunInput,
  plan: SessionPlan,
  state: StepState,
  proc: Proc,
): Promise<Invocation> {
  const started = Date.now();
  let lastActivity = started;
  let failure: unknown = null;
  let result: Invocation['result'] = null;
  let stdinOpen = true;
  let interrupted = false;
  let nudged = false;
  let pending: string[] | null = plan.texts; // appended to the transcript once the CLI took it
  let stderrTail = '';
  let live = true;

  const fail = (err: unknown): void => {
    failure ??= err;
    proc.kill();
  };
  const endInput = (): void => {
    if (!stdinOpen) return;
    stdinOpen = false;
    proc.child.stdin.end();
    setTimeout(() => proc.kill(), EXIT_GRACE_MS).unref();
  };
  const interrupt = (): void => {
    if (interrupted || !stdinOpen) return;
    interrupted = true;
    proc.child.stdin.write(interruptLine(`foreman-${randomUUID()}`));
  };
  const flushPending = async (): Promise<void> => {
    if (!pending) return;
    const texts = pending;
    pending = null;
    await state.transcript.append({
      type: 'message',
      at: new Date().toISOString(),
      message: { role: 'user', content: texts.map((text) => ({ type: 'text' as const, text })) },
    });
  };
  input.gateway.onActivity((event) => {
    if (!live) return;
    lastActivity = Date.now();
    // An outcome call ends the turn at once: the interrupt aborts the model call the CLI starts next.
    if (event.kind === 'tool_call') {
      setImmediate(() => {
        if (live && input.gateway.outcome()) interrupt();
      });
    }
  });
  const onAbort = (): void =>
    fail(input.signal.reason ?? new ForemanError('agent_aborted', 'The agent run was cancelled.', { retryable: true }));
  if (input.signal.aborted) onAbort();
  input.signal.addEventListener('abort', onAbort, { once: true });
  const watchdog = startWatchdog(settings, input, {
    started,
    lastActivity: () => lastActivity,
    fail,
    interrupt,
  });

  proc.child.stdin.on('error', () => undefined); // EPIPE once the CLI is gone: its exit says what happened
  proc.child.stderr.on('data', (c: Buffer) => {
    stderrTail = (stderrTail + c.toString('utf8')).slice(-4_000);
  });
  proc.child.stdin.write(userMessageLine(plan.texts));

  let gone = false;
  void proc.exited.then(
    () => (gone = true),
    () => (gone = true),
  );
  const lines = createInterface({ input: proc.child.stdout, crlfDelay: Infinity });
  try {
    for await (const line of lines) {
      if (!line.trim()) continue;
      lastActivity = Date.now();
      const event = parseEvent(line);
      if (event.type === 'assistant' && event.parent_tool_use_id === null) {
        await flushPending();
        await onAssistant(event, state);
        input.onProgress?.({ turns: state.turns, usage: input.gateway.metered().usage, lastTool: state.lastTool });
      } else if (event.type === 'user' && event.parent_tool_use_id === null) {
        const content = toTranscriptBlocks(event.message.content);
        if (content.length > 0) {
          await state.transcript.append({
            type: 'message',
            at: new Date().toISOString(),
            message: { role: 'user', content },
          });
        }
        if (input.gateway.outcome() || input.gateway.budgetExhausted()) interrupt();
      } else if (event.type === 'result') {
        result = event;
        if ((event.num_turns ?? 0) > 0) await flushPending();
        const done = interrupted || input.gateway.outcome() || input.gateway.budgetExhausted();
        if (!done && !event.is_error && !nudged && state.turns < input.maxTurns) {
          nudged = true;
          pending = [NUDGE_TEXT];
          proc.child.stdin.write(userMessageLine([NUDGE_TEXT]));
        } else {
          endInput();
        }
      }
    }
    const exit = await proc.exited;
    if (failure) throw failure;
    return { result, sessionMissing: /No conversation found/i.test(stderrTail), exit, stderrTail };
  } finally {
    live = false;
    clearInterval(watchdog);
    input.signal.removeEventListener('abort', onAbort);
    if (!gone) proc.kill();
  }
}

/** Records one assistant message of the CLI: transcript entry, turn and tool counters. */
async function onAssistant(event: Extract<ClaudeEvent, { type: 'assistant' }>, state: StepState): Promise<void> {
  const content = toTranscriptBlocks(event.message.content);
  if (!state.messageIds.has(event.message.id)) {
    state.messageIds.add(event.message.id);
    state.turns++;
  }
  for (const block of content) {
    if (block.type === 'tool_use') {
      state.toolCalls++;
      state.lastTool = block.name;
    } else if (block.type === 'text' && block.text.trim()) {
      state.lastText = block.text.trim();
    }
  }
  if (content.length > 0) {
    await state.transcript.append({
      type: 'message',
      at: new Date().toISOString(),
      message: { role: 'assistant', content },
    });
  }
}

/**
 * Checks the running CLI: no stdout event and no gateway activity for `stallTimeoutMs` →
 * `agent_stalled`; the turn past `turnTimeoutMs` → `agent_turn_timeout`; an outcome call or a
 * outcome call or a budget refusal on the gateway → interrupt the turn.
 */
function startWatchdog(
  settings: ClaudeCodeSettings,
  input: BackendRunInput,
  o: {
    started: number;
    lastActivity: () => number;
    fail: (err: unknown) => void;
    interrupt: () => void;
  },
): NodeJS.Timeout {
  const tick = Math.max(20, Math.min(1_000, Math.floor((settings.stallTimeoutMs || 4_000) / 4)));
  return setInterval(() => {
    const now = Date.now();
    if (settings.stallTimeoutMs > 0 && now - o.lastActivity() > settings.stallTimeoutMs) {
      o.fail(
        new ForemanError(
          'agent_stalled',
          `Claude Code sent no event and made no model call for ${settings.stallTimeoutMs} ms ` +
            '(claude_code.stall_timeout_ms); Foreman ended it, and the retry resumes the session.',
          { retryable: true },
        ),
      );
    } else if (now - o.started > settings.turnTimeoutMs) {
      o.fail(
        new ForemanError(
          'agent_turn_timeout',
          `Claude Code's turn ran past ${settings.turnTimeoutMs} ms (claude_code.turn_timeout_ms); ` +
            'Foreman ended it, and the retry resumes the session.',
          { retryable: true },
        ),
      );
    } else if (input.gateway.outcome() || input.gateway.budgetExhausted()) {
      o.interrupt();
    }
  }, tick);
}
