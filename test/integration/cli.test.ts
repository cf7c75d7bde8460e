/**
 * The `foreman` command as a user runs it: a real subprocess against the shared Temporal dev
 * server (TEMPORAL_ADDRESS), a real git origin, the local tracker and a scripted model server.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterEach, describe, expect, it } from 'vitest';
import { dispatcherWorkflowId } from '../../workflows/definitions.js';
import { loadPolicy } from '../../src/config/load.js';
import { deploymentOf } from '../../src/deployment.js';
import { runForeman, spawnForeman } from '../support/cli.js';
import { git, makeOrigin, tempDir, writeIssue, writePolicy } from '../support/fixtures.js';
import { startScriptedModelServer, toolUse, type ScriptStep } from '../support/scripted-model-server.js';
import { temporalAddress, uniqueTaskQueue } from '../support/temporal.js';

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

async function setup(script: ScriptStep[], opts: { modelUrl?: string; taskQueue?: string; extra?: string } = {}) {
  const tmp = await tempDir();
  cleanups.push(tmp.cleanup);
  const model = await startScriptedModelServer(script);
  cleanups.push(async () => {
    await model.close();
    expect(model.failures).toEqual([]);
  });
  const origin = await makeOrigin(tmp.dir);
  const issuesDir = path.join(tmp.dir, 'issues');
  const policy = await writePolicy(tmp.dir, {
    issuesDir,
    workspaceRoot: path.join(tmp.dir, 'workspaces'),
    repo: origin,
    modelUrl: opts.modelUrl ?? model.url,
    taskQueue: opts.taskQueue ?? uniqueTaskQueue('cli'),
    ...(opts.extra ? { extra: opts.extra } : {}),
  });
  const env = {
    ...process.env,
    TEMPORAL_ADDRESS: temporalAddress(),
    FOREMAN_HOME: path.join(tmp.dir, 'home'),
    FOREMAN_LOG_LEVEL: 'warn',
  };
  const id = `C${Math.random().toString(36).slice(2, 8).toUpperCase()}-1`;
  return { dir: tmp.dir, model, origin, issuesDir, policy, env, id };
}

describe('foreman validate', () => {
  it('exits 0 for a valid policy and 2 with the key path for an invalid one', async () => {
    const s = await setup([]);
    const ok = await runForeman(['validate', s.policy], s.env);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain(`ok: ${s.policy}`);

    const text = await fs.readFile(s.policy, 'utf8');
    expect(text).toContain('max_turns: 12');
    await fs.writeFile(s.policy, text.replace('max_turns: 12', 'max_turns: 0'));
    const bad = await runForeman(['validate', s.policy], s.env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('policy_invalid');
    expect(bad.stderr).toContain('agent.max_turns');

    // The tracker adapter's own keys are checked too (SPEC §6.3 dispatch preflight).
    await fs.writeFile(s.policy, '---\ntracker:\n  kind: github\n  provider: { repo: acme/app }\n---\nWork.\n');
    const noToken: NodeJS.ProcessEnv = { ...s.env };
    delete noToken.GITHUB_TOKEN;
    const missing = await runForeman(['validate', s.policy], noToken);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('tracker_token_missing');
    expect(missing.stderr).toContain('GITHUB_TOKEN');
  });

  it('exits 2 for a typo in a key, with its path and a "did you mean"', async () => {
    const s = await setup([], { extra: 'qa:\n  comands: [npm test]' });
    const r = await runForeman(['validate', s.policy], s.env);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('policy_invalid');
    expect(r.stderr).toContain('qa.comands: unknown key of qa; did you mean `qa.commands`?');
  });

  it('exits 2 when workspace.repo is not a git repository, and names the checks that passed', async () => {
    const s = await setup([]);
    const ok = await runForeman(['validate', s.policy], s.env);
    expect(ok.stdout).toContain(`workspace.repo: ${s.origin} is a reachable git repository`);
    expect(ok.stdout).toContain('model: http://127.0.0.1:');

    const notRepo = path.join(s.dir, 'not-a-repo');
    await fs.mkdir(notRepo);
    const text = await fs.readFile(s.policy, 'utf8');
    await fs.writeFile(s.policy, text.replace(s.origin, notRepo));
    const r = await runForeman(['validate', s.policy], s.env);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`error[workspace_repo_unreachable]: workspace.repo ${notRepo}`);
    expect(r.stderr).toContain('not a git repository Foreman can reach');
  });
});

describe('foreman validate: agent backends', () => {
  it('says which backend and model each role uses, and warns (exit 0) when a CLI backend command is not found', async () => {
    const s = await setup([], {
      extra:
        'codex:\n  command: no-such-codex --config \'model="gpt-5.5"\' app-server\n' +
        'roles:\n  reviewer: {enabled: true, backend: claude-code}',
    });
    const r = await runForeman(['validate', s.policy], s.env);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("implementer: codex (gpt-5.5, from Symphony's codex block)\n");
    expect(r.stdout).toContain('reviewer: claude-code (claude-opus-5-5)\n');
    expect(r.stdout).toContain('qa: off (roles.qa.agent: false)\n');
    expect(r.stderr).toContain(
      'warning: implementer runs on codex, but its command "no-such-codex" (codex.command) is not on PATH.',
    );
    // `start` refuses the same policy (exit 2) before starting anything.
    const started = await runForeman(['start', s.policy], s.env);
    expect(started.code).toBe(2);
    expect(started.stderr).toContain('error[agent_command_missing]: implementer runs on codex');
    expect(started.stderr).not.toContain('Foreman is running');
  });
});

describe('foreman run', () => {
  it('works one issue through the workflow and prints the JSON summary', async () => {
    const s = await setup(FIX);
    await writeIssue(s.issuesDir, s.id, { title: 'Fix add()', state: 'Todo' }, 'add(2, 3) must be 5');
    const r = await runForeman(['run', s.id, s.policy], s.env);
    expect(r.stderr).not.toMatch(/"level":(50|60)/);
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary).toMatchObject({
      outcome: 'completed',
      identifier: s.id,
      pushed: true,
      pr: null,
      branch: `foreman/${s.id}`,
    });
    expect(summary.evidence.commentId).toBeTruthy();
    expect(summary.tokens.total).toBeGreaterThan(0);
    expect(git(s.origin, 'show', `foreman/${s.id}:add.js`)).toContain('a + b');

    // The issue is done: a second `foreman run` says so instead of a second run and evidence.
    const again = await runForeman(['run', s.id, s.policy], s.env);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('already_completed');
    expect(again.stderr).toContain('--again');
  });

  it('starts its own Temporal dev server on $FOREMAN_HOME/temporal.db when TEMPORAL_ADDRESS is unset, and stops it', async () => {
    const s = await setup(FIX);
    await writeIssue(s.issuesDir, s.id, { title: 'Fix add()', state: 'Todo' });
    const { TEMPORAL_ADDRESS: _unset, ...rest } = s.env;
    const r = await runForeman(['run', s.id, s.policy], { ...rest, FOREMAN_LOG_LEVEL: 'info' });
    expect(r.code, r.stderr.slice(-3000)).toBe(0);
    expect(JSON.parse(r.stdout).outcome).toBe('completed');
    await expect(fs.stat(path.join(s.env.FOREMAN_HOME, 'temporal.db'))).resolves.toBeTruthy();
    const ready = r.stderr.split('\n').find((l) => l.includes('"msg":"Temporal dev server ready"'));
    const pid = Number(JSON.parse(ready ?? '{}').pid);
    expect(pid).toBeGreaterThan(0);
    // The dev server Foreman starts serves the Temporal Web UI by default, and says where.
    expect(JSON.parse(ready ?? '{}').ui).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(r.stderr).toContain(`"msg":"Temporal Web UI: ${JSON.parse(ready ?? '{}').ui}"`);
    // The record is gone and the server it started is stopped.
    await expect(fs.stat(path.join(s.env.FOREMAN_HOME, 'temporal-dev.json'))).rejects.toThrow();
    expect(() => process.kill(pid, 0)).toThrow();
  });

  it('names the file when an issue file has broken front matter, and loses nothing', async () => {
    const s = await setup([]);
    const file = path.join(s.issuesDir, `${s.id}.md`);
    await fs.mkdir(s.issuesDir, { recursive: true });
    const broken = '---\ntitle: [unclosed\nstate: Todo\n---\nbody\n';
    await fs.writeFile(file, broken);
    const r = await runForeman(['run', s.id, s.policy], s.env);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${s.id}.md`);
    expect(await fs.readFile(file, 'utf8')).toBe(broken);
  });

  it('escalates an unreachable model endpoint on the issue, naming it, and waits (no crash, no lost issue)', async () => {
    // An outage is ridden out for agent.outage_ms before it is escalated: 2 s here.
    const s = await setup([], { modelUrl: 'http://127.0.0.1:9', extra: 'agent:\n  outage_ms: 2000' });
    await writeIssue(s.issuesDir, s.id, { title: 'Fix add()', state: 'Todo' });
    const run = spawnForeman(['run', s.id, s.policy], s.env);
    cleanups.push(async () => {
      run.child.kill('SIGKILL');
    });
    const comments = path.join(s.issuesDir, `${s.id}.comments.md`);
    await waitFor(
      async () => (await fs.readFile(comments, 'utf8')).includes('Foreman needs a decision'),
      60_000,
      () => run.output().stderr,
    );
    const text = await fs.readFile(comments, 'utf8');
    expect(text).toContain('model_unreachable');
    expect(text).toContain('127.0.0.1:9');
    await waitFor(
      async () => run.output().stderr.includes('is waiting for a human'),
      10_000,
      () => run.output().stderr,
    );
    // Interrupting the foreground run leaves the workflow in Temporal for a later run or the daemon.
    run.child.kill('SIGINT');
    const exit = await run.wait(30_000);
    expect(exit.code).toBe(130);
    expect(exit.stderr).toContain(`foreman run ${s.id}`);
  });
});

describe('foreman start', () => {
  it('refuses to start agent work without its sandbox, saying why and how to fix it', async () => {
    const s = await setup([]);
    const r = await runForeman(['start', s.policy], { ...s.env, PATH: '/nonexistent' });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('sandbox_unavailable');
    expect(r.stderr).toContain('apt-get install bubblewrap');
    expect(r.stderr).toContain('sandbox.mode: none');
  });

  it('refuses to start (exit 2) with no model key and a non-loopback endpoint, naming ANTHROPIC_API_KEY', async () => {
    const s = await setup([], { modelUrl: 'https://models.example.invalid', extra: 'model:\n  api_key: null' });
    const env: NodeJS.ProcessEnv = { ...s.env };
    delete env.ANTHROPIC_API_KEY;
    const r = await runForeman(['start', s.policy], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('model_credentials_missing');
    expect(r.stderr).toContain('Set ANTHROPIC_API_KEY');
    expect(r.stderr).not.toContain('Foreman is running');
  });

  it('starts with a loopback model endpoint and no key', async () => {
    const taskQueue = uniqueTaskQueue('local-model');
    const s = await setup([], { taskQueue, extra: 'model:\n  api_key: null' });
    const env: NodeJS.ProcessEnv = { ...s.env, FOREMAN_LOG_LEVEL: 'info' };
    delete env.ANTHROPIC_API_KEY;
    const deployment = deploymentOf(await loadPolicy(s.policy));
    const daemon = spawnForeman(['start', s.policy], env);
    cleanups.push(async () => {
      daemon.child.kill('SIGKILL');
      const connection = await Connection.connect({ address: temporalAddress() });
      await new Client({ connection }).workflow
        .getHandle(dispatcherWorkflowId(deployment.taskQueue))
        .terminate('test over')
        .catch(() => {});
      await connection.close();
    });
    await waitFor(
      async () => daemon.output().stderr.includes('Foreman is running'),
      60_000,
      () => daemon.output().stderr,
    );
    expect(daemon.output().stderr).toContain(`model: local endpoint ${s.model.url}, no key needed`);
    daemon.child.kill('SIGTERM');
    expect((await daemon.wait(40_000)).code).toBe(0);
  });

  it('picks up an issue file dropped into the folder and ends with a pushed branch, evidence and review state', async () => {
    const taskQueue = uniqueTaskQueue('daemon');
    const s = await setup(FIX, { taskQueue });
    await fs.mkdir(s.issuesDir, { recursive: true });
    const deployment = deploymentOf(await loadPolicy(s.policy));
    const daemon = spawnForeman(['start', s.policy, '--port', '0'], { ...s.env, FOREMAN_LOG_LEVEL: 'info' });
    cleanups.push(async () => {
      daemon.child.kill('SIGKILL');
      const connection = await Connection.connect({ address: temporalAddress() });
      await new Client({ connection }).workflow
        .getHandle(dispatcherWorkflowId(deployment.taskQueue))
        .terminate('test over')
        .catch(() => {});
      await connection.close();
    });
    // Wait until the daemon is up (it logs to stderr), then drop the issue in.
    await waitFor(
      async () => daemon.output().stderr.includes('Foreman is running'),
      60_000,
      () => daemon.output().stderr,
    );
    // A broken issue file is reported by name and does not stop the daemon or the good issue.
    await fs.writeFile(path.join(s.issuesDir, 'BROKEN-1.md'), '---\ntitle: [oops\n---\n');
    await writeIssue(s.issuesDir, s.id, { title: 'Fix add()', state: 'Todo' }, 'add(2, 3) must be 5');

    const issueFile = path.join(s.issuesDir, `${s.id}.md`);
    await waitFor(
      async () => /state: "?Human Review"?/.test(await fs.readFile(issueFile, 'utf8')),
      90_000,
      () => daemon.output().stderr,
    );
    const comments = await fs.readFile(path.join(s.issuesDir, `${s.id}.comments.md`), 'utf8');
    expect(comments).toContain('✅ passed');
    expect(git(s.origin, 'show', `foreman/${s.id}:add.js`)).toContain('a + b');

    // The HTTP API reads the same state from Temporal.
    const url = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(daemon.output().stderr)?.[1];
    expect(url).toBeTruthy();
    // The issue moves to review before the run ends (it still writes its metrics record): wait for the end.
    await waitFor(
      async () =>
        ((await (await fetch(`${url}/api/v1/${s.id}`)).json()) as { outcome?: string }).outcome === 'completed',
      30_000,
      () => daemon.output().stderr,
    );
    const state = (await (await fetch(`${url}/api/v1/state`)).json()) as {
      task_queue: string;
      deployment: string;
      recent: { issue_identifier: string; outcome: string }[];
    };
    expect(state).toMatchObject({ task_queue: `${taskQueue}-${deployment.key}`, deployment: deployment.key });
    expect(state.recent.some((r) => r.issue_identifier === s.id && r.outcome === 'completed')).toBe(true);
    const one = await fetch(`${url}/api/v1/${s.id}`);
    expect(one.status).toBe(200);
    // A finished run says what the tracker says (specs/api.md), not Temporal's COMPLETED.
    expect(await one.json()).toMatchObject({ issue_identifier: s.id, status: 'handed_over', outcome: 'completed' });
    expect((await fetch(`${url}/api/v1/NOPE-404`)).status).toBe(404);
    expect((await fetch(`${url}/api/v1/refresh`, { method: 'POST' })).status).toBe(202);
    expect((await fetch(`${url}/api/v1/refresh`)).status).toBe(405);
    // The metrics come from the run ledger the run wrote under FOREMAN_HOME (specs/metrics.md).
    const metrics = (await (await fetch(`${url}/api/v1/metrics?days=1`)).json()) as { current: object };
    expect(metrics.current).toMatchObject({ runs: 1, accepted_changes: 1, escalation_rate: 0, rework_rate: 0 });
    expect((await (await fetch(`${url}/metrics`)).text()).split('\n')).toContain('foreman_level5_runs 1');

    expect(daemon.output().stderr).toContain('BROKEN-1.md');

    // `foreman status` reaches the same server and lists the finished run.
    const status = await runForeman(['status', '--json', '--policy', s.policy], s.env);
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout).recent).toEqual(
      expect.arrayContaining([expect.objectContaining({ issue_identifier: s.id, outcome: 'completed' })]),
    );
    const text = await runForeman(['status', '--policy', s.policy], s.env);
    expect(text.stdout).toContain(`${s.id}  handed_over (Human Review)`);

    daemon.child.kill('SIGTERM');
    const exit = await daemon.wait(40_000);
    expect(exit.code).toBe(0);
  });
});

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, context: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out after ${timeoutMs} ms; output:\n${context().slice(-4000)}`);
}
