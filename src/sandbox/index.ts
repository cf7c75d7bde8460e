/**
 * The sandbox around commands Foreman runs on an agent's or a policy's behalf: the agent's
 * `run_command`, QA evidence commands, the QA agent's checks and the `before_run` / `after_run`
 * hooks (agent-written code). `after_create` / `before_remove` are Foreman's own setup and stay on
 * the host. src/workspace/shell.ts calls {@link prepareSandbox} when a command carries a sandbox.
 */
import path from 'node:path';
import { WorkspaceError } from '../errors.js';
import { foremanHome } from '../home.js';
import { bwrapArgs, daemonHome, probeBwrap, SANDBOX_EGRESS_DIR, type SandboxBind } from './bwrap.js';
import { FORWARDER_FILE, forwarderArgv, type ForwardedPort } from './forwarder.js';
import { startEgressProxy, type EgressProxy } from './egress-proxy.js';
import type { SandboxMode, SandboxPolicy } from './policy.js';

export { DEFAULT_SANDBOX, sandboxPolicyOf, sandboxRisks, type SandboxPolicy } from './policy.js';

/** What `foreman validate` / `foreman start` print about the sandbox. */
export interface SandboxStatus {
  mode: SandboxMode;
  /** True when the mode can run here (`none` always can). */
  available: boolean;
  /** Empty when available; else why not and how to fix it. */
  reason: string;
}

/** Whether the policy's sandbox can run on this machine (probes bwrap once per process). Never rejects. */
export async function sandboxStatus(policy: Pick<SandboxPolicy, 'mode'>): Promise<SandboxStatus> {
  if (policy.mode === 'none') return { mode: 'none', available: true, reason: '' };
  const probe = await probeBwrap();
  return { mode: policy.mode, ...probe };
}

/** A one-line description of a status for a log or the CLI. */
export function describeSandboxStatus(status: SandboxStatus, policy: Pick<SandboxPolicy, 'network'>): string {
  if (status.mode === 'none') return 'sandbox: none (commands run as plain host processes)';
  if (!status.available) return `sandbox: ${status.mode} UNAVAILABLE: ${status.reason}`;
  return `sandbox: ${status.mode}, network ${policy.network}`;
}

/** How to spawn one sandboxed command. */
export interface PreparedSandbox {
  file: string;
  args: string[];
  /** Environment of the spawned bwrap process itself (the scrubbed one: /proc/1/environ inside shows it). */
  env: Record<string, string>;
  /** Refused egress destinations so far (`host:port`); empty unless `network: allowlist`. */
  deniedHosts(): string[];
  /** Stops the egress proxy, if any. Idempotent. */
  cleanup(): Promise<void>;
}

/**
 * Builds the bwrap invocation of `command` (or `argv`) in `workspace` under `policy` (mode
 * `bwrap`), starting the egress proxy for `network: allowlist`; every forwarded port (the proxy's,
 * `forward`'s) is served by one forwarder in front of the command.
 * @throws WorkspaceError `sandbox_unavailable` (not retryable) when bwrap cannot run here; the
 *   message says why and how to fix it.
 */
export async function prepareSandbox(opts: {
  policy: SandboxPolicy;
  workspace: string;
  cwd: string;
  env: Record<string, string>;
  command: string;
  /** Run this program and arguments instead of `bash -c <command>`. */
  argv?: string[];
  /** More host paths bound in (./bwrap.ts `SandboxBind`). */
  binds?: SandboxBind[];
  /**
   * More loopback ports inside piped to unix sockets (paths inside), by the forwarder script at
   * `forwarderScript` (its path inside; ./forwarder.ts).
   */
  forward?: { ports: ForwardedPort[]; forwarderScript: string };
  onDenied?: (destination: string) => void;
}): Promise<PreparedSandbox> {
  const probe = await probeBwrap();
  if (!probe.available) {
    throw new WorkspaceError(
      'sandbox_unavailable',
      `The command sandbox (sandbox.mode: bwrap) cannot run: ${probe.reason}`,
      {
        retryable: false,
      },
    );
  }
  let proxy: EgressProxy | null = null;
  const env = { ...opts.env };
  for (const name of ['NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy']) delete env[name];
  if (opts.policy.network === 'allowlist') {
    proxy = await startEgressProxy({
      allowHosts: opts.policy.allowHosts,
      ...(opts.onDenied ? { onDenied: opts.onDenied } : {}),
    });
    Object.assign(env, proxy.env);
    // The forwarded ports are on the sandbox's own loopback: never through the proxy.
    if (opts.forward) env.NO_PROXY = env.no_proxy = '127.0.0.1,localhost';
  }
  const ports = [...(proxy?.ports ?? []), ...(opts.forward?.ports ?? [])];
  const script = opts.forward?.forwarderScript ?? `${SANDBOX_EGRESS_DIR}/${FORWARDER_FILE}`;
  const args = bwrapArgs({
    workspace: opts.workspace,
    cwd: opts.cwd,
    env,
    policy: opts.policy,
    command: opts.command,
    ...(opts.argv ? { argv: opts.argv } : {}),
    ...(opts.binds ? { binds: opts.binds } : {}),
    // PATH entries in the daemon's HOME, FOREMAN_HOME or the workspaces' root are never bound.
    hidden: [daemonHome(), foremanHome(), path.dirname(path.resolve(opts.workspace))],
    ...(proxy ? { egressDir: proxy.dir } : {}),
    ...(ports.length > 0 ? { argvPrefix: forwarderArgv(script, ports) } : {}),
  });
  let closed = false;
  return {
    file: 'bwrap',
    args,
    env: opts.env,
    deniedHosts: () => [...(proxy?.denied ?? [])],
    async cleanup() {
      if (closed) return;
      closed = true;
      await proxy?.close();
    },
  };
}
