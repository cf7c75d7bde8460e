/**
 * The QA agent's checks: scripts it writes under `.foreman/qa/checks/`, which Foreman runs itself,
 * one after another, each with bash, as QA commands (agent-written evidence). Owns finding and
 * running them (names quoted, never interpolated into a shell string unquoted); not the QA agent's conversation (src/agents/).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { RateLimits } from '../agents/rate-limits.js';
import type { BudgetExhausted } from '../agents/results.js';
import type { StepAgent, TokenUsage } from '../agents/usage.js';
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

/** What the QA agent activity returns: the report, whether the budget ran out, the latest rate limits. */
export interface QaAgentStepResult extends QaAgentReport, StepAgent {
  budgetExhausted: BudgetExhausted;
  rateLimits?: RateLimits | null;
}

/** Check names Foreman runs: letters, digits and `._+-` only (no shell metacharacters, no spaces). */
const PLAIN_CHECK_NAME = /^[A-Za-z0-9._+-]+$/;

/**
 * Quotes one word for bash: single quotes, with each `'` written as `'\''`. Nothing inside single
 * quotes is expanded, so a name such as `$(touch /tmp/pwned)` stays a file name.
 */
export function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** A check that is not run: its name is not plain, or it is not a regular file. */
function refused(checkPath: string, why: string): QaAgentCheck {
  return { path: checkPath, exitCode: null, durationMs: 0, outputTail: why, passed: false };
}

/**
 * Runs every check script in `<workspace>/.foreman/qa/checks/` (sorted by name, dot-files skipped)
 * with bash, in the workspace, with `env`, in `sandbox` (default: bwrap, no network). The script
 * path is one single-quoted bash argument; a check whose name has anything but letters, digits
 * and `._+-`, or that is not a regular file (a symlink, FIFO, directory), is not run and counts as
 * failed with the reason as its output.
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
  const checks: (QaAgentCheck | string)[] = [];
  for (const name of names) {
    const checkPath = path.posix.join(QA_CHECKS_DIR, name);
    const info = await fs.lstat(path.join(dir, name)).catch(() => undefined);
    if (!PLAIN_CHECK_NAME.test(name)) {
      checks.push(refused(checkPath, 'Not run: a check name may contain only letters, digits and ._+-'));
    } else if (!info?.isFile()) {
      checks.push(refused(checkPath, 'Not run: a check must be a regular file (not a symlink, FIFO or directory).'));
    } else {
      checks.push(checkPath);
    }
  }
  const runnable = checks.filter((c): c is string => typeof c === 'string');
  const report = await runQaCommands({
    pidDir: pidDirFor(workspace),
    commands: runnable.map((p) => `bash ${shellQuote(p)}`),
    cwd: workspace,
    env,
    timeoutMs,
    tailBytes,
    ...(sandbox ? { sandbox } : {}),
  });
  const results = new Map(runnable.map((p, i) => [p, report.results[i]!]));
  return checks.map((c) => {
    if (typeof c !== 'string') return c;
    const r = results.get(c)!;
    return { path: c, exitCode: r.exitCode, durationMs: r.durationMs, outputTail: r.outputTail, passed: r.passed };
  });
}
