/**
 * The walls around the agent (src/sandbox/): the real `run_command` tool and QA commands, run in
 * bubblewrap, must not see the daemon's secrets, FOREMAN_HOME, the daemon's HOME or other
 * workspaces, must not write outside the workspace or into `.git`, get the network the policy
 * says, and leave nothing running. Needs bwrap and curl: `scripts/install-test-deps`.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createToolbox } from '../../src/agents/tools.js';
import { WorkspaceError } from '../../src/errors.js';
import { bwrapArgs, probeBwrap, resetBwrapProbe } from '../../src/sandbox/bwrap.js';
import { isAllowedHost } from '../../src/sandbox/egress-proxy.js';
import { sandboxStatus } from '../../src/sandbox/index.js';
import { DEFAULT_SANDBOX, type SandboxPolicy } from '../../src/sandbox/policy.js';
import { runQaCommands } from '../../src/qa/run.js';
import { runShell, scrubbedEnv } from '../../src/workspace/shell.js';
import { runHook } from '../../src/workspace/workspace.js';

const CANARY = 'canary-7f3a9c1e-do-not-leak';
const GH_CANARY = 'ghp_canary0123456789abcdefDONOTLEAK';
const CHILD = path.resolve('test/support/sandbox-child.ts');

let root: string;
let ws: string;
let otherWs: string;
let foremanHome: string;
const servers: http.Server[] = [];

const NONE: SandboxPolicy = DEFAULT_SANDBOX;
const HOST: SandboxPolicy = { ...DEFAULT_SANDBOX, network: 'host' };
const OFF: SandboxPolicy = { ...DEFAULT_SANDBOX, mode: 'none' };

/** Runs `command` via the tool or QA in a child Foreman process whose initial env holds the canaries. */
function inChild(via: 'tool' | 'qa', command: string, sandbox: SandboxPolicy = NONE): string {
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', CHILD, JSON.stringify({ via, workspace: ws, command, sandbox })],
    {
      env: { ...process.env, FOREMAN_CANARY_TOKEN: CANARY, GITHUB_TOKEN: GH_CANARY, FOREMAN_HOME: foremanHome },
      encoding: 'utf8',
      timeout: 60_000,
    },
  );
  if (r.status !== 0) throw new Error(`sandbox child failed (${r.status}): ${r.stderr}`);
  return (JSON.parse(r.stdout) as { output: string }).output;
}

async function run(command: string, sandbox: SandboxPolicy = NONE): Promise<string> {
  const box = createToolbox('implementer', { workspace: ws, env: scrubbedEnv(), sandbox });
  return (await box.execute('run_command', { command })).content;
}

async function localServer(body: string): Promise<number> {
  const server = http.createServer((_req, res) => res.end(body));
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

beforeAll(async () => {
  const probe = await probeBwrap();
  if (!probe.available) throw new Error(`These tests need bubblewrap: run scripts/install-test-deps. ${probe.reason}`);
  if (spawnSync('curl', ['--version']).status !== 0) throw new Error('These tests need curl (apt-get install curl).');
  root = await mkdtemp(path.join(os.tmpdir(), 'foreman-sandbox-'));
  ws = path.join(root, 'workspaces', 'DEMO-1');
  otherWs = path.join(root, 'workspaces', 'DEMO-2');
  foremanHome = path.join(root, 'foreman-home');
  await mkdir(ws, { recursive: true });
  await mkdir(otherWs, { recursive: true });
  await mkdir(foremanHome, { recursive: true });
  await writeFile(path.join(otherWs, 'secret.txt'), 'other workspace secret\n');
  await writeFile(path.join(foremanHome, 'state.txt'), 'foreman state\n');
  await writeFile(path.join(ws, 'README.md'), '# Demo\n');
  const git = (...args: string[]) => execFileSync('git', args, { cwd: ws, stdio: 'pipe' });
  git('init', '-q', '-b', 'main');
  git('-c', 'user.name=T', '-c', 'user.email=t@x', 'add', '.');
  git('-c', 'user.name=T', '-c', 'user.email=t@x', 'commit', '-q', '-m', 'first commit');
  await mkdir(path.join(ws, '.git', 'hooks'), { recursive: true });
});

afterAll(async () => {
  for (const s of servers) s.close();
  if (root) await rm(root, { recursive: true, force: true });
});

describe('secrets', () => {
  it('the daemon environment is not readable from run_command (control: it is without the sandbox)', () => {
    const leaky = inChild('tool', 'cat /proc/$PPID/environ | tr "\\0" "\\n"', OFF);
    expect(leaky).toContain(CANARY); // the test can see a leak when there is one
    for (const command of ['cat /proc/$PPID/environ', 'env', 'cat /proc/1/environ', 'cat /proc/*/environ']) {
      const out = inChild('tool', command);
      expect(out, command).not.toContain(CANARY);
      expect(out, command).not.toContain(GH_CANARY);
      expect(out, command).not.toContain(foremanHome);
    }
  });

  it('nor from a QA command', () => {
    const out = inChild('qa', 'cat /proc/$PPID/environ; env; cat /proc/1/environ');
    expect(out).toContain('PATH=');
    expect(out).not.toContain(CANARY);
    expect(out).not.toContain(GH_CANARY);
  });
});

describe('filesystem', () => {
  it('FOREMAN_HOME, the daemon HOME and other workspaces are not there', async () => {
    for (const dir of [foremanHome, os.homedir(), otherWs, path.dirname(path.dirname(ws)) + '/foreman-home']) {
      const out = await run(`ls ${JSON.stringify(dir)}`);
      expect(out, dir).toMatch(/^exit code 2 /);
      expect(out).toContain('No such file or directory');
    }
    expect(await run(`cat ${JSON.stringify(path.join(otherWs, 'secret.txt'))}`)).not.toContain(
      'other workspace secret',
    );
  });

  it('writes outside the workspace fail or stay in the sandbox; inside they land', async () => {
    const outsideFile = path.join(root, 'escaped.txt');
    expect(await run('touch /usr/x')).toContain('Read-only file system');
    expect(await run('touch /etc/passwd')).toMatch(/Read-only file system|Permission denied/);
    await run(`echo x > ${JSON.stringify(outsideFile)}; echo y > /tmp/t; echo z > $HOME/z`);
    expect(existsSync(outsideFile)).toBe(false); // went to the sandbox's private tmpfs
    expect(await run('echo hi > made.txt && cat made.txt')).toContain('hi');
    expect(await readFile(path.join(ws, 'made.txt'), 'utf8')).toBe('hi\n');
    expect(await run('echo $HOME; echo $TMPDIR')).toContain('/home/sandbox\n/tmp');
  });

  it('.git is read-only: hooks and config cannot be written, git status and log work', async () => {
    const configBefore = await readFile(path.join(ws, '.git', 'config'), 'utf8');
    const hook = await run('echo x > .git/hooks/pre-commit');
    expect(hook).toMatch(/^exit code 1 /);
    expect(hook).toContain('Read-only file system');
    expect(await run('git config core.hooksPath x')).not.toMatch(/^exit code 0 /);
    expect(await run('git update-ref refs/heads/evil HEAD')).not.toMatch(/^exit code 0 /);
    expect(existsSync(path.join(ws, '.git', 'hooks', 'pre-commit'))).toBe(false);
    expect(await readFile(path.join(ws, '.git', 'config'), 'utf8')).toBe(configBefore);
    const status = await run('git status');
    expect(status).toMatch(/^exit code 0 /);
    expect(status).toContain('On branch main');
    expect(await run('git log --oneline')).toContain('first commit');
    expect(await run('git diff --stat')).toMatch(/^exit code 0 /);
  });

  it('the before_run hook runs in the sandbox too (after_create stays on the host)', async () => {
    const marker = path.join(root, 'hook-marker');
    const hooks = { before_run: `touch ${marker}`, after_create: `touch ${marker}.host`, timeout_ms: 30_000 };
    await runHook('before_run', { hooks, cwd: ws, env: scrubbedEnv() });
    expect(existsSync(marker)).toBe(false);
    await runHook('after_create', { hooks, cwd: ws, env: scrubbedEnv() });
    expect(existsSync(`${marker}.host`)).toBe(true);
  });
});

describe('mount plan', () => {
  it('binds the workspace read-write, then its .git read-only, and no HOME, FOREMAN_HOME or sibling', () => {
    const args = bwrapArgs({
      workspace: ws,
      env: { PATH: `${os.homedir()}/.cargo/bin:${otherWs}/bin:/usr/bin` },
      policy: NONE,
      command: 'true',
      hidden: [os.homedir(), foremanHome, path.dirname(ws)],
    });
    const at = (flag: string, p: string) => args.findIndex((a, i) => a === flag && args[i + 1] === p);
    expect(at('--bind', ws)).toBeGreaterThan(0);
    expect(at('--ro-bind', path.join(ws, '.git'))).toBeGreaterThan(at('--bind', ws));
    expect(args).toContain('--unshare-net');
    expect(args).toContain('--clearenv');
    const sources = args.filter((_a, i) => ['--bind', '--ro-bind'].includes(args[i - 1] ?? ''));
    for (const src of sources) {
      expect(src.startsWith(os.homedir() + '/') || src === os.homedir(), src).toBe(false);
      expect(src.startsWith(foremanHome), src).toBe(false);
      expect(src.startsWith(otherWs), src).toBe(false);
    }
  });
});

describe('network', () => {
  it('none: a 127.0.0.1 server of the host is unreachable (control: reachable with network host)', async () => {
    const port = await localServer('hello from the host');
    const blocked = await run(`curl -sS -m 5 http://127.0.0.1:${port}/`);
    expect(blocked).not.toContain('hello from the host');
    expect(blocked).toMatch(/^exit code 7 /); // couldn't connect
    expect(await run(`curl -sS -m 5 http://127.0.0.1:${port}/`, HOST)).toContain('hello from the host');
  });

  it('allowlist: a listed server is reachable (HTTP and CONNECT), an unlisted one is refused and reported', async () => {
    const allowed = await localServer('allowed server');
    const denied = await localServer('denied server');
    const policy: SandboxPolicy = { ...DEFAULT_SANDBOX, network: 'allowlist', allowHosts: [`127.0.0.1:${allowed}`] };
    const ok = await run(
      `curl -sS -m 5 http://127.0.0.1:${allowed}/ && curl -sS -m 5 -p http://127.0.0.1:${allowed}/`,
      policy,
    );
    expect(ok).toMatch(/^exit code 0 /);
    expect(ok.match(/allowed server/g)).toHaveLength(2);
    const no = await run(
      `curl -sS -m 5 http://127.0.0.1:${denied}/; curl -sS -m 5 -p http://127.0.0.1:${denied}/`,
      policy,
    );
    expect(no).not.toContain('denied server');
    expect(no).toContain(`[network: the sandbox refused 127.0.0.1:${denied} (not in sandbox.allow_hosts)]`);
    // No route around the proxy.
    const direct = await run(`curl -sS -m 5 --noproxy '*' http://127.0.0.1:${allowed}/`, policy);
    expect(direct).not.toContain('allowed server');
    const qa = await runQaCommands({
      commands: [`curl -sS -m 5 http://127.0.0.1:${denied}/`],
      cwd: ws,
      env: scrubbedEnv(),
      timeoutMs: 30_000,
      tailBytes: 4000,
      sandbox: policy,
    });
    expect(qa.results[0]!.deniedHosts).toEqual([`127.0.0.1:${denied}`]);
  });

  it('matches allow_hosts entries by host, port and *.domain', () => {
    expect(isAllowedHost(['registry.npmjs.org'], 'REGISTRY.npmjs.org', 443)).toBe(true);
    expect(isAllowedHost(['example.com:443'], 'example.com', 80)).toBe(false);
    expect(isAllowedHost(['*.github.com'], 'api.github.com', 443)).toBe(true);
    expect(isAllowedHost(['*.github.com'], 'evilgithub.com', 443)).toBe(false);
  });
});

describe('process lifetime', () => {
  const alive = (needle: string) =>
    readdirSync('/proc')
      .filter((p) => /^\d+$/.test(p))
      .some((p) => {
        try {
          return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(needle);
        } catch {
          return false;
        }
      });

  it('a setsid child is gone when run_command returns', async () => {
    const out = await run('setsid sleep 4242.5 & disown; nohup sleep 4243.5 >/dev/null 2>&1 & echo started');
    expect(out).toContain('started');
    expect(alive('4242.5')).toBe(false);
    expect(alive('4243.5')).toBe(false);
  });

  it('an aborted command ends with everything it started', async () => {
    const ctl = new AbortController();
    const p = runShell({
      command: 'setsid sleep 4244.5 & sleep 4245.5',
      cwd: ws,
      env: scrubbedEnv(),
      timeoutMs: 60_000,
      signal: ctl.signal,
      sandbox: { policy: NONE, workspace: ws },
    });
    await new Promise((r) => setTimeout(r, 300));
    expect(alive('4245.5')).toBe(true);
    ctl.abort();
    await p;
    expect(alive('4244.5')).toBe(false);
    expect(alive('4245.5')).toBe(false);
  });
});

describe('availability', () => {
  it('without bwrap, sandboxed commands fail with sandbox_unavailable saying how to fix it', async () => {
    const savedPath = process.env.PATH;
    resetBwrapProbe();
    process.env.PATH = '/nonexistent';
    try {
      const status = await sandboxStatus(DEFAULT_SANDBOX);
      expect(status.available).toBe(false);
      const err = await runShell({
        command: 'true',
        cwd: ws,
        env: { PATH: '/nonexistent' },
        timeoutMs: 5_000,
        sandbox: { policy: NONE, workspace: ws },
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WorkspaceError);
      expect((err as WorkspaceError).code).toBe('sandbox_unavailable');
      expect((err as Error).message).toContain('apt-get install bubblewrap');
      expect((err as Error).message).toContain('sandbox.mode: none');
      expect(await sandboxStatus(OFF)).toEqual({ mode: 'none', available: true, reason: '' });
    } finally {
      process.env.PATH = savedPath;
      resetBwrapProbe();
    }
    expect((await sandboxStatus(DEFAULT_SANDBOX)).available).toBe(true);
  });
});
