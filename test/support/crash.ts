/**
 * Crash-test helpers: worker child processes that can be killed with SIGKILL (their whole process
 * group), a polling `waitFor`, and a registry of the processes a test started so an `afterEach`
 * can kill whatever is left and fail the test for it.
 *
 * Does not start Temporal servers (src/temporal/dev-server.ts does; register one with
 * `trackProcess`) nor workflows.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, expect } from 'vitest';
import type { WorkerProcessConfig } from './worker-process.js';

/** The line worker-process.ts prints on stdout when its worker is polling. */
export const READY_LINE = 'READY';

const WORKER_SCRIPT = fileURLToPath(new URL('./worker-process.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** A process (group) a test started and must not leave behind. */
interface Tracked {
  name: string;
  pgid: number;
  /** Best-effort stop used by `reapLeftovers`; SIGKILL of the group follows regardless. */
  stop?: () => Promise<void>;
}

const tracked = new Map<number, Tracked>();

/** True while any process of group `pgid` is alive (signal 0 to the group). */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    // EPERM means it exists but belongs to someone else: alive all the same.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** SIGKILLs process group `pgid` and waits (up to `timeoutMs`, default 5000) until it is empty. */
export async function killGroup(pgid: number, timeoutMs = 5_000): Promise<void> {
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    // already gone
  }
  await waitFor(() => !groupAlive(pgid), timeoutMs, `process group ${pgid} to die after SIGKILL`, 20);
}

/**
 * Registers a process group the current test started (e.g. a dev server spawned `detached`), so
 * `reapLeftovers` kills it if the test does not stop it. Returns the function that unregisters it.
 */
export function trackProcess(name: string, pgid: number, stop?: () => Promise<void>): () => void {
  tracked.set(pgid, { name, pgid, ...(stop ? { stop } : {}) });
  return () => tracked.delete(pgid);
}

/**
 * For `afterEach`: kills every registered process group that is still alive and returns their
 * names (empty when the test stopped what it started; fail a passing test when it is not).
 * Throws an Error naming any group that survives SIGKILL.
 */
export async function reapLeftovers(): Promise<string[]> {
  const left: string[] = [];
  const survivors: string[] = [];
  for (const t of [...tracked.values()]) {
    tracked.delete(t.pgid);
    if (!groupAlive(t.pgid)) continue;
    const name = `${t.name} (pgid ${t.pgid})`;
    left.push(name);
    await Promise.race([t.stop?.().catch(() => {}), sleep(3_000)]);
    await killGroup(t.pgid).catch(() => survivors.push(name));
  }
  if (survivors.length) throw new Error(`Still running after SIGKILL: ${survivors.join(', ')}`);
  return left;
}

/**
 * Registers a crash test file's `afterEach` and returns the list its tests push cleanups onto.
 * After each test: kills the worker and server processes it left (`reapLeftovers`), then runs every
 * cleanup, last pushed first, even after one throws (the first error is rethrown); a test that
 * passed also fails when it left a process running (a failed one stopped half-way, so its
 * processes are only reaped, without a second error piled on).
 */
export function crashTestCleanups(): (() => Promise<void> | void)[] {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async (ctx) => {
    const errors: unknown[] = [];
    let leftovers: string[] = [];
    try {
      leftovers = await reapLeftovers();
    } catch (err) {
      errors.push(err);
    }
    while (cleanups.length) {
      try {
        await cleanups.pop()!();
      } catch (err) {
        errors.push(err);
      }
    }
    if (errors.length) throw errors[0];
    if (ctx.task.result?.state !== 'fail') expect(leftovers, 'processes the test left running').toEqual([]);
  });
  return cleanups;
}

/**
 * Polls `predicate` every `intervalMs` (default 100) until it returns a truthy value, and returns
 * that value. A predicate that throws counts as "not yet" (its last error is reported). Throws an
 * Error naming `describe` (a string, or a function giving context such as process output, called
 * only on timeout) after `timeoutMs`.
 */
export async function waitFor<T>(
  predicate: () => T | Promise<T>,
  timeoutMs: number,
  describe: string | (() => string | Promise<string>),
  intervalMs = 100,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await predicate();
      if (value) return value as NonNullable<T>;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) break;
    await sleep(intervalMs);
  }
  const what =
    typeof describe === 'string'
      ? describe
      : await (async () => describe())().catch((e: unknown) => `(describe failed: ${String(e)})`);
  const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
  throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}${why}`);
}

/** Options of {@link spawnWorker}. */
export interface SpawnWorkerOptions extends WorkerProcessConfig {
  /** FOREMAN_HOME of the worker (transcripts). */
  home: string;
  /** Environment besides FOREMAN_HOME. (Default: process.env, FOREMAN_LOG_LEVEL=warn) */
  env?: NodeJS.ProcessEnv;
  /** Name in error messages and leftovers. (Default: `worker <taskQueue>`) */
  name?: string;
  /** Give up waiting for READY after this many ms. (Default: 60000) */
  readyTimeoutMs?: number;
}

/** A worker child process. */
export interface WorkerProcess {
  /** Process id; also its process group id (spawned detached). */
  pid: number;
  /** Resolves when the worker prints READY; rejects if it exits or times out first. */
  ready: Promise<void>;
  /** Resolves when the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The last lines of its stdout and stderr. */
  output(): string;
  /** SIGKILL to its whole process group (`kill -9 -PGID`); resolves once the group is empty. */
  kill9(): Promise<void>;
  /** SIGTERM (graceful drain); SIGKILL of the group after 15 s. Resolves once the group is empty. */
  stop(): Promise<void>;
}

/**
 * Starts test/support/worker-process.ts as a detached child (its own process group) running
 * `node --import tsx` from the repository root, and registers it for `reapLeftovers`.
 */
export function spawnWorker(opts: SpawnWorkerOptions): WorkerProcess {
  const config: WorkerProcessConfig = {
    address: opts.address,
    taskQueue: opts.taskQueue,
    policyFile: opts.policyFile,
    ...(opts.namespace ? { namespace: opts.namespace } : {}),
  };
  const name = opts.name ?? `worker ${opts.taskQueue}`;
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER_SCRIPT, JSON.stringify(config)], {
    cwd: REPO_ROOT,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...(opts.env ?? { ...process.env, FOREMAN_LOG_LEVEL: 'warn' }), FOREMAN_HOME: opts.home },
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${name}: could not spawn ${process.execPath}`);
  trackProcess(name, pid);

  const lines: string[] = [];
  const keep = (prefix: string) => {
    let partial = '';
    return (chunk: Buffer) => {
      const parts = (partial + chunk.toString()).split('\n');
      partial = parts.pop() ?? '';
      for (const l of parts) {
        lines.push(`${prefix}${l}`);
        if (lines.length > 200) lines.shift();
        if (l.trim() === READY_LINE) readyResolve();
      }
    };
  };
  let readyResolve!: () => void;
  let readyReject!: (err: Error) => void;
  const ready = new Promise<void>((resolve, reject) => {
    readyResolve = resolve;
    readyReject = reject;
  });
  // Callers may never await ready (e.g. a worker killed at once); don't let it surface as unhandled.
  ready.catch(() => {});
  child.stdout!.on('data', keep(''));
  child.stderr!.on('data', keep('stderr: '));
  const output = () => lines.join('\n');

  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      readyReject(new Error(`${name} exited (code ${code}, signal ${signal}) before READY:\n${output()}`));
      resolve({ code, signal });
    });
  });
  const readyTimer = setTimeout(
    () =>
      readyReject(new Error(`${name} did not print READY within ${opts.readyTimeoutMs ?? 60_000} ms:\n${output()}`)),
    opts.readyTimeoutMs ?? 60_000,
  );
  void ready.finally(() => clearTimeout(readyTimer)).catch(() => {});

  const untrack = () => tracked.delete(pid);
  return {
    pid,
    ready,
    exited,
    output,
    async kill9() {
      await killGroup(pid);
      await exited;
      untrack();
    },
    async stop() {
      if (groupAlive(pid)) {
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          // gone already
        }
        await Promise.race([exited, sleep(15_000)]);
        await killGroup(pid);
      }
      untrack();
    },
  };
}
