/**
 * The clock on the real Temporal dev server: `syncSchedules` turns the policy's `schedules` (and
 * the poll backstop) into Temporal Schedules idempotently, and a tick runs ScheduleWorkflow, which
 * files the entry's issue in the local tracker once per day and nudges the dispatcher.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { Client, Connection, ScheduleNotFoundError } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { policySchema, type PolicyInput } from '../../src/config/schema.js';
import { TrackerError } from '../../src/errors.js';
import { silentLogger } from '../../src/logger.js';
import {
  deleteForemanSchedules,
  fileScheduledIssue,
  foremanScheduleId,
  pollBackstopScheduleId,
  scheduledIssueIdentifier,
  syncSchedules,
  type SyncSchedulesOptions,
  type SyncSchedulesResult,
} from '../../src/schedules/index.js';
import { nudgeDispatcher } from '../../src/dispatch/nudge.js';
import { workflowBundle } from '../../src/temporal/worker.js';
import { createLocalTracker } from '../../src/trackers/local/index.js';
import { createLinearTracker } from '../../src/trackers/linear/index.js';
import { startFakeLinear } from '../support/fake-linear.js';
import { dispatcherWorkflowId } from '../../workflows/definitions.js';
import type { NudgeDispatcherInput, ScheduleWorkflowResult } from '../../src/schedules/types.js';
import type { ScheduleActivities } from '../../workflows/schedule-workflow.js';
import { tempDir } from '../support/fixtures.js';
import { temporalAddress, temporalNamespace, uniqueTaskQueue } from '../support/temporal.js';
import { TEST_COMMENT_KEY } from '../support/comment-key.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await Promise.resolve(cleanups.pop()!()).catch(() => {});
});

beforeAll(() => {
  try {
    Runtime.install({ logger: new DefaultLogger('ERROR') });
  } catch {
    // Installed already in this process.
  }
});

async function connect(): Promise<Client> {
  const connection = await Connection.connect({ address: temporalAddress() });
  cleanups.push(() => connection.close());
  return new Client({ connection, namespace: temporalNamespace() });
}

/** Schedule ids this file created (the schedule list is eventually consistent: delete by id too). */
const createdIds = new Set<string>();

/** `syncSchedules` that remembers what it created, for the cleanup. */
async function sync(client: Client, opts: SyncSchedulesOptions): Promise<SyncSchedulesResult> {
  const result = await syncSchedules(client, opts);
  for (const id of result.created) createdIds.add(id);
  return result;
}

/** Deletes every schedule of the queue and terminates its ticks that still wait for a worker. */
function cleanupQueue(client: Client, taskQueue: string): void {
  cleanups.push(async () => {
    await deleteForemanSchedules(client, taskQueue);
    for (const id of createdIds) {
      await client.schedule
        .getHandle(id)
        .delete()
        .catch((err: unknown) => {
          if (!(err instanceof ScheduleNotFoundError)) throw err;
        });
    }
    createdIds.clear();
    for await (const wf of client.workflow.list({
      query: `TaskQueue = '${taskQueue}' AND ExecutionStatus = 'Running'`,
    })) {
      await client.workflow
        .getHandle(wf.workflowId, wf.runId)
        .terminate('test over')
        .catch(() => {});
    }
  });
}

function policy(input: PolicyInput) {
  return policySchema.parse(input);
}

async function waitFor<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = await check().catch(() => undefined);
    if (got !== undefined && got !== false) return got;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Ids of the schedules the server lists (eventually consistent) among `ids`. */
async function listed(client: Client, ids: string[]): Promise<string[]> {
  const found: string[] = [];
  for await (const s of client.schedule.list()) if (ids.includes(s.scheduleId)) found.push(s.scheduleId);
  return found.sort();
}

describe('syncSchedules', () => {
  it('creates, leaves unchanged, updates and deletes the schedules of its task queue', async () => {
    const client = await connect();
    const taskQueue = uniqueTaskQueue('sched');
    // A queue whose name starts with the first one's: its schedules share the id prefix.
    const neighbour = `${taskQueue}-b`;
    cleanupQueue(client, taskQueue);
    cleanupQueue(client, neighbour);
    // Far-apart ticks so nothing fires on its own during the test (no worker polls this queue).
    const first = policy({
      polling: { interval_ms: 3_600_000 },
      schedules: [
        { id: 'nightly', cron: '0 3 * * *' },
        {
          id: 'deps',
          interval_ms: 86_400_000,
          issue: { title: 'Update dependencies', labels: ['chore'], priority: 3 },
        },
      ],
    });
    const backstop = pollBackstopScheduleId(taskQueue);
    const nightly = foremanScheduleId(taskQueue, 'nightly');
    const deps = foremanScheduleId(taskQueue, 'deps');

    const r1 = await sync(client, { taskQueue, policy: first, log: silentLogger });
    expect(r1).toEqual({ created: [backstop, nightly, deps], updated: [], unchanged: [], deleted: [], failed: [] });
    const n1 = await sync(client, {
      taskQueue: neighbour,
      policy: policy({ schedules: [{ id: 'x', interval_ms: 86_400_000 }] }),
      log: silentLogger,
    });
    expect(n1.created).toEqual([pollBackstopScheduleId(neighbour), foremanScheduleId(neighbour, 'x')]);

    const b = await client.schedule.getHandle(backstop).describe();
    expect(b.spec.intervals).toMatchObject([{ every: 3_600_000 }]);
    expect(b.policies.overlap).toBe('SKIP');
    expect(b.action).toMatchObject({
      workflowType: 'ScheduleWorkflow',
      taskQueue,
      args: [{ scheduleId: 'foreman-poll', taskQueue }],
    });
    const n = await client.schedule.getHandle(nightly).describe();
    // The server compiles cron strings into calendars.
    expect(n.spec.calendars?.[0]).toMatchObject({
      hour: [{ start: 3, end: 3, step: 1 }],
      minute: [{ start: 0, end: 0, step: 1 }],
    });
    expect(n.action).toMatchObject({ args: [{ scheduleId: 'nightly', taskQueue }] });
    const d = await client.schedule.getHandle(deps).describe();
    expect(d.spec.intervals).toMatchObject([{ every: 86_400_000 }]);
    expect(d.action).toMatchObject({
      workflowId: `foreman-schedule-${taskQueue}-deps`,
      args: [
        { scheduleId: 'deps', taskQueue, issue: { title: 'Update dependencies', labels: ['chore'], priority: 3 } },
      ],
    });

    // Same policy again: nothing is rewritten, still one schedule each.
    const r2 = await sync(client, { taskQueue, policy: first, log: silentLogger });
    expect(r2).toEqual({ created: [], updated: [], unchanged: [backstop, nightly, deps], deleted: [], failed: [] });
    const all = [backstop, nightly, deps].sort();
    expect(
      await waitFor('the schedules to be listed', async () => {
        const got = await listed(client, all);
        return got.length === all.length ? got : undefined;
      }),
    ).toEqual(all);
    expect((await client.schedule.getHandle(deps).describe()).info.lastUpdatedAt).toBeUndefined();

    // A changed interval updates in place; a removed entry is deleted; the neighbour is untouched.
    const second = policy({
      polling: { interval_ms: 3_600_000 },
      schedules: [
        {
          id: 'deps',
          interval_ms: 172_800_000,
          issue: { title: 'Update dependencies', labels: ['chore'], priority: 3 },
        },
      ],
    });
    const r3 = await sync(client, { taskQueue, policy: second, log: silentLogger });
    expect(r3).toEqual({ created: [], updated: [deps], unchanged: [backstop], deleted: [nightly], failed: [] });
    expect((await client.schedule.getHandle(deps).describe()).spec.intervals).toMatchObject([{ every: 172_800_000 }]);
    await expect(client.schedule.getHandle(nightly).describe()).rejects.toBeInstanceOf(ScheduleNotFoundError);
    await client.schedule.getHandle(foremanScheduleId(neighbour, 'x')).describe();

    // The backstop never goes below 10 s.
    const r4 = await sync(client, {
      taskQueue,
      policy: { ...second, polling: { interval_ms: 1_000 } },
      log: silentLogger,
    });
    expect(r4.updated).toEqual([backstop]);
    expect((await client.schedule.getHandle(backstop).describe()).spec.intervals).toMatchObject([{ every: 10_000 }]);
  });

  it('reports an entry Temporal rejects and still syncs the others', async () => {
    const client = await connect();
    const taskQueue = uniqueTaskQueue('sched-bad');
    cleanupQueue(client, taskQueue);
    const errors: string[] = [];
    const warnings: string[] = [];
    const log = {
      info: () => {},
      warn: (_obj: object, msg: string) => void warnings.push(msg),
      error: (_obj: object, msg: string) => void errors.push(msg),
    };
    const r = await sync(client, {
      taskQueue,
      policy: policy({
        polling: { interval_ms: 3_600_000 },
        schedules: [
          { id: 'broken', cron: 'not a cron' },
          { id: 'ok', interval_ms: 86_400_000 },
        ],
      }),
      log,
    });
    expect(r.created).toEqual([pollBackstopScheduleId(taskQueue), foremanScheduleId(taskQueue, 'ok')]);
    expect(r.failed.map((f) => f.scheduleId)).toEqual([foremanScheduleId(taskQueue, 'broken')]);
    expect(errors).toHaveLength(1);
    expect(warnings).toEqual([]);

    // An issue entry on another tracker is synced without a warning: every tracker files issues.
    const r2 = await sync(client, {
      taskQueue,
      policy: policy({
        tracker: { kind: 'linear' },
        polling: { interval_ms: 3_600_000 },
        schedules: [{ id: 'ok', interval_ms: 86_400_000, issue: { title: 'x' } }],
      }),
      log,
    });
    expect(r2.updated).toEqual([foremanScheduleId(taskQueue, 'ok')]);
    expect(warnings).toEqual([]);
  });
});

describe('ScheduleWorkflow', () => {
  it('files the entry issue once per day and nudges the dispatcher on each tick', async () => {
    const client = await connect();
    const tmp = await tempDir();
    cleanups.push(tmp.cleanup);
    const issuesDir = path.join(tmp.dir, 'issues');
    const taskQueue = uniqueTaskQueue('sched-tick');
    const p = policy({
      tracker: { kind: 'local', provider: { path: issuesDir }, active_states: ['Ready', 'In Progress'] },
      polling: { interval_ms: 3_600_000 },
      schedules: [
        {
          id: 'weekly deps',
          cron: '0 6 * * 1',
          issue: { title: 'Update dependencies', description: 'Run `npm update`.', labels: ['Chore'], priority: 3 },
        },
        { id: 'poll-now', interval_ms: 86_400_000 },
      ],
    });

    // The activities as the worker will host them: filing writes the real local tracker; the
    // nudge is recorded (nudgeDispatcher itself is tested below).
    const nudges: NudgeDispatcherInput[] = [];
    const activities: ScheduleActivities = {
      fileScheduledIssue: (input) => fileScheduledIssue({ ...input, tracker: p.tracker, baseDir: tmp.dir }),
      nudgeDispatcher: async (input) => void nudges.push(input),
    };
    const connection = await NativeConnection.connect({ address: temporalAddress() });
    cleanups.push(() => connection.close());
    const worker = await Worker.create({
      connection,
      namespace: temporalNamespace(),
      taskQueue,
      workflowBundle: await workflowBundle(),
      activities,
    });
    const running = worker.run();
    cleanups.push(async () => {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
    });
    cleanupQueue(client, taskQueue);

    await sync(client, { taskQueue, policy: p, log: silentLogger });
    const weekly = client.schedule.getHandle(foremanScheduleId(taskQueue, 'weekly deps'));

    /** Triggers the schedule now and returns the tick's result. */
    const tick = async (handle: typeof weekly): Promise<ScheduleWorkflowResult> => {
      const before = (await handle.describe()).info.numActionsTaken;
      await handle.trigger();
      const action = await waitFor('the tick to start', async () => {
        const info = (await handle.describe()).info;
        return info.numActionsTaken > before ? info.recentActions.at(-1) : undefined;
      });
      const wf = action.action.workflow;
      return client.workflow.getHandle(wf.workflowId, wf.firstExecutionRunId).result();
    };

    const r1 = await tick(weekly);
    const today = scheduledIssueIdentifier('weekly deps', new Date());
    expect(today).toMatch(/^WEEKLY-DEPS-\d{8}$/);
    expect(r1).toEqual({ filed: { identifier: today, created: true } });
    const r2 = await tick(weekly);
    expect(r2).toEqual({ filed: { identifier: today, created: false } });

    expect(await fs.readdir(issuesDir)).toEqual([`${today}.md`]);
    const issue = await createLocalTracker({ path: issuesDir, commentKey: TEST_COMMENT_KEY }).fetchIssueByIdentifier(
      today,
    );
    expect(issue).toMatchObject({
      identifier: today,
      title: 'Update dependencies',
      description: 'Run `npm update`.',
      state: 'Ready',
      priority: 3,
      labels: ['chore'],
    });
    expect(await fs.readFile(path.join(issuesDir, `${today}.md`), 'utf8')).toContain('schedule: weekly deps');

    // A late tick files the issue of the day it was scheduled for (the nominal time, not now):
    // backfill the Monday 2026-01-05, whose 06:00 UTC tick runs today.
    await weekly.backfill({
      start: new Date('2026-01-05T00:00:00Z'),
      end: new Date('2026-01-06T00:00:00Z'),
      overlap: 'ALLOW_ALL',
    });
    const late = path.join(issuesDir, 'WEEKLY-DEPS-20260105.md');
    await waitFor('the backfilled tick to file its issue', () => fs.access(late).then(() => true));
    expect(await fs.readFile(late, 'utf8')).toContain('created_at: 2026-01-05T06:00:00.000Z');
    await waitFor('the backfilled tick to nudge', async () =>
      nudges.some((n) => n.reason.endsWith('WEEKLY-DEPS-20260105')),
    );

    const r3 = await tick(client.schedule.getHandle(foremanScheduleId(taskQueue, 'poll-now')));
    expect(r3).toEqual({ filed: null });

    const mine = nudges.filter((n) => !n.reason.startsWith('schedule foreman-poll'));
    expect(mine).toEqual([
      { taskQueue, reason: `schedule weekly deps filed ${today}` },
      { taskQueue, reason: `schedule weekly deps filed ${today}` },
      { taskQueue, reason: 'schedule weekly deps filed WEEKLY-DEPS-20260105' },
      { taskQueue, reason: 'schedule poll-now' },
    ]);
  });
});

describe('fileScheduledIssue', () => {
  it('files one issue per schedule per UTC day, in the first active state', async () => {
    const tmp = await tempDir();
    cleanups.push(tmp.cleanup);
    const tracker = { kind: 'local', provider: { path: './issues' }, active_states: ['Todo'] };
    const issue = { title: 'Rotate keys' };
    const a = await fileScheduledIssue({
      tracker,
      baseDir: tmp.dir,
      scheduleId: 'rotate',
      issue,
      at: '2026-11-09T23:59:59Z',
    });
    const b = await fileScheduledIssue({
      tracker,
      baseDir: tmp.dir,
      scheduleId: 'rotate',
      issue,
      at: '2026-11-09T00:00:00Z',
    });
    const c = await fileScheduledIssue({
      tracker,
      baseDir: tmp.dir,
      scheduleId: 'rotate',
      issue,
      at: '2026-11-10T00:00:00Z',
    });
    expect([a, b, c]).toEqual([
      { identifier: 'ROTATE-20261109', created: true },
      { identifier: 'ROTATE-20261109', created: false },
      { identifier: 'ROTATE-20261110', created: true },
    ]);
    // Concurrent ticks (a retried activity racing the first): exactly one creates.
    const racing = await Promise.all(
      [1, 2, 3, 4].map(() =>
        fileScheduledIssue({ tracker, baseDir: tmp.dir, scheduleId: 'rotate', issue, at: '2026-11-11T08:00:00Z' }),
      ),
    );
    expect(racing.filter((r) => r.created)).toHaveLength(1);
    const issues = await createLocalTracker({
      path: path.join(tmp.dir, 'issues'),
      commentKey: TEST_COMMENT_KEY,
    }).fetchIssuesByStates(['Todo']);
    expect(issues.map((i) => [i.identifier, i.title, i.created_at])).toEqual([
      ['ROTATE-20261109', 'Rotate keys', '2026-11-09T23:59:59.000Z'],
      ['ROTATE-20261110', 'Rotate keys', '2026-11-10T00:00:00.000Z'],
      ['ROTATE-20261111', 'Rotate keys', '2026-11-11T08:00:00.000Z'],
    ]);
    expect(await fs.readdir(path.join(tmp.dir, 'issues'))).toHaveLength(3); // no temp files left
  });

  it('derives a file-safe identifier from the schedule id', () => {
    const at = new Date('2026-01-02T03:04:05Z');
    expect(scheduledIssueIdentifier('weekly deps', at)).toBe('WEEKLY-DEPS-20260102');
    expect(scheduledIssueIdentifier('../x/y', at)).toBe('X-Y-20260102');
    expect(scheduledIssueIdentifier('—', at)).toBe('SCHEDULE-20260102');
  });

  it('files through Linear too (fake Linear, real SDK): once per day, by key', async () => {
    const fake = await startFakeLinear();
    cleanups.push(() => fake.close());
    const tracker = {
      kind: 'linear',
      provider: { api_key: '$FAKE_LINEAR_KEY', endpoint: fake.url, team_key: 'ENG' },
      active_states: ['Todo'],
    };
    const env = { FAKE_LINEAR_KEY: fake.apiKey };
    const issue = { title: 'Rotate keys', description: 'Rotate the deploy keys.', labels: ['Chore'] };
    const file = (at: string) => fileScheduledIssue({ tracker, env, scheduleId: 'rotate', issue, at });
    const a = await file('2026-11-09T08:00:00Z');
    const b = await file('2026-11-09T20:00:00Z');
    expect(a.created).toBe(true);
    expect(b).toEqual({ identifier: a.identifier, created: false });
    const filed = await createLinearTracker({
      apiKey: fake.apiKey,
      apiUrl: fake.url,
      teamKey: 'ENG',
      activeStates: ['Todo'],
      terminalStates: ['Done'],
      commentKey: TEST_COMMENT_KEY,
    }).fetchIssuesByStates(['Todo']);
    expect(filed.map((i) => [i.identifier, i.title, i.labels])).toEqual([[a.identifier, 'Rotate keys', ['chore']]]);
  });

  it('refuses a bad tick time without filing anything', async () => {
    const err = await fileScheduledIssue({
      tracker: { kind: 'local', provider: { path: './nowhere' } },
      scheduleId: 'deps',
      issue: { title: 'x' },
      at: 'not a time',
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TrackerError);
    expect((err as TrackerError).code).toBe('tracker_payload_invalid');
  });
});

describe('nudgeDispatcher', () => {
  it('starts the dispatcher when it is not running and signals the running one after', async () => {
    const client = await connect();
    const taskQueue = uniqueTaskQueue('sched-nudge'); // no worker: the dispatcher just waits
    const handle = client.workflow.getHandle(dispatcherWorkflowId(taskQueue));
    cleanups.push(() => handle.terminate('test over').then(() => undefined));
    await nudgeDispatcher(client, { taskQueue, reason: 'schedule a' });
    const firstRun = (await handle.describe()).runId;
    await nudgeDispatcher(client, { taskQueue, reason: 'schedule b' });
    const desc = await handle.describe();
    expect(desc.runId).toBe(firstRun);
    expect(desc.status.name).toBe('RUNNING');
    const history = await handle.fetchHistory();
    const signals = (history.events ?? []).filter((e) => e.workflowExecutionSignaledEventAttributes);
    expect(signals.map((e) => e.workflowExecutionSignaledEventAttributes?.signalName)).toEqual(['refresh', 'refresh']);
  });
});
