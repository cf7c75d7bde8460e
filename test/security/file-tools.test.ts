/**
 * Attacks on the agent's file tools (src/agents/tools.ts over src/agents/workspace-fs.ts) and on
 * the QA agent's checks (src/qa/agent-checks.ts). Each test runs the attack for real and fails if
 * it succeeds: a directory swapped for a symlink while write_file runs, a hard link to an outside
 * file, a FIFO, and a check file whose name is a command substitution.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { link, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createToolbox, type Toolbox } from '../../src/agents/tools.js';
import { ToolError } from '../../src/errors.js';
import { QA_CHECKS_DIR, runAgentChecks, shellQuote } from '../../src/qa/agent-checks.js';
import { scrubbedEnv } from '../../src/workspace/shell.js';

let root: string;
let ws: string;
let outside: string;
let box: Toolbox;
let swapper: ChildProcess | undefined;

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'foreman-sec-tools-'));
  ws = path.join(root, 'ws');
  outside = path.join(root, 'outside');
  await mkdir(path.join(ws, 'sub'), { recursive: true });
  await mkdir(outside);
  await writeFile(path.join(ws, 'sub', 'inside.txt'), 'inside\n');
  await writeFile(path.join(outside, 'inside.txt'), 'OUTSIDE SECRET\n');
  box = createToolbox('implementer', { workspace: ws, env: scrubbedEnv() });
});

afterEach(async () => {
  if (swapper && swapper.exitCode === null && swapper.signalCode === null) {
    const exited = new Promise((resolve) => swapper!.once('exit', resolve));
    swapper.kill('SIGKILL');
    await exited;
  }
  swapper = undefined;
  await rm(root, { recursive: true, force: true });
});

async function toolError(p: Promise<unknown>): Promise<ToolError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ToolError);
  return err as ToolError;
}

/** `p`, or a rejection after `ms`: a tool that hangs on a FIFO fails the test instead of hanging it. */
function within<T>(ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still running after ${ms} ms`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** A separate process that swaps `ws/sub` between the real directory and a symlink to outside, forever. */
function startSwapper(): ChildProcess {
  const script = `
    const fs = require('node:fs');
    const [sub, real, target] = process.argv.slice(1);
    for (;;) {
      try { fs.renameSync(sub, real); fs.symlinkSync(target, sub); } catch {}
      try { fs.unlinkSync(sub); fs.renameSync(real, sub); } catch {}
      // Stay a real directory for a moment, so some tool calls land between swaps.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
    }`;
  const child = spawn(process.execPath, ['-e', script, path.join(ws, 'sub'), path.join(ws, 'sub.real'), outside], {
    stdio: 'ignore',
  });
  return child;
}

describe('symlink swap race', () => {
  it('never lets write_file, edit_file or read_file reach outside while a directory is swapped for a symlink', async () => {
    swapper = startSwapper();
    await new Promise((r) => setTimeout(r, 100));
    let wrote = 0;
    for (let i = 0; i < 400; i++) {
      await box.execute('write_file', { path: 'sub/new.txt', content: `attack ${i}\n` }).then(
        () => wrote++,
        () => undefined,
      );
      await box
        .execute('edit_file', { path: 'sub/inside.txt', old_text: 'inside', new_text: 'inside' })
        .catch(() => undefined);
      const read = await box.execute('read_file', { path: 'sub/inside.txt' }).then(
        (o) => o.content,
        () => '',
      );
      expect(read).not.toContain('OUTSIDE');
    }
    const exited = new Promise((resolve) => swapper!.once('exit', resolve));
    swapper.kill('SIGKILL');
    await exited;
    // Nothing landed outside; once the swapping stops, the same write works (the tool is not just refusing).
    await rm(path.join(ws, 'sub'), { recursive: true, force: true });
    await rm(path.join(ws, 'sub.real'), { recursive: true, force: true });
    await mkdir(path.join(ws, 'sub'));
    await box.execute('write_file', { path: 'sub/new.txt', content: 'after\n' });
    expect(await readFile(path.join(ws, 'sub', 'new.txt'), 'utf8')).toBe('after\n');
    expect(wrote).toBeGreaterThanOrEqual(0);
    expect((await readdir(outside)).sort()).toEqual(['inside.txt']);
    expect(await readFile(path.join(outside, 'inside.txt'), 'utf8')).toBe('OUTSIDE SECRET\n');
  });

  it('refuses a path whose directory is a symlink to outside, and a dangling link out', async () => {
    await rm(path.join(ws, 'sub'), { recursive: true });
    execFileSync('ln', ['-s', outside, path.join(ws, 'sub')]);
    expect((await toolError(box.execute('write_file', { path: 'sub/new.txt', content: 'x' }))).code).toBe(
      'path_outside_workspace',
    );
    expect((await toolError(box.execute('read_file', { path: 'sub/inside.txt' }))).code).toBe('path_outside_workspace');
    expect((await toolError(box.execute('list_files', { path: 'sub' }))).code).toBe('path_outside_workspace');
    expect(existsSync(path.join(outside, 'new.txt'))).toBe(false);
  });
});

describe('hard links', () => {
  it('refuses writes and edits to a file hard-linked to an outside file', async () => {
    await link(path.join(outside, 'inside.txt'), path.join(ws, 'hl.txt'));
    expect((await toolError(box.execute('write_file', { path: 'hl.txt', content: 'pwned\n' }))).code).toBe(
      'file_hardlinked',
    );
    expect(
      (await toolError(box.execute('edit_file', { path: 'hl.txt', old_text: 'OUTSIDE', new_text: 'pwned' }))).code,
    ).toBe('file_hardlinked');
    expect(await readFile(path.join(outside, 'inside.txt'), 'utf8')).toBe('OUTSIDE SECRET\n');
  });
});

describe('special files', () => {
  it('refuses FIFOs promptly for read_file, write_file and edit_file, and search skips them', async () => {
    execFileSync('mkfifo', [path.join(ws, 'pipe')]);
    execFileSync('mkfifo', [path.join(ws, 'sub', 'pipe2')]);
    const started = Date.now();
    expect((await toolError(within(3000, box.execute('read_file', { path: 'pipe' })))).code).toBe('not_a_file');
    expect((await toolError(within(3000, box.execute('write_file', { path: 'pipe', content: 'x' })))).code).toBe(
      'not_a_file',
    );
    expect(
      (await toolError(within(3000, box.execute('edit_file', { path: 'pipe', old_text: 'a', new_text: 'b' })))).code,
    ).toBe('not_a_file');
    expect((await within(3000, box.execute('search', { pattern: 'inside' }))).content).toBe('sub/inside.txt:1: inside');
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('refuses a device', async () => {
    execFileSync('ln', ['-s', '/dev/zero', path.join(ws, 'zero')]);
    expect((await toolError(box.execute('read_file', { path: 'zero' }))).code).toBe('path_outside_workspace');
  });
});

describe('QA check names', () => {
  it('never executes a check file name as a command', async () => {
    const checks = path.join(ws, QA_CHECKS_DIR);
    await mkdir(checks, { recursive: true });
    const evil = ['$(touch pwned-1)', '`touch pwned-2`', 'a;touch pwned-3', "x'$(touch pwned-4)'"];
    for (const name of evil) await writeFile(path.join(checks, name), 'exit 0\n');
    await writeFile(path.join(checks, '01-ok.sh'), 'exit 0\n');
    const results = await runAgentChecks(ws, scrubbedEnv(), 10_000, 2000);
    for (let i = 1; i <= 4; i++) expect(existsSync(path.join(ws, `pwned-${i}`))).toBe(false);
    const byPath = new Map(results.map((r) => [r.path, r]));
    expect(byPath.get(`${QA_CHECKS_DIR}/01-ok.sh`)?.passed).toBe(true);
    for (const name of evil) {
      expect(byPath.get(`${QA_CHECKS_DIR}/${name}`)?.passed).toBe(false);
      expect(byPath.get(`${QA_CHECKS_DIR}/${name}`)?.outputTail).toContain('Not run');
    }
  });

  it('quotes words so bash expands nothing', () => {
    for (const word of ['$(touch pwned)', '`id`', "it's; rm -rf x", '$HOME']) {
      expect(execFileSync('bash', ['-c', `printf %s ${shellQuote(word)}`], { cwd: ws }).toString()).toBe(word);
    }
    expect(existsSync(path.join(ws, 'pwned'))).toBe(false);
  });
});
