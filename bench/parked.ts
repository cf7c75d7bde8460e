/**
 * Parked runs (a fleet section, bench/fleet.ts): at each tier N, issues whose implementer escalates
 * at once and waits, then the cost of having N of them parked.
 *
 * Parking is paced so that N = 10,000 is feasible on 2 cores: at most `wave` runs are between
 * "issue written" and "parked" at a time (a sliding window, refilled as runs park), below the
 * worker's workflow cache (`temporal.max_cached_workflows`, default 100), so runs being started are
 * not evicted and replayed over and over. "Parked" is what the run publishes: one visibility count
 * of the deployment's running runs with `ForemanWaiting = true` (docs/architecture.md, "What the
 * dispatcher reads"), not a scan of the issues.
 *
 * Per tier: the parking rate (runs/s) and CPU-seconds per parked run, the daemon's, the dev
 * server's and this bench's RSS, the database size and the disk each parked run costs (database,
 * workspaces, Foreman's home), the dispatcher tick (the `dispatchTick` activity of 3 ticks nudged
 * by a `refresh` signal, from the DispatcherWorkflow's history), answer → resume (the
 * `humanReply` signal → the model's next request for that issue) and, last, `GET /api/v1/state`
 * (median of 3, each given 2 minutes).
 *
 * Before the first tier the `foreman/*` branches earlier sections' runs pushed are deleted from the
 * origin and its objects pruned: a clone copies every branch's ref (and, cloned without hard links,
 * every object file), so a parked run's workspace would otherwise grow with the bench's own history
 * rather than show what a parked run costs.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import type { Client } from '@temporalio/client';
import { nudgeDispatcher } from '../src/dispatch/nudge.js';
import type { Deployment } from '../src/deployment.js';
import { dispatcherWorkflowId, humanReplySignal, issueWorkflowId } from '../workflows/definitions.js';
import { writeIssue } from '../test/support/fixtures.js';
import {
  cpuSeconds,
  diskBytes,
  median,
  rssBytes,
  sleep,
  waitUntil,
  type FleetContext,
  type ForemanDaemon,
} from './fleet-kit.js';

/** One parked tier of the report. Times in ms (park time in s), sizes in bytes. */
export interface ParkedRow {
  n: number;
  /** Time to park this tier's new runs (N minus the previous tier), seconds. */
  parkSeconds: number;
  /** New runs parked per second. */
  parkRate?: number;
  daemonRssBytes: number;
  devServerRssBytes: number;
  /** CPU-seconds per newly parked run, of the daemon and of the dev server. */
  daemonCpuSecondsPerRun?: number;
  devServerCpuSecondsPerRun?: number;
  /** This bench process's RSS (it must not grow with N either). */
  benchRssBytes?: number;
  dbBytes: number;
  /** Growth of database + workspaces + Foreman's home per parked run since the section began. */
  diskPerRunBytes?: number;
  tickMedianMs: number | null;
  /** `GET /api/v1/state`, median of 3 requests (null: see `stateApiError`). */
  stateApiMs?: number | null;
  /** Why `stateApiMs` is null (e.g. a request took over 2 minutes). */
  stateApiError?: string;
  answerToResumeMs: number | null;
}

/** The local-tracker deployment the parked runs belong to (bench/fleet.ts sets it up). */
export interface ParkedTarget {
  client: Client;
  deployment: Deployment;
  daemon: ForemanDaemon;
  issuesDir: string;
  dbFile: string;
  /** Folders whose growth counts as disk per run (workspaces, Foreman's home). */
  dataDirs: string[];
}

/** Parks runs up to each of `tiers` (cumulative) with at most `wave` in flight, measuring each tier. */
export async function benchParked(
  ctx: FleetContext,
  target: ParkedTarget,
  tiers: number[],
  wave: number,
): Promise<ParkedRow[]> {
  const { client, deployment, daemon } = target;
  const waitingQuery =
    `ForemanDeployment = '${deployment.key}' AND ForemanWaiting = true AND ` +
    `ExecutionStatus = 'Running' AND WorkflowType = 'IssueWorkflow'`;
  const waitingCount = async () => (await client.workflow.count(waitingQuery)).count;
  const disk = async () =>
    (await fs.stat(target.dbFile)).size +
    (await Promise.all(target.dataDirs.map(diskBytes))).reduce((a, b) => a + b, 0);
  pruneRunBranches(ctx.origin);
  const disk0 = await disk();
  const base = await waitingCount();
  let answered = 0; // runs answered by a tier's answer → resume probe: no longer waiting
  const rows: ParkedRow[] = [];
  let written = 0;
  for (const n of tiers) {
    const from = written;
    const [d0, s0] = [await cpuSeconds(daemon.pid), await cpuSeconds(ctx.server.pid)];
    const t0 = Date.now();
    for (;;) {
      const parked = (await waitingCount()) - base + answered;
      if (parked >= n) break;
      const more = Math.min(n - written, wave - (written - parked));
      const ids = Array.from({ length: Math.max(0, more) }, (_, i) => `PARK-${written + i + 1}`);
      await Promise.all(ids.map((id) => writeIssue(target.issuesDir, id, { title: 'Park', state: 'Todo' })));
      written += ids.length;
      if (Date.now() - t0 > 6 * 60 * 60_000) throw new Error(`bench: ${n} runs did not park in 6 h (${parked} did)`);
      await sleep(1000);
    }
    const parkSeconds = (Date.now() - t0) / 1000;
    const [d1, s1] = [await cpuSeconds(daemon.pid), await cpuSeconds(ctx.server.pid)];
    const tickMedianMs = await nudgedTicks(client, deployment.taskQueue, 3);
    const answerToResumeMs = await answerToResume(ctx, client, deployment, `PARK-${n}`);
    if (answerToResumeMs !== null) answered++;
    const dbBytes = (await fs.stat(target.dbFile)).size;
    const row: ParkedRow = {
      n,
      parkSeconds,
      parkRate: (n - from) / parkSeconds,
      daemonCpuSecondsPerRun: (d1 - d0) / (n - from),
      devServerCpuSecondsPerRun: (s1 - s0) / (n - from),
      daemonRssBytes: await rssBytes(daemon.pid),
      devServerRssBytes: await rssBytes(ctx.server.pid),
      benchRssBytes: process.memoryUsage().rss,
      dbBytes,
      diskPerRunBytes: ((await disk()) - disk0) / n,
      tickMedianMs,
      answerToResumeMs,
      ...(await timeStateApi(daemon.url)),
    };
    rows.push(row);
    ctx.log(
      `parked N=${n}: ${row.parkRate!.toFixed(2)} runs/s, tick ${tickMedianMs?.toFixed(0)} ms, ` +
        `daemon RSS ${(row.daemonRssBytes / 2 ** 20).toFixed(0)} MiB, state API ${row.stateApiError ?? `${row.stateApiMs?.toFixed(0)} ms`}`,
    );
  }
  return rows;
}

/**
 * Durations of `count` dispatcher ticks, each asked for by a `refresh` signal (the tick scheduled
 * after the nudge, from the DispatcherWorkflow's history): the median, ms.
 */
async function nudgedTicks(client: Client, taskQueue: string, count: number): Promise<number | null> {
  const durations: number[] = [];
  for (let i = 0; i < count; i++) {
    const asked = Date.now();
    await nudgeDispatcher(client, { taskQueue, reason: 'bench' });
    let tick: number | undefined;
    await waitUntil(
      'a dispatcher tick after the nudge',
      async () => {
        tick = (await tickDurations(client, taskQueue)).find((t) => t.scheduledAt >= asked)?.ms;
        return tick !== undefined;
      },
      10 * 60_000,
      500,
    );
    durations.push(tick!);
  }
  return median(durations);
}

/** The completed `dispatchTick` activities of the dispatcher's current run: when scheduled (epoch ms) and how long, ms. */
async function tickDurations(client: Client, taskQueue: string): Promise<{ scheduledAt: number; ms: number }[]> {
  const history = await client.workflow.getHandle(dispatcherWorkflowId(taskQueue)).fetchHistory();
  const scheduled = new Map<string, number>();
  const out: { scheduledAt: number; ms: number }[] = [];
  const time = (t: { seconds?: unknown; nanos?: number | null } | null | undefined) =>
    Number(t?.seconds ?? 0) * 1000 + (t?.nanos ?? 0) / 1e6;
  for (const e of history.events ?? []) {
    if (e.activityTaskScheduledEventAttributes?.activityType?.name === 'dispatchTick')
      scheduled.set(String(e.eventId), time(e.eventTime));
    const done = e.activityTaskCompletedEventAttributes;
    const at = done ? scheduled.get(String(done.scheduledEventId)) : undefined;
    if (at !== undefined) out.push({ scheduledAt: at, ms: time(e.eventTime) - at });
  }
  return out;
}

/**
 * `GET <url>/api/v1/state` three times, each given 2 minutes: the median, ms; or null and why
 * (no HTTP server, an error status, a request that timed out: the rest are then skipped).
 */
async function timeStateApi(url: string | null): Promise<Pick<ParkedRow, 'stateApiMs' | 'stateApiError'>> {
  if (!url) return { stateApiMs: null, stateApiError: 'no HTTP server' };
  const times: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    try {
      const res = await fetch(`${url}/api/v1/state`, { signal: AbortSignal.timeout(120_000) });
      await res.arrayBuffer();
      if (!res.ok) return { stateApiMs: null, stateApiError: `answered ${res.status}` };
    } catch (err) {
      return { stateApiMs: null, stateApiError: `${(err as Error).name}: ${(err as Error).message}` };
    }
    times.push(performance.now() - t0);
  }
  return { stateApiMs: median(times) };
}

/** Deletes the `foreman/*` branches of `origin` (a bare repository) and prunes its objects: see the module header. */
function pruneRunBranches(origin: string): void {
  const refs = execFileSync('git', ['for-each-ref', '--format=%(refname)', 'refs/heads/foreman/'], {
    cwd: origin,
    encoding: 'utf8',
  });
  const input = refs
    .split('\n')
    .filter(Boolean)
    .map((ref) => `delete ${ref}\n`)
    .join('');
  if (input) execFileSync('git', ['update-ref', '--stdin'], { cwd: origin, input });
  execFileSync('git', ['gc', '--quiet', '--prune=now'], { cwd: origin });
}

/** Answers `identifier`'s question (`humanReply` signal): ms until the model's next request for it, null after 5 min. */
async function answerToResume(
  ctx: FleetContext,
  client: Client,
  deployment: Deployment,
  identifier: string,
): Promise<number | null> {
  const before = ctx.model.seen.get(identifier)?.length ?? 0;
  const a0 = Date.now();
  await client.workflow
    .getHandle(issueWorkflowId(deployment.key, identifier))
    .signal(humanReplySignal, { text: '1', author: 'bench', source: 'cli', mayApprove: true });
  try {
    await waitUntil(
      'the answered run to resume',
      async () => (ctx.model.seen.get(identifier)?.length ?? 0) > before,
      300_000,
      10,
    );
    return ctx.model.seen.get(identifier)![before]! - a0;
  } catch {
    return null;
  }
}
