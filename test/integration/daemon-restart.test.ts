/**
 * Restart after a crash of the whole daemon with its local Temporal dev server (kill -9 of both
 * process groups): `foreman start` copes with the stale record (dead pid, old port), brings the
 * same database back, and the waiting issue resumes when a human answers. No TEMPORAL_ADDRESS:
 * this is the embedded path a user gets from `npm start`.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { runForeman, spawnForeman } from '../support/cli.js';
import { git, makeOrigin, tempDir, writeIssue, writePolicy } from '../support/fixtures.js';
import { startScriptedModelServer, toolUse } from '../support/scripted-model-server.js';

const pids: number[] = [];
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const pid of pids.splice(0)) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  while (cleanups.length) await cleanups.pop()!().catch(() => {});
});

async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs: number,
  context: () => string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; output:\n${context().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

it('resumes a waiting issue after kill -9 of the daemon and its dev server', async () => {
  const tmp = await tempDir();
  cleanups.push(tmp.cleanup);
  const model = await startScriptedModelServer([
    toolUse('escalate', { question: 'Is the sign the only bug?' }),
    toolUse('edit_file', { path: 'add.js', old_text: 'return a - b;', new_text: 'return a + b;' }),
    toolUse('finish', { summary: 'Fixed the sign.' }),
  ]);
  cleanups.push(() => model.close());
  const origin = await makeOrigin(tmp.dir);
  const issuesDir = path.join(tmp.dir, 'issues');
  const home = path.join(tmp.dir, 'home');
  const policy = await writePolicy(tmp.dir, {
    issuesDir,
    workspaceRoot: path.join(tmp.dir, 'workspaces'),
    repo: origin,
    modelUrl: model.url,
    taskQueue: 'restart-test',
  });
  const { TEMPORAL_ADDRESS: _ignored, ...rest } = process.env;
  const env = { ...rest, FOREMAN_HOME: home, FOREMAN_LOG_LEVEL: 'info' };
  const id = 'RST-1';

  const first = spawnForeman(['start', policy], env);
  pids.push(first.child.pid!);
  await waitFor(
    'the first daemon',
    async () => first.output().stderr.includes('Foreman is running'),
    90_000,
    () => first.output().stderr,
  );
  await writeIssue(issuesDir, id, { title: 'Fix add()', state: 'Todo' });
  const comments = path.join(issuesDir, `${id}.comments.md`);
  await waitFor(
    'the escalation',
    async () => (await fs.readFile(comments, 'utf8')).includes('Is the sign the only bug?'),
    60_000,
    () => first.output().stderr,
  );
  // Killed once the run is durably waiting (the comment is written a moment before Temporal
  // records the activity's completion; a kill in between only delays the wait by a retry).
  const quiet = { ...env, FOREMAN_LOG_LEVEL: 'warn' };
  await waitFor(
    'the run to wait',
    async () => (await runForeman(['status'], quiet)).stdout.includes(`${id}  waiting`),
    60_000,
    () => first.output().stderr,
  );

  // Crash: the daemon and its dev server die at once; the record and the db stay behind.
  const record = JSON.parse(await fs.readFile(path.join(home, 'temporal-dev.json'), 'utf8')) as {
    pid: number;
    address: string;
  };
  pids.push(record.pid);
  process.kill(first.child.pid!, 'SIGKILL');
  process.kill(-record.pid, 'SIGKILL');
  await first.wait(10_000);
  await waitFor(
    'the dev server to die',
    async () => !alive(record.pid),
    10_000,
    () => '',
  );

  const restartedAt = Date.now();
  const second = spawnForeman(['start', policy], env);
  pids.push(second.child.pid!);
  await waitFor(
    'the second daemon',
    async () => second.output().stderr.includes('Foreman is running'),
    90_000,
    () => second.output().stderr,
  );
  const resumeMs = Date.now() - restartedAt;
  const newRecord = JSON.parse(await fs.readFile(path.join(home, 'temporal-dev.json'), 'utf8')) as {
    pid: number;
    address: string;
  };
  pids.push(newRecord.pid);
  expect(newRecord.pid).not.toBe(record.pid);
  console.log(`[daemon-restart] kill -9 → daemon running again in ${resumeMs} ms (dev server on the same db)`);

  // The waiting escalation survived; `foreman status` and `foreman answer` find the new server.
  const cli = { ...env, FOREMAN_LOG_LEVEL: 'warn' };
  const status = await runForeman(['status'], cli);
  expect(status.code, status.stderr).toBe(0);
  expect(status.stdout).toContain(`${id}  waiting`);
  expect(status.stdout).toContain('Is the sign the only bug?');
  const answer = await runForeman(['answer', id, 'Yes, only the sign.'], cli);
  expect(answer.code, answer.stderr).toBe(0);

  await waitFor(
    'the review state',
    async () => /state: "?Human Review"?/.test(await fs.readFile(path.join(issuesDir, `${id}.md`), 'utf8')),
    60_000,
    () => second.output().stderr,
  );
  const text = await fs.readFile(comments, 'utf8');
  expect(text.match(/Foreman evidence/g)).toHaveLength(1);
  expect(text.match(/Foreman needs a decision/g)).toHaveLength(1);
  expect(git(origin, 'show', `foreman/${id}:add.js`)).toContain('a + b');
  expect(JSON.stringify(model.requests[1]!.body.messages)).toContain('Yes, only the sign.');
  expect(model.failures).toEqual([]);

  second.child.kill('SIGTERM');
  expect((await second.wait(40_000)).code).toBe(0);
  await waitFor(
    'the dev server to stop',
    async () => !alive(newRecord.pid),
    15_000,
    () => second.output().stderr,
  );
});
