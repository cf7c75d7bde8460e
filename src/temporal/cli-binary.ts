/**
 * Finds the Temporal CLI (`temporal`) that runs Foreman's local dev server, and builds it with Go
 * when it is nowhere to be found. The build holds a lock file (src/file-lock.ts), so parallel test
 * workers or a daemon and a test never build the same thing twice.
 *
 * Does not start or talk to a server (dev-server.ts does) and never downloads a prebuilt binary:
 * the only network access is `go install` fetching modules through the Go proxy, once.
 */
import { spawn } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import { access, mkdir, mkdtemp, rename, rm, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { TemporalServerError } from '../errors.js';
import { withoutSecrets } from '../workspace/shell.js';
import { withFileLock } from '../file-lock.js';

/**
 * The Temporal CLI release Foreman builds and caches. v1.5.1 is the newest one `go install pkg@ver`
 * accepts (later go.mod files carry a `replace`); it embeds Temporal Server 1.29.1 and UI 2.42.1,
 * the versions docker-compose.yml runs. (docs/architecture.md, "Temporal dev server")
 */
export const TEMPORAL_CLI_VERSION = 'v1.5.1';

/** The Go package `go install` builds. */
const TEMPORAL_CLI_PACKAGE = 'github.com/temporalio/cli/cmd/temporal';

/** What to tell a person who has neither the CLI nor Go. */
export const TEMPORAL_CLI_INSTALL_HINT =
  'Install the Temporal CLI (brew install temporal, or see https://docs.temporal.io/cli#install) and put it on PATH, ' +
  'or set TEMPORAL_CLI=/path/to/temporal, or install Go >= 1.25 and Foreman will build it';

/** Where the Go toolchain usually lives when it is not on PATH (the official tarball's layout). */
const WELL_KNOWN_GO = ['/usr/local/go/bin/go'];

/** A line-oriented progress sink, e.g. `(msg) => process.stderr.write(msg + '\n')`. */
export type LogFn = (msg: string) => void;

/** Options shared by {@link findTemporalCli} and {@link ensureTemporalCli}. */
export interface FindTemporalCliOptions {
  /** Environment to read `TEMPORAL_CLI`, `PATH`, `XDG_CACHE_HOME`, `HOME` from. (Default: process.env) */
  env?: NodeJS.ProcessEnv;
  /** Progress lines. (Default: none) */
  log?: LogFn;
}

/** Options of {@link ensureTemporalCli}. */
export interface EnsureTemporalCliOptions extends FindTemporalCliOptions {
  /** Build the CLI with Go when it is not found. (Default: true) */
  build?: boolean;
  /** Give up on a `go install` (or on waiting for another process's build) after this many ms. (Default: 1800000) */
  buildTimeoutMs?: number;
}

const exeName = (name: string): string => (process.platform === 'win32' ? `${name}.exe` : name);

/** True when `path` is a regular file this process may execute. */
async function isExecutableFile(path: string): Promise<boolean> {
  try {
    const st = await stat(path);
    if (!st.isFile()) return false;
    await access(path, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The first executable `name` in the `PATH` of `env`, or null. */
async function whichOnPath(name: string, env: NodeJS.ProcessEnv): Promise<string | null> {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, exeName(name));
    if (await isExecutableFile(candidate)) return candidate;
  }
  return null;
}

/**
 * The per-user cache root: `$XDG_CACHE_HOME` when set, else `~/Library/Caches` on macOS and
 * `~/.cache` elsewhere (the XDG Base Directory default).
 */
export function userCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.XDG_CACHE_HOME) return env.XDG_CACHE_HOME;
  const home = env.HOME || homedir();
  return process.platform === 'darwin' ? join(home, 'Library', 'Caches') : join(home, '.cache');
}

/** The folder the built CLI is cached in: `<cacheDir>/foreman/temporal/<version>`. */
export function temporalCliCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(userCacheDir(env), 'foreman', 'temporal', TEMPORAL_CLI_VERSION);
}

/** The cached CLI binary: `<cacheDir>/foreman/temporal/<version>/temporal`. */
export function temporalCliCachePath(env: NodeJS.ProcessEnv = process.env): string {
  return join(temporalCliCacheDir(env), exeName('temporal'));
}

/**
 * Finds the Temporal CLI without building it, in this order: `TEMPORAL_CLI` (an explicit path),
 * `temporal` on `PATH`, then the Foreman cache ({@link temporalCliCachePath}).
 *
 * Returns the absolute path, or null when none of the three has it.
 * Throws TemporalServerError `temporal_cli_missing` when `TEMPORAL_CLI` is set but is not an
 * executable file (an explicit setting that is wrong must not be silently skipped).
 */
export async function findTemporalCli(opts: FindTemporalCliOptions = {}): Promise<string | null> {
  const env = opts.env ?? process.env;
  const explicit = env.TEMPORAL_CLI;
  if (explicit) {
    if (await isExecutableFile(explicit)) return explicit;
    throw new TemporalServerError(
      'temporal_cli_missing',
      `TEMPORAL_CLI is set to ${explicit}, which is not an executable file. ` +
        'Point TEMPORAL_CLI at the temporal binary, or unset it to use the one on PATH.',
    );
  }
  const onPath = await whichOnPath('temporal', env);
  if (onPath) return onPath;
  const cached = temporalCliCachePath(env);
  if (await isExecutableFile(cached)) return cached;
  return null;
}

/** The Go toolchain: `go` on PATH, else a well-known install location, else null. */
/** The Go toolchain: `go` on the `PATH` of `env`, else /usr/local/go/bin/go; null when neither exists. */
export async function findGo(env: NodeJS.ProcessEnv): Promise<string | null> {
  const onPath = await whichOnPath('go', env);
  if (onPath) return onPath;
  for (const candidate of WELL_KNOWN_GO) {
    if (await isExecutableFile(candidate)) return candidate;
  }
  return null;
}

/** Builds in flight in this process, by target path: a second caller joins the first. */
const inFlight = new Map<string, Promise<string>>();

/**
 * Returns the Temporal CLI, building it when needed: the path {@link findTemporalCli} finds, else
 * (when `build` is not false and Go is on PATH or at /usr/local/go/bin/go) the result of
 * `go install github.com/temporalio/cli/cmd/temporal@v1.5.1` with `CGO_ENABLED=0`, built into a
 * temporary GOBIN and renamed atomically into {@link temporalCliCachePath}. A lock file beside the
 * cache makes concurrent processes wait for one build (a few minutes, once per machine).
 *
 * Throws TemporalServerError `temporal_cli_missing` when there is no CLI and no Go (or `build` is
 * false), or when the build fails (the message carries the last lines of Go's output).
 */
export async function ensureTemporalCli(opts: EnsureTemporalCliOptions = {}): Promise<string> {
  const env = opts.env ?? process.env;
  const found = await findTemporalCli(opts);
  if (found) return found;
  if (opts.build === false) {
    throw new TemporalServerError(
      'temporal_cli_missing',
      `The Temporal CLI was not found. ${TEMPORAL_CLI_INSTALL_HINT}.`,
    );
  }
  const go = await findGo(env);
  if (!go) {
    throw new TemporalServerError(
      'temporal_cli_missing',
      `The Temporal CLI was not found (not on PATH, not in ${temporalCliCacheDir(env)}) and Go is not installed. ` +
        `${TEMPORAL_CLI_INSTALL_HINT}.`,
    );
  }
  const target = temporalCliCachePath(env);
  let pending = inFlight.get(target);
  if (!pending) {
    pending = buildTemporalCli(go, env, opts.log ?? (() => {}), opts.buildTimeoutMs ?? 30 * 60_000).finally(() =>
      inFlight.delete(target),
    );
    inFlight.set(target, pending);
  }
  return pending;
}

async function buildTemporalCli(go: string, env: NodeJS.ProcessEnv, log: LogFn, timeoutMs: number): Promise<string> {
  const dir = temporalCliCacheDir(env);
  const target = temporalCliCachePath(env);
  await mkdir(dir, { recursive: true });
  return withFileLock(
    join(dir, '.build.lock'),
    async () => {
      // Another process may have finished the build while we waited for its lock.
      if (await isExecutableFile(target)) return target;
      const gobin = await mkdtemp(join(dir, '.gobin-'));
      try {
        log(`Building the Temporal CLI ${TEMPORAL_CLI_VERSION} with Go (once; cached in ${dir}) …`);
        await runGoInstall(go, gobin, env, log, timeoutMs);
        // Same directory, so the rename is atomic: readers see no binary or a whole one.
        await rename(join(gobin, exeName('temporal')), target);
        log(`Built the Temporal CLI: ${target}`);
        return target;
      } finally {
        await rm(gobin, { recursive: true, force: true });
      }
    },
    {
      timeoutMs,
      timeoutError: (message) => new TemporalServerError('temporal_server_failed', message),
      onWait: (holder, waitedMs) =>
        log(
          waitedMs === 0
            ? `Waiting for another process (pid ${holder}) that is building the Temporal CLI into ${dir} …`
            : `  … still waiting for pid ${holder} to build the Temporal CLI (${Math.round(waitedMs / 1000)} s)`,
        ),
    },
  );
}

async function runGoInstall(go: string, gobin: string, env: NodeJS.ProcessEnv, log: LogFn, timeoutMs: number) {
  const childEnv: NodeJS.ProcessEnv = {
    ...withoutSecrets(env), // a build never needs credentials
    GOBIN: gobin,
    CGO_ENABLED: '0',
    // `go` re-invokes its own tools; make sure the toolchain we picked is the one found.
    PATH: [dirname(go), env.PATH ?? ''].filter(Boolean).join(delimiter),
  };
  const args = ['install', `${TEMPORAL_CLI_PACKAGE}@${TEMPORAL_CLI_VERSION}`];
  const tail: string[] = [];
  const started = Date.now();
  const child = spawn(go, args, { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  const onData = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line.trim() === '') continue;
      tail.push(line);
      if (tail.length > 30) tail.shift();
      log(`  ${line}`);
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  // Compiling is silent for minutes; say that it is still alive.
  const ticker = setInterval(
    () => log(`  … still building the Temporal CLI (${Math.round((Date.now() - started) / 1000)} s)`),
    30_000,
  );
  ticker.unref();
  const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  killer.unref();
  try {
    const { code, signal, error } = await new Promise<{ code: number | null; signal: string | null; error?: Error }>(
      (resolve) => {
        child.once('error', (error) => resolve({ code: null, signal: null, error }));
        child.once('close', (code, signal) => resolve({ code, signal }));
      },
    );
    if (error || code !== 0) {
      const why = error ? error.message : signal ? `killed by ${signal}` : `exit ${code}`;
      throw new TemporalServerError(
        'temporal_cli_missing',
        `Building the Temporal CLI failed: ${go} ${args.join(' ')} (${why}).\n${tail.join('\n')}\n` +
          `${TEMPORAL_CLI_INSTALL_HINT}.`,
        { cause: error },
      );
    }
  } finally {
    clearInterval(ticker);
    clearTimeout(killer);
  }
}
