/**
 * The sandbox's cost (src/sandbox/): wall time of the agent's `run_command` and of one QA command
 * running `true`, with and without bubblewrap (and with the allowlist egress proxy), median of 20
 * runs each after 3 warm-ups. Target: the sandbox adds < 150 ms per command (median).
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createToolbox } from '../src/agents/tools.js';
import { runQaCommands } from '../src/qa/run.js';
import { DEFAULT_SANDBOX, type SandboxPolicy } from '../src/sandbox/policy.js';
import { scrubbedEnv } from '../src/workspace/shell.js';

/** One benchmark number with its target (as in bench/run.ts). */
export interface BenchResult {
  name: string;
  value: number;
  target: number;
  unit: string;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function timeIt(n: number, fn: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < 3; i++) await fn();
  const runs: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn();
    runs.push(performance.now() - t0);
  }
  return median(runs);
}

/** Measures run_command and QA with sandbox.mode none, bwrap (network none) and bwrap + allowlist. */
export async function benchSandbox(n = 20): Promise<BenchResult[]> {
  const ws = await mkdtemp(path.join(os.tmpdir(), 'foreman-bench-sandbox-'));
  await writeFile(path.join(ws, 'README.md'), '# bench\n');
  execFileSync('git', ['init', '-q'], { cwd: ws });
  const env = scrubbedEnv();
  const off: SandboxPolicy = { ...DEFAULT_SANDBOX, mode: 'none' };
  const allowlist: SandboxPolicy = { ...DEFAULT_SANDBOX, network: 'allowlist', allowHosts: ['example.com'] };
  const tool = (sandbox: SandboxPolicy) => {
    const box = createToolbox('implementer', { workspace: ws, env, sandbox });
    return () => box.execute('run_command', { command: 'true' });
  };
  const qa = (sandbox: SandboxPolicy) => () =>
    runQaCommands({ commands: ['true'], cwd: ws, env, timeoutMs: 30_000, tailBytes: 4000, sandbox });
  try {
    const toolOff = await timeIt(n, tool(off));
    const toolOn = await timeIt(n, tool(DEFAULT_SANDBOX));
    const toolAllow = await timeIt(n, tool(allowlist));
    const qaOff = await timeIt(n, qa(off));
    const qaOn = await timeIt(n, qa(DEFAULT_SANDBOX));
    const fmt = (x: number) => x.toFixed(1);
    console.log(
      `sandbox: run_command \`true\` median ${fmt(toolOff)} ms without, ${fmt(toolOn)} ms in bwrap, ` +
        `${fmt(toolAllow)} ms in bwrap + allowlist proxy; QA command ${fmt(qaOff)} ms without, ${fmt(qaOn)} ms in bwrap`,
    );
    return [
      { name: `sandbox: added to run_command (median of ${n})`, value: toolOn - toolOff, target: 150, unit: 'ms' },
      {
        name: `sandbox: added to run_command with allowlist (median of ${n})`,
        value: toolAllow - toolOff,
        target: 300,
        unit: 'ms',
      },
      { name: `sandbox: added to a QA command (median of ${n})`, value: qaOn - qaOff, target: 150, unit: 'ms' },
    ];
  } finally {
    await rm(ws, { recursive: true, force: true });
  }
}
