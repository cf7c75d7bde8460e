import { describe, expect, it } from 'vitest';
import {
  backendExecutable,
  backendModel,
  backendOf,
  commandModel,
  describeBackends,
  shellWords,
} from '../../src/agents/backends/config.js';
import { unpricedRoles } from '../../src/agents/pricing.js';
import { parsePolicyText } from '../../src/config/load.js';
import { defaultPolicy } from '../../src/config/schema.js';
import { PolicyError } from '../../src/errors.js';

const parse = (frontMatter: string) =>
  parsePolicyText(`---\n${frontMatter}\n---\nbody`, { file: '/srv/policies/WORKFLOW.md', env: { HOME: '/home/u' } });

function policyError(frontMatter: string): PolicyError {
  try {
    parse(frontMatter);
  } catch (e) {
    expect(e).toBeInstanceOf(PolicyError);
    return e as PolicyError;
  }
  throw new Error('expected a PolicyError');
}

/** Symphony's own elixir/WORKFLOW.md codex block (openai/symphony). */
const SYMPHONY_CODEX = `codex:
  command: codex --config shell_environment_policy.inherit=all --config 'model="gpt-5.5"' --config model_reasoning_effort=xhigh app-server
  approval_policy: never
  thread_sandbox: workspace-write
  turn_sandbox_policy:
    type: workspaceWrite
    networkAccess: true`;

describe('backendOf', () => {
  it('runs every role on builtin with its default model when the policy says nothing; the reviewer is on, QA off', () => {
    const policy = defaultPolicy();
    expect(describeBackends(policy)).toEqual([
      'implementer: builtin (claude-sonnet-5-5)',
      'reviewer: builtin (claude-sonnet-5-5)',
      'qa: off (roles.qa.agent: false)',
    ]);
    expect(describeBackends(parse('roles:\n  reviewer: {enabled: false}').policy)[1]).toBe(
      'reviewer: off (roles.reviewer.enabled: false)',
    );
    for (const role of ['implementer', 'reviewer', 'qa'] as const) {
      expect(backendOf(policy, role)).toEqual({ name: 'builtin' });
      expect(backendModel(policy, role)).toBe('claude-sonnet-5-5');
    }
  });

  it('runs the implementer on codex with the settings of a Symphony codex block, model from its command', () => {
    const { policy, warnings } = parse(SYMPHONY_CODEX);
    expect(warnings).toEqual([
      'roles.implementer.model: "gpt-5.5" has no price, so its cost shows as unknown; add budget.prices.gpt-5.5 to count it.',
    ]);
    expect(backendOf(policy, 'implementer')).toEqual({
      name: 'codex',
      command:
        'codex --config shell_environment_policy.inherit=all --config \'model="gpt-5.5"\' --config model_reasoning_effort=xhigh app-server',
      approvalPolicy: 'never',
      threadSandbox: 'workspace-write',
      turnSandboxPolicy: { type: 'workspaceWrite', networkAccess: true },
      turnTimeoutMs: 3_600_000,
      readTimeoutMs: 5_000,
      stallTimeoutMs: 300_000,
    });
    expect(backendModel(policy, 'implementer')).toBe('gpt-5.5');
    // The other roles are not taken along: Symphony has one agent.
    expect(backendOf(policy, 'reviewer')).toEqual({ name: 'builtin' });
    expect(describeBackends(policy)).toEqual([
      "implementer: codex (gpt-5.5, from Symphony's codex block)",
      'reviewer: builtin (claude-sonnet-5-5)',
      'qa: off (roles.qa.agent: false)',
    ]);
  });

  it('applies Symphony §5.3.6 defaults to an empty codex block, and <= 0 turns stall detection off', () => {
    const { policy } = parse(
      'codex: {}\nroles:\n  reviewer: {enabled: true, backend: codex, codex: {stall_timeout_ms: -1}}',
    );
    expect(backendOf(policy, 'implementer')).toEqual({
      name: 'codex',
      command: 'codex app-server',
      approvalPolicy: 'never',
      threadSandbox: 'workspace-write',
      turnSandboxPolicy: null,
      turnTimeoutMs: 3_600_000,
      readTimeoutMs: 5_000,
      stallTimeoutMs: 300_000,
    });
    expect(backendModel(policy, 'implementer')).toBe('gpt-5.5');
    expect(backendOf(policy, 'reviewer')).toMatchObject({ name: 'codex', stallTimeoutMs: 0 });
  });

  it("takes a role's codex block over the top-level one key by key", () => {
    const { policy } = parse(
      'codex: {command: my-codex app-server, read_timeout_ms: 9000, reasoning_effort: high}\n' +
        'roles:\n  implementer:\n    model: gpt-5.5-mini\n    codex: {read_timeout_ms: "7000", thread_sandbox: read-only}',
    );
    expect(backendOf(policy, 'implementer')).toMatchObject({
      name: 'codex',
      command: 'my-codex app-server',
      readTimeoutMs: 7000,
      threadSandbox: 'read-only',
      reasoningEffort: 'high',
    });
    // An explicit model wins over the backend's default.
    expect(backendModel(policy, 'implementer')).toBe('gpt-5.5-mini');
  });

  it('runs a role on claude-code with its options, a path command resolved against the policy folder', () => {
    const { policy } = parse(
      'roles:\n  implementer:\n    backend: claude-code\n    claude_code: {command: ./bin/claude, extra_args: [--verbose], stall_timeout_ms: 1000}\n' +
        '  reviewer: {enabled: true, backend: claude-code, model: claude-sonnet-5-5}',
    );
    expect(backendOf(policy, 'implementer')).toEqual({
      name: 'claude-code',
      command: '/srv/policies/bin/claude',
      extraArgs: ['--verbose'],
      turnTimeoutMs: 3_600_000,
      stallTimeoutMs: 1000,
    });
    expect(backendModel(policy, 'implementer')).toBe('claude-opus-5-5');
    expect(backendOf(policy, 'reviewer')).toMatchObject({ name: 'claude-code', command: 'claude' });
    expect(backendModel(policy, 'reviewer')).toBe('claude-sonnet-5-5');
    expect(describeBackends(policy)).toEqual([
      'implementer: claude-code (claude-opus-5-5)',
      'reviewer: claude-code (claude-sonnet-5-5)',
      'qa: off (roles.qa.agent: false)',
    ]);
  });

  it('keeps an explicit implementer backend over a Symphony codex block, and warns the block is unused', () => {
    const { policy, warnings } = parse('codex: {command: codex app-server}\nroles:\n  implementer: {backend: builtin}');
    expect(backendOf(policy, 'implementer')).toEqual({ name: 'builtin' });
    expect(warnings).toEqual([
      "codex: Symphony's codex block is not used, roles.implementer.backend is builtin; ignored.",
    ]);
  });

  it("warns about a role's options block for a backend the role does not run on", () => {
    const { warnings } = parse('roles:\n  reviewer:\n    codex: {command: codex app-server}\n    claude_code: {}');
    expect(warnings).toEqual([
      'roles.reviewer.claude_code: not used, roles.reviewer runs on builtin; ignored.',
      'roles.reviewer.codex: not used, roles.reviewer runs on builtin; ignored.',
    ]);
  });

  it('refuses unknown keys inside the blocks and unknown backends, with a "did you mean"', () => {
    const err = policyError(
      'codex: {comand: x, aproval_policy: never}\nroles:\n  qa:\n    backend: claude\n    claude_code: {extra_arg: []}\n    codex: {stall_timeout: 5}',
    );
    expect(err.code).toBe('policy_invalid');
    expect(err.issues).toEqual([
      { path: 'codex.comand', message: 'unknown key of codex; did you mean `codex.command`?' },
      { path: 'codex.aproval_policy', message: 'unknown key of codex; did you mean `codex.approval_policy`?' },
      {
        path: 'roles.qa.claude_code.extra_arg',
        message: 'unknown key of roles.qa.claude_code; did you mean `roles.qa.claude_code.extra_args`?',
      },
      {
        path: 'roles.qa.codex.stall_timeout',
        message: 'unknown key of roles.qa.codex; did you mean `roles.qa.codex.stall_timeout_ms`?',
      },
    ]);
    const bad = policyError('roles:\n  qa: {backend: claude}');
    expect(bad.issues.map((i) => i.path)).toEqual(['roles.qa.backend']);
    expect(bad.message).toContain('claude-code');
  });
});

describe('Codex command lines', () => {
  it('reads the model a command sets, in every spelling', () => {
    expect(commandModel('codex app-server')).toBeNull();
    expect(commandModel('codex --config \'model="gpt-5.5"\' app-server')).toBe('gpt-5.5');
    expect(commandModel('codex -c model=o4 app-server')).toBe('o4');
    expect(commandModel('codex -m gpt-5.5-codex app-server')).toBe('gpt-5.5-codex');
    expect(commandModel('codex --model=x app-server')).toBe('x');
    expect(commandModel('codex -c model_reasoning_effort=high app-server')).toBeNull();
  });

  it('splits words as sh does for quotes and backslashes', () => {
    expect(shellWords(`a 'b c' "d \\"e\\"" f\\ g  'h'"i"`)).toEqual(['a', 'b c', 'd "e"', 'f g', 'hi']);
    expect(shellWords("x ''")).toEqual(['x', '']);
  });

  it('names the executable a CLI backend starts', () => {
    const codex = (command: string) =>
      backendExecutable({ ...backendOf(parse('codex: {}').policy, 'implementer'), command } as never);
    expect(codex('codex app-server')).toBe('codex');
    expect(codex('RUST_LOG=info env /opt/codex/bin/codex app-server')).toBe('/opt/codex/bin/codex');
    expect(backendExecutable({ name: 'builtin' })).toBeNull();
  });
});

describe('prices of role models', () => {
  it('has a built-in price for the default model of builtin and claude-code', () => {
    expect(
      unpricedRoles(parse('roles:\n  reviewer: {enabled: true, backend: claude-code}\n  qa: {agent: true}').policy),
    ).toEqual([]);
    // gpt-5.5 (codex's default) has none: its price was not found on an OpenAI page (src/agents/pricing.ts).
    expect(unpricedRoles(parse('codex: {}').policy)).toEqual([{ role: 'implementer', model: 'gpt-5.5' }]);
  });

  it('refuses budget.max_usd with an unpriced role model (model_unpriced), and accepts it once priced', () => {
    const err = policyError(
      'budget: {max_usd: 5}\ncodex: {}\nroles:\n  reviewer: {enabled: true, model: house-model}\n  qa: {model: off-role-model}',
    );
    expect(err.code).toBe('model_unpriced');
    expect(err.issues.map((i) => i.path)).toEqual(['roles.implementer.model', 'roles.reviewer.model']);
    expect(err.message).toContain(
      'budget.max_usd is set but the implementer\'s model "gpt-5.5" and the reviewer\'s model "house-model" have no price.',
    );
    const price = '{input: 1, output: 2, cache_write: 1, cache_read: 0.1}';
    const ok = parse(
      `budget:\n  max_usd: 5\n  prices: {gpt-5.5: ${price}, house-model: ${price}}\ncodex: {}\nroles:\n  reviewer: {enabled: true, model: house-model}`,
    );
    expect(ok.warnings).toEqual([]);
  });
});
