/**
 * The fleet benchmark (`npm run bench`): real daemons (`foreman start`, child processes) on a real
 * Temporal dev server with a SQLite file, a zero-cost scripted model (one `write_file`, then
 * `finish`) and QA `true`, measured from outside. Its sections, in this order (pickup and
 * throughput before the parked runs load the server):
 *
 * - pickup latency through the local tracker's folder watch: an issue file written → the model's
 *   first request for it; then through a GitHub webhook and through the poll (./pickup.ts);
 * - lifecycle throughput at each N: N issues dropped at once → all N in `Human Review`; issues/s,
 *   CPU-seconds per issue of the daemon and of the dev server (/proc), history events per issue;
 * - parked runs at each N (./parked.ts): parking rate, RSS of the daemon, the dev server and the
 *   bench, database size and disk per run, dispatcher tick, `GET /api/v1/state`, answer → resume.
 *
 * A section is a function of the `FleetContext` (./fleet-kit.ts) that fills its part of the
 * report; a new one (e.g. two-worker throughput) is called from `benchFleet` beside the others.
 * Everything runs in temp dirs and is torn down; the report is printed as a table
 * (./fleet-table.ts, beside issue 14's "before" figures and the targets) and written as JSON
 * (bench/results/fleet-<time>.json). Numbers, not pass/fail.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { loadPolicy } from '../src/config/load.js';
import { deploymentOf } from '../src/deployment.js';
import { startDevServer } from '../src/temporal/dev-server.js';
import { issueWorkflowId } from '../workflows/definitions.js';
import { activityTimes, type ActivityTime } from './activity-times.js';
import { makeOrigin, tempDir, writeIssue, writePolicy } from '../test/support/fixtures.js';
import { cpuSeconds, median, startFleetModel, startForeman, waitUntil, type FleetContext } from './fleet-kit.js';
import { benchParked, type ParkedRow } from './parked.js';
import { benchPollPickup, benchWebhookPickup, type PickupResult, type PollPickupResult } from './pickup.js';

/** Sizes of one fleet run. */
export interface FleetOptions {
  /** Issue counts of the throughput runs. */
  throughput: number[];
  /** Issue counts of the throughput runs on two workers: the daemon plus one `foreman start --worker-only`. */
  twoWorkers: number[];
  /** Parked-run counts, measured cumulatively (each step parks the difference). */
  parked: number[];
  /** Pickup samples through the folder watch. */
  pickupSamples: number;
  /** Pickup samples through a GitHub webhook (0: skip). */
  webhookSamples: number;
  /** Pickup samples through the poll (0: skip), at `pollIntervalMs` (`polling.interval_ms`). */
  pollSamples: number;
  pollIntervalMs: number;
  /** Most runs between "issue written" and "parked" at a time while parking (./parked.ts). */
  parkWave: number;
}

/** The fleet report (JSON). Times in ms, sizes in bytes, CPU in seconds. */
export interface FleetReport {
  startedAt: string;
  machine: { cpus: number; node: string };
  pickup: {
    /** Folder watch: median and samples, ms. */
    watchMedianMs: number | null;
    samples: number[];
    webhook?: PickupResult | null;
    poll?: PollPickupResult | null;
  };
  throughput: {
    n: number;
    /** Foreman processes sharing the work: 1 (the daemon) or 2 (plus a `--worker-only` process). (Absent: 1) */
    workers?: number;
    /** With 2 workers: issues whose workspace each worker prepared, by worker id. */
    issuesPerWorker?: Record<string, number>;
    wallMs: number;
    issuesPerSecond: number;
    /** CPU of the Foreman processes (all of them, with their reaped children: git, hooks, QA), per issue. */
    daemonCpuSecondsPerIssue: number;
    devServerCpuSecondsPerIssue: number;
    historyEventsPerIssue: number;
    /** Per activity type, from the sampled runs' histories (./activity-times.ts). */
    activities?: ActivityTime[];
  }[];
  parked: ParkedRow[];
}

/** Runs the fleet benchmark and returns its report. */
export async function benchFleet(opts: FleetOptions, log: (line: string) => void): Promise<FleetReport> {
  const tmp = await tempDir('foreman-bench-');
  const closers: (() => Promise<unknown> | unknown)[] = [() => tmp.cleanup()];
  let tearingDown: Promise<void> | null = null;
  const teardown = () =>
    (tearingDown ??= (async () => {
      for (const close of closers.reverse()) await Promise.resolve(close()).catch(() => {});
    })());
  // Ctrl-C (or a kill, maybe signalled twice through tsx) still stops the daemons and the dev
  // server and removes the temp dir; the run's own failure then waits for the same teardown.
  const interrupted = () => void teardown().finally(() => process.exit(130));
  process.on('SIGINT', interrupted).on('SIGTERM', interrupted);
  const report: FleetReport = {
    startedAt: new Date().toISOString(),
    machine: { cpus: (await import('node:os')).cpus().length, node: process.version },
    pickup: { watchMedianMs: null, samples: [] },
    throughput: [],
    parked: [],
  };
  try {
    const dbFile = path.join(tmp.dir, 'temporal.sqlite');
    const server = await startDevServer({ dbFile });
    closers.push(() => server.stop());
    const model = await startFleetModel();
    closers.push(() => model.close());
    const seen = model.seen;
    const origin = await makeOrigin(tmp.dir);
    const ctx: FleetContext = { dir: tmp.dir, server, model, origin, log, defer: (close) => closers.push(close) };
    const issuesDir = path.join(tmp.dir, 'issues');
    await fs.mkdir(issuesDir, { recursive: true });
    const workspaces = path.join(tmp.dir, 'workspaces');
    const policyOptions = {
      issuesDir,
      workspaceRoot: workspaces,
      repo: origin,
      modelUrl: model.url,
      qaCommands: ['true'],
      taskQueue: `bench-${randomUUID().slice(0, 8)}`,
      extra: [
        'polling: { interval_ms: 30000 }',
        'agent: { max_concurrent_agents: 1000 }',
        'roles: { reviewer: { enabled: false } }',
      ].join('\n'),
    };
    const policyFile = await writePolicy(tmp.dir, policyOptions);
    const deployment = deploymentOf(await loadPolicy(policyFile, { env: process.env }));
    const home = path.join(tmp.dir, 'home');
    const daemon = await startForeman(
      policyFile,
      { FOREMAN_HOME: home, TEMPORAL_ADDRESS: server.address },
      { http: true },
    );
    closers.push(() => daemon.stop());
    const client = new Client({ connection: await Connection.connect({ address: server.address }) });
    closers.push(() => client.connection.close());
    const stateOf = async (id: string) =>
      /state: "?([^"\n]+)"?/.exec(await fs.readFile(path.join(issuesDir, `${id}.md`), 'utf8'))?.[1] ?? '';

    // Pickup through the watch.
    for (let i = 0; i < opts.pickupSamples; i++) {
      const id = `PICK-${i + 1}`;
      const t0 = Date.now();
      await writeIssue(issuesDir, id, { title: 'Pickup', state: 'Todo' });
      await waitUntil(`${id} to reach the model`, async () => seen.has(id), 60_000, 10);
      report.pickup.samples.push(seen.get(id)![0]! - t0);
      await waitUntil(`${id} to be handed over`, async () => (await stateOf(id)) === 'Human Review', 120_000);
    }
    report.pickup.watchMedianMs = median(report.pickup.samples);
    if (opts.pickupSamples > 0)
      log(`pickup (watch): median ${report.pickup.watchMedianMs} ms over ${opts.pickupSamples}`);
    if (opts.webhookSamples > 0) report.pickup.webhook = await benchWebhookPickup(ctx, opts.webhookSamples);
    if (opts.pollSamples > 0) report.pickup.poll = await benchPollPickup(ctx, opts.pollSamples, opts.pollIntervalMs);

    // Throughput: N issues dropped at once → all N handed over, on the Foreman processes `pids`.
    let batch = 0;
    const throughput = async (n: number, pids: number[]) => {
      batch++;
      const ids = Array.from({ length: n }, (_, i) => `RUN${String.fromCharCode(64 + batch)}-${i + 1}`);
      const cpu = async () => (await Promise.all(pids.map(cpuSeconds))).reduce((a, b) => a + b, 0);
      const [d0, s0] = [await cpu(), await cpuSeconds(server.pid)];
      const t0 = Date.now();
      await Promise.all(ids.map((id) => writeIssue(issuesDir, id, { title: 'Throughput', state: 'Todo' })));
      await waitUntil(
        `${n} issues to be handed over`,
        async () => (await Promise.all(ids.map(stateOf))).every((s) => s === 'Human Review'),
        60 * 60_000,
        500,
      );
      const wallMs = Date.now() - t0;
      const [d1, s1] = [await cpu(), await cpuSeconds(server.pid)];
      // Every run's history only when the split between workers is counted; else the sample's.
      const histories = [];
      for (const id of pids.length > 1 ? ids : ids.slice(0, 10))
        histories.push(await client.workflow.getHandle(issueWorkflowId(deployment.key, id)).fetchHistory());
      const sample = histories.slice(0, 10);
      const row: FleetReport['throughput'][number] = {
        n,
        workers: pids.length,
        wallMs,
        issuesPerSecond: n / (wallMs / 1000),
        daemonCpuSecondsPerIssue: (d1 - d0) / n,
        devServerCpuSecondsPerIssue: (s1 - s0) / n,
        historyEventsPerIssue: sample.reduce((a, h) => a + (h.events?.length ?? 0), 0) / sample.length,
        activities: activityTimes(sample),
      };
      if (pids.length > 1) row.issuesPerWorker = preparedBy(histories);
      report.throughput.push(row);
      log(`throughput N=${n} on ${pids.length} worker(s): ${row.issuesPerSecond.toFixed(2)} issues/s`);
    };
    for (const n of opts.throughput) await throughput(n, [daemon.pid]);

    // Two-worker throughput: one more Foreman process (`--worker-only`, its own home and workspace
    // root, as on a second host), stopped again before the parked runs.
    if (opts.twoWorkers.length) {
      const dir2 = path.join(tmp.dir, 'worker-2');
      await fs.mkdir(dir2, { recursive: true });
      const policy2 = await writePolicy(dir2, { ...policyOptions, workspaceRoot: path.join(dir2, 'workspaces') });
      const worker = await startForeman(
        policy2,
        { FOREMAN_HOME: path.join(dir2, 'home'), TEMPORAL_ADDRESS: server.address },
        { args: ['--worker-only'] },
      );
      try {
        for (const n of opts.twoWorkers) await throughput(n, [daemon.pid, worker.pid]);
      } finally {
        await worker.stop();
      }
    }

    // Parked runs, last: they stay parked until the end.
    report.parked = await benchParked(
      ctx,
      { client, deployment, daemon, issuesDir, dbFile, dataDirs: [workspaces, home] },
      opts.parked,
      opts.parkWave,
    );
    // Said, not thrown: the report of hours of parking is kept.
    if (model.failures.length)
      log(`WARNING: the scripted model failed ${model.failures.length}×: ${model.failures[0]}`);
    return report;
  } finally {
    process.off('SIGINT', interrupted).off('SIGTERM', interrupted);
    await teardown();
  }
}

/**
 * Issues per worker id: the worker that prepared each run's workspace, from the identity
 * (`<worker id>/<pid>`, src/temporal/worker.ts) of the `prepareWorkspace` activity's start event.
 */
function preparedBy(histories: Awaited<ReturnType<WorkflowHandle['fetchHistory']>>[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const h of histories) {
    const events = h.events ?? [];
    const scheduled = events.find(
      (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'prepareWorkspace',
    );
    const started = events.find(
      (e) => String(e.activityTaskStartedEventAttributes?.scheduledEventId ?? '') === String(scheduled?.eventId ?? '-'),
    );
    const worker = started?.activityTaskStartedEventAttributes?.identity?.split('/')[0] ?? 'unknown';
    counts[worker] = (counts[worker] ?? 0) + 1;
  }
  return counts;
}
