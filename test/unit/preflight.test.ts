// Preflight (src/preflight.ts): model credentials and workspace.repo, against real git repos in temp dirs.
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LOCAL_ENDPOINT_KEY, modelClientOptions } from '../../src/agents/run-role.js';
import { parsePolicyText } from '../../src/config/load.js';
import { PreflightError } from '../../src/errors.js';
import { preflight } from '../../src/preflight.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'foreman-preflight-test-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const load = (frontMatter: string) =>
  parsePolicyText(`---\n${frontMatter}\n---\nWork.`, { file: path.join(dir, 'WORKFLOW.md'), env: { HOME: dir } });

async function failures(frontMatter: string, env: NodeJS.ProcessEnv) {
  try {
    await preflight(load(frontMatter), { env });
  } catch (err) {
    expect(err).toBeInstanceOf(PreflightError);
    return (err as PreflightError).failures;
  }
  throw new Error('expected a PreflightError');
}

describe('preflight: model credentials', () => {
  it('fails with no key for api.anthropic.com or a remote endpoint, naming ANTHROPIC_API_KEY and the loopback way', async () => {
    for (const fm of ['agent: {}', 'model: {base_url: "https://models.example.com"}']) {
      const [f, ...rest] = await failures(fm, {});
      expect(rest).toEqual([]);
      expect(f!.code).toBe('model_credentials_missing');
      expect(f!.message).toContain('Set ANTHROPIC_API_KEY');
      expect(f!.message).toContain('loopback');
    }
  });

  it('fails on a base URL that is not http(s)', async () => {
    const [f] = await failures('model: {base_url: "127.0.0.1:8080"}', { ANTHROPIC_API_KEY: 'k' });
    expect(f!.message).toMatch(/is not an http\(s\) URL/);
  });

  it('passes with a key, or with a loopback endpoint and no key (the client then sends a placeholder key)', async () => {
    expect(await preflight(load('agent: {}'), { env: { ANTHROPIC_API_KEY: 'sk-x' } })).toContain(
      'model: api.anthropic.com, key set',
    );
    for (const base of ['http://127.0.0.1:8080', 'http://localhost:1234', 'http://[::1]:80']) {
      const env = { ANTHROPIC_BASE_URL: base };
      expect(await preflight(load('agent: {}'), { env })).toContain(`model: local endpoint ${base}, no key needed`);
      expect(modelClientOptions(load('agent: {}').policy, env).apiKey).toBe(LOCAL_ENDPOINT_KEY);
    }
    // A dummy key works too, and is what the client sends.
    const env = { ANTHROPIC_BASE_URL: 'http://127.0.0.1:8080', ANTHROPIC_API_KEY: 'dummy' };
    expect(modelClientOptions(load('agent: {}').policy, env).apiKey).toBe('dummy');
    // A loopback-looking name that is not loopback is remote.
    const [f] = await failures('agent: {}', { ANTHROPIC_BASE_URL: 'http://127.0.0.1.example.com' });
    expect(f!.code).toBe('model_credentials_missing');
  });
});

describe('preflight: workspace.repo', () => {
  const env = { ANTHROPIC_API_KEY: 'k' };

  it('passes for a git repository and fails for a folder that is not one or a path that does not exist', async () => {
    const repo = path.join(dir, 'origin');
    await mkdir(repo);
    execFileSync('git', ['init', '-q', repo]);
    expect(await preflight(load(`workspace: {repo: ${repo}}`), { env })).toContain(
      `workspace.repo: ${repo} is a reachable git repository`,
    );
    const plain = path.join(dir, 'plain');
    await mkdir(plain);
    for (const bad of [plain, path.join(dir, 'absent')]) {
      const [f] = await failures(`workspace: {repo: ${bad}}`, env);
      expect(f!.code).toBe('workspace_repo_unreachable');
      expect(f!.message).toContain(`workspace.repo ${bad} is not a git repository Foreman can reach`);
    }
  });

  it('lists every failure, one line each', async () => {
    const err = await preflight(load(`workspace: {repo: ${path.join(dir, 'absent')}}`), { env: {} }).catch((e) => e);
    expect((err as PreflightError).failures.map((f) => f.code)).toEqual([
      'model_credentials_missing',
      'workspace_repo_unreachable',
    ]);
    expect((err as PreflightError).message.split('\n')).toHaveLength(2);
  });
});

describe('preflight: agent CLI commands', () => {
  const fakeCli = async (name: string, mode = 0o755) => {
    const bin = path.join(dir, 'bin');
    await mkdir(bin, { recursive: true });
    const file = path.join(bin, name);
    await writeFile(file, '#!/bin/sh\nexit 0\n', { mode });
    return { bin, file };
  };

  it('finds a CLI backend command on PATH or as a path, and names where', async () => {
    const { bin, file } = await fakeCli('claude');
    const env = { ANTHROPIC_API_KEY: 'k', PATH: `/nonexistent:${bin}` };
    const lines = await preflight(
      load(
        `roles:\n  implementer: {backend: claude-code}\n  reviewer: {enabled: true, backend: claude-code, claude_code: {command: ${file}}}`,
      ),
      { env },
    );
    expect(lines).toContain(`implementer: claude-code command claude found (${file})`);
    expect(lines).toContain(`reviewer: claude-code command ${file} found (${file})`);
    // builtin roles and roles that are off are not checked.
    expect(await preflight(load('roles:\n  qa: {backend: codex}'), { env })).not.toContainEqual(
      expect.stringMatching(/^qa:/),
    );
  });

  it('fails for a command not on PATH, a non-executable file, or a Symphony codex.command that is missing', async () => {
    const { bin, file } = await fakeCli('codex-not-exec', 0o644);
    const env = { ANTHROPIC_API_KEY: 'k', PATH: bin };
    const [missing] = await failures('roles:\n  implementer: {backend: claude-code}', env);
    expect(missing).toEqual({
      code: 'agent_command_missing',
      message:
        'implementer runs on claude-code, but its command "claude" (roles.implementer.claude_code.command) is not on PATH. ' +
        'Install the CLI (npm package @anthropic-ai/claude-code) or set roles.implementer.claude_code.command to its path.',
    });
    const [notExec] = await failures(`codex: {command: "FOO=1 ${file} app-server"}`, env);
    expect(notExec!.code).toBe('agent_command_missing');
    expect(notExec!.message).toContain(`its command "${file}" (codex.command) is not an executable file`);
  });

  it('reports a missing command through `warn` instead of failing when asked (foreman validate)', async () => {
    const warnings: string[] = [];
    const lines = await preflight(load('codex: {}'), {
      env: { ANTHROPIC_API_KEY: 'k', PATH: '' },
      warn: (m) => warnings.push(m),
    });
    expect(warnings).toEqual([
      'implementer runs on codex, but its command "codex" (codex.command) is not on PATH. Install the CLI (npm package @openai/codex) or set codex.command to its path.',
    ]);
    expect(lines).toContain('model: api.anthropic.com, key set');
  });
});
