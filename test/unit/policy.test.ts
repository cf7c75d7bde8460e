// The policy file: parsing, resolution, validation, strict prompt rendering and live reload
// (Symphony SPEC §5–6). Real files in temp dirs; nothing mocked.
import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { backendOf } from '../../src/agents/backends/config.js';
import { PolicyError } from '../../src/errors.js';
import {
  isLocalRepoPath,
  loadPolicy,
  parsePolicyText,
  sampleIssue,
  validatePolicyFile,
} from '../../src/config/load.js';
import { DEFAULT_PROMPT, renderPrompt } from '../../src/config/prompt.js';
import { defaultPolicy } from '../../src/config/schema.js';
import { createPolicyStore } from '../../src/config/store.js';
import type { PolicyStore } from '../../src/config/store.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const fixtures = path.join(here, '..', 'fixtures', 'policies');
const repoRoot = path.join(here, '..', '..');
const HOME = '/home/lead';
const env = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({ HOME, ...extra });

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'foreman-policy-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Parses front matter + body as if read from `<dir>/WORKFLOW.md`. */
function parse(frontMatter: string | null, body = 'Work on {{ issue.identifier }}.', e: NodeJS.ProcessEnv = env()) {
  const text = frontMatter === null ? body : `---\n${frontMatter}\n---\n${body}`;
  return parsePolicyText(text, { file: path.join(dir, 'WORKFLOW.md'), env: e });
}

/** Runs `fn` and returns the PolicyError it throws (fails the test if it throws nothing else). */
async function policyError(fn: () => unknown): Promise<PolicyError> {
  try {
    await fn();
  } catch (err) {
    expect(err).toBeInstanceOf(PolicyError);
    return err as PolicyError;
  }
  throw new Error('expected a PolicyError');
}

describe('defaults', () => {
  it('gives every key its documented default for an empty front matter', () => {
    const { policy, warnings, promptTemplate } = parse('', '');
    expect(warnings).toEqual([]);
    expect(promptTemplate).toBe('');
    expect(policy).toEqual(defaultPolicy());
    expect(policy.tracker).toEqual({
      kind: 'local',
      provider: {},
      required_labels: [],
      active_states: ['Todo', 'In Progress'],
      terminal_states: ['Done', 'Closed', 'Cancelled', 'Canceled', 'Duplicate'],
    });
    expect(policy.polling.interval_ms).toBe(30_000);
    expect(policy.workspace.root).toBe(path.join(os.tmpdir(), 'foreman_workspaces'));
    expect(policy.hooks).toEqual({ timeout_ms: 60_000 });
    expect(policy.agent).toEqual({
      max_concurrent_agents: 10,
      max_turns: 20,
      max_retry_backoff_ms: 300_000,
      outage_ms: 900_000,
      max_issue_bytes: 65_536,
      max_concurrent_agents_by_state: {},
    });
    expect(policy.server).toEqual({ host: '127.0.0.1' });
    expect(policy.model).toEqual({
      stream: false,
      max_tokens: 8192,
      timeout_ms: 600_000,
      idle_timeout_ms: 60_000,
      max_retries: 2,
    });
    const claudeCode = { command: 'claude', extra_args: [], turn_timeout_ms: 3_600_000, stall_timeout_ms: 300_000 };
    expect(policy.roles.implementer).toEqual({ claude_code: claudeCode, codex: {} });
    expect(policy.roles.reviewer).toEqual({ enabled: true, max_turns: 20, claude_code: claudeCode, codex: {} });
    expect(policy.codex).toBeUndefined();
    expect(policy.qa).toEqual({ commands: [], timeout_ms: 600_000, max_rounds: 3, output_tail_bytes: 4000 });
    expect(policy.handoff).toEqual({
      in_progress_state: 'In Progress',
      review_state: 'Human Review',
      done_state: 'Done',
    });
    expect(policy.budget).toEqual({ max_attempts: 3, prices: {} });
    expect(policy.scm).toEqual({
      remote: 'origin',
      author_name: 'Foreman',
      author_email: 'foreman@localhost',
      draft: false,
      pull_requests: true,
      max_ci_rounds: 2,
      github: {},
    });
    expect(policy.temporal).toEqual({
      task_queue: 'foreman',
      namespace: 'default',
      max_cached_workflows: 100,
      workspace_start_timeout_ms: 120_000,
    });
  });

  it('treats a file without front matter as all prompt, with defaults', () => {
    const loaded = parse(null, '\n\n# Task\nFix {{ issue.identifier }}.\n\n');
    expect(loaded.promptTemplate).toBe('# Task\nFix {{ issue.identifier }}.');
    expect(loaded.policy).toEqual(defaultPolicy());
  });

  it('applies defaults under keys left empty (`agent:` with no value)', () => {
    const { policy } = parse('agent:\nhooks:\n  after_create:\n');
    expect(policy.agent.max_turns).toBe(20);
    expect(policy.hooks.after_create).toBeUndefined();
  });

  it('accepts quoted numbers, as Symphony does', () => {
    const { policy } = parse('polling:\n  interval_ms: "5000"\nserver:\n  port: "8080"');
    expect(policy.polling.interval_ms).toBe(5000);
    expect(policy.server.port).toBe(8080);
  });

  it('loads the default policy in specs/ and renders its prompt for both attempts', async () => {
    const loaded = await validatePolicyFile(path.join(repoRoot, 'specs', 'WORKFLOW.md'), { env: env() });
    expect(loaded.warnings).toEqual([]);
    expect(loaded.policy.tracker.kind).toBe('local');
    expect(loaded.policy.tracker.provider.path).toBe(path.join(repoRoot, 'issues'));
    const first = await renderPrompt(loaded.promptTemplate, { issue: sampleIssue(), attempt: null });
    expect(first).toContain('SAMPLE-1');
    expect(first).toContain('.foreman/spec.md');
    expect(first).not.toContain('This is attempt');
    const retry = await renderPrompt(loaded.promptTemplate, {
      issue: { ...sampleIssue(), description: null },
      attempt: 2,
    });
    expect(retry).toContain('This is attempt 2');
    expect(retry).toContain('no description');
    expect(loaded.policy.workspace.repo).toBe(repoRoot);
  });

  it('loads the docker-compose policy in deploy/, taking the repository from FOREMAN_REPO', async () => {
    const loaded = await validatePolicyFile(path.join(repoRoot, 'deploy', 'WORKFLOW.md'), {
      env: { ...env(), FOREMAN_REPO: 'https://example.com/acme/app.git' },
    });
    expect(loaded.warnings).toEqual([]);
    expect(loaded.policy.workspace.repo).toBe('https://example.com/acme/app.git');
    expect(loaded.policy.tracker.provider.path).toBe('/var/lib/foreman-issues');
  });
});

describe('Symphony compatibility', () => {
  it('loads a Symphony WORKFLOW.md as-is, warning about the keys Foreman knowingly ignores', async () => {
    const loaded = await loadPolicy(path.join(fixtures, 'symphony-linear.md'), {
      env: env({ LINEAR_API_KEY: 'lin_api_test' }),
    });
    const { policy } = loaded;
    expect(loaded.warnings).toHaveLength(2);
    expect(loaded.warnings[0]).toMatch(/^observability: Symphony setting not used by Foreman/);
    expect(loaded.warnings[1]).toMatch(/^roles.implementer.model: "gpt-5.5" has no price/);
    // Symphony's codex block runs the implementer on Codex with its settings (specs/backends.md).
    expect(backendOf(policy, 'implementer')).toEqual({
      name: 'codex',
      command: 'codex app-server',
      approvalPolicy: 'never',
      threadSandbox: 'workspace-write',
      turnSandboxPolicy: { type: 'workspaceWrite' },
      turnTimeoutMs: 3_600_000,
      readTimeoutMs: 60_000,
      stallTimeoutMs: 300_000,
    });
    expect(policy.tracker.kind).toBe('linear');
    // Legacy flat keys stay where they were and are also offered to the adapter under provider.
    expect(policy.tracker.api_key).toBe('lin_api_test');
    expect(policy.tracker.project_slug).toBe('acme-app-1234abcd');
    expect(policy.tracker.provider).toEqual({ api_key: 'lin_api_test', project_slug: 'acme-app-1234abcd' });
    expect(policy.tracker.active_states).toEqual(['Todo', 'In Progress', 'Rework']);
    expect(policy.polling.interval_ms).toBe(5000);
    expect(policy.workspace.root).toBe(path.join(HOME, 'symphony', 'workspaces'));
    expect(policy.hooks.timeout_ms).toBe(900_000);
    // Shell scripts are never rewritten: `$REPO_URL` and `$PWD` reach the shell untouched.
    expect(policy.hooks.after_create).toBe('set -eu\ngit clone --depth 1 "$REPO_URL" .\n');
    expect(policy.hooks.before_remove).toContain('$PWD');
    expect(policy.agent.max_concurrent_agents).toBe(4);
    expect(policy.agent.max_concurrent_agents_by_state).toEqual({ 'in progress': 2 });
    expect(policy.codex).toMatchObject({
      command: 'codex app-server',
      turn_sandbox_policy: { type: 'workspaceWrite' },
    });
    expect(policy.server.port).toBe(4040);
    expect(loaded.promptTemplate.startsWith('You are working on a Linear ticket')).toBe(true);
    const text = await readFile(path.join(fixtures, 'symphony-linear.md'));
    expect(loaded.digest).toMatch(/^[0-9a-f]{64}$/);
    expect(loaded.digest).toBe((await import('node:crypto')).createHash('sha256').update(text).digest('hex'));
    await expect(validatePolicyFile(path.join(fixtures, 'symphony-linear.md'), { env: env() })).resolves.toBeTruthy();
  });

  it('refuses unknown keys at every level, each with its key path and a "did you mean"', () => {
    const err = (fm: string) => {
      try {
        parse(fm);
      } catch (e) {
        expect(e).toBeInstanceOf(PolicyError);
        return e as PolicyError;
      }
      throw new Error('expected a PolicyError');
    };
    const typos = err(
      'trackr: {kind: local}\nqa:\n  comands: [npm test]\nroles:\n  reviewer: {enabeld: true}\n' +
        'schedules:\n  - {id: a, interval_ms: 5, isue: {title: x}}\nscm:\n  github: {tokn: $T}\ntracker:\n  kinds: github',
    );
    expect(typos.code).toBe('policy_invalid');
    expect(typos.issues).toEqual([
      { path: 'tracker.kinds', message: 'unknown key of tracker; did you mean `tracker.kind`?' },
      { path: 'trackr', message: 'unknown top-level key; did you mean `tracker`?' },
      { path: 'qa.comands', message: 'unknown key of qa; did you mean `qa.commands`?' },
      {
        path: 'roles.reviewer.enabeld',
        message: 'unknown key of roles.reviewer; did you mean `roles.reviewer.enabled`?',
      },
      { path: 'schedules[0].isue', message: 'unknown key of schedules[0]; did you mean `schedules[0].issue`?' },
      { path: 'scm.github.tokn', message: 'unknown key of scm.github; did you mean `scm.github.token`?' },
    ]);
    expect(typos.message).toContain('qa.comands: unknown key of qa; did you mean `qa.commands`?');
    // Far from every known key: the section's keys are listed instead.
    const far = err('future_feature: {a: 1}\nhooks:\n  zzzzzzzz: 1');
    expect(far.issues.map((i) => i.path)).toEqual(['future_feature', 'hooks.zzzzzzzz']);
    expect(far.issues[1]!.message).toMatch(/^unknown key of hooks; known: after_create, before_run, .*timeout_ms/);
  });

  it('loads the Symphony keys Foreman ignores with a warning; tracker and tracker.provider stay open maps', () => {
    const { warnings, policy } = parse(
      'worker:\n  ssh_hosts: []\nobservability: {dashboard: true}\ntracker:\n  whatever: 1\n  project_slug: p\n' +
        '  provider: {zzz: 2}\ncodex: {approval_policy: {reject: {rules: true}}}\n' +
        'budget:\n  prices: {my-model: {input: 1, output: 2, cache_write: 1, cache_read: 0}}',
    );
    expect(warnings).toEqual([
      'worker: Symphony setting not used by Foreman (Foreman runs its work on Temporal workers, not SSH workers); ignored.',
      "observability: Symphony setting not used by Foreman (Foreman's status surfaces are `foreman status` and the HTTP API); ignored.",
      'roles.implementer.model: "gpt-5.5" has no price, so its cost shows as unknown; add budget.prices.gpt-5.5 to count it.',
    ]);
    expect(policy.tracker.provider).toEqual({ whatever: 1, project_slug: 'p', zzz: 2 });
    // Codex's own values pass through as written, maps included.
    expect(policy.codex).toEqual({ approval_policy: { reject: { rules: true } } });
  });

  it('normalizes max_concurrent_agents_by_state and drops invalid entries with a warning (SPEC §5.3.5)', () => {
    const { policy, warnings } = parse(
      'agent:\n  max_concurrent_agents_by_state:\n    " Todo ": 3\n    Review: 0\n    QA: x\n    Rework: "2"',
    );
    expect(policy.agent.max_concurrent_agents_by_state).toEqual({ todo: 3, rework: 2 });
    expect(warnings).toHaveLength(2);
    expect(warnings.join('\n')).toMatch(/by_state\.Review/);
    expect(warnings.join('\n')).toMatch(/by_state\.QA/);
  });
});

describe('$VAR indirection and paths (SPEC §6.1)', () => {
  it('substitutes $VAR and ${VAR}; unset and empty both mean "not set"', () => {
    const fm =
      'model:\n  api_key: $KEY\n  base_url: ${BASE}\ntracker:\n  kind: github\n  provider:\n    token: $TOKEN\n    owner: acme\n    nested: {secret: $NESTED}';
    const set = parse(fm, '', env({ KEY: 'sk-1', BASE: 'http://127.0.0.1:9999', TOKEN: 'ghp_x', NESTED: 'n' })).policy;
    expect(set.model.api_key).toBe('sk-1');
    expect(set.model.base_url).toBe('http://127.0.0.1:9999');
    expect(set.tracker.provider).toEqual({ token: 'ghp_x', owner: 'acme', nested: { secret: 'n' } });

    const unset = parse(fm, '', env()).policy;
    expect(unset.model.api_key).toBeUndefined();
    expect(unset.model.base_url).toBeUndefined();
    expect(unset.tracker.provider).toEqual({ owner: 'acme', nested: {} });
    expect('token' in unset.tracker.provider).toBe(false);

    const empty = parse(fm, '', env({ KEY: '', BASE: '', TOKEN: '' })).policy;
    expect(empty.model.api_key).toBeUndefined();
    expect(empty.model.base_url).toBeUndefined();
    expect('token' in empty.tracker.provider).toBe(false);
  });

  it('leaves strings that merely contain a $ alone', () => {
    const { policy } = parse('model:\n  api_key: "pre$KEY"\nhooks:\n  before_run: echo $HOME');
    expect(policy.model.api_key).toBe('pre$KEY');
    expect(policy.hooks.before_run).toBe('echo $HOME');
  });

  it('expands ~ in path fields and resolves relative paths against the policy directory', () => {
    expect(parse('workspace:\n  root: ~/ws').policy.workspace.root).toBe(path.join(HOME, 'ws'));
    expect(parse('workspace:\n  root: "~"').policy.workspace.root).toBe(HOME);
    expect(parse('workspace:\n  root: ./ws/../spaces').policy.workspace.root).toBe(path.join(dir, 'spaces'));
    expect(parse('workspace:\n  root: ws').policy.workspace.root).toBe(path.join(dir, 'ws'));
    expect(parse('workspace:\n  root: $WS', '', env({ WS: '~/from-env' })).policy.workspace.root).toBe(
      path.join(HOME, 'from-env'),
    );
    // An unset or empty $VAR root falls back to the default.
    expect(parse('workspace:\n  root: $WS', '', env({ WS: '' })).policy.workspace.root).toBe(
      path.join(os.tmpdir(), 'foreman_workspaces'),
    );
    expect(parse('tracker:\n  provider:\n    path: ../issues').policy.tracker.provider.path).toBe(
      path.join(path.dirname(dir), 'issues'),
    );
    expect(parse('tracker:\n  provider:\n    path: ~/issues').policy.tracker.provider.path).toBe(
      path.join(HOME, 'issues'),
    );
  });

  it('resolves workspace.repo only when it is a local path', () => {
    const repo = (value: string, e = env()) => parse(`workspace:\n  repo: "${value}"`, '', e).policy.workspace.repo;
    expect(repo('../upstream.git')).toBe(path.join(path.dirname(dir), 'upstream.git'));
    expect(repo('~/src/app')).toBe(path.join(HOME, 'src', 'app'));
    expect(repo('/srv/git/app.git')).toBe('/srv/git/app.git');
    expect(repo('https://github.com/acme/app.git')).toBe('https://github.com/acme/app.git');
    expect(repo('file:///srv/git/app.git')).toBe('file:///srv/git/app.git');
    expect(repo('git@github.com:acme/app.git')).toBe('git@github.com:acme/app.git');
    expect(repo('$REPO', env({ REPO: './local' }))).toBe(path.join(dir, 'local'));
    expect(isLocalRepoPath('deploy@host.example:app.git')).toBe(false);
    expect(isLocalRepoPath('app')).toBe(true);
  });
});

describe('errors', () => {
  it('missing file → missing_workflow_file', async () => {
    const err = await policyError(() => loadPolicy(path.join(dir, 'nope.md')));
    expect(err.code).toBe('missing_workflow_file');
    expect(err.message).toContain(path.join(dir, 'nope.md'));
  });

  it('bad YAML → workflow_parse_error with the line in the file', () => {
    const err = (() => {
      try {
        parse('tracker:\n  kind: local\n  active_states: [Todo\nagent: {}');
      } catch (e) {
        return e as PolicyError;
      }
      throw new Error('expected an error');
    })();
    expect(err).toBeInstanceOf(PolicyError);
    expect(err.code).toBe('workflow_parse_error');
    expect(err.file).toBe(path.join(dir, 'WORKFLOW.md'));
    // The YAML starts on line 2 of the file; the error is reported in file lines.
    expect(err.message).toMatch(/WORKFLOW\.md:5:\d+: invalid YAML/);
  });

  it('duplicate keys and an unclosed front matter are parse errors too', async () => {
    expect((await policyError(() => parse('agent: {}\nagent: {}'))).code).toBe('workflow_parse_error');
    const unclosed = await policyError(() =>
      parsePolicyText('---\ntracker: {}\nno end', { file: path.join(dir, 'W.md') }),
    );
    expect(unclosed.code).toBe('workflow_parse_error');
    expect(unclosed.message).toMatch(/never closed/);
  });

  it('front matter that is not a map → workflow_front_matter_not_a_map', async () => {
    expect((await policyError(() => parse('- tracker\n- agent'))).code).toBe('workflow_front_matter_not_a_map');
    expect((await policyError(() => parse('just a string'))).code).toBe('workflow_front_matter_not_a_map');
  });

  it('invalid values → policy_invalid with key paths and a message naming the file', async () => {
    const err = await policyError(() =>
      parse("agent:\n  max_turns: 0\npolling:\n  interval_ms: 'x'\nschedules:\n  - id: nightly"),
    );
    expect(err.code).toBe('policy_invalid');
    expect(err.retryable).toBe(false);
    const paths = err.issues.map((i) => i.path);
    expect(paths).toContain('agent.max_turns');
    expect(paths).toContain('polling.interval_ms');
    expect(paths).toContain('schedules[0]');
    expect(err.message).toContain(path.join(dir, 'WORKFLOW.md'));
    expect(err.message).toContain('agent.max_turns');
    expect(err.issues.find((i) => i.path === 'agent.max_turns')?.message).toMatch(/>0/);
  });

  it('rejects wrong types deep in the tree, and server.port out of range', async () => {
    const err = await policyError(() =>
      parse('tracker:\n  active_states: Todo\nserver:\n  port: 70000\nroles:\n  reviewer:\n    enabled: "yes"'),
    );
    expect(err.issues.map((i) => i.path).sort()).toEqual([
      'roles.reviewer.enabled',
      'server.port',
      'tracker.active_states',
    ]);
  });
});

describe('prompt rendering (SPEC §5.4)', () => {
  const vars = { issue: sampleIssue(), attempt: null };

  it('renders issue fields and attempt, and falls back to the default prompt when empty', async () => {
    await expect(
      renderPrompt('{{ issue.identifier }} {{ issue.labels | join: "," }} {{ attempt }}', { ...vars, attempt: 3 }),
    ).resolves.toBe('SAMPLE-1 sample 3');
    await expect(renderPrompt('', vars)).resolves.toBe(DEFAULT_PROMPT);
    await expect(renderPrompt('  \n ', vars)).resolves.toBe(DEFAULT_PROMPT);
    await expect(renderPrompt('{{ extra }}', { ...vars, extra: 'ok' })).resolves.toBe('ok');
  });

  it('fails on an unknown variable, an unknown filter and bad syntax, with Symphony codes', async () => {
    const unknownVar = await policyError(() => renderPrompt('{{ issue.nope }}', vars, { file: '/x/WORKFLOW.md' }));
    expect(unknownVar.code).toBe('template_render_error');
    expect(unknownVar.message).toContain('/x/WORKFLOW.md');
    expect(unknownVar.message).toContain('issue.nope');
    expect((await policyError(() => renderPrompt('{{ issue.title | shout }}', vars))).code).toBe(
      'template_render_error',
    );
    expect((await policyError(() => renderPrompt('{% if attempt %}unclosed', vars))).code).toBe('template_parse_error');
    expect((await policyError(() => renderPrompt('{{ issue.title }', vars))).code).toBe('template_parse_error');
    // Inside an if as well: a missing variable is an error, not false.
    expect((await policyError(() => renderPrompt('{% if issue.nope %}x{% endif %}', vars))).code).toBe(
      'template_render_error',
    );
  });

  it('validatePolicyFile surfaces template errors that loading alone does not', async () => {
    const file = path.join(dir, 'WORKFLOW.md');
    await writeFile(file, '---\nagent: {max_turns: 3}\n---\n{% if attempt %}{{ issue.missing }}{% endif %}');
    await expect(loadPolicy(file)).resolves.toBeTruthy();
    expect((await policyError(() => validatePolicyFile(file))).code).toBe('template_render_error');
    await writeFile(file, '---\n---\n{% for x in issue.labels %}');
    expect((await policyError(() => validatePolicyFile(file))).code).toBe('template_parse_error');
  });
});

describe('policy store (SPEC §6.2)', () => {
  let store: PolicyStore | undefined;
  afterEach(() => {
    store?.close();
    store = undefined;
  });

  it('fails when the initial load fails', async () => {
    const err = await policyError(() => createPolicyStore(path.join(dir, 'absent.md'), { watch: false }));
    expect(err.code).toBe('missing_workflow_file');
  });

  it('keeps the last good policy when the file becomes invalid, and picks up the next valid change', async () => {
    const file = path.join(dir, 'WORKFLOW.md');
    await writeFile(file, '---\nagent:\n  max_turns: 5\n---\nv1 {{ issue.identifier }}');
    const errors: PolicyError[] = [];
    const reloads: number[] = [];
    store = await createPolicyStore(file, {
      watch: false,
      env: env(),
      onError: (e) => errors.push(e),
      onReload: (p) => reloads.push(p.policy.agent.max_turns),
    });
    expect(store.current().policy.agent.max_turns).toBe(5);

    // Unchanged file: no onReload.
    await store.reload();
    expect(reloads).toEqual([]);

    await writeFile(file, '---\nagent:\n  max_turns: 0\n---\nv2');
    const kept = await store.reload();
    expect(kept.policy.agent.max_turns).toBe(5);
    expect(kept.promptTemplate).toBe('v1 {{ issue.identifier }}');
    expect(errors.map((e) => e.code)).toEqual(['policy_invalid']);
    expect(store.lastError()?.code).toBe('policy_invalid');

    await writeFile(file, '---\nagent: [oops\n---\n');
    expect((await store.reload()).policy.agent.max_turns).toBe(5);
    // An empty file on reload is a save caught half-way, not "all defaults".
    await writeFile(file, '');
    expect((await store.reload()).policy.agent.max_turns).toBe(5);
    await rm(file);
    expect((await store.reload()).policy.agent.max_turns).toBe(5);
    expect(errors.map((e) => e.code)).toEqual([
      'policy_invalid',
      'workflow_parse_error',
      'workflow_empty',
      'missing_workflow_file',
    ]);

    // A typo is an unknown key: reported, and the last good policy stays.
    await writeFile(file, '---\nagent:\n  max_turns: 6\nqa:\n  comands: [npm test]\n---\nv2');
    expect((await store.reload()).policy.agent.max_turns).toBe(5);
    expect(errors.at(-1)?.issues).toEqual([
      { path: 'qa.comands', message: 'unknown key of qa; did you mean `qa.commands`?' },
    ]);

    await writeFile(file, '---\nagent:\n  max_turns: 7\n---\nv3');
    const next = await store.reload();
    expect(next.policy.agent.max_turns).toBe(7);
    expect(store.current().promptTemplate).toBe('v3');
    expect(store.lastError()).toBeNull();
    expect(reloads).toEqual([7]);
  });

  it('serializes concurrent reloads', async () => {
    const file = path.join(dir, 'WORKFLOW.md');
    await writeFile(file, '---\npolling: {interval_ms: 1000}\n---\n');
    store = await createPolicyStore(file, { watch: false });
    await writeFile(file, '---\npolling: {interval_ms: 2000}\n---\n');
    const results = await Promise.all([store.reload(), store.reload(), store.reload()]);
    expect(results.map((r) => r.policy.polling.interval_ms)).toEqual([2000, 2000, 2000]);
  });

  it('notices edits through its watcher, including an editor-style rename over the file', async () => {
    const file = path.join(dir, 'WORKFLOW.md');
    await writeFile(file, '---\nagent: {max_turns: 1}\n---\n');
    const seen: number[] = [];
    store = await createPolicyStore(file, { env: env(), onReload: (p) => seen.push(p.policy.agent.max_turns) });

    await writeFile(file, '---\nagent: {max_turns: 2}\n---\n');
    await waitFor(() => store?.current().policy.agent.max_turns === 2);

    const tmp = path.join(dir, '.WORKFLOW.md.swp');
    await writeFile(tmp, '---\nagent: {max_turns: 3}\n---\n');
    await rename(tmp, file);
    await waitFor(() => store?.current().policy.agent.max_turns === 3);

    // Changes to other files in the directory do not count as policy changes.
    await writeFile(path.join(dir, 'other.md'), 'x');
    await new Promise((r) => setTimeout(r, 300));
    expect(seen).toEqual([2, 3]);
  });
});

async function waitFor(predicate: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('condition not met within 5 s');
    await new Promise((r) => setTimeout(r, 25));
  }
}
