/**
 * A long-lived agent process (a CLI backend: `claude`, `codex app-server`) in the sandbox, with
 * stdin/stdout/stderr pipes, and the model gateway reachable from inside (specs/gateway.md,
 * "Sandbox exposure"). With `sandbox.network: none | allowlist` the process has an empty network
 * namespace: the gateway's socket directory is bound in read-only at SANDBOX_GATEWAY_DIR and the
 * forwarder (./forwarder.ts) serves it on 127.0.0.1:SANDBOX_GATEWAY_PORT inside, in front of the
 * command. With `network: host` or `mode: none` the process reaches the gateway's host loopback
 * URL directly. The process runs in its own process group, recorded in `pidDir` for
 * `killOrphans` (src/workspace/shell.ts); an abort or `kill()` ends the group (SIGTERM, then
 * SIGKILL after 2 s), and so does the process's exit (nothing it started outlives it).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { rmSync } from 'node:fs';
import { WorkspaceError } from '../errors.js';
import {
  GATEWAY_SOCKET,
  SANDBOX_GATEWAY_DIR,
  SANDBOX_GATEWAY_PORT,
  type GatewayEndpoint,
} from '../gateway/endpoint.js';
import { KILL_GRACE_MS, killGroup, recordGroup } from '../workspace/shell.js';
import type { SandboxBind } from './bwrap.js';
import { FORWARDER_FILE } from './forwarder.js';
import { prepareSandbox, type PreparedSandbox, type SandboxPolicy } from './index.js';

/** How the agent process reaches the gateway under `sandbox`: the host loopback, or the forwarder inside. */
export function gatewayReach(sandbox: SandboxPolicy): 'host' | 'sandbox' {
  return sandbox.mode === 'bwrap' && sandbox.network !== 'host' ? 'sandbox' : 'host';
}

/** Options of {@link spawnSandboxed}. */
export interface SpawnSandboxedOptions {
  /** The workspace: bound read-write (its `.git` read-only). */
  workspace: string;
  /** Working directory (the same path inside). (Default: `workspace`) */
  cwd?: string;
  /** The complete environment (scrubbed, src/workspace/shell.ts `scrubbedEnv`); nothing is inherited. */
  env: Record<string, string>;
  sandbox: SandboxPolicy;
  /** The program and its arguments (no shell). */
  argv: string[];
  /** Where the process group is recorded for `killOrphans`. (Default: not recorded) */
  pidDir?: string;
  /** The gateway to make reachable inside (a session's `endpoint`). (Default: none) */
  gateway?: GatewayEndpoint;
  /** More host paths bound in (a CLI's binary directory read-only, its state directory read-write). */
  binds?: SandboxBind[];
  /** Aborting ends the process group. */
  signal?: AbortSignal;
  /** Called once per egress destination the sandbox refuses (`network: allowlist`). */
  onDenied?: (destination: string) => void;
}

/** A running sandboxed process. */
export interface SandboxedProcess {
  /** The spawned process (bwrap's, when sandboxed) with its three pipes. */
  child: ChildProcessWithoutNullStreams;
  /** Resolves when the process exited and its group and sandbox were cleaned up. */
  exited: Promise<{ code: number | null; signal: string | null }>;
  /** Ends the process group: SIGTERM, then SIGKILL after 2 s. Idempotent. */
  kill(): void;
}

/**
 * Starts `argv` in the sandbox (see the module doc).
 * @throws WorkspaceError `sandbox_unavailable` when bwrap cannot run here (the message says how to
 *   fix it); `shell_spawn_failed` when the process cannot be started.
 */
export async function spawnSandboxed(o: SpawnSandboxedOptions): Promise<SandboxedProcess> {
  const cwd = o.cwd ?? o.workspace;
  let sandbox: PreparedSandbox | null = null;
  if (o.sandbox.mode === 'bwrap') {
    const inside = o.gateway && gatewayReach(o.sandbox) === 'sandbox';
    sandbox = await prepareSandbox({
      policy: o.sandbox,
      workspace: o.workspace,
      cwd,
      env: o.env,
      command: '',
      argv: o.argv,
      binds: [
        ...(inside ? [{ host: o.gateway!.socketDir, inside: SANDBOX_GATEWAY_DIR, readOnly: true }] : []),
        ...(o.binds ?? []),
      ],
      ...(inside
        ? {
            forward: {
              ports: [{ port: SANDBOX_GATEWAY_PORT, socket: `${SANDBOX_GATEWAY_DIR}/${GATEWAY_SOCKET}` }],
              forwarderScript: `${SANDBOX_GATEWAY_DIR}/${FORWARDER_FILE}`,
            },
          }
        : {}),
      ...(o.onDenied ? { onDenied: o.onDenied } : {}),
    });
  }
  const [file, ...args] = sandbox ? [sandbox.file, ...sandbox.args] : o.argv;
  const child = spawn(file!, args, {
    cwd,
    env: sandbox ? sandbox.env : o.env,
    detached: true,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const pidFile = o.pidDir && child.pid !== undefined ? recordGroup(o.pidDir, child.pid) : null;
  let killing = false;
  const kill = (): void => {
    if (killing || child.pid === undefined) return;
    killing = true;
    const pid = child.pid;
    killGroup(pid, 'SIGTERM');
    setTimeout(() => killGroup(pid, 'SIGKILL'), KILL_GRACE_MS).unref();
  };
  const onAbort = (): void => kill();
  if (o.signal?.aborted) kill();
  else o.signal?.addEventListener('abort', onAbort, { once: true });

  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve, reject) => {
    const done = async (): Promise<void> => {
      o.signal?.removeEventListener('abort', onAbort);
      if (pidFile) rmSync(pidFile, { force: true });
      await sandbox?.cleanup();
    };
    child.once('error', (err) => {
      void done().then(() =>
        reject(
          new WorkspaceError('shell_spawn_failed', `Could not start ${file} in ${cwd}: ${err.message}.`, {
            cause: err,
            retryable: false,
          }),
        ),
      );
    });
    child.once('exit', (code, signal) => {
      // What the process left running in its group goes with it.
      if (child.pid !== undefined) killGroup(child.pid, 'SIGKILL');
      void done().then(() => resolve({ code, signal }));
    });
  });
  // A spawn failure surfaces through `exited`; never as an unhandled rejection.
  exited.catch(() => {});
  return { child: child as ChildProcessWithoutNullStreams, exited, kill };
}
