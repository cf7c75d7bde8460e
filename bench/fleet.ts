/**
 * The fleet benchmark (`npm run bench`): a real daemon
 * (`foreman start`, a child process) on a real Temporal dev server with a SQLite file, the local
 * tracker, a zero-cost scripted model (one `write_file`, then `finish`) and QA `true`, measured from
 * outside:
 *
 * - pickup latency through the folder watch: an issue file written → the model's first request for it;
 * - lifecycle throughput at each N: N issues dropped at once → all N in `Human Review`; issues/s,
 *   CPU-seconds per issue of the daemon and of the dev server (/proc), history events per issue;
 * - parked runs at each N: N issues whose implementer escalates at once and waits; then the
 *   daemon's and the dev server's RSS, the database size, the dispatcher tick duration (its
 *   `dispatchTick` activity, from the DispatcherWorkflow's history) and answer → resume latency
 *   (the `humanReply` signal → the model's next request for that issue).
 *
 * Everything runs in temp dirs and is torn down; the report is printed as a table and written as
 * JSON (bench/results/fleet-<time>.json). Numbers, not targets: the targets are printed beside them.
 */
import { randomUUID } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { loadPolicy } from '../src/config/load.js';
import { deploymentOf } from '../src/deployment.js';
import { startDevServer, type DevServer } from '../src/temporal/dev-server.js';
import { activityTable, activityTimes, type ActivityTime } from './activity-times.js';
import { dispatcherWorkflowId, humanReplySignal, issueWorkflowId } from '../workflows/definitions.js';
import { makeOrigin, tempDir, writeIssue, writePolicy } from '../test/support/fixtures.js';
import {
  startScriptedModelServer,
  type CapturedRequest,
  type ScriptStep,
} from '../test/support/scripted-model-server.js';

const REPO_ROOT = fileURLToPath(new URL('../', import.meta.url));

/** Sizes of one fleet run. */
export interface FleetOptions {
  /** Issue counts of the throughput runs. */
  throughput: number[];
  /** Parked-run counts, measured cumulatively (each step parks the difference). */
  parked: number[];
  /** Pickup samples through the folder watch. */
  pickupSamples: number;
}

/** The fleet report (JSON). Times in ms, sizes in bytes, CPU in seconds. */
export interface FleetReport {
  startedAt: string;
  machine: { cpus: number; node: string };
  pickup: { watchMedianMs: number | null; samples: number[] };
  throughput: {
    n: number;
    wallMs: number;
    issuesPerSecond: number;
    daemonCpuSecondsPerIssue: number;
    devServerCpuSecondsPerIssue: number;
    historyEventsPerIssue: number;
    /** Per activity type, from the sampled runs' histories (./activity-times.ts). */
    activities?: ActivityTime[];
  }[];
  parked: {
    n: number;
    parkSeconds: number;
    daemonRssBytes: number;
    devServerRssBytes: number;
    dbBytes: number;
    tickMedianMs: number | null;
    answerToResumeMs: number | null;
  }[];
}

/** /proc/<pid>/stat utime + stime in seconds (Linux). */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ is 100 on Linux
}

/** /proc/<pid>/status VmRSS in bytes. */
async function rssBytes(pid: number): Promise<number> {
  const status = await fs.readFile(`/proc/${pid}/status`, 'utf8');
  const kb = /VmRSS:\s+(\d+)/.exec(status)?.[1];
  return kb ? Number(kb) * 1024 : 0;
}

const median = (xs: number[]): number | null =>
  xs.length ? [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]! : null;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs: number, everyMs = 250) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`bench: timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** The identifier a request is about (the prompt says `Work on <id>:`). */
function identifierOf(req: CapturedRequest): string | null {
  const first = req.body?.messages?.[0];
  const text =
    typeof first?.content === 'string'
      ? first.content
      : ((first?.content ?? []) as { type: string; text?: string }[]).map((b) => b.text ?? '').join('\n');
  return /Work on ([A-Z]+-\d+):/.exec(text)?.[1] ?? null;
}

/**
 * The zero-cost model: `PARK-*` issues escalate on their first call; every issue writes one file,
 * then finishes. `seen` records when each issue's requests arrived (epoch ms).
 */
function zeroCostModel(seen: Map<string, number[]>): ScriptStep {
  return (req) => {
    const id = identifierOf(req);
    if (id) seen.set(id, [...(seen.get(id) ?? []), Date.now()]);
    const messages = req.body.messages as { role: string; content: unknown }[];
    const calls = messages.filter((m) => m.role === 'assistant').length;
    const usage = { input_tokens: 1, output_tokens: 1 };
    if (id?.startsWith('PARK-') && calls === 0)
      return {
        content: [
          { type: 'tool_use', name: 'escalate', input: { question: 'Which greeting?', options: ['Hi', 'Hello'] } },
        ],
        usage,
      };
    const wrote = messages.some((m) => m.role === 'assistant' && JSON.stringify(m.content).includes('"write_file"'));
    if (!wrote)
      return {
        content: [{ type: 'tool_use', name: 'write_file', input: { path: `${id}.txt`, content: 'hi\n' } }],
        usage,
      };
    return { content: [{ type: 'tool_use', name: 'finish', input: { summary: 'Wrote the file.' } }], usage };
  };
}

/** Runs the fleet benchmark and returns its report. */
export async function benchFleet(opts: FleetOptions, log: (line: string) => void): Promise<FleetReport> {
  const tmp = await tempDir('foreman-bench-');
  const closers: (() => Promise<unknown> | unknown)[] = [() => tmp.cleanup()];
  const report: FleetReport = {
    startedAt: new Date().toISOString(),
    machine: { cpus: (await import('node:os')).cpus().length, node: process.version },
    pickup: { watchMedianMs: null, samples: [] },
    throughput: [],
    parked: [],
  };
  try {
    const dbFile = path.join(tmp.dir, 'temporal.sqlite');
    const server: DevServer = await startDevServer({ dbFile });
    closers.push(() => server.stop());
    const seen = new Map<string, number[]>();
    const totalRequests = 40 * (opts.throughput.reduce((a, b) => a + b, 0) + Math.max(0, ...opts.parked)) + 1000;
    const model = await startScriptedModelServer(Array.from({ length: totalRequests }, () => zeroCostModel(seen)));
    closers.push(() => model.close());
    const origin = await makeOrigin(tmp.dir);
    const issuesDir = path.join(tmp.dir, 'issues');
    await fs.mkdir(issuesDir, { recursive: true });
    const policyFile = await writePolicy(tmp.dir, {
      issuesDir,
      workspaceRoot: path.join(tmp.dir, 'workspaces'),
      repo: origin,
      modelUrl: model.url,
      qaCommands: ['true'],
      taskQueue: `bench-${randomUUID().slice(0, 8)}`,
      extra: [
        'polling: { interval_ms: 30000 }',
        'agent: { max_concurrent_agents: 1000 }',
        'roles: { reviewer: { enabled: false } }',
      ].join('\n'),
    });
    const deployment = deploymentOf(await loadPolicy(policyFile, { env: process.env }));
    const home = path.join(tmp.dir, 'home');
    const daemon: ChildProcess = spawn(process.execPath, ['bin/foreman.js', 'start', policyFile], {
      cwd: REPO_ROOT,
      env: { ...process.env, FOREMAN_HOME: home, TEMPORAL_ADDRESS: server.address, FOREMAN_LOG_FORMAT: 'json' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let daemonLog = '';
    daemon.stderr!.on('data', (d: Buffer) => (daemonLog = (daemonLog + d.toString()).slice(-20_000)));
    closers.push(async () => {
      daemon.kill('SIGTERM');
      await new Promise((r) => daemon.once('exit', r));
    });
    await waitUntil('the daemon to start', async () => daemonLog.includes('Foreman is running'), 120_000);
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
    log(`pickup (watch): median ${report.pickup.watchMedianMs} ms over ${opts.pickupSamples}`);

    // Throughput.
    let batch = 0;
    for (const n of opts.throughput) {
      batch++;
      const ids = Array.from({ length: n }, (_, i) => `RUN${String.fromCharCode(64 + batch)}-${i + 1}`);
      const [d0, s0] = [await cpuSeconds(daemon.pid!), await cpuSeconds(server.pid)];
      const t0 = Date.now();
      await Promise.all(ids.map((id) => writeIssue(issuesDir, id, { title: 'Throughput', state: 'Todo' })));
      await waitUntil(
        `${n} issues to be handed over`,
        async () => (await Promise.all(ids.map(stateOf))).every((s) => s === 'Human Review'),
        60 * 60_000,
        500,
      );
      const wallMs = Date.now() - t0;
      const [d1, s1] = [await cpuSeconds(daemon.pid!), await cpuSeconds(server.pid)];
      const sample = ids.slice(0, Math.min(10, n));
      let events = 0;
      const histories = [];
      for (const id of sample) {
        const history = await client.workflow.getHandle(issueWorkflowId(deployment.key, id)).fetchHistory();
        events += history.events?.length ?? 0;
        histories.push(history);
      }
      const row = {
        n,
        wallMs,
        issuesPerSecond: n / (wallMs / 1000),
        daemonCpuSecondsPerIssue: (d1 - d0) / n,
        devServerCpuSecondsPerIssue: (s1 - s0) / n,
        historyEventsPerIssue: events / sample.length,
        activities: activityTimes(histories),
      };
      report.throughput.push(row);
      log(`throughput N=${n}: ${row.issuesPerSecond.toFixed(2)} issues/s`);
    }

    // Parked runs.
    let parked = 0;
    for (const n of opts.parked) {
      const ids = Array.from({ length: n - parked }, (_, i) => `PARK-${parked + i + 1}`);
      const t0 = Date.now();
      for (let i = 0; i < ids.length; i += 200)
        await Promise.all(
          ids.slice(i, i + 200).map((id) => writeIssue(issuesDir, id, { title: 'Park', state: 'Todo' })),
        );
      await waitUntil(
        `${n} runs to park`,
        async () => {
          let waiting = 0;
          for (let i = 1; i <= n; i++) if ((seen.get(`PARK-${i}`)?.length ?? 0) >= 1) waiting++;
          return waiting >= n;
        },
        6 * 60 * 60_000,
        1000,
      );
      const parkSeconds = (Date.now() - t0) / 1000;
      // Let the last escalations be posted and the dispatcher tick a few times at this size.
      await sleep(45_000);
      parked = n;
      const tickMedianMs = await tickDuration(client, deployment.taskQueue);
      const probe = `PARK-${n}`;
      const before = seen.get(probe)?.length ?? 0;
      const a0 = Date.now();
      await client.workflow
        .getHandle(issueWorkflowId(deployment.key, probe))
        .signal(humanReplySignal, { text: '1', author: 'bench', source: 'cli', mayApprove: true });
      let answerToResumeMs: number | null = null;
      try {
        await waitUntil('the answered run to resume', async () => (seen.get(probe)?.length ?? 0) > before, 300_000, 10);
        answerToResumeMs = seen.get(probe)![before]! - a0;
      } catch {
        answerToResumeMs = null;
      }
      const row = {
        n,
        parkSeconds,
        daemonRssBytes: await rssBytes(daemon.pid!),
        devServerRssBytes: await rssBytes(server.pid),
        dbBytes: (await fs.stat(dbFile)).size,
        tickMedianMs,
        answerToResumeMs,
      };
      report.parked.push(row);
      log(`parked N=${n}: tick ${tickMedianMs} ms, daemon RSS ${(row.daemonRssBytes / 2 ** 20).toFixed(0)} MiB`);
    }
    return report;
  } finally {
    for (const close of closers.reverse()) await Promise.resolve(close()).catch(() => {});
  }
}

/** Median duration of the last 5 `dispatchTick` activities of the deployment's DispatcherWorkflow, ms. */
async function tickDuration(client: Client, taskQueue: string): Promise<number | null> {
  const history = await client.workflow.getHandle(dispatcherWorkflowId(taskQueue)).fetchHistory();
  const started = new Map<string, number>();
  const durations: number[] = [];
  const ms = (t: { seconds?: unknown; nanos?: number | null } | null | undefined) =>
    Number(t?.seconds ?? 0) * 1000 + (t?.nanos ?? 0) / 1e6;
  for (const e of history.events ?? []) {
    const scheduled = e.activityTaskScheduledEventAttributes;
    if (scheduled?.activityType?.name === 'dispatchTick') started.set(String(e.eventId), ms(e.eventTime));
    const done = e.activityTaskCompletedEventAttributes;
    if (done && started.has(String(done.scheduledEventId))) {
      durations.push(ms(e.eventTime) - started.get(String(done.scheduledEventId))!);
    }
  }
  return median(durations.slice(-5));
}

/** The report as a readable table, against the figures measured before the fleet work (issue 14). */
export function fleetTable(r: FleetReport): string {
  const lines = [
    `Fleet report (${r.startedAt}, ${r.machine.cpus} CPUs, Node ${r.machine.node})`,
    `  pickup (folder watch): median ${r.pickup.watchMedianMs ?? '-'} ms   (before: ~700 ms)`,
  ];
  for (const t of r.throughput)
    lines.push(
      `  throughput N=${t.n}: ${t.issuesPerSecond.toFixed(2)} issues/s, ${(t.wallMs / 1000).toFixed(1)} s; ` +
        `CPU/issue daemon ${t.daemonCpuSecondsPerIssue.toFixed(2)} s + dev server ${t.devServerCpuSecondsPerIssue.toFixed(2)} s; ` +
        `${t.historyEventsPerIssue.toFixed(0)} history events/issue   (before, N=50: 1.3 issues/s, 0.7 + 0.35 CPU-s, 67 events)`,
      ...activityTable(t.activities ?? []),
    );
  for (const p of r.parked)
    lines.push(
      `  parked N=${p.n}: parked in ${p.parkSeconds.toFixed(0)} s; daemon RSS ${(p.daemonRssBytes / 2 ** 20).toFixed(0)} MiB, ` +
        `dev server RSS ${(p.devServerRssBytes / 2 ** 20).toFixed(0)} MiB, db ${(p.dbBytes / 2 ** 20).toFixed(0)} MiB; ` +
        `tick ${p.tickMedianMs?.toFixed(0) ?? '-'} ms; answer → resume ${p.answerToResumeMs ?? '-'} ms` +
        `   (before, N=494: tick ~5200 ms; N≈1700: RSS 1.3 GB)`,
    );
  return lines.join('\n');
}
