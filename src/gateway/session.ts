/**
 * One role step's session on the model gateway (specs/gateway.md): its token, the meter (usage,
 * cost, calls, models, rate limits), the budget verdict, the outcome tool call, the activity
 * listeners and the exchange records it appends to the step's transcript. The HTTP side is
 * ./gateway.ts.
 */
import { randomBytes } from 'node:crypto';
import type { GatewaySession, MeteredUsage, OutcomeCall } from '../agents/backends/types.js';
import { checkBudget } from '../agents/budget.js';
import type { AgentBudget, BudgetExhaustion } from '../agents/harness.js';
import { costUsd, priceFor } from '../agents/pricing.js';
import type { RateLimits } from '../agents/rate-limits.js';
import { openTranscript, type Transcript, type TranscriptExchangeEntry } from '../agents/transcript.js';
import { addCost, addUsage, emptyUsage, totalTokens, type AgentRole, type TokenUsage } from '../agents/usage.js';
import type { GatewayUpstream } from './upstream.js';

/** What a session is opened with. */
export interface OpenSessionInput {
  /** Issue identifier (for logs). */
  identifier: string;
  role: AgentRole;
  /** The workflow run the step belongs to (for logs). */
  runId: string;
  /** The budget and the price table; checked before every forwarded call. */
  budget: AgentBudget;
  /** The step's JSONL transcript: each exchange is appended to it. */
  transcriptPath: string;
  /** Where this session's calls go (policy `model`). */
  upstream: GatewayUpstream;
  /**
   * Where the agent runs: `host` (Foreman's process, a plain host process, or a sandbox with the
   * host's network) gets the gateway's loopback TCP URL; `sandbox` (an empty network namespace)
   * gets the in-sandbox forwarder's URL (src/sandbox/spawn.ts). (Default: `host`)
   */
  reach?: 'host' | 'sandbox';
}

type ActivityListener = Parameters<GatewaySession['onActivity']>[0];

/** The gateway's side of a session (the agent's side is the {@link GatewaySession} it exposes). */
export class SessionState {
  readonly id = randomBytes(12).toString('hex');
  readonly token = `fgw-${randomBytes(32).toString('base64url')}`;
  readonly usage: TokenUsage = emptyUsage();
  calls = 0;
  cost: number | null = 0;
  readonly models: string[] = [];
  rateLimits: RateLimits | undefined;
  exhausted: BudgetExhaustion | null = null;
  outcome: OutcomeCall | null = null;
  closed = false;
  /** Aborts the session's in-flight upstream calls. */
  readonly aborter = new AbortController();
  private readonly listeners: ActivityListener[] = [];
  private writes: Promise<void> = Promise.resolve();

  private constructor(
    readonly input: OpenSessionInput,
    private readonly transcript: Transcript,
    private readonly onRecord: (entry: TranscriptExchangeEntry) => void,
  ) {}

  /**
   * Opens the session's transcript (creating it) and the session; `onRecord` sees every exchange
   * recorded (the gateway's exchange listeners).
   */
  static async open(
    input: OpenSessionInput,
    onRecord: (entry: TranscriptExchangeEntry) => void = () => {},
  ): Promise<SessionState> {
    return new SessionState(input, await openTranscript(input.transcriptPath), onRecord);
  }

  /** The budget limit reached before a new call, or undefined when it may go (recorded when reached). */
  checkBudget(): BudgetExhaustion | undefined {
    const e = checkBudget(this.input.budget, totalTokens(this.usage), this.cost);
    if (e) this.exhausted ??= e;
    return e;
  }

  /** Adds one answered call's usage; returns its cost (null: no usage or no price). */
  meter(usage: TokenUsage | null, model: string | null): number | null {
    this.calls++;
    if (model && !this.models.includes(model)) this.models.push(model);
    if (!usage) return null;
    addUsage(this.usage, usage);
    const price = model ? priceFor(model, this.input.budget.prices) : null;
    const cost = price ? costUsd(usage, price) : null;
    this.cost = addCost(this.cost, cost);
    return cost;
  }

  /** The meter now. */
  metered(): MeteredUsage {
    return {
      calls: this.calls,
      usage: { ...this.usage },
      costUsd: this.cost,
      ...(this.rateLimits ? { rateLimits: this.rateLimits } : {}),
      models: [...this.models],
    };
  }

  /** Records the first outcome call; returns the earlier one when there was one. */
  recordOutcome(call: OutcomeCall): OutcomeCall | null {
    if (this.outcome) return this.outcome;
    this.outcome = call;
    this.emit('tool_call');
    return null;
  }

  onActivity(listener: ActivityListener): void {
    this.listeners.push(listener);
  }

  emit(kind: 'model_call' | 'model_response' | 'tool_call'): void {
    const at = Date.now();
    for (const l of this.listeners) {
      try {
        l({ kind, at });
      } catch {
        // A listener's failure is its own business.
      }
    }
  }

  /** Appends an exchange to the transcript, in order; a failed write is dropped (the call stands). */
  record(entry: Omit<TranscriptExchangeEntry, 'type' | 'at'>): Promise<void> {
    const line: TranscriptExchangeEntry = { type: 'exchange', at: new Date().toISOString(), ...entry };
    try {
      this.onRecord(line);
    } catch {
      // A listener's failure is its own business.
    }
    this.writes = this.writes.then(() => this.transcript.append(line)).catch(() => {});
    return this.writes;
  }

  /** Stops the session: in-flight calls aborted, pending transcript writes awaited. */
  async close(): Promise<void> {
    this.closed = true;
    this.aborter.abort(new Error('The gateway session was closed.'));
    await this.writes;
  }
}
