/**
 * The settings an IssueWorkflow branches on, fixed from the policy when the run starts (`prepareRun`).
 * Owns the mapping policy → settings; not how the workflow uses them.
 */
import { retryBackoffMs } from '../dispatch/select.js';
import type { Severity } from '../review/findings.js';
import type { Policy } from './schema.js';
import { sandboxPolicyOf, sandboxRisks } from '../sandbox/policy.js';
import type { Issue } from '../trackers/types.js';

/** Budget limits per issue (policy `budget`), in force for the run. */
export interface BudgetLimits {
  maxTokens: number | null;
  maxUsd: number | null;
  maxWallMs: number | null;
}

/** Settings from the policy that the workflow branches on, fixed at the start of a run. */
export interface RunSettings {
  /** Implement → QA rounds before QA failures are escalated. */
  qaMaxRounds: number;
  /** Run the QA agent after the QA commands pass. */
  qaAgent: boolean;
  review: { enabled: boolean; maxRounds: number; firstRound: Severity[]; laterRounds: Severity[] };
  /** Red CI rework rounds before escalating. */
  maxCiRounds: number;
  /** State set when the PR is merged. */
  doneState: string;
  inProgressState: string;
  reviewState: string;
  /** Where an issue waits for an answer; null leaves it where it is. */
  escalatedState: string | null;
  /** Where a parked escalation moves the issue; null leaves it where it is. */
  parkedState: string | null;
  /** Where a Stop answer moves the issue (a terminal state, so it is not dispatched again); null: stays. */
  stoppedState: string | null;
  /** One reminder after this long without an answer, ms; null: none. */
  repingMs: number | null;
  /** Park after this long without an answer, ms; null: never. */
  parkMs: number | null;
  budget: BudgetLimits;
  /** Activity retry policy (Symphony SPEC §8.4 numbers by default). */
  /** Activity retries; `outageMs`: how long transient outages are ridden out before escalating. */
  retry: { initialIntervalMs: number; maximumIntervalMs: number; maximumAttempts: number; outageMs: number };
  /**
   * Upper bound of one agent activity, ms: the wall budget plus one model request, because the
   * harness checks the budget between calls and a call already under way is let finish (killing
   * it would leave its tool calls running in a timed-out attempt). (Default: one hour)
   */
  agentTimeoutMs: number;
  /** Upper bound of one QA activity (all commands), ms. */
  qaTimeoutMs: number;
  /**
   * How long a workspace step waits for the worker holding the workspace, ms (`temporal.workspace_start_timeout_ms`);
   * absent in runs started before workspace affinity (docs/architecture.md, "Scale").
   */
  workspaceStartTimeoutMs?: number;
  /** What the run's sandbox gives up (evidence "Risks"); absent in runs started before it existed. */
  risks?: string[];
}

/** Result of `prepareRun`. */
export interface PreparedRun {
  /** The issue, its description bounded by `agent.max_issue_bytes` (see {@link boundIssue}). */
  issue: Issue;
  settings: RunSettings;
}

/**
 * The issue with its description cut to `maxBytes` UTF-8 bytes (at a character boundary) and a
 * note saying so appended; `cutBytes` is how many bytes were left out (0: unchanged). A run
 * carries the issue in Temporal payloads, which are limited to 2 MB.
 */
export function boundIssue(issue: Issue, maxBytes: number): { issue: Issue; cutBytes: number } {
  const text = issue.description ?? '';
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes <= maxBytes) return { issue, cutBytes: 0 };
  const kept = Buffer.from(text, 'utf8')
    .subarray(0, maxBytes)
    .toString('utf8')
    .replace(/\uFFFD+$/, '');
  const cutBytes = bytes - Buffer.byteLength(kept, 'utf8');
  const note = `\n\n[Foreman cut this description here: ${cutBytes} more bytes are on the issue itself (agent.max_issue_bytes).]`;
  return { issue: { ...issue, description: kept + note }, cutBytes };
}

/**
 * The settings of a run from the policy in force when it starts: the workflow keeps them for the
 * whole run, so a policy reload never changes a run's rules half-way. Retry numbers follow
 * Symphony SPEC §8.4: first delay `min(10000 × 2^0, agent.max_retry_backoff_ms)`, capped at
 * `agent.max_retry_backoff_ms`, at most `budget.max_attempts` attempts.
 */
export function runSettings(policy: Policy): RunSettings {
  const backoffMax = policy.agent.max_retry_backoff_ms;
  return {
    qaMaxRounds: policy.qa.max_rounds,
    qaAgent: policy.roles.qa.agent,
    review: {
      enabled: policy.roles.reviewer.enabled,
      maxRounds: policy.review.max_rounds,
      firstRound: policy.review.first_round,
      laterRounds: policy.review.later_rounds,
    },
    maxCiRounds: policy.scm.max_ci_rounds,
    doneState: policy.handoff.done_state,
    inProgressState: policy.handoff.in_progress_state,
    reviewState: policy.handoff.review_state,
    escalatedState: policy.handoff.escalated_state ?? null,
    parkedState: policy.handoff.parked_state ?? null,
    stoppedState: policy.handoff.stopped_state ?? policy.tracker.terminal_states[0] ?? null,
    repingMs: policy.escalation.reping_ms ?? null,
    parkMs: policy.escalation.timeout_ms ?? null,
    budget: {
      maxTokens: policy.budget.max_tokens ?? null,
      maxUsd: policy.budget.max_usd ?? null,
      maxWallMs: policy.budget.max_wall_ms ?? null,
    },
    retry: {
      initialIntervalMs: retryBackoffMs(1, backoffMax),
      maximumIntervalMs: backoffMax,
      maximumAttempts: policy.budget.max_attempts,
      outageMs: policy.agent.outage_ms,
    },
    agentTimeoutMs: policy.budget.max_wall_ms ? policy.budget.max_wall_ms + policy.model.timeout_ms : 3_600_000,
    qaTimeoutMs: policy.qa.timeout_ms * Math.max(1, policy.qa.commands.length) + 60_000,
    workspaceStartTimeoutMs: policy.temporal.workspace_start_timeout_ms,
    risks: sandboxRisks(sandboxPolicyOf(policy.sandbox)),
  };
}

/** The comment Foreman posts on an issue whose description it cut (see {@link boundIssue}). */
export function descriptionCutNotice(maxBytes: number, cutBytes: number): string {
  return (
    `The description of this issue is longer than the ${maxBytes} bytes Foreman gives its agents ` +
    `(\`agent.max_issue_bytes\`): they see the first ${maxBytes} bytes and a note that ${cutBytes} ` +
    'more bytes were left out. Move long material (logs, dumps) into a linked file to keep it in view.'
  );
}
