/**
 * The settings an IssueWorkflow branches on, fixed from the policy when the run starts (`prepareRun`).
 */
import type { Severity } from '../review/findings.js';
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
}
