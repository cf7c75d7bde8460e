/**
 * The QA agent's checks: scripts it writes under `.foreman/qa/checks/`, which Foreman runs itself
 * (agent-written evidence).
 */
import type { TokenUsage } from '../agents/usage.js';

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
