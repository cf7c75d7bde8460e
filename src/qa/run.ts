/**
 * QA: Foreman runs the policy's `qa.commands` itself, in the workspace, with the scrubbed
 * environment, and records each command's exit code, duration and output tail as evidence. It
 * never takes the implementer's word for it. Owns running and recording; not what a failure means.
 */
import fs from 'node:fs/promises';
import { parseSpecContract } from '../spec/read.js';
import { runShell } from '../workspace/shell.js';
import { DEFAULT_SANDBOX, type SandboxPolicy } from '../sandbox/policy.js';

/** One QA command's evidence. */
export interface QaCommandResult {
  command: string;
  exitCode: number | null;
  durationMs: number;
  timedOut: boolean;
  /** Last `qa.output_tail_bytes` of the combined output. */
  outputTail: string;
  passed: boolean;
  /** Egress destinations the sandbox refused (`sandbox.network: allowlist`); absent when none. */
  deniedHosts?: string[];
}

/** Result of `runQa`. */
export interface QaReport {
  passed: boolean;
  results: QaCommandResult[];
}

/**
 * Runs the commands one after another (all of them, even after a failure, so the evidence is
 * complete). A command passes when it exits 0 within `timeoutMs`.
 * @param opts.timeoutMs per command, ms. @param opts.tailBytes bytes of output kept per command.
 */
export async function runQaCommands(opts: {
  commands: string[];
  cwd: string;
  env: Record<string, string>;
  timeoutMs: number;
  tailBytes: number;
  signal?: AbortSignal;
  onCommand?: (command: string) => void;
  /** Where running commands are recorded for crash clean-up (shell.ts `killOrphans`). */
  pidDir?: string;
  /** The sandbox each command runs in, with `cwd` as its workspace. (Default: bwrap, no network) */
  sandbox?: SandboxPolicy;
  /** Called once per egress destination the sandbox refuses (`host:port`), e.g. to log it. */
  onDenied?: (command: string, destination: string) => void;
}): Promise<QaReport> {
  const results: QaCommandResult[] = [];
  for (const command of opts.commands) {
    opts.onCommand?.(command);
    const r = await runShell({
      command,
      cwd: opts.cwd,
      env: opts.env,
      timeoutMs: opts.timeoutMs,
      maxOutputBytes: Math.max(opts.tailBytes * 2, 4000),
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.pidDir ? { pidDir: opts.pidDir } : {}),
      sandbox: { policy: opts.sandbox ?? DEFAULT_SANDBOX, workspace: opts.cwd },
      ...(opts.onDenied ? { onDenied: (d: string) => opts.onDenied?.(command, d) } : {}),
    });
    results.push({
      command,
      exitCode: r.exitCode,
      durationMs: r.durationMs,
      timedOut: r.timedOut,
      outputTail: tail(r.output, opts.tailBytes),
      passed: r.exitCode === 0 && !r.timedOut,
      ...(r.deniedHosts.length ? { deniedHosts: r.deniedHosts } : {}),
    });
  }
  return { passed: results.every((r) => r.passed), results };
}

/** The last `bytes` bytes of `text`, cut at a line start when possible. */
export function tail(text: string, bytes: number): string {
  const buf = Buffer.from(text, 'utf8');
  if (buf.length <= bytes) return text;
  let cut = buf.subarray(buf.length - bytes).toString('utf8');
  const nl = cut.indexOf('\n');
  if (nl >= 0 && nl < cut.length - 1) cut = cut.slice(nl + 1);
  return `[… ${buf.length - Buffer.byteLength(cut)} earlier bytes omitted …]\n${cut}`;
}

/**
 * The commands QA runs: the policy's `qa.commands`, always, then the Evidence commands of the
 * authoritative spec at `specPath` (under FOREMAN_HOME, src/home.ts `specFile`; a human may have
 * added some) that are not already among them. Never the workspace's copy: the agent can edit it.
 */
export async function evidenceCommands(specPath: string, policyCommands: readonly string[]): Promise<string[]> {
  const spec = await fs.readFile(specPath, 'utf8').catch(() => '');
  return [...new Set([...policyCommands, ...parseSpecContract(spec).evidence])];
}
