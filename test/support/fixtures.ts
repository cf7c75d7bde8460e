/**
 * Test fixtures on real disk: a bare git `origin` holding a tiny project with a failing test, a
 * local-tracker issue folder, and a policy file wired to both and to a scripted model server.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import type { Hooks } from '../../src/workspace/workspace.js';

/** Runs git synchronously in `cwd` with a fixed identity; returns stdout. */
export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.name=Test', '-c', 'user.email=test@example.com', ...args], {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? os.tmpdir(), GIT_TERMINAL_PROMPT: '0' },
  });
}

/** What workspace tests prepare and commit with: Foreman's git identity, no hooks, a minimal environment. */
export const WORKSPACE_DEFAULTS: {
  identity: { remote: string; authorName: string; authorEmail: string };
  hooks: Hooks;
  env: Record<string, string>;
} = {
  identity: { remote: 'origin', authorName: 'Foreman', authorEmail: 'foreman@localhost' },
  hooks: { timeout_ms: 10_000 },
  env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' },
};

/** A fresh temp directory; `cleanup()` removes it. */
export async function tempDir(prefix = 'foreman-test-'): Promise<{ dir: string; cleanup(): Promise<void> }> {
  const dir = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), prefix)));
  return { dir, cleanup: () => fs.rm(dir, { recursive: true, force: true }) };
}

/** The buggy project: `add()` subtracts; `node test.js` exits 1 until it is fixed. */
export const BUGGY_PROJECT: Record<string, string> = {
  'add.js': 'function add(a, b) {\n  return a - b;\n}\n\nmodule.exports = { add };\n',
  'test.js':
    "const { add } = require('./add.js');\n" +
    'const got = add(2, 3);\n' +
    'if (got !== 5) {\n  console.error(`FAIL: add(2, 3) returned ${got}, expected 5`);\n  process.exit(1);\n}\n' +
    "console.log('ok: add(2, 3) === 5');\n",
  'README.md': '# tiny\n',
};

/** Creates `<root>/origin.git` (bare, default branch main) seeded with `files`; returns its path. */
export async function makeOrigin(root: string, files: Record<string, string> = BUGGY_PROJECT): Promise<string> {
  const seed = path.join(root, 'seed');
  const origin = path.join(root, 'origin.git');
  await fs.mkdir(seed, { recursive: true });
  git(root, 'init', '-q', '--bare', '-b', 'main', origin);
  git(seed, 'init', '-q', '-b', 'main');
  for (const [name, text] of Object.entries(files)) {
    await fs.mkdir(path.dirname(path.join(seed, name)), { recursive: true });
    await fs.writeFile(path.join(seed, name), text);
  }
  git(seed, 'add', '-A');
  git(seed, 'commit', '-q', '-m', 'initial');
  git(seed, 'remote', 'add', 'origin', origin);
  git(seed, 'push', '-q', 'origin', 'main');
  await fs.rm(seed, { recursive: true, force: true });
  return origin;
}

/**
 * Commits `files` on `branch` of `origin` (made from main when missing) as another person, from a
 * clone beside it in `dir`; returns the new head. A racing writer of the issue branch.
 */
export async function pushAsSomeoneElse(
  dir: string,
  origin: string,
  branch: string,
  files: Record<string, string>,
): Promise<string> {
  const clone = path.join(dir, `someone-${Date.now()}-${Math.random().toString(36).slice(2)}`);
  git(dir, 'clone', '-q', origin, clone);
  const exists = git(clone, 'ls-remote', 'origin', branch).trim() !== '';
  git(clone, 'checkout', '-q', '-b', branch, exists ? `origin/${branch}` : 'origin/main');
  for (const [name, text] of Object.entries(files)) {
    await fs.mkdir(path.dirname(path.join(clone, name)), { recursive: true });
    await fs.writeFile(path.join(clone, name), text);
  }
  git(clone, 'add', '-A');
  git(clone, 'commit', '-q', '-m', 'someone else');
  git(clone, 'push', '-q', 'origin', `HEAD:refs/heads/${branch}`);
  const head = git(clone, 'rev-parse', 'HEAD').trim();
  await fs.rm(clone, { recursive: true, force: true });
  return head;
}

/** Writes `<issues>/<identifier>.md` with front matter. */
export async function writeIssue(
  issuesDir: string,
  identifier: string,
  fm: { title: string; state: string; priority?: number; labels?: string[] },
  body = '',
): Promise<string> {
  await fs.mkdir(issuesDir, { recursive: true });
  const lines = ['---', `title: ${JSON.stringify(fm.title)}`, `state: ${JSON.stringify(fm.state)}`];
  if (fm.priority !== undefined) lines.push(`priority: ${fm.priority}`);
  if (fm.labels) lines.push(`labels: [${fm.labels.map((l) => JSON.stringify(l)).join(', ')}]`);
  lines.push('---', '', body, '');
  const file = path.join(issuesDir, `${identifier}.md`);
  await fs.writeFile(file, lines.join('\n'));
  return file;
}

/** Deep-merges plain objects (`b` wins); arrays and scalars are replaced. */
function merge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    const isObj = (x: unknown): x is Record<string, unknown> =>
      typeof x === 'object' && x !== null && !Array.isArray(x);
    out[k] = isObj(prev) && isObj(v) ? merge(prev, v) : v;
  }
  return out;
}

/** Writes a policy file; `extra` is YAML deep-merged over the test defaults (reviewer off unless `defaultReviewer`). */
export async function writePolicy(
  dir: string,
  opts: {
    issuesDir: string;
    workspaceRoot: string;
    repo: string;
    modelUrl: string;
    qaCommands?: string[];
    qaMaxRounds?: number;
    taskQueue?: string;
    extra?: string;
    prompt?: string;
    /**
     * Keep the policy's default reviewer (on). Otherwise the test policy turns it off
     * (`roles.reviewer.enabled: false`), so a test whose subject is not review scripts no reviewer;
     * `extra` may turn it back on. (Default: false)
     */
    defaultReviewer?: boolean;
  },
): Promise<string> {
  const base: Record<string, unknown> = {
    tracker: { kind: 'local', provider: { path: opts.issuesDir } },
    polling: { interval_ms: 500 },
    workspace: { root: opts.workspaceRoot, repo: opts.repo },
    agent: { max_turns: 12, max_retry_backoff_ms: 1000 },
    model: { base_url: opts.modelUrl, api_key: 'test-key', max_retries: 0 },
    qa: { commands: opts.qaCommands ?? ['node test.js'], max_rounds: opts.qaMaxRounds ?? 2 },
    budget: { max_attempts: 2 },
    temporal: { task_queue: opts.taskQueue ?? 'foreman-test' },
    ...(opts.defaultReviewer ? {} : { roles: { reviewer: { enabled: false } } }),
  };
  const front = opts.extra ? merge(base, (YAML.parse(opts.extra) ?? {}) as Record<string, unknown>) : base;
  const prompt = opts.prompt ?? 'Work on {{ issue.identifier }}: {{ issue.title }}.\n\n{{ issue.description }}';
  const file = path.join(dir, 'WORKFLOW.md');
  await fs.writeFile(file, `---\n${YAML.stringify(front)}---\n${prompt}\n`);
  return file;
}
