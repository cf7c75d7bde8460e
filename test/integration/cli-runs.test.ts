/**
 * The run commands as a user runs them (src/cli/runs.ts): `ls`, `retry`, `cancel`, `logs`, and
 * `--version`, as real `foreman` subprocesses against the shared Temporal dev server, a real git
 * origin, the local tracker and a scripted model server; and `npm start` passing SIGTERM on.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { afterEach, describe, expect, it } from 'vitest';
import { issueWorkflowId, statusQuery, type IssueRunStatus } from '../../workflows/definitions.js';
import { loadPolicy } from '../../src/config/load.js';
import { DAEMON_LOCK_FILE } from '../../src/daemon-lock.js';
import { deploymentOf } from '../../src/deployment.js';
import { runForeman, spawnForeman } from '../support/cli.js';
import { makeOrigin, tempDir, writeIssue, writePolicy } from '../support/fixtures.js';
import { startScriptedModelServer, toolUse, type ScriptStep } from '../support/scripted-model-server.js';
import { temporalAddress, uniqueTaskQueue } from '../support/temporal.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const FIX: ScriptStep[] = [
  toolUse('edit_file', { path: 'add.js', old_text: 'return a - b;', new_text: 'return a + b;' }),
  toolUse('run_command', { command: 'node test.js' }),
  toolUse('finish', { summary: 'Fixed add().' }),
];

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  const errors: unknown[] = [];
  while (cleanups.length) await cleanups.pop()!().catch((e: unknown) => errors.push(e));
  if (errors.length) throw errors[0];
});

async function setup(script: ScriptStep[], opts: { modelUrl?: string; extra?: string } = {}) {
  const tmp = await tempDir();
  cleanups.push(tmp.cleanup);
  const model = await startScriptedModelServer(script);
  cleanups.push(() => model.close());
  const origin = await makeOrigin(tmp.dir);
  const issuesDir = path.join(tmp.dir, 'issues');
  const policy = await writePolicy(tmp.dir, {
    issuesDir,
    workspaceRoot: path.join(tmp.dir, 'workspaces'),
    repo: origin,
    modelUrl: opts.modelUrl ?? model.url,
    taskQueue: uniqueTaskQueue('cli-runs'),
    ...(opts.extra ? { extra: opts.extra } : {}),
  });
  const env = {
    ...process.env,
    TEMPORAL_ADDRESS: temporalAddress(),
    FOREMAN_HOME: path.join(tmp.dir, 'home'),
    FOREMAN_LOG_LEVEL: 'warn',
  };
  const id = `R${Math.random().toString(36).slice(2, 8).toUpperCase()}-1`;
  const deployment = deploymentOf(await loadPolicy(policy));
  const connection = await Connection.connect({ address: temporalAddress() });
  const client = new Client({ connection });
  cleanups.push(async () => {
    await client.workflow
      .getHandle(issueWorkflowId(deployment.key, id))
      .terminate('test over')
      .catch(() => {});
    await connection.close();
  });
  const status = () => client.workflow.getHandle(issueWorkflowId(deployment.key, id)).query(statusQuery);
  return { dir: tmp.dir, issuesDir, policy, env, id, client, deployment, status };
}

describe('foreman --version', () => {
  it("prints the package's version and exits 0", async () => {
    const pkg = JSON.parse(await fs.readFile(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const r = await runForeman(['--version'], process.env);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(pkg.version);
  });
});

describe('foreman ls / retry / cancel / logs', () => {
  it('ls shows a waiting run; retry answers its failed-step question and it resumes; cancel stops it, workspace kept', async () => {
    // An unreachable model: the outage is ridden out for 2 s, then escalated (Retry / Stop).
    const s = await setup([], { modelUrl: 'http://127.0.0.1:9', extra: 'agent:\n  outage_ms: 2000' });
    await writeIssue(s.issuesDir, s.id, { title: 'Fix add()', state: 'Todo' });
    const run = spawnForeman(['run', s.id, s.policy], s.env);
    cleanups.push(async () => void run.child.kill('SIGKILL'));
    let waiting: IssueRunStatus | null = null;
    await waitFor(
      async () => {
        const st = await s.status();
        if (st.phase === 'waiting_for_human' && st.escalation) waiting = st;
        return waiting !== null;
      },
      60_000,
      () => run.output().stderr,
    );
    const asked = waiting!.escalation!;
    expect(asked.options.map((o) => (typeof o === 'string' ? o : o.command))).toContain('retry');

    const ls = await runForeman(['ls', '--policy', s.policy], s.env);
    expect(ls.code, ls.stderr).toBe(0);
    expect(ls.stdout).toMatch(new RegExp(`${s.id}\\s+running\\s+waiting_for_human`));
    expect(ls.stdout).toContain(`${s.id} asks: `);
    const json = JSON.parse((await runForeman(['ls', '--json', '--policy', s.policy], s.env)).stdout) as {
      issue_identifier: string;
      phase: string;
      question: string | null;
    }[];
    expect(json.find((r) => r.issue_identifier === s.id)).toMatchObject({
      phase: 'waiting_for_human',
      question: asked.question,
    });

    const retry = await runForeman(['retry', s.id, '--policy', s.policy], s.env);
    expect(retry.code, retry.stderr).toBe(0);
    expect(retry.stdout).toContain(`retried ${s.id}`);
    expect(retry.stdout).toContain('picked option');
    // The step runs again: the question is closed (the model still fails, so it is asked anew later).
    await waitFor(
      async () => {
        const st = await s.status();
        return st.phase !== 'waiting_for_human' || (st.escalation?.n ?? 0) > asked.n;
      },
      30_000,
      () => run.output().stderr,
    );
    // Not waiting on a question any more, or asked again: either way the answer was taken.
    const comments = await fs.readFile(path.join(s.issuesDir, `${s.id}.comments.md`), 'utf8');
    expect(comments).toContain('Foreman needs a decision');

    const workspace = (await s.status()).workspace;
    const cancel = await runForeman(['cancel', s.id, '--policy', s.policy], s.env);
    expect(cancel.code, cancel.stderr).toBe(0);
    expect(cancel.stdout).toContain(`cancelled ${s.id}`);
    expect(cancel.stdout).toContain('outcome stopped');
    expect(cancel.stdout).toContain('the workspace is kept');
    const exit = await run.wait(30_000);
    expect(exit.code).toBe(3);
    expect(JSON.parse(exit.stdout)).toMatchObject({ outcome: 'stopped', identifier: s.id });
    if (workspace) await expect(fs.stat(workspace)).resolves.toBeTruthy();

    // A second cancel finds nothing running.
    const again = await runForeman(['cancel', s.id, '--policy', s.policy], s.env);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('issue_not_running');
  });

  it('logs prints the transcript readably (tool calls and results); ls shows the ended run; retry starts it again', async () => {
    const s = await setup(FIX);
    await writeIssue(s.issuesDir, s.id, { title: 'Fix add()', state: 'Todo' }, 'add(2, 3) must be 5');
    const r = await runForeman(['run', s.id, s.policy], s.env);
    expect(r.code, r.stderr.slice(-2000)).toBe(0);

    const logs = await runForeman(['logs', s.id, '--policy', s.policy], s.env);
    expect(logs.code, logs.stderr).toBe(0);
    expect(logs.stdout).toContain('implementer started');
    expect(logs.stdout).toMatch(/implementer #1\] assistant → edit_file \{"path":"add.js"/);
    expect(logs.stdout).toMatch(/implementer #2\] assistant → run_command \{"command":"node test.js"\}/);
    expect(logs.stdout).toMatch(/user ← result: /);
    expect(logs.stdout).toContain('implementer ended: finished');
    // --follow on an ended run prints the same and returns.
    const follow = await runForeman(['logs', s.id, '--follow', '--policy', s.policy], s.env, 30_000);
    expect(follow.code).toBe(0);
    expect(follow.stdout).toContain('→ edit_file');
    expect(follow.stdout).toContain('the run has ended');

    const ls = await runForeman(['ls', '--policy', s.policy], s.env);
    // The phase says what the run did last (handed over for review), with its turns and tokens from the memo.
    expect(ls.stdout).toMatch(new RegExp(`${s.id}\\s+completed\\s+handed_over\\s+ended \\d+ s ago\\s+\\d+\\s+\\d+`));

    // An ended run is started again (no worker here: it waits on the queue for one).
    const before = await s.client.workflow.getHandle(issueWorkflowId(s.deployment.key, s.id)).describe();
    const retry = await runForeman(['retry', s.id, '--policy', s.policy], s.env);
    expect(retry.code, retry.stderr).toBe(0);
    expect(retry.stdout).toContain(`started ${s.id} again`);
    const after = await s.client.workflow.getHandle(issueWorkflowId(s.deployment.key, s.id)).describe();
    expect(after.status.name).toBe('RUNNING');
    expect(after.runId).not.toBe(before.runId);
  });
});

describe('npm start', () => {
  it('passes SIGTERM on to the daemon: the daemon and its dev server are gone', async () => {
    const tmp = await tempDir();
    cleanups.push(tmp.cleanup);
    // A package root whose sources are this repository's and whose specs/WORKFLOW.md is a test
    // policy, so `npm start` runs the real start script on it.
    const pkg = path.join(tmp.dir, 'pkg');
    await fs.mkdir(path.join(pkg, 'specs'), { recursive: true });
    for (const d of ['bin', 'src', 'workflows', 'activities', 'node_modules', 'tsconfig.json'])
      await fs.symlink(path.join(ROOT, d), path.join(pkg, d));
    await fs.copyFile(path.join(ROOT, 'package.json'), path.join(pkg, 'package.json'));
    const origin = await makeOrigin(tmp.dir);
    await writePolicy(path.join(pkg, 'specs'), {
      issuesDir: path.join(tmp.dir, 'issues'),
      workspaceRoot: path.join(tmp.dir, 'workspaces'),
      repo: origin,
      modelUrl: 'http://127.0.0.1:9',
      taskQueue: uniqueTaskQueue('npm-start'),
      extra: 'server:\n  port: 0',
    });
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      FOREMAN_HOME: path.join(tmp.dir, 'home'),
      FOREMAN_LOG_LEVEL: 'info',
    };
    delete env.TEMPORAL_ADDRESS;
    const npm = spawn('npm', ['start'], { cwd: pkg, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    npm.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    npm.stdout.resume();
    const npmExited = new Promise<void>((resolve) => npm.on('exit', () => resolve()));
    const pids: number[] = [];
    cleanups.push(async () => {
      npm.kill('SIGKILL');
      for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
    });
    await waitFor(
      async () => stderr.includes('Foreman is running'),
      90_000,
      () => stderr,
    );
    // The daemon's pid, from the lock it holds in FOREMAN_HOME (src/daemon-lock.ts).
    const lock = JSON.parse(await fs.readFile(path.join(env.FOREMAN_HOME!, DAEMON_LOCK_FILE), 'utf8')) as {
      pid: number;
    };
    const daemonPid = lock.pid;
    const devPid = Number(/dev server ready on \S+ \(pid (\d+)\)/.exec(stderr)?.[1]);
    pids.push(daemonPid, devPid);
    expect(daemonPid).toBeGreaterThan(0);
    expect(devPid).toBeGreaterThan(0);
    expect(daemonPid).not.toBe(npm.pid);
    expect(alive(daemonPid) && alive(devPid)).toBe(true);

    npm.kill('SIGTERM');
    await npmExited;
    await waitFor(
      async () => !alive(daemonPid) && !alive(devPid),
      40_000,
      () => stderr,
    );
  });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, context: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out after ${timeoutMs} ms; output:\n${context().slice(-4000)}`);
}
