/**
 * Data that crosses the workflow ↔ activity boundary. Types only: the workflow sandbox imports
 * nothing with runtime behaviour from here. Everything is plain JSON; transcripts and file
 * contents stay out of history (paths and summaries only).
 */
import type { Issue } from '../src/trackers/types.js';

/** How an IssueWorkflow was started. */
export type RunTrigger = 'dispatch' | 'cli' | 'webhook' | 'schedule';

/** Input of `IssueWorkflow`. */
export interface IssueWorkflowInput {
  issueId: string;
  identifier: string;
  trigger: RunTrigger;
}

/** A human's answer to an escalation. */
export interface HumanReply {
  text: string;
  author: string;
  source: 'cli' | 'comment' | 'webhook';
  /** The tracker comment it came from; a comment is taken once. */
  commentId?: string;
}

/** A review on the issue's pull request (from a webhook). */
export interface PullRequestReview {
  prNumber: number;
  state: 'approved' | 'changes_requested' | 'commented';
  author: string;
  body: string;
}

/** The issue's pull request was closed (from a webhook). */
export interface PullRequestClosed {
  prNumber: number;
  merged: boolean;
}

/** The pull request Foreman opened (or updated) for the issue's branch. */
export interface PullRequestRef {
  number: number;
  url: string;
  created: boolean;
}

/** CI on a pull request's head, as the SCM API reports it. */
export interface CiSummary {
  state: 'pending' | 'success' | 'failure';
  checks: { name: string; status: string; conclusion: string | null; url: string | null }[];
}

/** A CI check or status on the PR's head finished (from a webhook). */
export interface CiResult {
  sha: string;
  name: string;
  conclusion: string;
}

/** Why and how to stop an issue's run. */
export interface StopRequest {
  reason: string;
  /** Remove the workspace (the issue reached a terminal state). */
  cleanup: boolean;
}

/** What raised an escalation. */
export type EscalationKind =
  | 'agent_question'
  | 'qa_failed'
  | 'budget'
  | 'max_turns'
  | 'error'
  | 'protected_path'
  | 'review'
  | 'review_rounds'
  | 'ci_failed';

/** One question to a human, as posted on the issue. */
export interface Escalation {
  /** 1-based count within the run. */
  n: number;
  kind: EscalationKind;
  question: string;
  options: string[];
  recommendation: string | null;
  /** What was tried before asking (from what Foreman ran and read). */
  tried: string;
  /** RFC 3339. */
  askedAt: string;
  reminded: boolean;
  parked: boolean;
}

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
  /** One reminder after this long without an answer, ms; null: none. */
  repingMs: number | null;
  /** Park after this long without an answer, ms; null: never. */
  parkMs: number | null;
  budget: BudgetLimits;
  /** Activity retry policy (Symphony SPEC §8.4 numbers by default). */
  retry: { initialIntervalMs: number; maximumIntervalMs: number; maximumAttempts: number };
  /** Upper bound of one implementer activity, ms. */
  agentTimeoutMs: number;
  /** Upper bound of one QA activity (all commands), ms. */
  qaTimeoutMs: number;
}

/** Result of `prepareRun`. */
export interface PreparedRun {
  issue: Issue;
  settings: RunSettings;
  /** sha256 of the policy file the run started with. */
  policyDigest: string;
}

/** The issue's git workspace. */
export interface WorkspaceInfo {
  /** Absolute path. */
  path: string;
  /** Sanitized workspace key (Symphony SPEC §4.2). */
  key: string;
  /** `foreman/<key>`. */
  branch: string;
  baseBranch: string;
  /** True when this call created the directory. */
  createdNow: boolean;
  /** Absolute path of the per-issue spec file (`.foreman/spec.md`). */
  specPath: string;
}

/** Token usage summed over the model calls of an agent run (Anthropic `usage`). */
export interface TokenUsage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
}

/** What one implementer activity reports. */
export interface AgentRunSummary {
  outcome: 'finished' | 'escalated' | 'max_turns' | 'budget_exhausted';
  summary: string | null;
  escalation: { question: string; options?: string[]; recommendation?: string } | null;
  budgetExhausted: { reason: 'tokens' | 'usd' | 'wall'; spentTokens: number; spentUsd: number; limit: number } | null;
  turns: number;
  toolCalls: number;
  usage: TokenUsage;
  /** This run's cost in USD; null when the model has no price. */
  costUsd: number | null;
  transcriptPath: string;
}

/** Budget state the implementer checks before every model call. */
export interface BudgetInput {
  spentTokens: number;
  spentUsd: number;
  maxTokens: number | null;
  maxUsd: number | null;
  /** Epoch ms after which no model call starts; null: no wall budget. */
  deadline: number | null;
}

/** One QA command's evidence. */
export interface QaCommandResult {
  command: string;
  exitCode: number | null;
  durationMs: number;
  timedOut: boolean;
  /** Last `qa.output_tail_bytes` of the combined output. */
  outputTail: string;
  passed: boolean;
}

/** Result of `runQa`. */
export interface QaReport {
  passed: boolean;
  results: QaCommandResult[];
}

/** Result of `commitAndPush`. */
export interface PushResult {
  branch: string;
  /** Full sha of the pushed head, or null when there was nothing to push. */
  commit: string | null;
  pushed: boolean;
  /** `git diff --stat` of base...head. */
  diffStat: string;
  filesChanged: number;
  insertions: number;
  deletions: number;
}

/** An escalation and the answer that resumed the work. */
export interface EscalationRecord {
  question: string;
  kind: EscalationKind;
  askedAt: string;
  answer: string | null;
  author: string | null;
}

/** Data an escalation comment is rendered from. */
export interface EscalationData {
  identifier: string;
  title: string;
  escalation: Escalation;
  branch: string | null;
  push: PushResult | null;
  /** What happens without an answer (from the policy's escalation settings). */
  repingMs: number | null;
  parkMs: number | null;
  parkedState: string | null;
}

/** Data the evidence packet is rendered from (never from a model's own claims unlabelled). */
export interface EvidenceData {
  identifier: string;
  title: string;
  /** `in_progress`: posted after a round and edited in place later; `ready`: handed over to review. */
  stage: 'in_progress' | 'ready';
  branch: string;
  baseBranch: string;
  push: PushResult | null;
  specPath: string;
  /** The implementer's last `finish` summary (model-written). */
  implementerSummary: string | null;
  qaRounds: { round: number; report: QaReport }[];
  qaMaxRounds: number;
  /** The QA agent's last report (its checks are agent-written, run by Foreman); null when off. */
  qaAgent: QaAgentReport | null;
  review: {
    enabled: boolean;
    maxRounds: number;
    rounds: ReviewRound[];
    /** Every finding across rounds with its resolution. */
    findings: TrackedFinding[];
    /** The reviewer's last summary (model-written). */
    summary: string | null;
  };
  /** The contract checked against the change; null before the first check. */
  contract: ContractCheck | null;
  /** Who approved pushing changes to protected paths, and which; null when none were touched. */
  protectedApproval: { paths: string[]; by: string; answer: string } | null;
  /** The pull request, once opened. */
  pr: PullRequestRef | null;
  /** CI on the pull request, as the SCM API reported it last; null before any result. */
  ci: CiSummary | null;
  /** Totals over all roles. */
  usage: TokenUsage;
  /** USD; null when a model had no price. */
  costUsd: number | null;
  turns: number;
  roles: RoleUsage[];
  wallMs: number;
  escalations: EscalationRecord[];
  transcripts: string[];
  workflowId: string;
  runId: string;
}

/** The JSON summary an IssueWorkflow returns (and `foreman run` prints). */
export interface IssueRunSummary {
  /** `completed`: pushed with evidence, issue in review. `stopped`: the tracker said stop. */
  outcome: 'completed' | 'stopped';
  identifier: string;
  /** Why the run stopped; null when completed. */
  reason: string | null;
  branch: string | null;
  commit: string | null;
  pushed: boolean;
  /** The pull request URL; null when none was opened (no GitHub remote, or `scm.pull_requests: false`). */
  pr: string | null;
  /** `merged` / `closed` once the PR was closed; `open` while handed over; null without a PR. */
  pr_state: 'open' | 'merged' | 'closed' | null;
  evidence: { commentId: string; key: string } | null;
  qa: QaCommandResult[];
  rounds: number;
  tokens: TokenUsage & { total: number };
  cost_usd: number | null;
  escalations: EscalationRecord[];
  wall_ms: number;
  workflowId: string;
  runId: string;
}

/** What `statusQuery` returns. */
export interface IssueRunStatus {
  identifier: string;
  issueId: string;
  /** Workspace path once prepared. */
  workspace: string | null;
  branch: string | null;
  /** Model calls so far. */
  turns: number;
  tokens: TokenUsage;
  transcripts: string[];
  phase:
    | 'starting'
    | 'preparing'
    | 'implementing'
    | 'qa'
    | 'pushing'
    | 'reporting'
    | 'in_review'
    | 'waiting_for_human'
    | 'stopping'
    | 'done'
    | 'stopped';
  round: number;
  startedAt: string;
  lastError: string | null;
  /** The question waiting for an answer, when phase is `waiting_for_human`. */
  escalation: Escalation | null;
  /** Tracker comments already taken as answers (so pollers don't send them again). */
  answeredCommentIds: string[];
}

/** Result of one dispatcher tick. */
export interface DispatchTickResult {
  /** Wait before the next tick, ms (policy `polling.interval_ms`). */
  nextPollMs: number;
  started: string[];
  skipped: { identifier: string; reason: string }[];
  error: string | null;
}

/** Reviewer finding severities, most severe first (DESIGN.md `submit_review`). */
export type Severity = 'blocker' | 'major' | 'minor' | 'nit';

/** One reviewer finding. `id` is stable across rounds: a hash of path + normalized message. */
export interface Finding {
  id: string;
  severity: Severity;
  path: string | null;
  line: number | null;
  message: string;
}

/** A finding across review rounds. */
export interface TrackedFinding extends Finding {
  /** Round it was first raised in (1-based). */
  firstRound: number;
  /** Round it was last raised in. */
  lastRound: number;
  /** `resolved`: raised before, not raised again in a later round. */
  status: 'open' | 'resolved';
  resolvedInRound: number | null;
}

/** What one reviewer activity reports. */
export interface ReviewResult {
  verdict: 'approve' | 'request_changes' | 'escalate';
  findings: Finding[];
  /** The reviewer's own words (model-written). */
  summary: string | null;
  turns: number;
  usage: TokenUsage;
  costUsd: number | null;
  transcriptPath: string;
}

/** One review round as the evidence shows it. */
export interface ReviewRound {
  round: number;
  verdict: ReviewResult['verdict'];
  /** Findings raised this round (deduplicated; already-resolved ones dropped). */
  raised: Finding[];
  /** Ids resolved by this round (open before, not raised again). */
  resolved: string[];
  /** Ids that sent the work back this round (after the severity ratchet). */
  blocking: string[];
}

/** The contract (spec Scope, protected_paths, Evidence) checked against the change. */
export interface ContractCheck {
  /** Paths changed against the base branch (committed or not). */
  changedFiles: string[];
  /** Changed paths matching `protected_paths`. */
  protectedTouched: string[];
  /** Changed paths outside the spec's Scope globs. */
  outOfScope: string[];
  /** Scope globs read from the spec (empty: everything in scope). */
  scope: string[];
  /** Evidence commands the spec requires (run by QA). */
  evidence: string[];
}

/** A check the QA agent wrote, run by Foreman (agent-written evidence). */
export interface QaAgentCheck {
  /** Path of the check script, relative to the workspace. */
  path: string;
  exitCode: number | null;
  durationMs: number;
  outputTail: string;
  passed: boolean;
}

/** What the QA agent step reports. */
export interface QaAgentReport {
  passed: boolean;
  checks: QaAgentCheck[];
  /** The QA agent's own words (model-written). */
  summary: string | null;
  turns: number;
  usage: TokenUsage;
  costUsd: number | null;
  transcriptPath: string;
}

/** Usage of one role over the run. */
export interface RoleUsage {
  role: 'implementer' | 'reviewer' | 'qa';
  turns: number;
  usage: TokenUsage;
  costUsd: number | null;
}
