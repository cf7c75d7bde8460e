/**
 * Runs a local Temporal dev server (`temporal server start-dev`) for `foreman start` without
 * TEMPORAL_ADDRESS and for the test suite: picks ports, spawns it in its own process group, waits
 * until the namespace answers (not just the port), stops it, and records it in
 * `<FOREMAN_HOME>/temporal-dev.json` so other Foreman processes (`foreman status`, `answer`) can
 * find the daemon's server.
 *
 * Does not find or build the CLI (cli-binary.ts does), and does not create clients or workers for
 * Foreman's own use (connection code does); it only opens short-lived connections to probe health.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir, open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Connection } from '@temporalio/client';
import { DEPLOYMENT_SEARCH_ATTRIBUTE } from '../deployment.js';
import { RUN_SEARCH_ATTRIBUTES } from '../../workflows/definitions.js';
import { TemporalServerError } from '../errors.js';
import { withoutSecrets } from '../workspace/shell.js';
import { ensureTemporalCli, type LogFn } from './cli-binary.js';
import { pidAlive, withFileLock } from '../file-lock.js';

/** Search attribute types `start-dev --search-attribute` accepts. */
export type SearchAttributeTypeName = 'Text' | 'Keyword' | 'Int' | 'Double' | 'Bool' | 'Datetime' | 'KeywordList';

/** temporal.api.enums.v1.IndexedValueType, by the CLI's type names. */
const INDEXED_VALUE_TYPE: Record<SearchAttributeTypeName, number> = {
  Text: 1,
  Keyword: 2,
  Int: 3,
  Double: 4,
  Bool: 5,
  Datetime: 6,
  KeywordList: 7,
};

/**
 * Dynamic config every Foreman dev server gets; deploy/temporal-dynamicconfig.yaml gives the
 * compose stack the same. Update-with-start (`executeMultiOperation`) is off by default in server
 * 1.29 and Foreman relies on it; updates are stated so nothing depends on a server default.
 * (Temporal CLI `server start-dev --dynamic-config-value`; docs/architecture.md, "Temporal dev server")
 */
export const DEFAULT_DYNAMIC_CONFIG: Readonly<Record<string, unknown>> = {
  'frontend.enableExecuteMultiOperation': true,
  'frontend.enableUpdateWorkflowExecution': true,
};

/**
 * Search attributes every Foreman dev server gets: the deployment key of each IssueWorkflow
 * (docs/architecture.md, "Deployments on one namespace"). A server elsewhere needs them created once.
 */
export const FOREMAN_SEARCH_ATTRIBUTES: Readonly<Record<string, SearchAttributeTypeName>> = {
  [DEPLOYMENT_SEARCH_ATTRIBUTE]: 'Keyword',
  ...RUN_SEARCH_ATTRIBUTES,
};

/** Options of {@link startDevServer}. */
export interface StartDevServerOptions {
  /** The `temporal` binary. (Default: ensureTemporalCli(), which may build it) */
  binary?: string;
  /** SQLite file that keeps state across restarts; its parent folder is created. (Default: none, in-memory) */
  dbFile?: string;
  /** Frontend gRPC port. (Default: a free port) */
  port?: number;
  /** Web UI port; 0 picks a free one. (Default: no UI, `--headless`) */
  uiPort?: number;
  /** IP the frontend (and UI) bind. (Default: '127.0.0.1') */
  host?: string;
  /** Namespace to create besides `default`, and the one health is checked on. (Default: 'default') */
  namespace?: string;
  /** Give up when the namespace does not answer within this many ms. (Default: 60000) */
  startTimeoutMs?: number;
  /** Foreman's progress lines ("Starting …", "ready on …"). (Default: none) */
  log?: LogFn;
  /** Each line the server prints, when there is no `logFile`. (Default: none; the last 60 lines are kept for errors) */
  onOutput?: LogFn;
  /** Append the server's stdout/stderr to this file (it then survives this process). (Default: none, kept in memory) */
  logFile?: string;
  /** Server log level. (Default: 'warn') */
  logLevel?: 'debug' | 'info' | 'warn' | 'error' | 'never';
  /** Extra `--dynamic-config-value KEY=<JSON>` entries, merged over {@link DEFAULT_DYNAMIC_CONFIG}. */
  dynamicConfig?: Record<string, unknown>;
  /** Search attributes to register on the namespace besides {@link FOREMAN_SEARCH_ATTRIBUTES}, e.g. `{ ForemanState: 'Keyword' }`. (Default: none) */
  searchAttributes?: Record<string, SearchAttributeTypeName>;
  /** Environment for the server process (secrets and TEMPORAL_* are dropped). (Default: process.env) */
  env?: NodeJS.ProcessEnv;
  /** SIGKILL the server when this Node process exits without calling stop(). (Default: true) */
  killOnExit?: boolean;
}

/** A running dev server. */
export interface DevServer {
  /** gRPC frontend address, `host:port`, e.g. '127.0.0.1:7233'. */
  address: string;
  /** Frontend gRPC port. */
  port: number;
  /** Web UI URL, when started with a UI. */
  uiUrl?: string;
  /** Server process id (also its process group id when this process started it). */
  pid: number;
  /** The `temporal` binary that runs it. */
  binary: string;
  /** The SQLite file, when not in-memory. */
  dbFile?: string;
  /** The namespace checked for health. */
  namespace: string;
  /** False when {@link connectOrStartDevServer} reused a server another process started. */
  owned: boolean;
  /**
   * Stops the server: SIGTERM to its process group, SIGKILL after 10 s. Idempotent. A no-op for a
   * server this process does not own (it belongs to the process that started it).
   */
  stop(): Promise<void>;
}

/** Returns a TCP port that was free on `host` a moment ago (listen on port 0, then close). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolvePort(port));
    });
  });
}

/** Pids to SIGKILL if this process exits with servers still running (one listener for all). */
const killOnExitGroups = new Set<number>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const pgid of killOnExitGroups) killGroup(pgid, 'SIGKILL');
  });
}

function killGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    try {
      process.kill(pgid, signal);
      return true;
    } catch {
      return false;
    }
  }
}

/** Keeps the last `max` lines of a stream. */
class LineRing {
  private lines: string[] = [];
  private partial = '';
  constructor(
    private readonly max: number,
    private readonly onLine?: LogFn,
  ) {}
  push(chunk: Buffer | string): void {
    const text = this.partial + chunk.toString();
    const parts = text.split('\n');
    this.partial = parts.pop() ?? '';
    for (const line of parts) this.add(line);
  }
  private add(line: string): void {
    if (line.trim() === '') return;
    this.lines.push(line);
    if (this.lines.length > this.max) this.lines.shift();
    this.onLine?.(line);
  }
  text(): string {
    if (this.partial) {
      this.add(this.partial);
      this.partial = '';
    }
    return this.lines.join('\n');
  }
}

/** The last `maxLines` lines of a file, reading at most its last 32 KiB. */
async function tailFile(path: string, maxLines = 40): Promise<string> {
  try {
    const fh = await open(path, 'r');
    try {
      const { size } = await fh.stat();
      const len = Math.min(size, 32 * 1024);
      const buf = Buffer.alloc(len);
      await fh.read(buf, 0, len, size - len);
      return buf
        .toString('utf8')
        .split('\n')
        .filter((l) => l.trim() !== '')
        .slice(-maxLines)
        .join('\n');
    } finally {
      await fh.close();
    }
  } catch {
    return '';
  }
}

/**
 * Probes a server: connects and describes `namespace`, all within `timeoutMs`. Resolves when the
 * namespace is ready; rejects with the client's error otherwise.
 */
export async function probeTemporal(address: string, namespace = 'default', timeoutMs = 3000): Promise<void> {
  // Connection.connect leaves its channel open when the first call fails; lazy + close does not.
  const connection = Connection.lazy({ address, connectTimeout: timeoutMs });
  try {
    await connection.ensureConnected();
    await connection.withDeadline(Date.now() + timeoutMs, () =>
      connection.workflowService.describeNamespace({ namespace }),
    );
  } finally {
    await connection.close().catch(() => {});
  }
}

/**
 * Adds the search attributes the namespace lacks (a reused db file only got the ones known at
 * creation); with `create: false`, only returns the names missing. Returns the names that were
 * missing. Throws what the operator service throws (unreachable, permission denied).
 */
export async function ensureSearchAttributes(
  address: string,
  namespace: string,
  wanted: Record<string, SearchAttributeTypeName>,
  opts: { create?: boolean } = {},
): Promise<string[]> {
  const connection = Connection.lazy({ address, connectTimeout: 10_000 });
  try {
    await connection.ensureConnected();
    const existing = await connection.withDeadline(Date.now() + 10_000, () =>
      connection.operatorService.listSearchAttributes({ namespace }),
    );
    const have = new Set([
      ...Object.keys(existing.customAttributes ?? {}),
      ...Object.keys(existing.systemAttributes ?? {}),
    ]);
    const missing = Object.fromEntries(
      Object.entries(wanted)
        .filter(([name]) => !have.has(name))
        .map(([name, type]) => [name, INDEXED_VALUE_TYPE[type]]),
    );
    if (Object.keys(missing).length === 0 || opts.create === false) return Object.keys(missing);
    await connection.withDeadline(Date.now() + 10_000, () =>
      connection.operatorService.addSearchAttributes({ namespace, searchAttributes: missing }),
    );
    return Object.keys(missing);
  } finally {
    await connection.close().catch(() => {});
  }
}

/** The server's environment: no secrets, and none of Foreman's own (TEMPORAL_* could redirect it). */
function serverEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return withoutSecrets(env);
}

function buildArgs(
  o: StartDevServerOptions,
  port: number,
  uiPort: number | undefined,
  host: string,
  namespace: string,
): string[] {
  const args = ['server', 'start-dev', '--ip', host, '--port', String(port), '--log-level', o.logLevel ?? 'warn'];
  if (uiPort === undefined) args.push('--headless');
  else args.push('--ui-port', String(uiPort));
  if (o.dbFile) args.push('--db-filename', resolve(o.dbFile));
  if (namespace !== 'default') args.push('--namespace', namespace);
  const dyn = { ...DEFAULT_DYNAMIC_CONFIG, ...o.dynamicConfig };
  for (const [key, value] of Object.entries(dyn))
    args.push('--dynamic-config-value', `${key}=${JSON.stringify(value)}`);
  for (const [name, type] of Object.entries({ ...FOREMAN_SEARCH_ATTRIBUTES, ...o.searchAttributes }))
    args.push('--search-attribute', `${name}=${type}`);
  return args;
}

/**
 * Starts `temporal server start-dev` and resolves once `namespace` answers a DescribeNamespace call.
 * Always passes `--ip`, `--port`, `--log-level` and `frontend.enableExecuteMultiOperation=true`;
 * with a `dbFile`, state survives restarts and kill -9 (the file is reopened as-is).
 * When the port was picked here and another process grabbed it first, retries twice with a new one.
 *
 * Throws TemporalServerError `temporal_cli_missing` (from ensureTemporalCli) when there is no CLI,
 * or `temporal_server_failed` (retryable) when the server exits early or is not healthy within
 * `startTimeoutMs`; the server is killed first and the message ends with its last output lines.
 */
export async function startDevServer(opts: StartDevServerOptions = {}): Promise<DevServer> {
  const env = opts.env ?? process.env;
  const log = opts.log ?? (() => {});
  const binary = opts.binary ?? (await ensureTemporalCli({ env, log }));
  const host = opts.host ?? '127.0.0.1';
  const namespace = opts.namespace ?? 'default';
  if (opts.dbFile) await mkdir(dirname(resolve(opts.dbFile)), { recursive: true });
  if (opts.logFile) await mkdir(dirname(resolve(opts.logFile)), { recursive: true });
  const attempts = opts.port === undefined || opts.uiPort === 0 ? 3 : 1;
  for (let attempt = 1; ; attempt++) {
    const port = opts.port ?? (await freePort(host));
    const uiPort = opts.uiPort === 0 ? await freePort(host) : opts.uiPort;
    try {
      return await startOnce(opts, { binary, host, namespace, port, uiPort, env, log });
    } catch (err) {
      const portTaken = err instanceof PortTakenError;
      if (!portTaken || attempt >= attempts) throw portTaken ? err.failure : err;
      log(`Temporal dev server: port ${port} was taken meanwhile; retrying on another port`);
    }
  }
}

/** Internal: the server died because its port was taken between freePort() and its bind. */
class PortTakenError extends Error {
  constructor(readonly failure: TemporalServerError) {
    super(failure.message);
  }
}

interface ResolvedStart {
  binary: string;
  host: string;
  namespace: string;
  port: number;
  uiPort: number | undefined;
  env: NodeJS.ProcessEnv;
  log: LogFn;
}

async function startOnce(opts: StartDevServerOptions, r: ResolvedStart): Promise<DevServer> {
  const args = buildArgs(opts, r.port, r.uiPort, r.host, r.namespace);
  const address = `${r.host}:${r.port}`;
  const ring = new LineRing(60, opts.onOutput);
  let child: ChildProcess;
  if (opts.logFile) {
    // The server writes to the file itself, so it keeps logging if this process goes away.
    const fd = openSync(resolve(opts.logFile), 'a');
    try {
      child = spawn(r.binary, args, { detached: true, stdio: ['ignore', fd, fd], env: serverEnv(r.env) });
    } finally {
      closeSync(fd);
    }
  } else {
    child = spawn(r.binary, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: serverEnv(r.env) });
    child.stdout?.on('data', (c: Buffer) => ring.push(c));
    child.stderr?.on('data', (c: Buffer) => ring.push(c));
  }
  let exitInfo: { code: number | null; signal: NodeJS.Signals | null; error?: Error } | undefined;
  const exited = new Promise<void>((resolveExit) => {
    child.once('error', (error) => {
      exitInfo = { code: null, signal: null, error };
      resolveExit();
    });
    child.once('exit', (code, signal) => {
      exitInfo = { code, signal };
      resolveExit();
    });
  });
  const pid = child.pid;
  if (pid === undefined) {
    await exited;
    throw new TemporalServerError(
      'temporal_server_failed',
      `Could not run the Temporal CLI ${r.binary}: ${exitInfo?.error?.message ?? 'spawn failed'}. ` +
        'Check TEMPORAL_CLI or reinstall it (foreman temporal-install).',
      { cause: exitInfo?.error, retryable: false },
    );
  }
  // A server left running must not keep a finished Node process alive, nor outlive it.
  child.unref();
  (child.stdout as { unref?: () => void } | null)?.unref?.();
  (child.stderr as { unref?: () => void } | null)?.unref?.();
  if (opts.killOnExit !== false) {
    installExitHook();
    killOnExitGroups.add(pid);
  }

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      if (!exitInfo) {
        killGroup(pid, 'SIGTERM');
        await Promise.race([exited, sleep(10_000)]);
        if (!exitInfo) {
          killGroup(pid, 'SIGKILL');
          await Promise.race([exited, sleep(5_000)]);
        }
      }
      // The leader is gone; take anything it left in its group with it.
      killGroup(pid, 'SIGKILL');
      killOnExitGroups.delete(pid);
    })());

  r.log(
    `Starting the Temporal dev server on ${address}${opts.dbFile ? ` (db ${resolve(opts.dbFile)})` : ' (in-memory)'}`,
  );
  const deadline = Date.now() + (opts.startTimeoutMs ?? 60_000);
  let lastError: unknown;
  for (;;) {
    if (exitInfo) break;
    const remaining = deadline - Date.now();
    if (remaining <= 0) break;
    try {
      await Promise.race([probeTemporal(address, r.namespace, Math.min(3000, Math.max(remaining, 200))), exited]);
      if (!exitInfo) {
        await ensureSearchAttributes(address, r.namespace, { ...FOREMAN_SEARCH_ATTRIBUTES, ...opts.searchAttributes });
        r.log(`Temporal dev server ready on ${address} (pid ${pid})`);
        return {
          address,
          port: r.port,
          ...(r.uiPort !== undefined ? { uiUrl: `http://${r.host}:${r.uiPort}` } : {}),
          pid,
          binary: r.binary,
          ...(opts.dbFile ? { dbFile: resolve(opts.dbFile) } : {}),
          namespace: r.namespace,
          owned: true,
          stop,
        };
      }
    } catch (err) {
      lastError = err;
    }
    await Promise.race([sleep(200), exited]);
  }

  const early = exitInfo;
  await stop();
  const output = opts.logFile ? await tailFile(resolve(opts.logFile)) : ring.text();
  const why = early
    ? `exited early (${early.error?.message ?? (early.signal ? `signal ${early.signal}` : `exit code ${early.code}`)})`
    : `did not answer on ${address} (namespace ${r.namespace}) within ${opts.startTimeoutMs ?? 60_000} ms` +
      (lastError instanceof Error ? ` (last error: ${lastError.message})` : '');
  const failure = new TemporalServerError(
    'temporal_server_failed',
    `The Temporal dev server ${why}: ${r.binary} ${args.join(' ')}` +
      (opts.logFile ? `\nLog: ${resolve(opts.logFile)}` : '') +
      (output ? `\nLast output:\n${output}` : '') +
      '\nCheck the output above; a corrupt db file can be moved aside, a busy port freed or changed.',
    { cause: early?.error ?? lastError, retryable: true },
  );
  if (early && /address already in use|bind:/i.test(output)) throw new PortTakenError(failure);
  throw failure;
}

/** What {@link recordDevServer} writes to `<home>/temporal-dev.json`. */
export interface RecordedDevServer {
  /** gRPC frontend address, `host:port`. */
  address: string;
  /** Server process id. */
  pid: number;
  /** The `temporal` binary. */
  binary?: string;
  /** The SQLite file, when not in-memory. */
  dbFile?: string;
  /** The namespace checked for health. */
  namespace?: string;
  /** The Temporal Web UI, when the server serves one. */
  uiUrl?: string;
  /** ISO 8601 time the record was written. */
  startedAt: string;
}

const recordPath = (home: string) => join(home, 'temporal-dev.json');

/** Writes `<home>/temporal-dev.json` for `s` (atomically: temp file + rename). */
export async function recordDevServer(home: string, s: DevServer): Promise<void> {
  await mkdir(home, { recursive: true });
  const rec: RecordedDevServer = {
    address: s.address,
    pid: s.pid,
    binary: s.binary,
    ...(s.dbFile ? { dbFile: s.dbFile } : {}),
    namespace: s.namespace,
    ...(s.uiUrl ? { uiUrl: s.uiUrl } : {}),
    startedAt: new Date().toISOString(),
  };
  const tmp = `${recordPath(home)}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(rec, null, 2) + '\n');
  await rename(tmp, recordPath(home));
}

/**
 * Reads `<home>/temporal-dev.json` and returns it only if its pid is alive and its address answers
 * (namespace described within `timeoutMs`, default 3000 ms); a missing, unreadable or stale record
 * gives null.
 */
export async function readRecordedDevServer(
  home: string,
  opts: { timeoutMs?: number } = {},
): Promise<RecordedDevServer | null> {
  let rec: RecordedDevServer;
  try {
    rec = JSON.parse(await readFile(recordPath(home), 'utf8')) as RecordedDevServer;
  } catch {
    return null;
  }
  if (typeof rec.address !== 'string' || typeof rec.pid !== 'number' || !pidAlive(rec.pid)) return null;
  try {
    await probeTemporal(rec.address, rec.namespace ?? 'default', opts.timeoutMs ?? 3000);
  } catch {
    return null;
  }
  return rec;
}

/**
 * Removes `<home>/temporal-dev.json`. With `pid`, only when the record is that server's, so an
 * old owner shutting down does not erase a newer server's record.
 */
export async function clearRecordedDevServer(home: string, pid?: number): Promise<void> {
  if (pid !== undefined) {
    try {
      const rec = JSON.parse(await readFile(recordPath(home), 'utf8')) as RecordedDevServer;
      if (rec.pid !== pid) return;
    } catch {
      return;
    }
  }
  await rm(recordPath(home), { force: true });
}

/** Options of {@link connectOrStartDevServer}. */
export interface ConnectOrStartOptions extends StartDevServerOptions {
  /** FOREMAN_HOME: where `temporal-dev.json` and its lock live. */
  home: string;
  /** SQLite file. (Default: `<home>/temporal/dev.sqlite`) */
  dbFile?: string;
}

/**
 * Reuses the dev server recorded in `<home>` when it is alive, answering and on the same db file;
 * otherwise starts one ({@link startDevServer}) and records it. A lock file (`<home>/temporal-dev.lock`)
 * keeps two processes from starting two servers on one db file. The returned server's stop() clears
 * the record; a reused server is not owned and its stop() does nothing.
 *
 * Throws what startDevServer throws.
 */
export async function connectOrStartDevServer(opts: ConnectOrStartOptions): Promise<DevServer> {
  const dbFile = resolve(opts.dbFile ?? join(opts.home, 'temporal', 'dev.sqlite'));
  const log = opts.log ?? (() => {});
  // Resolve (maybe build) the CLI before taking the lock: a build takes minutes.
  const binary = opts.binary ?? (await ensureTemporalCli({ env: opts.env ?? process.env, log }));
  return withFileLock(
    join(opts.home, 'temporal-dev.lock'),
    async () => {
      const rec = await readRecordedDevServer(opts.home);
      if (rec && rec.dbFile && resolve(rec.dbFile) === dbFile) {
        log(`Reusing the Temporal dev server on ${rec.address} (pid ${rec.pid})`);
        const port = Number(rec.address.slice(rec.address.lastIndexOf(':') + 1));
        return {
          address: rec.address,
          port,
          pid: rec.pid,
          binary: rec.binary ?? '',
          dbFile,
          namespace: rec.namespace ?? 'default',
          ...(rec.uiUrl ? { uiUrl: rec.uiUrl } : {}),
          owned: false,
          stop: async () => {},
        };
      }
      const server = await startDevServer({ ...opts, binary, dbFile });
      await recordDevServer(opts.home, server);
      const stopServer = server.stop;
      let stopping: Promise<void> | undefined;
      server.stop = () =>
        (stopping ??= (async () => {
          await stopServer();
          await clearRecordedDevServer(opts.home, server.pid);
        })());
      return server;
    },
    {
      timeoutMs: (opts.startTimeoutMs ?? 60_000) + 30_000,
      timeoutError: (message) => new TemporalServerError('temporal_server_failed', message),
      onWait: (holder, waitedMs) =>
        log(
          waitedMs === 0
            ? `Waiting for another process (pid ${holder}) starting the Temporal dev server …`
            : `  … still waiting for pid ${holder} to start the Temporal dev server (${Math.round(waitedMs / 1000)} s)`,
        ),
    },
  );
}
