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

/** Settings from the policy that the workflow branches on, fixed at the start of a run. */
export interface RunSettings {
  /** Implement → QA rounds before the run ends as needs_human. */
  qaMaxRounds: number;
  inProgressState: string;
  reviewState: string;
  /** Where a needs_human run moves the issue; null leaves it where it is. */
  needsHumanState: string | null;
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
  outcome: 'finished' | 'escalated' | 'max_turns';
  summary: string | null;
  escalation: { question: string; options?: string[]; recommendation?: string } | null;
  turns: number;
  toolCalls: number;
  usage: TokenUsage;
  transcriptPath: string;
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

/** Data the evidence packet is rendered from (never from a model's own claims unlabelled). */
export interface EvidenceData {
  identifier: string;
  title: string;
  outcome: 'completed' | 'needs_human';
  reason: string | null;
  branch: string;
  baseBranch: string;
  push: PushResult | null;
  specPath: string;
  implementerSummary: string | null;
  qaRounds: { round: number; report: QaReport }[];
  qaMaxRounds: number;
  usage: TokenUsage;
  turns: number;
  wallMs: number;
  transcripts: string[];
  workflowId: string;
  runId: string;
}

/** The JSON summary an IssueWorkflow returns (and `foreman run` prints). */
export interface IssueRunSummary {
  outcome: 'completed' | 'needs_human';
  identifier: string;
  reason: string | null;
  branch: string | null;
  commit: string | null;
  pushed: boolean;
  /** The pull request URL; null until SCM adapters exist. */
  pr: string | null;
  evidence: { commentId: string; key: string } | null;
  qa: QaCommandResult[];
  rounds: number;
  tokens: TokenUsage & { total: number };
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
  phase: 'starting' | 'preparing' | 'implementing' | 'qa' | 'pushing' | 'reporting' | 'done' | 'needs_human';
  round: number;
  startedAt: string;
  lastError: string | null;
}

/** Result of one dispatcher tick. */
export interface DispatchTickResult {
  /** Wait before the next tick, ms (policy `polling.interval_ms`). */
  nextPollMs: number;
  started: string[];
  skipped: { identifier: string; reason: string }[];
  error: string | null;
}
