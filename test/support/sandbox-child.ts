/**
 * Runs one command through the real agent tool (`run_command`) or QA (`runQaCommands`) and prints
 * the output as JSON on stdout. test/security/sandbox.test.ts starts it as a child process whose
 * initial environment holds canary secrets, so `/proc/<pid>/environ` of the Foreman process
 * really contains them (a runtime `process.env` change would not show there).
 */
import { createToolbox } from '../../src/agents/tools.js';
import { runQaCommands } from '../../src/qa/run.js';
import type { SandboxPolicy } from '../../src/sandbox/policy.js';
import { scrubbedEnv } from '../../src/workspace/shell.js';

const input = JSON.parse(process.argv[2] ?? '{}') as {
  via: 'tool' | 'qa';
  workspace: string;
  command: string;
  sandbox: SandboxPolicy;
};
if (input.via === 'tool') {
  const box = createToolbox('implementer', { workspace: input.workspace, env: scrubbedEnv(), sandbox: input.sandbox });
  const out = await box.execute('run_command', { command: input.command });
  process.stdout.write(JSON.stringify({ output: out.content }));
} else {
  const report = await runQaCommands({
    commands: [input.command],
    cwd: input.workspace,
    env: scrubbedEnv(),
    timeoutMs: 30_000,
    tailBytes: 16_000,
    sandbox: input.sandbox,
  });
  process.stdout.write(JSON.stringify({ output: report.results[0]!.outputTail, result: report.results[0] }));
}
