import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WorkspaceError } from '../../src/errors.js';
import { killOrphans, runShell, scrubbedEnv, withoutSecrets } from '../../src/workspace/shell.js';

/** True while `pid` is a live (not zombie) process. */
async function alive(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // An orphan may linger as a zombie when PID 1 does not reap; that is not "running".
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state !== '' && state !== 'Z' && state !== 'X';
}

async function waitUntilDead(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!(await alive(pid))) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return !(await alive(pid));
}

let dir: string;
const leftovers: number[] = [];

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'foreman-shell-'));
});

afterEach(async () => {
  for (const pid of leftovers.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await rm(dir, { recursive: true, force: true });
});

describe('runShell', () => {
  it('returns output and exit code 0', async () => {
    const r = await runShell({ command: 'echo hello; echo oops >&2', cwd: dir, env: scrubbedEnv(), timeoutMs: 10_000 });
    expect(r.exitCode).toBe(0);
    expect(r.signal).toBeNull();
    expect(r.timedOut).toBe(false);
    expect(r.output).toBe('hello\noops\n');
    expect(r.truncated).toBe(false);
    expect(r.outputBytes).toBe(11);
    expect(r.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('reports a non-zero exit code without rejecting', async () => {
    const r = await runShell({ command: 'echo failing; exit 3', cwd: dir, env: scrubbedEnv(), timeoutMs: 10_000 });
    expect(r.exitCode).toBe(3);
    expect(r.output).toBe('failing\n');
  });

  it('runs in cwd with stdin closed', async () => {
    const r = await runShell({ command: 'pwd; cat; echo "rc=$?"', cwd: dir, env: scrubbedEnv(), timeoutMs: 10_000 });
    expect(r.output.split('\n')[0]).toBe(await realpath(dir));
    expect(r.output).toContain('rc=0');
  });

  it('kills the whole process tree on timeout', async () => {
    const started = Date.now();
    const r = await runShell({
      command: 'sleep 30 & echo "bg=$!"; sleep 30; wait',
      cwd: dir,
      env: scrubbedEnv(),
      timeoutMs: 500,
    });
    const elapsed = Date.now() - started;
    const bg = Number(/bg=(\d+)/.exec(r.output)?.[1]);
    if (bg) leftovers.push(bg);
    expect(r.timedOut).toBe(true);
    expect(r.exitCode).toBeNull();
    expect(r.signal).toBe('SIGTERM');
    expect(elapsed).toBeLessThan(5_000);
    expect(bg).toBeGreaterThan(0);
    expect(await waitUntilDead(bg, 3_000)).toBe(true);
  });

  it('escalates to SIGKILL when the tree ignores SIGTERM', async () => {
    const r = await runShell({
      command: "trap '' TERM; sleep 30 & trap '' TERM; echo started; wait",
      cwd: dir,
      env: scrubbedEnv(),
      timeoutMs: 300,
    });
    expect(r.timedOut).toBe(true);
    expect(r.signal).toBe('SIGKILL');
    expect(r.durationMs).toBeLessThan(5_000);
  });

  it('ends background processes the command leaves behind', async () => {
    const r = await runShell({
      command: 'sleep 30 >/dev/null 2>&1 & echo "bg=$!"',
      cwd: dir,
      env: scrubbedEnv(),
      timeoutMs: 10_000,
    });
    const bg = Number(/bg=(\d+)/.exec(r.output)?.[1]);
    if (bg) leftovers.push(bg);
    expect(r.exitCode).toBe(0);
    expect(await waitUntilDead(bg, 3_000)).toBe(true);
  });

  it('aborts on signal', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    const r = await runShell({
      command: 'sleep 30',
      cwd: dir,
      env: scrubbedEnv(),
      timeoutMs: 60_000,
      signal: controller.signal,
    });
    expect(r.timedOut).toBe(false);
    expect(r.exitCode).toBeNull();
    expect(r.durationMs).toBeLessThan(5_000);
  });

  it('keeps the head and the tail of long output', async () => {
    const r = await runShell({
      command: 'for i in $(seq 1 5000); do echo "line $i"; done',
      cwd: dir,
      env: scrubbedEnv(),
      timeoutMs: 10_000,
      maxOutputBytes: 1000,
    });
    expect(r.truncated).toBe(true);
    expect(r.output.startsWith('line 1\nline 2\n')).toBe(true);
    expect(r.output.endsWith('line 4999\nline 5000\n')).toBe(true);
    const omitted = Number(/\[… (\d+) bytes omitted …\]/.exec(r.output)?.[1]);
    expect(omitted).toBe(r.outputBytes - 1000);
    expect(r.output.length).toBeLessThan(1100);
  });

  it('rejects with WorkspaceError when bash cannot start', async () => {
    await expect(
      runShell({ command: 'true', cwd: path.join(dir, 'missing'), env: scrubbedEnv(), timeoutMs: 1_000 }),
    ).rejects.toBeInstanceOf(WorkspaceError);
  });
});

describe('scrubbedEnv', () => {
  const base = {
    PATH: '/usr/bin:/bin',
    HOME: '/home/me',
    LANG: 'C.UTF-8',
    LC_ALL: 'C',
    ANTHROPIC_API_KEY: 'sk-secret',
    ANTHROPIC_BASE_URL: 'http://x',
    LINEAR_API_KEY: 'lin',
    GITHUB_TOKEN: 'gh',
    GITHUB_WEBHOOK_SECRET: 'whs',
    FOREMAN_HOME: '/var/foreman',
    TEMPORAL_ADDRESS: 'localhost:7233',
    NPM_TOKEN: 'npm',
    DB_PASSWORD: 'pw',
    AWS_SECRET_ACCESS_KEY: 'aws',
    SOME_CREDENTIALS: 'c',
    RANDOM_VAR: 'r',
    NODE_OPTIONS: '--max-old-space-size=100',
  };

  it('keeps the allowlist, drops everything else, adds CI and GIT_TERMINAL_PROMPT', () => {
    expect(scrubbedEnv({ base })).toEqual({
      PATH: '/usr/bin:/bin',
      HOME: '/home/me',
      LANG: 'C.UTF-8',
      LC_ALL: 'C',
      CI: 'true',
      GIT_TERMINAL_PROMPT: '0',
    });
  });

  it('never passes secrets or Foreman variables, even when allowed', () => {
    const env = scrubbedEnv({
      base,
      allow: ['NODE_OPTIONS', 'NPM_TOKEN', 'ANTHROPIC_BASE_URL', 'FOREMAN_HOME', 'DB_PASSWORD', 'AWS_*'],
      extra: { FOO: 'bar' },
    });
    expect(env.NODE_OPTIONS).toBe('--max-old-space-size=100');
    expect(env.FOO).toBe('bar');
    for (const name of ['NPM_TOKEN', 'ANTHROPIC_BASE_URL', 'FOREMAN_HOME', 'DB_PASSWORD', 'AWS_SECRET_ACCESS_KEY']) {
      expect(env).not.toHaveProperty(name);
    }
  });

  it('withoutSecrets drops secret-looking and Foreman names from a ready env', () => {
    expect(withoutSecrets({ PATH: '/bin', GITHUB_TOKEN: 'x', FOREMAN_X: 'y', MY_AUTH: 'z', OK: '1' })).toEqual({
      PATH: '/bin',
      OK: '1',
    });
  });

  it('reaches the child process scrubbed', async () => {
    const saved = { key: process.env.ANTHROPIC_API_KEY, token: process.env.FOREMAN_TEST_TOKEN };
    process.env.ANTHROPIC_API_KEY = 'sk-secret-123';
    process.env.FOREMAN_TEST_TOKEN = 'x';
    try {
      const r = await runShell({ command: 'env', cwd: dir, env: scrubbedEnv(), timeoutMs: 10_000 });
      expect(r.output).toContain('CI=true');
      expect(r.output).not.toContain('sk-secret-123');
      expect(r.output).not.toContain('FOREMAN_TEST_TOKEN');
    } finally {
      if (saved.key === undefined) delete process.env.ANTHROPIC_API_KEY;
      else process.env.ANTHROPIC_API_KEY = saved.key;
      if (saved.token === undefined) delete process.env.FOREMAN_TEST_TOKEN;
      else process.env.FOREMAN_TEST_TOKEN = saved.token;
    }
  });
});

describe('killOrphans', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await realpath(await mkdtemp(path.join(tmpdir(), 'foreman-orphans-')));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('ends a recorded process group (what a crashed attempt left running) and clears the record', async () => {
    const pidDir = path.join(dir, 'pids');
    const running = runShell({ command: 'sleep 30', cwd: dir, env: scrubbedEnv(), timeoutMs: 60_000, pidDir });
    let files: string[] = [];
    for (let i = 0; i < 50 && files.length === 0; i++) {
      files = await readdir(pidDir).catch(() => []);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(files).toHaveLength(1);
    const t0 = Date.now();
    expect(killOrphans(pidDir)).toBe(1);
    const r = await running;
    expect(r.signal).toBe('SIGKILL');
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(await readdir(pidDir)).toEqual([]);
  });

  it('never kills a process whose pid was reused (start time differs)', async () => {
    const pidDir = path.join(dir, 'pids');
    const child = spawn('sleep', ['30'], { detached: true, stdio: 'ignore' });
    try {
      await mkdir(pidDir, { recursive: true });
      await writeFile(path.join(pidDir, String(child.pid)), `${child.pid} 1\n`); // not its real start time
      expect(killOrphans(pidDir)).toBe(0);
      expect(() => process.kill(child.pid!, 0)).not.toThrow();
      expect(await readdir(pidDir)).toEqual([]);
    } finally {
      process.kill(-child.pid!, 'SIGKILL');
    }
  });
});
