/**
 * "Foreman owns git" and "a contract the agent cannot edit" (docs/architecture.md, Boundaries):
 * a scripted agent drives the real tools (src/agents/tools.ts) in a real workspace to plant git
 * hooks and config, edit the spec, commit a protected change and move the base ref; Foreman's own
 * diff, contract check, commit, push and prepare must run none of it, and must check and push
 * what the contract says.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createToolbox, type Toolbox } from '../../src/agents/tools.js';
import { DEFAULT_SANDBOX } from '../../src/sandbox/policy.js';
import { checkWorkspaceContract, type ContractCheck } from '../../src/contract/check.js';
import { listChangedFiles } from '../../src/contract/changes.js';
import { specFile } from '../../src/home.js';
import { evidenceCommands, runQaCommands } from '../../src/qa/run.js';
import { refreshSpecCopy, renderIssueSpec, writeIssueSpec, type IssueSpecInput } from '../../src/spec/write.js';
import { workspaceDiff } from '../../src/workspace/diff.js';
import { scrubbedEnv } from '../../src/workspace/shell.js';
import { commitAndPush, prepareWorkspace, type PreparedWorkspace } from '../../src/workspace/workspace.js';
import { BUGGY_PROJECT, git, makeOrigin, WORKSPACE_DEFAULTS } from '../support/fixtures.js';
import { testDir } from '../support/test-dir.js';

const { identity } = WORKSPACE_DEFAULTS;
const CANARY = 'canary-secret-5f1e2d';
const PROTECTED = ['.github/**'];

afterEach(() => {
  delete process.env.FOREMAN_TEST_CANARY_TOKEN;
});
beforeEach(() => {
  process.env.FOREMAN_TEST_CANARY_TOKEN = CANARY;
});

interface Setup {
  dir: string;
  origin: string;
  home: string;
  marks: string;
  ws: PreparedWorkspace;
  box: Toolbox;
  /** Runs a shell command as the agent (run_command); fails the test when it exits non-zero. */
  agent(command: string): Promise<string>;
  marksLeft(): Promise<string[]>;
  /** Foreman's contract check of the workspace, against the recorded base and the authoritative spec. */
  contract(): Promise<ContractCheck>;
}

async function setup(): Promise<Setup> {
  const dir = await testDir('foreman-gitwall-');
  const origin = await makeOrigin(dir, { ...BUGGY_PROJECT, '.github/workflows/ci.yml': 'on: push\n' });
  const home = path.join(dir, 'home');
  const marks = path.join(dir, 'marks');
  await fs.mkdir(marks, { recursive: true });
  const ws = await prepareWorkspace({
    root: path.join(dir, 'ws'),
    identifier: 'DEMO-1',
    repo: origin,
    hooks: { timeout_ms: 10_000 },
    identity,
    env: scrubbedEnv(),
  });
  // The agent's commands run unsandboxed here: the sandbox (test/security/sandbox.test.ts) already
  // keeps .git read-only; these tests show that Foreman's own git holds even when planting works.
  const box = createToolbox('implementer', {
    workspace: ws.path,
    env: scrubbedEnv(),
    sandbox: { ...DEFAULT_SANDBOX, mode: 'none' },
  });
  const agent = async (command: string) => {
    const r = await box.execute('run_command', { command });
    const text = JSON.stringify(r);
    expect(text, text).not.toMatch(/exit code: [1-9]|"is_error":true/i);
    return text;
  };
  const marksLeft = async () => (await fs.readdir(marks)).sort();
  const contract = () =>
    checkWorkspaceContract({
      workspace: ws.path,
      specPath: specFile(home, ws.key),
      baseRef: 'origin/main',
      baseCommit: ws.baseCommit,
      protectedPaths: PROTECTED,
    });
  return { dir, origin, home, marks, ws, box, agent, marksLeft, contract };
}

/** The agent plants hooks, fsmonitor, hooksPath, diff.external, textconv, a filter, upload/receive-pack. */
async function plant(s: Setup): Promise<void> {
  const evil = (name: string, then = '') => `#!/bin/sh\nenv > "${s.marks}/${name}-$$"\n${then}`;
  const scripts: Record<string, string> = {
    'hook.sh': evil('hook', 'exit 0\n'),
    'fsmonitor.sh': evil('fsmonitor', 'exit 1\n'),
    'extdiff.sh': evil('diff-external', 'exit 0\n'),
    'textconv.sh': evil('textconv', 'cat "$1"\n'),
    'clean.sh': evil('filter', 'cat\n'),
    'upload.sh': evil('uploadpack', 'exec git-upload-pack "$@"\n'),
    'receive.sh': evil('receivepack', 'exec git-receive-pack "$@"\n'),
  };
  for (const [name, text] of Object.entries(scripts)) {
    await s.box.execute('write_file', { path: `evil/${name}`, content: text });
  }
  const hooks = ['pre-commit', 'commit-msg', 'post-commit', 'pre-push', 'post-checkout', 'reference-transaction'];
  await s.agent(
    [
      'chmod +x evil/*.sh',
      'mkdir -p .git/hooks evilhooks',
      ...hooks.map((h) => `cp evil/hook.sh .git/hooks/${h} && cp evil/hook.sh evilhooks/${h}`),
      'git config core.hooksPath "$PWD/evilhooks"',
      'git config core.fsmonitor "$PWD/evil/fsmonitor.sh"',
      'git config diff.external "$PWD/evil/extdiff.sh"',
      'git config diff.evil.textconv "$PWD/evil/textconv.sh"',
      'git config filter.evil.clean "$PWD/evil/clean.sh"',
      'git config filter.evil.smudge "$PWD/evil/clean.sh"',
      'git config remote.origin.uploadpack "$PWD/evil/upload.sh"',
      'git config remote.origin.receivepack "$PWD/evil/receive.sh"',
      'printf "* diff=evil filter=evil\\n" > .git/info/attributes',
    ].join(' && '),
  );
}

describe('Foreman owns git', () => {
  it('runs no agent-planted hook, fsmonitor, external diff, textconv, filter or upload/receive-pack, and leaks no secret', async () => {
    const s = await setup();
    await plant(s);
    // The plants are live: the agent's own git runs them (in its own, scrubbed environment).
    await s.agent(
      'echo change >> README.md && git status --short >/dev/null && git diff >/dev/null && git fetch -q origin && ' +
        'git -c user.name=a -c user.email=a@b commit -qam probe',
    );
    const fired = await s.marksLeft();
    for (const name of ['fsmonitor', 'diff-external', 'uploadpack', 'hook']) {
      expect(
        fired.some((f) => f.startsWith(name)),
        `${name} fires for the agent's git`,
      ).toBe(true);
    }
    await fs.rm(s.marks, { recursive: true, force: true });
    await fs.mkdir(s.marks);

    await s.box.execute('write_file', { path: 'add.js', content: 'function add(a, b) { return a + b; }\n' });
    const diff = await workspaceDiff(s.ws, 'origin');
    expect(diff).toContain('return a + b');
    const check = await s.contract();
    expect(check.changedFiles).toContain('add.js');
    const pushed = await commitAndPush({
      path: s.ws.path,
      branch: s.ws.branch,
      baseBranch: 'main',
      baseCommit: s.ws.baseCommit,
      message: 'DEMO-1: fix',
      identity,
    });
    expect(pushed.pushed).toBe(true);
    await prepareWorkspace({
      root: path.dirname(s.ws.path),
      identifier: 'DEMO-1',
      repo: s.origin,
      hooks: { timeout_ms: 10_000 },
      identity,
      env: scrubbedEnv(),
    });

    expect(await s.marksLeft()).toEqual([]);
    // Config Foreman found in .git/config that is not its own is gone.
    const config = await fs.readFile(path.join(s.ws.path, '.git', 'config'), 'utf8');
    expect(config).not.toMatch(/fsmonitor|hooksPath|external|uploadpack|receivepack|filter|textconv/i);
    // The pushed tree is the work tree as is: no clean filter ran over it.
    expect(git(s.origin, 'show', `${pushed.commit}:add.js`)).toContain('return a + b');
  });

  it('keeps a secret of the daemon out of anything git runs for Foreman', async () => {
    const s = await setup();
    // Foreman's hooks directory is empty, and the environment git gets holds no daemon variable.
    await s.agent(`git config core.fsmonitor 'env > ${s.marks}/env-$$; exit 1'`);
    await s.box.execute('write_file', { path: 'add.js', content: 'x\n' });
    await commitAndPush({ path: s.ws.path, branch: s.ws.branch, baseBranch: 'main', message: 'm', identity });
    const files = await s.marksLeft();
    for (const f of files) expect(await fs.readFile(path.join(s.marks, f), 'utf8')).not.toContain(CANARY);
    expect(files).toEqual([]);
  });
});

describe('a contract the agent cannot edit', () => {
  async function authoritativeSpec(s: Setup): Promise<string> {
    const input: IssueSpecInput = {
      issue: {
        id: 'DEMO-1',
        identifier: 'DEMO-1',
        title: 'Fix add',
        description: 'add() subtracts',
        priority: null,
        state: 'Todo',
        branch_name: null,
        url: null,
        labels: [],
        blocked_by: [],
        created_at: null,
        updated_at: null,
      } as unknown as IssueSpecInput['issue'],
      branch: s.ws.branch,
      baseBranch: 'main',
      scope: [],
      protectedPaths: PROTECTED,
      tools: [],
      qaCommands: ['node test.js'],
      qaMaxRounds: 2,
      maxTurns: 10,
      maxTokens: 1000,
      budgetTokens: null,
      now: '2025-01-01T00:00:00.000Z',
      runId: 'run-1',
    };
    expect(await renderIssueSpec(input)).toContain('node test.js');
    const spec = specFile(s.home, s.ws.key);
    await writeIssueSpec(spec, input);
    await refreshSpecCopy(spec, path.join(s.ws.path, '.foreman', 'spec.md'));
    return spec;
  }

  it("QA runs the policy's commands and the authoritative spec's evidence, not the agent's edited spec", async () => {
    const s = await setup();
    const spec = await authoritativeSpec(s);
    await s.box.execute('write_file', {
      path: '.foreman/spec.md',
      content: '# Spec\n\n## Scope\n\n- Paths: `**`\n\n## Evidence\n\n- `true`\n',
    });
    const commands = await evidenceCommands(spec, ['node test.js']);
    expect(commands).toEqual(['node test.js']);
    const report = await runQaCommands({
      commands,
      cwd: s.ws.path,
      env: scrubbedEnv(),
      timeoutMs: 30_000,
      tailBytes: 2000,
    });
    expect(report.results.map((r) => r.command)).not.toContain('true');
    expect(report.passed).toBe(false); // add() still subtracts: the agent's `true` did not run instead
  });

  it('catches a protected change the agent committed after moving refs/remotes/origin/main to it', async () => {
    const s = await setup();
    await authoritativeSpec(s);
    await s.box.execute('write_file', { path: '.github/workflows/ci.yml', content: 'on: push\njobs: {}\n' });
    await s.agent(
      'git add -A && git -c user.name=a -c user.email=a@b commit -qm sneak && git update-ref refs/remotes/origin/main HEAD',
    );
    // The old check, against the ref the agent moved, sees nothing.
    expect(await listChangedFiles(s.ws.path, 'origin/main')).toEqual([]);
    const check = await s.contract();
    expect(check.protectedTouched).toEqual(['.github/workflows/ci.yml']);
  });

  it('catches a protected change hidden from the index (skip-worktree)', async () => {
    const s = await setup();
    await s.box.execute('write_file', { path: '.github/workflows/ci.yml', content: 'on: pull_request\n' });
    await s.agent('git update-index --skip-worktree .github/workflows/ci.yml && test -z "$(git status --porcelain)"');
    const check = await s.contract();
    expect(check.protectedTouched).toEqual(['.github/workflows/ci.yml']);
  });

  it('never pushes .foreman/, even committed or force-added by the agent; agent commits are squashed', async () => {
    const s = await setup();
    await authoritativeSpec(s);
    await s.box.execute('write_file', { path: '.foreman/notes.md', content: 'agent notes\n' });
    await s.box.execute('write_file', { path: 'add.js', content: 'function add(a, b) { return a + b; }\n' });
    await s.agent('git add -f -A .foreman add.js && git -c user.name=a -c user.email=a@b commit -qm "agent commit"');
    expect(git(s.ws.path, 'ls-tree', '-r', '--name-only', 'HEAD')).toContain('.foreman/notes.md');
    const check = await s.contract();
    expect(check.changedFiles).toEqual(['add.js']);
    const pushed = await commitAndPush({
      path: s.ws.path,
      branch: s.ws.branch,
      baseBranch: 'main',
      baseCommit: s.ws.baseCommit,
      message: 'DEMO-1: fix',
      identity,
    });
    const files = git(s.origin, 'ls-tree', '-r', '--name-only', 'foreman/DEMO-1').split('\n');
    expect(files).toContain('add.js');
    expect(files.filter((f) => f.startsWith('.foreman'))).toEqual([]);
    expect(git(s.origin, 'rev-list', '--count', 'main..foreman/DEMO-1').trim()).toBe('1');
    expect(git(s.origin, 'log', '-1', '--format=%an <%ae>', 'foreman/DEMO-1').trim()).toBe(
      'Foreman <foreman@localhost>',
    );
    expect(git(s.ws.path, 'rev-parse', 'HEAD').trim()).toBe(pushed.commit);
    // The agent's copy of the spec is still there to read.
    expect(await fs.readFile(path.join(s.ws.path, '.foreman', 'spec.md'), 'utf8')).toContain('node test.js');
  });
});
