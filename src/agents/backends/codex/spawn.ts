/**
 * Starts the app server (`bash -c "exec <command>"`) in the workspace, inside the policy's sandbox
 * when it is `bwrap` (src/sandbox/), with stdin/stdout pipes for JSON-RPC and its process group
 * recorded in `pidDir` so a later attempt ends it after a crash (src/workspace/shell.ts
 * `killOrphans`).
 *
 * Local stand-in for the gateway's `spawnSandboxed` (src/sandbox/), which replaces it once on main.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { SANDBOX_HOME } from '../../../sandbox/bwrap.js';
import { prepareSandbox } from '../../../sandbox/index.js';
import type { SandboxPolicy } from '../../../sandbox/policy.js';
import { startTimeOf } from '../../../workspace/shell.js';

/** A running app server process. */
export interface AppServerProcess {
  child: ChildProcessWithoutNullStreams;
  /** Kills the whole process group (SIGKILL) and releases the sandbox. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Spawns `command` with `env` in `workspace`. @throws WorkspaceError `sandbox_unavailable` when
 * the sandbox is `bwrap` and bubblewrap cannot run here.
 */
export async function spawnAppServer(o: {
  command: string;
  workspace: string;
  env: Record<string, string>;
  sandbox: SandboxPolicy;
  pidDir: string;
}): Promise<AppServerProcess> {
  // codex creates the helper its own sandbox needs only outside TMPDIR, and CODEX_HOME is under the
  // workspace, which may be under /tmp: inside Foreman's sandbox TMPDIR moves into the private HOME.
  const line =
    o.sandbox.mode === 'bwrap'
      ? `export TMPDIR=${SANDBOX_HOME}/tmp && mkdir -p "$TMPDIR" && exec ${o.command}`
      : `exec ${o.command}`;
  const prepared =
    o.sandbox.mode === 'bwrap'
      ? await prepareSandbox({ policy: o.sandbox, workspace: o.workspace, cwd: o.workspace, env: o.env, command: line })
      : null;
  const spec = prepared
    ? { file: prepared.file, args: prepared.args, env: prepared.env }
    : { file: 'bash', args: ['-c', line], env: o.env };
  const child = spawn(spec.file, spec.args, { cwd: o.workspace, env: spec.env, detached: true, stdio: 'pipe' });
  let pidFile: string | null = null;
  if (child.pid !== undefined) {
    try {
      mkdirSync(o.pidDir, { recursive: true });
      pidFile = path.join(o.pidDir, String(child.pid));
      writeFileSync(pidFile, `${child.pid} ${startTimeOf(child.pid) ?? ''}\n`);
    } catch {
      pidFile = null; // recording is a safety net
    }
  }
  let stopped = false;
  return {
    child,
    async stop() {
      if (stopped) return;
      stopped = true;
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, 2_000);
          child.once('close', () => {
            clearTimeout(t);
            resolve();
          });
        });
      }
      if (pidFile) rmSync(pidFile, { force: true });
      await prepared?.cleanup();
    },
  };
}
