import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createToolbox,
  DEFAULT_SEARCH_TIMEOUT_MS,
  isReadOnlyGitCommand,
  toolSets,
  type Toolbox,
} from '../../src/agents/tools.js';
import { ToolError } from '../../src/errors.js';
import { scrubbedEnv } from '../../src/workspace/shell.js';

let root: string;
let ws: string;
let outside: string;
let box: Toolbox;

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'foreman-tools-'));
  ws = path.join(root, 'ws');
  outside = path.join(root, 'outside');
  await mkdir(path.join(ws, 'src', 'nested'), { recursive: true });
  await mkdir(path.join(ws, '.git'), { recursive: true });
  await mkdir(path.join(ws, 'node_modules', 'dep'), { recursive: true });
  await mkdir(outside);
  await writeFile(path.join(ws, 'README.md'), '# Demo\nHello world\n');
  await writeFile(path.join(ws, 'src', 'add.js'), 'export function add(a, b) {\n  return a - b;\n}\n');
  await writeFile(path.join(ws, 'src', 'nested', 'deep.js'), 'const x = add(1, 2);\n');
  await writeFile(path.join(ws, 'node_modules', 'dep', 'index.js'), 'function add() {}\n');
  await writeFile(path.join(ws, '.git', 'HEAD'), 'ref: refs/heads/main\n');
  await writeFile(path.join(outside, 'secret.txt'), 'top secret\n');
  box = createToolbox('implementer', { workspace: ws, env: scrubbedEnv() });
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function toolError(p: Promise<unknown>): Promise<ToolError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(ToolError);
    return err as ToolError;
  }
  throw new Error('expected a ToolError');
}

describe('tool sets', () => {
  it('advertise the fixed names per role with JSON Schema inputs', () => {
    expect(createToolbox('implementer', { workspace: ws, env: {} }).names).toEqual(toolSets.implementer);
    const reviewer = createToolbox('reviewer', { workspace: ws, env: {} });
    expect(reviewer.names).toEqual(['read_file', 'list_files', 'search', 'run_command', 'submit_review']);
    expect(createToolbox('qa', { workspace: ws, env: {} }).names).toEqual([
      'read_file',
      'list_files',
      'search',
      'run_command',
      'write_file',
      'finish',
    ]);
    const edit = box.definitions.find((d) => d.name === 'edit_file')!;
    expect(edit.input_schema).toMatchObject({
      type: 'object',
      required: ['path', 'old_text', 'new_text'],
      properties: { path: { type: 'string' }, old_text: { type: 'string' }, new_text: { type: 'string' } },
    });
    expect(edit.input_schema).not.toHaveProperty('$schema');
    const review = reviewer.definitions.find((d) => d.name === 'submit_review')!;
    expect(JSON.stringify(review.input_schema)).toContain('request_changes');
  });

  it('reject invalid input and unknown tools with ToolError', async () => {
    expect((await toolError(box.execute('read_file', { offset: 2 }))).code).toBe('tool_input_invalid');
    expect((await toolError(box.execute('submit_review', {}))).code).toBe('tool_unknown');
    const reviewer = createToolbox('reviewer', { workspace: ws, env: {} });
    const bad = await toolError(reviewer.execute('submit_review', { verdict: 'lgtm', findings: [] }));
    expect(bad.code).toBe('tool_input_invalid');
    expect(bad.message).toContain('verdict');
  });
});

describe('path containment', () => {
  it('refuses paths that leave the workspace', async () => {
    const err = await toolError(box.execute('read_file', { path: '../outside/secret.txt' }));
    expect(err.code).toBe('path_outside_workspace');
    expect((await toolError(box.execute('read_file', { path: path.join(outside, 'secret.txt') }))).code).toBe(
      'path_outside_workspace',
    );
    expect((await toolError(box.execute('write_file', { path: '../escape.txt', content: 'x' }))).code).toBe(
      'path_outside_workspace',
    );
    expect((await toolError(box.execute('list_files', { path: '..' }))).code).toBe('path_outside_workspace');
  });

  it('follows symlinks before deciding', async () => {
    await symlink(outside, path.join(ws, 'link-out'));
    await symlink(path.join(outside, 'new.txt'), path.join(ws, 'dangling'));
    await symlink(path.join(ws, 'README.md'), path.join(ws, 'link-in'));
    expect((await toolError(box.execute('read_file', { path: 'link-out/secret.txt' }))).code).toBe(
      'path_outside_workspace',
    );
    expect((await toolError(box.execute('write_file', { path: 'link-out/new.txt', content: 'x' }))).code).toBe(
      'path_outside_workspace',
    );
    // A dangling link pointing outside must not let a write create the target.
    expect((await toolError(box.execute('write_file', { path: 'dangling', content: 'x' }))).code).toBe(
      'path_outside_workspace',
    );
    await expect(readFile(path.join(outside, 'new.txt'))).rejects.toThrow();
    expect((await toolError(box.execute('search', { pattern: 'secret', path: 'link-out' }))).code).toBe(
      'path_outside_workspace',
    );
    // A link that stays inside is fine.
    expect((await box.execute('read_file', { path: 'link-in' })).content).toBe('# Demo\nHello world\n');
  });

  it('refuses writes into .git/', async () => {
    expect((await toolError(box.execute('write_file', { path: '.git/config', content: 'x' }))).code).toBe(
      'path_forbidden',
    );
    expect(
      (await toolError(box.execute('edit_file', { path: '.git/HEAD', old_text: 'main', new_text: 'x' }))).code,
    ).toBe('path_forbidden');
    expect((await box.execute('read_file', { path: '.git/HEAD' })).content).toContain('refs/heads/main');
  });
});

describe('read_file', () => {
  it('returns raw text, and pages with offset/limit and a note', async () => {
    expect((await box.execute('read_file', { path: 'src/add.js' })).content).toBe(
      'export function add(a, b) {\n  return a - b;\n}\n',
    );
    const lines = Array.from({ length: 30 }, (_, i) => `row ${i + 1}`).join('\n') + '\n';
    await writeFile(path.join(ws, 'long.txt'), lines);
    const page = (await box.execute('read_file', { path: 'long.txt', offset: 11, limit: 5 })).content;
    expect(page.startsWith('row 11\nrow 12\nrow 13\nrow 14\nrow 15\n')).toBe(true);
    expect(page).toContain('showing lines 11-15 of 30');
    expect(page).toContain('offset=16');
    expect((await toolError(box.execute('read_file', { path: 'long.txt', offset: 99 }))).code).toBe(
      'tool_input_invalid',
    );
    expect((await toolError(box.execute('read_file', { path: 'nope.txt' }))).code).toBe('file_not_found');
    expect((await toolError(box.execute('read_file', { path: 'src' }))).code).toBe('not_a_file');
  });
});

describe('write_file and edit_file', () => {
  it('writes files, creating directories', async () => {
    const out = await box.execute('write_file', { path: 'lib/new/file.txt', content: 'hi\n' });
    expect(out.content).toContain('lib/new/file.txt');
    expect(await readFile(path.join(ws, 'lib', 'new', 'file.txt'), 'utf8')).toBe('hi\n');
  });

  it('requires old_text to occur exactly once', async () => {
    await writeFile(path.join(ws, 'dup.txt'), 'foo\nbar\nfoo\n');
    const twice = await toolError(box.execute('edit_file', { path: 'dup.txt', old_text: 'foo', new_text: 'baz' }));
    expect(twice.code).toBe('edit_not_unique');
    expect(twice.message).toContain('2 times');
    const never = await toolError(box.execute('edit_file', { path: 'dup.txt', old_text: 'qux', new_text: 'baz' }));
    expect(never.code).toBe('edit_not_found');
    expect(never.message).toContain('0 times');
    expect(await readFile(path.join(ws, 'dup.txt'), 'utf8')).toBe('foo\nbar\nfoo\n');

    await box.execute('edit_file', { path: 'dup.txt', old_text: 'foo\nbar', new_text: 'cost $& $1' });
    expect(await readFile(path.join(ws, 'dup.txt'), 'utf8')).toBe('cost $& $1\nfoo\n');
  });
});

describe('list_files and search', () => {
  it('lists one level, directories with a slash, without .git', async () => {
    expect((await box.execute('list_files', {})).content).toBe('README.md\nnode_modules/\nsrc/');
    expect((await box.execute('list_files', { path: 'src' })).content).toBe('add.js\nnested/');
    expect((await toolError(box.execute('list_files', { path: 'README.md' }))).code).toBe('not_a_directory');
  });

  it('searches with a regex, skipping .git and node_modules', async () => {
    const out = (await box.execute('search', { pattern: 'add\\(' })).content;
    expect(out.split('\n')).toEqual([
      'src/add.js:1: export function add(a, b) {',
      'src/nested/deep.js:1: const x = add(1, 2);',
    ]);
    expect((await box.execute('search', { pattern: 'refs/heads' })).content).toBe('No matches.');
    expect((await box.execute('search', { pattern: 'return', path: 'src/add.js' })).content).toBe(
      'src/add.js:2:   return a - b;',
    );
    expect((await toolError(box.execute('search', { pattern: '(' }))).code).toBe('tool_input_invalid');
  });

  it('caps matches', async () => {
    await writeFile(path.join(ws, 'many.txt'), 'hit\n'.repeat(500));
    const out = (await box.execute('search', { pattern: '^hit$', path: 'many.txt' })).content;
    expect(out.split('\n').filter((l) => l.startsWith('many.txt:'))).toHaveLength(200);
    expect(out).toContain('stopped at 200 matches');
  });

  it('skips binary files and symlinks, and cuts long matching lines', async () => {
    await writeFile(path.join(ws, 'blob.bin'), Buffer.from('needle\0needle\n'));
    await symlink(path.join(ws, 'README.md'), path.join(ws, 'readme-link'));
    await writeFile(path.join(ws, 'long.txt'), `needle${'x'.repeat(400)}\r\n`);
    const out = (await box.execute('search', { pattern: 'needle|Hello' })).content;
    expect(out.split('\n')).toEqual(['README.md:2: Hello world', `long.txt:1: needle${'x'.repeat(294)}…`]);
  });

  it('stops a catastrophic pattern at the time limit without blocking the event loop', async () => {
    await writeFile(path.join(ws, 'aaa.txt'), `${'a'.repeat(5000)}!\n`);
    const quick = createToolbox('reviewer', { workspace: ws, env: {}, searchTimeoutMs: 300 });
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 20);
    const started = Date.now();
    const err = await toolError(quick.execute('search', { pattern: '(a+)+$', path: 'aaa.txt' }));
    const elapsed = Date.now() - started;
    clearInterval(ticker);
    expect(err.code).toBe('search_timeout');
    expect(err.message).toContain('simpler pattern');
    expect(err.message).toContain('narrower path');
    expect(elapsed).toBeGreaterThanOrEqual(300);
    expect(elapsed).toBeLessThan(3000);
    // Timers kept firing while the regex backtracked on the other thread.
    expect(ticks).toBeGreaterThan(5);
    // The same toolbox still searches normally afterwards.
    expect((await quick.execute('search', { pattern: 'Hello' })).content).toBe('README.md:2: Hello world');
  });

  it('stops a running search when the call is aborted', async () => {
    await writeFile(path.join(ws, 'aaa.txt'), `${'a'.repeat(5000)}!\n`);
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('run cancelled')), 100);
    const started = Date.now();
    await expect(box.execute('search', { pattern: '(a+)+$' }, { signal: controller.signal })).rejects.toThrow(
      'run cancelled',
    );
    expect(Date.now() - started).toBeLessThan(DEFAULT_SEARCH_TIMEOUT_MS);
  });
});

describe('run_command', () => {
  it('runs in the workspace and reports the exit code', async () => {
    const ok = (await box.execute('run_command', { command: 'ls src' })).content;
    expect(ok).toMatch(/^exit code 0 \(\d+ms\)\nadd\.js\nnested\n$/);
    const fail = (await box.execute('run_command', { command: 'echo nope >&2; exit 2' })).content;
    expect(fail).toMatch(/^exit code 2 \(\d+ms\)\nnope\n$/);
    const slow = (await box.execute('run_command', { command: 'sleep 5', timeout_ms: 200 })).content;
    expect(slow).toMatch(/^timed out after 200ms/);
  });

  it('drops secret names from the env it is given', async () => {
    const leaky = createToolbox('qa', {
      workspace: ws,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', GITHUB_TOKEN: 'ghp_leak' },
    });
    const out = (await leaky.execute('run_command', { command: 'env' })).content;
    expect(out).not.toContain('ghp_leak');
  });

  it('lets the reviewer run only read-only git commands', async () => {
    const reviewer = createToolbox('reviewer', { workspace: ws, env: scrubbedEnv() });
    for (const command of [
      'rm -rf src',
      'git commit -m x',
      'git diff; rm -rf src',
      'git diff && rm x',
      'git log | sh',
      'git diff --output=x',
      'git diff --no-index /etc/passwd README.md',
      'git show $(rm x)',
      'git show `rm x`',
      "git log --format='%h'",
      'git diff > out.txt',
      'git status\nrm x',
    ]) {
      expect(isReadOnlyGitCommand(command), command).toBe(false);
      expect((await toolError(reviewer.execute('run_command', { command }))).code).toBe('command_not_allowed');
    }
    for (const command of [
      'git diff',
      'git diff main...HEAD -- src/add.js',
      'git log --oneline -n 5',
      'git show HEAD~1:src/add.js',
      'git status --short',
    ]) {
      expect(isReadOnlyGitCommand(command), command).toBe(true);
    }
    // Allowed, and actually run (this directory is not a real repository, so git fails).
    const out = (await reviewer.execute('run_command', { command: 'git status' })).content;
    expect(out).toMatch(/^exit code \d+ \(\d+ms\)/);
    expect(reviewer.names).not.toContain('write_file');
  });
});

describe('control tools', () => {
  it('finish, escalate and submit_review end the run with their validated input', async () => {
    expect(await box.execute('finish', { summary: 'done' })).toEqual({
      content: 'Finish recorded.',
      control: { kind: 'finish', summary: 'done' },
    });
    const esc = await box.execute('escalate', {
      question: 'Which DB?',
      options: ['pg', 'sqlite'],
      recommendation: 'pg',
    });
    expect(esc.content).toBe('Escalated to a human; wait for their answer.');
    expect(esc.control).toEqual({
      kind: 'escalate',
      escalation: { question: 'Which DB?', options: ['pg', 'sqlite'], recommendation: 'pg' },
    });
    const reviewer = createToolbox('reviewer', { workspace: ws, env: {} });
    const review = await reviewer.execute('submit_review', {
      verdict: 'request_changes',
      findings: [{ severity: 'major', path: 'src/add.js', line: 2, message: 'Subtracts instead of adding.' }],
    });
    expect(review.control).toEqual({
      kind: 'review',
      review: {
        verdict: 'request_changes',
        findings: [{ severity: 'major', path: 'src/add.js', line: 2, message: 'Subtracts instead of adding.' }],
      },
    });
  });
});
