/**
 * The one shell runner Foreman uses for anything a policy or an agent asks it to execute: the
 * agent's `run_command` tool, QA evidence commands and workspace hooks. It owns the scrubbed child
 * environment (secrets never reach a child process), process-group lifetime (a timeout or abort
 * ends the whole tree) and bounded output capture (head and tail kept). Agent-facing commands
 * carry a sandbox and run inside it (src/sandbox/: bubblewrap, the allowlist egress proxy).
 *
 * It does not decide *what* may run (the reviewer's read-only check lives in src/agents/tools.ts),
 * nor interpret exit codes (QA and hooks do).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { WorkspaceError } from '../errors.js';
import { isCredentialEnvName } from '../redact.js';
import { prepareSandbox, type PreparedSandbox, type SandboxPolicy } from '../sandbox/index.js';

/** What a finished (or killed) shell command left behind. */
export interface ShellResult {
  /** The command's exit code; `null` when it was ended by a signal. */
  exitCode: number | null;
  /** The signal that ended it (e.g. `SIGTERM`, `SIGKILL`), or `null` when it exited by itself. */
  signal: string | null;
  /** True when `timeoutMs` passed and Foreman killed the process group. */
  timedOut: boolean;
  /** Wall time from spawn to the end of output, in ms. */
  durationMs: number;
  /** stdout and stderr interleaved in arrival order; head and tail kept when over the limit. */
  output: string;
  /** True when bytes were dropped from the middle of `output`. */
  truncated: boolean;
  /** Total bytes the command wrote to stdout + stderr, including dropped ones. */
  outputBytes: number;
  /** Egress destinations (`host:port`) the sandbox refused (`sandbox.network: allowlist`); else empty. */
  deniedHosts: string[];
}

/** Options of {@link runShell}. */
export interface RunShellOptions {
  /** The command line, run as `bash -c <command>`. */
  command: string;
  /** Working directory (must exist). */
  cwd: string;
  /** The complete child environment; nothing is inherited. Build it with {@link scrubbedEnv}. */
  env: Record<string, string>;
  /** Kill the process group after this many ms (SIGTERM, then SIGKILL 2 s later). */
  timeoutMs: number;
  /** Bytes of output kept: half from the head, half from the tail. (Default: 16000) */
  maxOutputBytes?: number;
  /** Aborting ends the process group like a timeout does (but `timedOut` stays false). */
  signal?: AbortSignal;
  /**
   * Directory where the running command's process group is recorded (one file per group, removed
   * when it ends), so that after a crash of this process the next attempt can end what is left
   * with {@link killOrphans}. (Default: not recorded)
   */
  pidDir?: string;
  /**
   * Run inside this sandbox (src/sandbox/), with `workspace` read-write (its `.git` read-only).
   * (Default: none = a plain host process, for Foreman's own commands such as `after_create`)
   */
  sandbox?: { policy: SandboxPolicy; workspace: string };
  /** Called once per egress destination the sandbox refuses (`host:port`), e.g. to log it. */
  onDenied?: (destination: string) => void;
}

/** Options of {@link scrubbedEnv}. */
export interface ScrubbedEnvOptions {
  /** The environment to filter. (Default: `process.env`) */
  base?: NodeJS.ProcessEnv;
  /** Extra variable names to pass through; a trailing `*` matches a prefix (`NODE_*`). */
  allow?: string[];
  /** Set after filtering, as given (the caller vouches for them). */
  extra?: Record<string, string>;
}

/** Default cap on captured output, in bytes. */
export const DEFAULT_MAX_OUTPUT_BYTES = 16_000;

/** Grace between SIGTERM and SIGKILL when ending a process group, in ms. */
export const KILL_GRACE_MS = 2_000;

const BASE_ALLOW = ['PATH', 'HOME', 'USER', 'LOGNAME', 'SHELL', 'LANG', 'LC_*', 'TZ', 'TMPDIR', 'TERM'];

/** Foreman's own configuration namespaces: never a child's business, even when allowed. */
const FOREMAN_OWN = /^(ANTHROPIC|LINEAR|GITHUB|TEMPORAL|FOREMAN)_/i;

/** True when an environment variable name must never reach a child process (a credential or Foreman's own). */
export function isSecretEnvName(name: string): boolean {
  return isCredentialEnvName(name) || FOREMAN_OWN.test(name);
}

function matchesAllow(name: string, allow: readonly string[]): boolean {
  return allow.some((pattern) => (pattern.endsWith('*') ? name.startsWith(pattern.slice(0, -1)) : name === pattern));
}

/**
 * Builds the environment for a child process from an allowlist: PATH, HOME, USER, LOGNAME, SHELL,
 * LANG, LC_*, TZ, TMPDIR, TERM plus `opts.allow`, minus any name that looks like a secret
 * (TOKEN|SECRET|KEY|PASSWORD|PASSWD|CREDENTIAL|AUTH) or belongs to Foreman (ANTHROPIC_*, LINEAR_*,
 * GITHUB_*, TEMPORAL_*, FOREMAN_*) even when allowed. Then sets CI=true and GIT_TERMINAL_PROMPT=0
 * (no interactive prompts in an unattended run), then `opts.extra` as given.
 */
export function scrubbedEnv(opts: ScrubbedEnvOptions = {}): Record<string, string> {
  const base = opts.base ?? process.env;
  const allow = [...BASE_ALLOW, ...(opts.allow ?? [])];
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(base)) {
    if (value === undefined || !matchesAllow(name, allow) || isSecretEnvName(name)) continue;
    env[name] = value;
  }
  env.CI = 'true';
  env.GIT_TERMINAL_PROMPT = '0';
  return { ...env, ...(opts.extra ?? {}) };
}

/**
 * Removes secret-looking and Foreman-owned names from an environment that was built elsewhere
 * (deny-only, no allowlist): a second fence for callers that pass their own env.
 */
export function withoutSecrets(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && !isSecretEnvName(name)) out[name] = value;
  }
  return out;
}

/** Where a workspace's running commands are recorded (inside `.foreman/`, which git ignores). */
export function pidDirFor(workspace: string): string {
  return path.join(workspace, '.foreman', 'pids');
}

/**
 * The start time of a process (Linux: /proc/<pid>/stat field 22, clock ticks since boot), or null
 * when unknown (gone, or no /proc). With the pid it names one process: a reused pid has another.
 */
export function startTimeOf(pid: number): string | null {
  return procStat(pid)?.[19] ?? null;
}

/**
 * The fields of /proc/<pid>/stat after the command name (field 3, the state, first), or null
 * when the process is gone. The name is skipped by its last `)`: it may hold spaces and parens.
 */
function procStat(pid: number | string): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/**
 * Writes `<dir>/<pgid>` holding the group id and its leader's start time, for {@link killOrphans};
 * returns the file (remove it when the group ends), or null when it could not be written.
 */
export function recordGroup(dir: string, pgid: number): string | null {
  try {
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, String(pgid));
    writeFileSync(file, `${pgid} ${startTimeOf(pgid) ?? ''}\n`);
    return file;
  } catch {
    return null; // recording is a safety net; the command still runs
  }
}

/**
 * Ends the process groups recorded in `dir` by a process that died (e.g. a worker killed with
 * `kill -9` while an agent's command or a QA command ran), so a retried step never runs beside a
 * leftover. A group is killed only while its leader is the process that was recorded (same start
 * time), never a later process that reused the pid. Returns how many groups were ended.
 */
export function killOrphans(dir: string): number {
  let killed = 0;
  let files: string[];
  try {
    files = readdirSync(dir);
  } catch {
    return 0;
  }
  for (const name of files) {
    const file = path.join(dir, name);
    try {
      const [pidText, started] = readFileSync(file, 'utf8').trim().split(' ');
      const pgid = Number(pidText);
      if (Number.isInteger(pgid) && pgid > 1 && started && startTimeOf(pgid) === started) {
        killGroup(pgid, 'SIGKILL');
        killed++;
      }
    } catch {
      // unreadable record: drop it
    }
    rmSync(file, { force: true });
  }
  return killed;
}

/** Keeps the first and last bytes of a stream within a budget, counting what it drops. */
class HeadTailBuffer {
  private readonly head: Buffer[] = [];
  private headBytes = 0;
  private tail: Buffer[] = [];
  private tailBytes = 0;
  total = 0;

  constructor(private readonly maxBytes: number) {}

  push(chunk: Buffer): void {
    this.total += chunk.length;
    const headLimit = Math.ceil(this.maxBytes / 2);
    if (this.headBytes < headLimit) {
      const take = Math.min(headLimit - this.headBytes, chunk.length);
      this.head.push(chunk.subarray(0, take));
      this.headBytes += take;
      chunk = chunk.subarray(take);
      if (chunk.length === 0) return;
    }
    this.tail.push(chunk);
    this.tailBytes += chunk.length;
    const tailLimit = this.maxBytes - headLimit;
    // Drop whole chunks from the front while the rest still covers the tail budget.
    while (this.tail.length > 1 && this.tailBytes - this.tail[0]!.length >= tailLimit) {
      this.tailBytes -= this.tail.shift()!.length;
    }
  }

  render(): { output: string; truncated: boolean } {
    const head = Buffer.concat(this.head);
    let tail = Buffer.concat(this.tail);
    if (this.total <= this.maxBytes) {
      return { output: Buffer.concat([head, tail]).toString('utf8'), truncated: false };
    }
    const tailLimit = this.maxBytes - Math.ceil(this.maxBytes / 2);
    tail = tail.subarray(tail.length - tailLimit);
    const omitted = this.total - head.length - tail.length;
    const marker = `\n[… ${omitted} bytes omitted …]\n`;
    return { output: head.toString('utf8') + marker + tail.toString('utf8'), truncated: true };
  }
}

/** Sends `signal` to the process group `pid`; a group already gone is fine. */
export function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}

/**
 * Runs `bash -c <command>` (not a login shell: profiles could re-add secrets) in its own process
 * group with stdin closed, capturing stdout+stderr interleaved. On timeout or abort the whole
 * group gets SIGTERM, then SIGKILL after 2 s; background processes the command leaves behind are
 * ended the same way when it exits, so nothing outlives the call.
 *
 * With `opts.sandbox` (mode `bwrap`) the command runs under bubblewrap (src/sandbox/): a PID
 * namespace whose init ends every process the command started when the command ends, even
 * `setsid` ones; the group killed on timeout is bwrap's, and `--die-with-parent` takes the rest.
 *
 * Resolves for every exit, zero or not. Rejects when bash cannot be spawned: `WorkspaceError`
 * code `shell_spawn_failed` (e.g. `cwd` does not exist); or when the sandbox cannot run here:
 * `sandbox_unavailable` (not retryable; the message says how to fix it).
 */
export async function runShell(opts: RunShellOptions): Promise<ShellResult> {
  let sandbox: PreparedSandbox | null = null;
  if (opts.sandbox && opts.sandbox.policy.mode === 'bwrap') {
    sandbox = await prepareSandbox({
      policy: opts.sandbox.policy,
      workspace: opts.sandbox.workspace,
      cwd: opts.cwd,
      env: opts.env,
      command: opts.command,
      ...(opts.onDenied ? { onDenied: opts.onDenied } : {}),
    });
  }
  const spec = sandbox
    ? { file: sandbox.file, args: sandbox.args, env: sandbox.env }
    : { file: 'bash', args: ['-c', opts.command], env: opts.env };
  try {
    const result = await runProcess(opts, spec, sandbox !== null);
    return { ...result, deniedHosts: sandbox?.deniedHosts() ?? [] };
  } finally {
    await sandbox?.cleanup();
  }
}

/** Spawns `spec` in its own process group and collects it (the body of {@link runShell}). */
function runProcess(
  opts: RunShellOptions,
  spec: { file: string; args: string[]; env: Record<string, string> },
  sandboxed = false,
): Promise<Omit<ShellResult, 'deniedHosts'>> {
  const maxOutputBytes = Math.max(64, opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES);
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(spec.file, spec.args, {
      cwd: opts.cwd,
      env: spec.env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const pidFile = opts.pidDir && child.pid !== undefined ? recordGroup(opts.pidDir, child.pid) : null;
    // The sandbox's PID namespace: the command counts as ended once nothing is left in it.
    const namespace = sandboxed && child.pid !== undefined ? watchNamespace(child.pid) : null;
    const buffer = new HeadTailBuffer(maxOutputBytes);
    let timedOut = false;
    let exitCode: number | null = null;
    let exitSignal: string | null = null;
    let settled = false;
    const timers: NodeJS.Timeout[] = [];

    const terminate = (): void => {
      if (child.pid === undefined) return;
      const pid = child.pid;
      killGroup(pid, 'SIGTERM');
      const escalate = setTimeout(() => killGroup(pid, 'SIGKILL'), KILL_GRACE_MS);
      escalate.unref();
      timers.push(escalate);
      // Descendants that ignore both signals and keep the pipes open must not hang the caller.
      const giveUp = setTimeout(() => {
        child.stdout?.destroy();
        child.stderr?.destroy();
        finish();
      }, KILL_GRACE_MS + 1_000);
      giveUp.unref();
      timers.push(giveUp);
    };

    const onAbort = (): void => terminate();

    const finish = (): void => {
      if (settled) return;
      if (namespace && !namespace.ended()) {
        setTimeout(finish, 5);
        return;
      }
      settled = true;
      if (pidFile) rmSync(pidFile, { force: true });
      for (const t of timers) clearTimeout(t);
      opts.signal?.removeEventListener('abort', onAbort);
      const { output, truncated } = buffer.render();
      resolve({
        exitCode,
        signal: exitSignal,
        timedOut,
        durationMs: Math.round(performance.now() - started),
        output,
        truncated,
        outputBytes: buffer.total,
      });
    };

    child.stdout!.on('data', (chunk: Buffer) => buffer.push(chunk));
    child.stderr!.on('data', (chunk: Buffer) => buffer.push(chunk));

    child.once('error', (err) => {
      if (settled) return;
      settled = true;
      for (const t of timers) clearTimeout(t);
      opts.signal?.removeEventListener('abort', onAbort);
      reject(
        new WorkspaceError(
          'shell_spawn_failed',
          `Could not start ${spec.file} in ${opts.cwd}: ${err.message}. Check that ${spec.file} is on PATH and the directory exists.`,
          {
            cause: err,
            retryable: false,
          },
        ),
      );
    });

    child.once('exit', (code, signal) => {
      exitCode = code;
      exitSignal = signal;
      // End whatever the command left running in its group (also releases pipes they hold).
      if (child.pid !== undefined) terminate();
    });

    child.once('close', () => finish());

    const timeout = setTimeout(() => {
      timedOut = true;
      terminate();
    }, opts.timeoutMs);
    timeout.unref();
    timers.push(timeout);

    if (opts.signal) {
      if (opts.signal.aborted) terminate();
      else opts.signal.addEventListener('abort', onAbort, { once: true });
    }
  });
}

/** This process's PID namespace (a sandbox's differs). */
const HOST_PID_NAMESPACE = (() => {
  try {
    return readlinkSync('/proc/self/ns/pid');
  } catch {
    return null;
  }
})();

/** Longest wait for a sandbox's PID namespace to empty after bwrap exits, ms. */
const NAMESPACE_END_WAIT_MS = 2_000;

/**
 * Watches the PID namespace of the sandbox started as `bwrapPid` (bwrap's child is its init):
 * `ended()` is true once no process of the host is in it any more (or after
 * NAMESPACE_END_WAIT_MS, or when the namespace could not be learnt). The kernel kills what is left
 * in a PID namespace when its init ends; this makes `runShell` return only after that happened.
 */
function watchNamespace(bwrapPid: number): { ended(): boolean } {
  let ns: string | null = null;
  const learnt = Date.now();
  const learn = setInterval(() => {
    try {
      const init = readFileSync(`/proc/${bwrapPid}/task/${bwrapPid}/children`, 'utf8').trim().split(/\s+/)[0];
      const link = init ? readlinkSync(`/proc/${init}/ns/pid`) : null;
      if (link !== null && link !== HOST_PID_NAMESPACE) ns = link; // not yet unshared: ask again
    } catch {
      // Not there yet, or already gone.
    }
    if (ns !== null || Date.now() - learnt > 1_000) clearInterval(learn);
  }, 2);
  learn.unref();
  let since: number | null = null;
  return {
    ended() {
      clearInterval(learn);
      if (ns === null) return true;
      since ??= Date.now();
      if (Date.now() - since > NAMESPACE_END_WAIT_MS) return true;
      for (const p of readdirSync('/proc')) {
        if (!/^\d+$/.test(p)) continue;
        try {
          if (readlinkSync(`/proc/${p}/ns/pid`) === ns && !isZombie(p)) return false;
        } catch {
          // Gone meanwhile, or not ours to read.
        }
      }
      return true;
    },
  };
}

/** True when /proc says the process has exited and waits to be reaped (it can no longer act). */
function isZombie(pid: string): boolean {
  const state = procStat(pid)?.[0] ?? 'X'; // gone counts as ended
  return state === 'Z' || state === 'X';
}
