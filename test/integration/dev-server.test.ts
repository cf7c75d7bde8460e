/**
 * The Temporal dev server lifecycle against the real `temporal` binary: start, health, durable
 * restart after kill -9 on the same db file, the record other Foreman processes read, reuse, and
 * the failures an operator sees. Also the CLI lookup and the build lock, with a stand-in `go`.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { hasCode, TemporalServerError } from '../../src/errors.js';
import { pidAlive } from '../../src/file-lock.js';
import {
  ensureTemporalCli,
  findTemporalCli,
  TEMPORAL_CLI_VERSION,
  temporalCliCachePath,
} from '../../src/temporal/cli-binary.js';
import {
  clearRecordedDevServer,
  connectOrStartDevServer,
  freePort,
  readRecordedDevServer,
  recordDevServer,
  startDevServer,
  type DevServer,
} from '../../src/temporal/dev-server.js';
import { uniqueTaskQueue, uniqueWorkflowId } from '../support/temporal.js';
import { resolveTemporal } from '../../src/temporal/server.js';
import { silentLogger } from '../../src/logger.js';

let binary: string;
let tmp = '';
const started: DevServer[] = [];
const pids: number[] = [];

beforeAll(async () => {
  binary = await ensureTemporalCli({ log: (m) => process.stderr.write(`${m}\n`) });
});

afterEach(async () => {
  for (const s of started.splice(0)) await s.stop();
  const left = pids.splice(0).filter((pid) => pidAlive(pid));
  for (const pid of left) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  if (tmp) await rm(tmp, { recursive: true, force: true });
  tmp = '';
  expect(left, 'a test left a server process running').toEqual([]);
});

async function tempDir(): Promise<string> {
  tmp = await mkdtemp(join(tmpdir(), 'foreman-devserver-'));
  return tmp;
}

function track(s: DevServer): DevServer {
  started.push(s);
  pids.push(s.pid);
  return s;
}

async function withConnection<T>(address: string, fn: (c: Connection) => Promise<T>): Promise<T> {
  const connection = await Connection.connect({ address });
  try {
    return await fn(connection);
  } finally {
    await connection.close();
  }
}

describe('startDevServer', () => {
  it('the shared server from globalSetup answers (when the run has one)', async (ctx) => {
    const address = inject('temporalAddress');
    if (!address) return ctx.skip();
    const ns = await withConnection(address, (c) => c.workflowService.describeNamespace({ namespace: 'default' }));
    expect(ns.namespaceInfo?.name).toBe('default');
  });

  it('starts on a free port, is healthy, and survives kill -9 of its group with the same db file', async () => {
    const dir = await tempDir();
    const dbFile = join(dir, 'nested', 'temporal.sqlite');
    const first = track(await startDevServer({ binary, dbFile }));
    expect(first.address).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(first.owned).toBe(true);

    const workflowId = uniqueWorkflowId('durable');
    await withConnection(first.address, async (connection) => {
      const ns = await connection.workflowService.describeNamespace({ namespace: 'default' });
      expect(ns.namespaceInfo?.name).toBe('default');
      // No worker: the workflow just waits in the db, which is the point.
      const client = new Client({ connection });
      await client.workflow.start('neverRuns', { taskQueue: uniqueTaskQueue('durable'), workflowId });
    });

    process.kill(-first.pid, 'SIGKILL');
    await waitFor(() => !pidAlive(first.pid), 10_000);

    const second = track(await startDevServer({ binary, dbFile, port: first.port }));
    expect(second.pid).not.toBe(first.pid);
    const status = await withConnection(second.address, async (connection) => {
      const d = await new Client({ connection }).workflow.getHandle(workflowId).describe();
      return d.status.name;
    });
    expect(status).toBe('RUNNING');

    await second.stop();
    await second.stop(); // idempotent
    expect(pidAlive(second.pid)).toBe(false);
  });

  it('passes dynamic config and registers search attributes (also on a reused db file)', async () => {
    const dir = await tempDir();
    const dbFile = join(dir, 'sa.sqlite');
    const first = track(
      await startDevServer({
        binary,
        dbFile,
        searchAttributes: { ForemanState: 'Keyword' },
        namespace: 'foreman-test',
      }),
    );
    await first.stop();
    const second = track(
      await startDevServer({
        binary,
        dbFile,
        namespace: 'foreman-test',
        searchAttributes: { ForemanState: 'Keyword', ForemanAttempt: 'Int' },
        dynamicConfig: { 'limit.historyCount.suggestContinueAsNew': 40 },
      }),
    );
    const attrs = await withConnection(second.address, (c) =>
      c.operatorService.listSearchAttributes({ namespace: 'foreman-test' }),
    );
    expect(Object.keys(attrs.customAttributes ?? {})).toEqual(
      expect.arrayContaining(['ForemanState', 'ForemanAttempt']),
    );
  });

  it('reports a server that exits at once, with its output', async () => {
    const dir = await tempDir();
    const fake = await script(dir, 'temporal', '#!/bin/sh\necho "fatal: db file is corrupt" >&2\nexit 3\n');
    const err = await startDevServer({ binary: fake, port: await freePort() }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TemporalServerError);
    expect(hasCode(err, 'temporal_server_failed')).toBe(true);
    expect((err as Error).message).toContain('exit code 3');
    expect((err as Error).message).toContain('fatal: db file is corrupt');
  });

  it('kills a server that never becomes healthy and says so', async () => {
    const dir = await tempDir();
    const pidFile = join(dir, 'pid');
    const fake = await script(dir, 'temporal', `#!/bin/sh\necho $$ > ${pidFile}\necho "starting…"\nexec sleep 60\n`);
    const logFile = join(dir, 'logs', 'temporal.log');
    const err = await startDevServer({ binary: fake, startTimeoutMs: 1500, logFile }).catch((e: unknown) => e);
    expect(hasCode(err, 'temporal_server_failed')).toBe(true);
    expect((err as Error).message).toMatch(/did not answer .* within 1500 ms/);
    expect((err as Error).message).toContain('starting…');
    const pid = Number(await readFile(pidFile, 'utf8'));
    pids.push(pid);
    await waitFor(() => !pidAlive(pid), 5_000);
  });
});

describe('dev server record', () => {
  it('returns a live recorded server and ignores a stale record', async () => {
    const home = await tempDir();
    expect(await readRecordedDevServer(home)).toBeNull();

    const s = track(await startDevServer({ binary }));
    await recordDevServer(home, s);
    const rec = await readRecordedDevServer(home);
    expect(rec).toMatchObject({ address: s.address, pid: s.pid, binary });
    expect(Date.parse(rec!.startedAt)).not.toBeNaN();

    await clearRecordedDevServer(home, s.pid + 1); // someone else's: kept
    expect(await readRecordedDevServer(home)).not.toBeNull();

    process.kill(-s.pid, 'SIGKILL');
    await waitFor(() => !pidAlive(s.pid), 10_000);
    expect(await readRecordedDevServer(home)).toBeNull(); // dead pid

    // A live pid that is not a Temporal server (ours) with an address nobody answers on.
    const port = await freePort();
    await writeFile(
      join(home, 'temporal-dev.json'),
      JSON.stringify({ address: `127.0.0.1:${port}`, pid: process.pid, startedAt: new Date().toISOString() }),
    );
    expect(await readRecordedDevServer(home, { timeoutMs: 1000 })).toBeNull();
    await clearRecordedDevServer(home);
    expect(await readFile(join(home, 'temporal-dev.json'), 'utf8').catch(() => null)).toBeNull();
  });

  it('connectOrStartDevServer reuses a live recorded server on the same db file, else starts one', async () => {
    const home = await tempDir();
    const owner = track(await connectOrStartDevServer({ home, binary }));
    expect(owner.owned).toBe(true);
    expect(owner.dbFile).toBe(join(home, 'temporal', 'dev.sqlite'));

    const reused = await connectOrStartDevServer({ home, binary });
    expect(reused).toMatchObject({ owned: false, pid: owner.pid, address: owner.address });
    await reused.stop(); // not ours: a no-op
    expect(pidAlive(owner.pid)).toBe(true);

    await owner.stop();
    expect(await readFile(join(home, 'temporal-dev.json'), 'utf8').catch(() => null)).toBeNull();

    // Owner killed without cleanup: the record is stale, so a new server starts on the same db.
    const again = track(await connectOrStartDevServer({ home, binary }));
    process.kill(-again.pid, 'SIGKILL');
    await waitFor(() => !pidAlive(again.pid), 10_000);
    const fresh = track(await connectOrStartDevServer({ home, binary }));
    expect(fresh.owned).toBe(true);
    expect(fresh.pid).not.toBe(again.pid);
    expect((await readRecordedDevServer(home))?.pid).toBe(fresh.pid);
  });
});

describe('Temporal Web UI', () => {
  it('resolveTemporal starts the dev server with its Web UI (served, recorded for status); ui: false without', async () => {
    const home = await tempDir();
    const log = silentLogger;
    const { TEMPORAL_ADDRESS: _external, ...rest } = process.env;
    const env = { ...rest, TEMPORAL_CLI: binary };
    const withUi = await resolveTemporal({ env, home, namespace: 'default', log });
    try {
      const ui = withUi.devServer?.uiUrl;
      expect(ui).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const page = await fetch(ui!);
      expect(page.status).toBe(200);
      expect(await page.text()).toMatch(/<html/i);
      expect((await readRecordedDevServer(home))?.uiUrl).toBe(ui);
    } finally {
      await withUi.release();
    }
    const headless = await resolveTemporal({
      env,
      home,
      namespace: 'default',
      log,
      ui: false,
    });
    try {
      expect(headless.devServer?.uiUrl).toBeUndefined();
    } finally {
      await headless.release();
    }
  });
});

describe('Temporal CLI lookup and build', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'foreman-cli-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('rejects a TEMPORAL_CLI that is not executable, naming it', async () => {
    const env = { TEMPORAL_CLI: join(dir, 'nope', 'temporal'), PATH: '' };
    const err = await findTemporalCli({ env }).catch((e: unknown) => e);
    expect(hasCode(err, 'temporal_cli_missing')).toBe(true);
    expect((err as Error).message).toContain(env.TEMPORAL_CLI);
  });

  it('finds TEMPORAL_CLI, then PATH, then the cache', async () => {
    const cache = join(dir, 'lookup-cache');
    const env = { XDG_CACHE_HOME: cache, PATH: '' };
    expect(await findTemporalCli({ env })).toBeNull();
    const cached = temporalCliCachePath(env);
    expect(cached).toBe(join(cache, 'foreman', 'temporal', TEMPORAL_CLI_VERSION, 'temporal'));
    await mkdir(join(cached, '..'), { recursive: true });
    await script(join(cached, '..'), 'temporal', '#!/bin/sh\n');
    expect(await findTemporalCli({ env })).toBe(cached);
    const onPath = await script(join(dir, 'pathbin'), 'temporal', '#!/bin/sh\n');
    expect(await findTemporalCli({ env: { ...env, PATH: join(dir, 'pathbin') } })).toBe(onPath);
    expect(await findTemporalCli({ env: { ...env, PATH: join(dir, 'pathbin'), TEMPORAL_CLI: cached } })).toBe(cached);
  });

  it('says how to install it when there is no CLI and building is off', async () => {
    const env = { XDG_CACHE_HOME: join(dir, 'empty-cache'), PATH: '' };
    const err = await ensureTemporalCli({ env, build: false }).catch((e: unknown) => e);
    expect(hasCode(err, 'temporal_cli_missing')).toBe(true);
    expect((err as Error).message).toContain('brew install temporal');
    expect((err as Error).message).toContain('TEMPORAL_CLI=/path/to/temporal');
    expect((err as Error).message).toContain('Go >= 1.25');
  });

  it('builds once with go install into the cache, across processes, breaking a stale lock', async () => {
    const goDir = join(dir, 'fake-go');
    const calls = join(dir, 'go-calls');
    // Stand-in for `go install`: slow enough for the callers to overlap, writes $GOBIN/temporal.
    await script(
      goDir,
      'go',
      `#!/bin/sh\necho "$* CGO_ENABLED=$CGO_ENABLED" >> ${calls}\necho "go: downloading github.com/temporalio/cli ${TEMPORAL_CLI_VERSION}" >&2\n` +
        'sleep 3\nprintf "#!/bin/sh\\necho built\\n" > "$GOBIN/temporal"\nchmod +x "$GOBIN/temporal"\n',
    );
    const env = { XDG_CACHE_HOME: join(dir, 'build-cache'), PATH: `${goDir}:/usr/bin:/bin`, HOME: dir };
    const target = temporalCliCachePath(env);
    // A lock left by a process that no longer exists.
    const deadPid = spawnSync('true').pid!;
    await mkdir(join(target, '..'), { recursive: true });
    await writeFile(
      join(target, '..', '.build.lock'),
      JSON.stringify({ pid: deadPid, host: hostname(), createdAt: Date.now() }),
    );

    const lines: string[] = [];
    const other = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '-e',
        "import('./src/temporal/cli-binary.ts').then(m => m.ensureTemporalCli()).then(p => console.log(p))",
      ],
      { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    pids.push(other.pid!);
    let otherOut = '';
    other.stdout.on('data', (c: Buffer) => (otherOut += c.toString()));
    const otherDone = new Promise<number | null>((res) => other.once('exit', (code) => res(code)));

    const [a, b] = await Promise.all([
      ensureTemporalCli({ env, log: (m) => lines.push(m) }),
      ensureTemporalCli({ env }),
    ]);
    expect(await otherDone).toBe(0);
    expect(a).toBe(target);
    expect(b).toBe(target);
    expect(otherOut.trim()).toBe(target);
    const invocations = (await readFile(calls, 'utf8')).trim().split('\n');
    expect(invocations).toEqual([
      `install github.com/temporalio/cli/cmd/temporal@${TEMPORAL_CLI_VERSION} CGO_ENABLED=0`,
    ]);
    expect(spawnSync(target).stdout.toString()).toBe('built\n');
    if (lines.length > 0) expect(lines[0]).toContain(`Building the Temporal CLI ${TEMPORAL_CLI_VERSION} with Go`);
  });

  it('reports a failed build with Go output and the install hint', async () => {
    const goDir = join(dir, 'broken-go');
    await script(goDir, 'go', '#!/bin/sh\necho "go: cannot find main module; network unreachable" >&2\nexit 1\n');
    const env = { XDG_CACHE_HOME: join(dir, 'broken-cache'), PATH: `${goDir}:/usr/bin:/bin`, HOME: dir };
    const err = await ensureTemporalCli({ env }).catch((e: unknown) => e);
    expect(hasCode(err, 'temporal_cli_missing')).toBe(true);
    expect((err as Error).message).toContain('network unreachable');
    expect((err as Error).message).toContain('brew install temporal');
  });
});

async function script(dirPath: string, name: string, body: string): Promise<string> {
  await mkdir(dirPath, { recursive: true });
  const path = join(dirPath, name);
  await writeFile(path, body);
  await chmod(path, 0o755);
  return path;
}

async function waitFor(cond: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
