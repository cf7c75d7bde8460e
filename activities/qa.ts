/**
 * QA activities: Foreman runs the evidence commands itself, in the workspace, and records each
 * command's exit code, duration and output tail. Heartbeats carry the command that is running.
 */
import { specFile } from '../src/home.js';
import { evidenceCommands, runQaCommands, type QaReport } from '../src/qa/run.js';
import { killOrphans, pidDirFor } from '../src/workspace/shell.js';
import { sandboxPolicyOf } from '../src/sandbox/policy.js';
import type { WorkspaceInfo } from '../src/workspace/workspace.js';
import type { ActivityContext } from './context.js';
import { withHeartbeat } from './heartbeat.js';

/** Builds the QA activities. */
export function createQaActivities(ctx: ActivityContext) {
  return {
    /** Runs `qa.commands` plus the authoritative spec's Evidence commands in the workspace and returns their evidence. */
    async runQa(input: { workspace: WorkspaceInfo }): Promise<QaReport> {
      const { policy } = ctx.policy();
      const commands = await evidenceCommands(specFile(ctx.deps.home, input.workspace.key), policy.qa.commands);
      let running = '';
      const pidDir = pidDirFor(input.workspace.path);
      killOrphans(pidDir); // a QA command a crashed attempt left running must not run beside this one
      return withHeartbeat(
        (signal) =>
          runQaCommands({
            pidDir,
            commands,
            cwd: input.workspace.path,
            env: ctx.agentEnv(),
            timeoutMs: policy.qa.timeout_ms,
            tailBytes: policy.qa.output_tail_bytes,
            sandbox: sandboxPolicyOf(policy.sandbox),
            onDenied: (command, destination) =>
              ctx.log.warn({ command, destination }, 'sandbox refused a connection (not in sandbox.allow_hosts)'),
            signal,
            onCommand: (c) => {
              running = c;
            },
          }),
        () => ({ command: running }),
      );
    },
  };
}

/** The QA activities (types only on the workflow side). */
export type QaActivities = ReturnType<typeof createQaActivities>;
