/**
 * The QA agent's checks: scripts it writes under `.foreman/qa/checks/`, which Foreman runs itself,
 * one after another, each with bash, as QA commands (agent-written evidence). Owns finding and
 * running them; not the QA agent's conversation (src/agents/).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { BudgetExhausted } from '../agents/results.js';
import type { TokenUsage } from '../agents/usage.js';
import { pidDirFor } from '../workspace/shell.js';
import { runQaCommands } from './run.js';
import type { SandboxPolicy } from '../sandbox/policy.js';

/** Where the QA agent writes its checks, relative to the workspace (kept out of git). */
export const QA_CHECKS_DIR = '.foreman/qa/checks';

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

/** What the QA agent activity returns: the report, and whether the budget ran out during it. */
export interface QaAgentStepResult extends QaAgentReport {
  budgetExhausted: BudgetExhausted;
}

/**
 * Runs every check script in `<workspace>/.foreman/qa/checks/` (sorted by name, dot-files skipped)
 * with bash, in the workspace, with `env`, in `sandbox` (default: bwrap, no network).
 * @param timeoutMs per check, ms. @param tailBytes output kept per check, bytes.
 */
export async function runAgentChecks(
  workspace: string,
  env: Record<string, string>,
  timeoutMs: number,
  tailBytes: number,
  sandbox?: SandboxPolicy,
): Promise<QaAgentCheck[]> {
  const dir = path.join(workspace, QA_CHECKS_DIR);
  const names = (await fs.readdir(dir).catch(() => [] as string[])).filter((n) => !n.startsWith('.')).sort();
  const paths = names.map((n) => path.posix.join(QA_CHECKS_DIR, n));
  const report = await runQaCommands({
    pidDir: pidDirFor(workspace),
    commands: paths.map((p) => `bash ${JSON.stringify(p)}`),
    cwd: workspace,
    env,
    timeoutMs,
    tailBytes,
    ...(sandbox ? { sandbox } : {}),
  });
  return report.results.map((r, i) => ({
    path: paths[i]!,
    exitCode: r.exitCode,
    durationMs: r.durationMs,
    outputTail: r.outputTail,
    passed: r.passed,
  }));
}
