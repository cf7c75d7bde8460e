/**
 * The `codex` backend: one role step on Codex's app server (Symphony SPEC §10 as the pinned codex
 * version speaks it; specs/backends.md, "codex"). It starts the app server in the sandbox, runs
 * `initialize` / `initialized`, starts the role's thread or resumes it (one thread per role per
 * issue, its id kept next to the transcript), and runs turns (`turn/start`, streamed notifications
 * until `turn/completed`) until an outcome tool is called over MCP, the agent asks for input, the
 * budget is spent or the turns run out. Approvals and user-input requests are answered by
 * ./policy.ts. Usage and cost are the gateway's measurement, never codex's token events.
 */
import { ForemanError } from '../../../errors.js';
import { redact } from '../../../redact.js';
import { SANDBOX_HOME } from '../../../sandbox/bwrap.js';
import { spawnSandboxed, type SandboxedProcess } from '../../../sandbox/spawn.js';
import type { AgentRunResult } from '../../harness.js';
import { openTranscript, type Transcript } from '../../transcript.js';
import type { TokenUsage } from '../../usage.js';
import type { AgentBackend, BackendRunInput, BackendSettings, OutcomeCall } from '../types.js';
import { codexHomeOf, GATEWAY_TOKEN_ENV, readThreadState, writeCodexConfig, writeThreadState } from './home.js';
import { mapItem } from './items.js';
import { decideRequest, FOREMAN_MCP_SERVER } from './policy.js';
import { RpcConnection, type ServerNotification, type ServerRequest } from './rpc.js';
import type { EscalateInput } from '../../tools.js';

/** The `codex` settings a policy resolves to (src/agents/backends/types.ts). */
export type CodexSettings = Extract<BackendSettings, { name: 'codex' }>;

/** How long to wait for `turn/completed` after Foreman interrupted a turn, ms. */
const INTERRUPT_WAIT_MS = 5_000;

/** How often the stall and turn-timeout clocks are checked, ms. */
const WATCH_INTERVAL_MS = 250;

/** The user turn of a resumed thread that has nothing new to say (a retry after a crash or a stall). */
export const CONTINUE_TEXT =
  'Foreman restarted this step. Check the workspace state and continue the task; call the finish tool when done.';

/** How a turn ended, as far as Foreman is concerned. */
type TurnEnd =
  | { kind: 'completed'; status: string; error: string | null }
  | { kind: 'outcome' }
  | { kind: 'input'; escalation: EscalateInput };

/**
 * The codex backend (registered in src/agents/backends/index.ts): runs a step with the role's
 * `codex` settings (`input.settings`, policy `roles.<role>.codex` or Symphony's `codex` block).
 * @throws TypeError when the settings name another backend (a registry bug).
 */
export const codexBackend: AgentBackend = {
  name: 'codex',
  run(input) {
    if (input.settings.name !== 'codex') throw new TypeError(`codex backend given ${input.settings.name} settings`);
    return runCodex(input.settings, input);
  },
};

function tail(text: string, max = 2_000): string {
  return text.length <= max ? text : text.slice(-max);
}

function outcomeTools(input: BackendRunInput): string[] {
  const tools = input.role === 'reviewer' ? ['submit_review'] : ['finish', 'escalate'];
  return tools.map((t) => `${FOREMAN_MCP_SERVER}.${t}`);
}

/** Role instructions plus where the outcome tools are (codex may list MCP tools only through tool_search). */
function developerInstructions(input: BackendRunInput): string {
  const tools =
    input.role === 'reviewer' ? '`submit_review`' : '`finish` (work done) and `escalate` (a human decision)';
  return (
    `${input.system}\n\nForeman's tools ${tools} are on the MCP server \`${FOREMAN_MCP_SERVER}\`` +
    ' (find them with tool_search if they are not listed). Calling one ends your work for this step.'
  );
}

/**
 * Runs one role step on codex (see the module doc).
 * @throws ForemanError `agent_stalled`, `agent_turn_timeout`, `agent_turn_failed`,
 *   `agent_protocol_error`, `agent_cli_failed` (all retryable: the retried step resumes the thread),
 *   WorkspaceError `sandbox_unavailable`, or `input.signal.reason` when cancelled.
 */
export async function runCodex(settings: CodexSettings, input: BackendRunInput): Promise<AgentRunResult> {
  if (input.signal.aborted) throw abortReason(input.signal);
  const codexHome = codexHomeOf(input.workspace, input.role);
  await writeCodexConfig(codexHome, input.gateway);
  const transcript = await openTranscript(input.transcriptPath);
  // codex creates the helper its own sandbox needs only outside TMPDIR, and CODEX_HOME is under the
  // workspace, which may be under /tmp: inside Foreman's sandbox TMPDIR moves into the private HOME.
  const line =
    input.sandbox.mode === 'bwrap'
      ? `export TMPDIR=${SANDBOX_HOME}/tmp && mkdir -p "$TMPDIR" && exec ${settings.command}`
      : `exec ${settings.command}`;
  const proc = await spawnSandboxed({
    workspace: input.workspace,
    env: { ...input.env, CODEX_HOME: codexHome, [GATEWAY_TOKEN_ENV]: input.gateway.token },
    sandbox: input.sandbox,
    argv: ['bash', '-c', line],
    pidDir: input.pidDir,
    gateway: input.gateway.endpoint,
    signal: input.signal,
  });
  const run = new CodexRun(settings, input, transcript, proc, codexHome);
  try {
    return await run.execute();
  } catch (caught) {
    // A cancelled step kills the process, which fails the pending request: report the cancellation.
    const err = input.signal.aborted ? abortReason(input.signal) : caught;
    const text = err instanceof Error ? err.message : String(err);
    await transcript.append({ type: 'end', at: now(), outcome: 'error', error: redact(text) }).catch(() => undefined);
    throw err;
  } finally {
    run.dispose();
    proc.kill();
    await proc.exited.catch(() => undefined);
  }
}

function now(): string {
  return new Date().toISOString();
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new ForemanError('agent_aborted', 'The agent run was cancelled.', { retryable: true });
}

/** One step's app-server conversation (the state {@link runCodex} needs while the process lives). */
class CodexRun {
  private readonly rpc: RpcConnection;
  private lastEvent = Date.now();
  private stderr = '';
  private exited: string | null = null;
  private turn: {
    id: string | null;
    startedAt: number;
    resolve(end: TurnEnd): void;
    reject(err: unknown): void;
  } | null = null;
  private pendingCompletion: { turnId: string; end: TurnEnd } | null = null;
  private readonly watch: NodeJS.Timeout;
  private turns = 0;
  private toolCalls = 0;
  private lastTool: string | null = null;
  private lastAgentText: string | null = null;
  private threadId = '';
  /** Transcript writes of items, in the order codex sent them. */
  private writes: Promise<void> = Promise.resolve();
  private readonly onAbort = (): void => this.fail(abortReason(this.input.signal));

  constructor(
    private readonly settings: CodexSettings,
    private readonly input: BackendRunInput,
    private readonly transcript: Transcript,
    private readonly proc: SandboxedProcess,
    private readonly codexHome: string,
  ) {
    this.rpc = new RpcConnection(proc.child.stdin, proc.child.stdout, settings.readTimeoutMs, {
      onActivity: () => (this.lastEvent = Date.now()),
      onNotification: (n) => this.onNotification(n),
      onRequest: (r) => this.onRequest(r),
    });
    proc.child.stderr.setEncoding('utf8');
    proc.child.stderr.on('data', (c: string) => (this.stderr = tail(this.stderr + c, 8_000)));
    proc.child.once('exit', (code, signal) => {
      this.exited = `exit code ${code ?? 'none'}${signal ? `, signal ${signal}` : ''}`;
      const why = `The codex app server exited (${this.exited}) before its turn ended: ${redact(tail(this.stderr.trim(), 1_000)) || 'no stderr'}`;
      const err = new ForemanError('agent_cli_failed', why, { retryable: true });
      this.rpc.close(err);
      this.fail(err);
    });
    input.gateway.onActivity(() => (this.lastEvent = Date.now()));
    input.signal.addEventListener('abort', this.onAbort, { once: true });
    this.watch = setInterval(() => this.check(), WATCH_INTERVAL_MS);
    this.watch.unref();
  }

  dispose(): void {
    clearInterval(this.watch);
    this.input.signal.removeEventListener('abort', this.onAbort);
  }

  async execute(): Promise<AgentRunResult> {
    const { input } = this;
    await this.rpc.request('initialize', {
      clientInfo: { name: 'foreman', title: 'Foreman', version: '0.1.0' },
      capabilities: { experimentalApi: true },
    });
    this.rpc.notify('initialized');
    const resumed = await this.openThread();
    let text = resumed
      ? (input.resume?.extraUserText ?? CONTINUE_TEXT)
      : [input.prompt, input.resume?.extraUserText].filter(Boolean).join('\n\n');
    while (this.turns < input.maxTurns) {
      if (input.signal.aborted) throw abortReason(input.signal);
      const spent = input.gateway.budgetExhausted();
      if (spent) return this.end('budget_exhausted', { budgetExhausted: spent });
      const end = await this.runTurn(text);
      const outcome = input.gateway.outcome();
      if (outcome) return this.endWith(outcome);
      if (end.kind === 'input') {
        return this.end('escalated', { escalation: end.escalation }, `Escalated: ${end.escalation.question}`);
      }
      const exhausted = input.gateway.budgetExhausted();
      if (exhausted) return this.end('budget_exhausted', { budgetExhausted: exhausted });
      if (end.kind === 'completed' && end.status === 'failed') {
        throw new ForemanError(
          'agent_turn_failed',
          `The codex turn failed: ${redact(end.error ?? 'no reason given')}`,
          {
            retryable: true,
          },
        );
      }
      text =
        input.role === 'reviewer'
          ? 'You ended your turn without calling submit_review. Continue the review and call submit_review with your verdict.'
          : 'You ended your turn without calling finish or escalate. Continue the task; call finish when the work is done, or escalate if you need a human decision.';
    }
    const last = this.lastAgentText ?? undefined;
    return this.end('max_turns', last ? { summary: last } : {}, last);
  }

  /** Resumes the recorded thread (true), or starts a new one (false) and records it. */
  private async openThread(): Promise<boolean> {
    const { input, settings } = this;
    const common = {
      model: input.model,
      cwd: input.workspace,
      ...(settings.approvalPolicy !== undefined && settings.approvalPolicy !== null
        ? { approvalPolicy: settings.approvalPolicy }
        : {}),
      ...(settings.threadSandbox !== undefined && settings.threadSandbox !== null
        ? { sandbox: settings.threadSandbox }
        : {}),
      developerInstructions: developerInstructions(input),
    };
    const state = await readThreadState(input.transcriptPath);
    if (state && state.codexHome === this.codexHome) {
      try {
        const res = (await this.rpc.request('thread/resume', {
          threadId: state.threadId,
          ...common,
          excludeTurns: true,
        })) as {
          thread?: { id?: string };
        };
        this.threadId = res.thread?.id ?? state.threadId;
        return true;
      } catch (err) {
        if (this.exited) throw err;
        // The thread is gone (a new workspace): start afresh, the answer goes into the first turn.
      }
    }
    const res = (await this.rpc.request('thread/start', common)) as { thread?: { id?: unknown } };
    if (typeof res.thread?.id !== 'string') {
      throw new ForemanError('agent_protocol_error', 'Codex thread/start answered without a thread id.', {
        retryable: true,
      });
    }
    this.threadId = res.thread.id;
    await writeThreadState(input.transcriptPath, { threadId: this.threadId, codexHome: this.codexHome });
    await this.transcript.append({
      type: 'start',
      at: now(),
      role: input.role,
      model: input.model,
      issue: input.identifier,
      system: developerInstructions(input),
      tools: ['codex app-server', ...outcomeTools(input)],
    });
    return false;
  }

  /** Starts a turn with `text` and waits for its end (or Foreman's own reason to end it). */
  private async runTurn(text: string): Promise<TurnEnd> {
    const { input, settings } = this;
    await this.transcript.append({
      type: 'message',
      at: now(),
      message: { role: 'user', content: [{ type: 'text', text }] },
    });
    const before = input.gateway.metered().usage;
    const ended = new Promise<TurnEnd>((resolve, reject) => {
      this.turn = { id: null, startedAt: Date.now(), resolve, reject };
    });
    this.lastEvent = Date.now();
    const started = this.rpc
      .request('turn/start', {
        threadId: this.threadId,
        input: [{ type: 'text', text, text_elements: [] }],
        cwd: input.workspace,
        ...(settings.approvalPolicy != null ? { approvalPolicy: settings.approvalPolicy } : {}),
        ...(settings.turnSandboxPolicy != null ? { sandboxPolicy: settings.turnSandboxPolicy } : {}),
        model: input.model,
        ...(settings.reasoningEffort ? { effort: settings.reasoningEffort } : {}),
      })
      .then((res) => {
        const id = (res as { turn?: { id?: unknown } }).turn?.id;
        if (this.turn && typeof id === 'string') this.turn.id = id;
        const early = this.pendingCompletion;
        if (early && early.turnId === id) this.settle(early.end);
      });
    started.catch((err: unknown) => this.fail(err));
    try {
      return await ended;
    } finally {
      await this.writes;
      this.turn = null;
      this.pendingCompletion = null;
      this.turns++;
      const usage = input.gateway.metered().usage;
      await this.transcript.append({ type: 'usage', at: now(), usage: diff(usage, before) });
      this.progress();
    }
  }

  private settle(end: TurnEnd): void {
    const t = this.turn;
    this.turn = null;
    t?.resolve(end);
  }

  private fail(err: unknown): void {
    const t = this.turn;
    this.turn = null;
    t?.reject(err);
  }

  /** Stall and turn-timeout clocks (specs/backends.md, "codex"). */
  private check(): void {
    const t = this.turn;
    if (!t) return;
    const { stallTimeoutMs, turnTimeoutMs } = this.settings;
    const nowMs = Date.now();
    if (stallTimeoutMs > 0 && nowMs - this.lastEvent > stallTimeoutMs) {
      this.interrupt();
      this.fail(
        new ForemanError(
          'agent_stalled',
          `Codex sent no event for stall_timeout_ms ${stallTimeoutMs}; the turn was ended and the step is retried.`,
          { retryable: true },
        ),
      );
    } else if (nowMs - t.startedAt > turnTimeoutMs) {
      this.interrupt();
      this.fail(
        new ForemanError(
          'agent_turn_timeout',
          `A codex turn ran past turn_timeout_ms ${turnTimeoutMs}; it was ended.`,
          {
            retryable: true,
          },
        ),
      );
    }
  }

  /** Asks codex to interrupt the running turn (best effort: the process is killed after). */
  private interrupt(): void {
    const id = this.turn?.id;
    if (id) void this.rpc.request('turn/interrupt', { threadId: this.threadId, turnId: id }).catch(() => undefined);
  }

  /** Ends the turn Foreman's way: interrupt, then wait briefly for codex to record `turn/completed`. */
  private endTurnEarly(end: TurnEnd): void {
    const t = this.turn;
    if (!t) return;
    this.interrupt();
    const timer = setTimeout(() => this.settle(end), INTERRUPT_WAIT_MS);
    timer.unref();
    t.resolve = ((resolve) => (e: TurnEnd) => {
      clearTimeout(timer);
      resolve(e.kind === 'completed' ? end : e);
    })(t.resolve);
  }

  private onNotification(n: ServerNotification): void {
    const p = (n.params ?? {}) as Record<string, unknown>;
    if (n.method === 'turn/completed') {
      const turn = (p.turn ?? {}) as { id?: string; status?: string; error?: { message?: string } | null };
      const end: TurnEnd = { kind: 'completed', status: String(turn.status ?? ''), error: turn.error?.message ?? null };
      if (this.turn && (this.turn.id === null || this.turn.id === turn.id)) {
        if (this.turn.id === null && turn.id) this.pendingCompletion = { turnId: turn.id, end };
        else this.settle(end);
      }
      return;
    }
    if (n.method === 'item/completed') {
      const item = (p.item ?? {}) as Record<string, unknown>;
      this.writes = this.writes.then(() => this.onItem(item)).catch(() => undefined);
    }
  }

  private async onItem(item: Record<string, unknown>): Promise<void> {
    const mapped = mapItem(item);
    for (const message of mapped.messages) await this.transcript.append({ type: 'message', at: now(), message });
    if (mapped.agentText) this.lastAgentText = mapped.agentText;
    if (mapped.tool) {
      this.toolCalls++;
      this.lastTool = mapped.tool;
      this.progress();
    }
    if (item.type === 'mcpToolCall' && item.server === FOREMAN_MCP_SERVER && this.input.gateway.outcome()) {
      this.endTurnEarly({ kind: 'outcome' });
    }
  }

  private onRequest(r: ServerRequest): void {
    const decision = decideRequest(r.method, r.params, {
      approvalPolicy: this.settings.approvalPolicy,
      sandboxed: this.input.sandbox.mode === 'bwrap',
      workspace: this.input.workspace,
    });
    if (decision.kind === 'result') this.rpc.respond(r.id, decision.result);
    else if (decision.kind === 'error') this.rpc.respondError(r.id, -32601, decision.message);
    else {
      // The question goes to a human; codex gets no answer in this turn (the next turn carries it).
      this.endTurnEarly({ kind: 'input', escalation: decision.escalation });
      this.rpc.respond(r.id, { answers: {} });
    }
  }

  private progress(): void {
    this.input.onProgress?.({ turns: this.turns, usage: this.input.gateway.metered().usage, lastTool: this.lastTool });
  }

  private endWith(outcome: OutcomeCall): Promise<AgentRunResult> {
    switch (outcome.tool) {
      case 'finish':
        return this.end('finished', { summary: outcome.summary }, outcome.summary);
      case 'escalate':
        return this.end('escalated', { escalation: outcome.escalation }, `Escalated: ${outcome.escalation.question}`);
      case 'submit_review':
        return this.end('review_submitted', { review: outcome.review }, `Review: ${outcome.review.verdict}`);
    }
  }

  private async end(
    outcome: AgentRunResult['outcome'],
    extra: Pick<AgentRunResult, 'escalation' | 'review' | 'budgetExhausted' | 'summary'>,
    summary?: string,
  ): Promise<AgentRunResult> {
    await this.transcript.append({ type: 'end', at: now(), outcome, ...(summary ? { summary } : {}) });
    const metered = this.input.gateway.metered();
    return {
      outcome,
      ...extra,
      turns: this.turns,
      usage: metered.usage,
      transcriptPath: this.input.transcriptPath,
      toolCalls: this.toolCalls,
      costUsd: metered.costUsd,
      ...(metered.rateLimits ? { rateLimits: metered.rateLimits } : {}),
    };
  }
}

function diff(after: TokenUsage, before: TokenUsage): TokenUsage {
  return {
    input_tokens: after.input_tokens - before.input_tokens,
    output_tokens: after.output_tokens - before.output_tokens,
    cache_creation_input_tokens: after.cache_creation_input_tokens - before.cache_creation_input_tokens,
    cache_read_input_tokens: after.cache_read_input_tokens - before.cache_read_input_tokens,
  };
}
