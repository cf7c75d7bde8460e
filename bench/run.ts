/**
 * `npm run bench`: Foreman's speed targets, measured outside the test suite (timed assertions do
 * not belong in unit tests). Each benchmark prints its numbers and fails the run when it misses its
 * target; targets are generous on purpose (a 2-core CI machine), they catch regressions of
 * magnitude, not noise.
 *
 * - webhooks: server-side handling of signed GitHub deliveries over real HTTP (verify, parse,
 *   dedup, map), with a no-op event sink. Target: p99 < 25 ms.
 * - dispatch: selecting and ordering 10,000 candidate issues (Symphony SPEC §8.2). Target: < 100 ms.
 * - sandbox: wall time bubblewrap adds to run_command and to a QA command (./sandbox.ts). Target: < 150 ms.
 * - gateway: wall time the model gateway adds per model call, JSON and streaming (./gateway.ts). Target: < 10 ms.
 * - fleet (./fleet.ts): pickup latency (folder watch, GitHub webhook, poll), lifecycle throughput
 *   at N = 50 and 200, CPU-seconds and history events per issue, parked runs at 1,000 / 5,000 /
 *   10,000 (parking rate, RSS, db size and disk per run, tick duration, `GET /api/v1/state`,
 *   answer → resume). A report, not pass/fail: printed as a table beside issue 14's "before"
 *   figures and the targets, and written as JSON to bench/results/. It takes long (hours at 10,000
 *   parked runs); `--quick` runs small sizes, `--throughput=N,N` / `--two-workers=N,N` / `--parked=N,N`
 *   chosen ones (an empty list skips; two-worker throughput runs the daemon plus one
 *   `foreman start --worker-only`), `--pickup=N` N pickup samples per path (0 skips), `--poll-interval=MS` the poll pickup's `polling.interval_ms` (default 5000), `--park-wave=N`
 *   the runs in flight while parking (default 50), `--fleet` only the fleet, `--no-fleet` only the
 *   quick benchmarks above. `--summary=FILE` prints the table of a saved JSON report, running nothing.
 */
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Webhooks } from '@octokit/webhooks';
import examples from '@octokit/webhooks-examples';
import { selectForDispatch } from '../src/dispatch/select.js';
import { createWebhookRoutes } from '../src/server/webhooks/index.js';
import type { Issue } from '../src/trackers/types.js';
import { benchGateway } from './gateway.js';
import { benchSandbox } from './sandbox.js';
import { benchFleet, type FleetReport } from './fleet.js';
import { fleetTable } from './fleet-table.js';
import fs from 'node:fs/promises';

interface Result {
  name: string;
  value: number;
  target: number;
  unit: string;
}

const pct = (xs: number[], q: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil(q * xs.length) - 1)]!;

async function benchWebhooks(n = 1000): Promise<Result[]> {
  const secret = 'bench-secret';
  const timings: number[] = [];
  const routes = createWebhookRoutes({ githubSecret: secret, onEvents: async () => {} });
  // Time our handling only (not the client or the socket): wrap the app's fetch.
  const server = serve({
    port: 0,
    hostname: '127.0.0.1',
    fetch: async (req) => {
      const t0 = performance.now();
      const res = await routes.fetch(req);
      timings.push(performance.now() - t0);
      return res;
    },
  });
  await new Promise((r) => server.once('listening', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/github`;
  const gh = new Webhooks({ secret });
  const group = (examples as unknown as { name: string; examples: unknown[] }[]).find(
    (g) => g.name === 'issue_comment',
  )!;
  const body = JSON.stringify(group.examples[0]);
  const sig = await gh.sign(body);
  try {
    for (let i = 0; i < n + 50; i++) {
      const res = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-github-event': 'issue_comment',
          'x-github-delivery': randomUUID(),
          'x-hub-signature-256': sig,
        },
        body,
      });
      await res.arrayBuffer();
      if (res.status >= 300) throw new Error(`delivery ${i} got ${res.status}`);
      if (i === 49) timings.length = 0; // warm-up done
    }
  } finally {
    await new Promise((r) => server.close(r));
  }
  return [
    { name: `webhooks: p50 of ${n} signed deliveries`, value: pct(timings, 0.5), target: 5, unit: 'ms' },
    { name: `webhooks: p99 of ${n} signed deliveries`, value: pct(timings, 0.99), target: 25, unit: 'ms' },
  ];
}

function benchDispatch(n = 10_000): Result[] {
  const candidates: Issue[] = Array.from({ length: n }, (_, i) => ({
    id: String(i),
    identifier: `BENCH-${i}`,
    title: `Issue ${i}`,
    description: null,
    priority: i % 6 || null,
    state: i % 3 ? 'Todo' : 'In Progress',
    branch_name: null,
    url: null,
    assignee_id: null,
    labels: ['foreman'],
    blocked_by: [],
    dispatchable: true,
    created_at: new Date(1_700_000_000_000 + i * 1000).toISOString(),
    updated_at: null,
    native_ref: null,
  }));
  const runs: number[] = [];
  for (let r = 0; r < 20; r++) {
    const t0 = performance.now();
    selectForDispatch({
      candidates,
      running: [],
      activeStates: ['Todo', 'In Progress'],
      terminalStates: ['Done'],
      requiredLabels: ['foreman'],
      maxConcurrentAgents: 10,
      maxConcurrentAgentsByState: {},
    });
    runs.push(performance.now() - t0);
  }
  return [
    { name: `dispatch: select + order ${n} candidates (median of 20)`, value: pct(runs, 0.5), target: 100, unit: 'ms' },
  ];
}

/** The value of `--<name>=…` on the command line, if given. */
const option = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);

/** `--<name>=N,N` as whole numbers (an empty list is allowed); exits 2 with a usage line on anything else. */
function counts(name: string): number[] | undefined {
  const parts = option(name)?.split(',').filter(Boolean);
  if (parts?.some((p) => !/^[0-9]+$/.test(p))) {
    console.error(`bench: --${name} takes whole numbers separated by commas, got "${option(name)}"`);
    process.exit(2);
  }
  return parts?.map(Number);
}

const summary = option('summary');
if (summary !== undefined) {
  console.log(fleetTable(JSON.parse(await fs.readFile(summary, 'utf8')) as FleetReport));
  process.exit(0);
}
const args = new Set(process.argv.slice(2));
const quick = args.has('--quick');
let failed = 0;
if (!args.has('--fleet')) {
  const results = [
    ...(await benchWebhooks()),
    ...benchDispatch(),
    ...(await benchSandbox()),
    ...(await benchGateway()),
  ];
  for (const r of results) {
    const ok = r.value < r.target;
    if (!ok) failed++;
    console.log(`${ok ? 'ok  ' : 'FAIL'} ${r.name}: ${r.value.toFixed(2)} ${r.unit} (target < ${r.target} ${r.unit})`);
  }
}
if (!args.has('--no-fleet')) {
  // `--throughput=50,200` / `--parked=1000,5000` override the sizes.
  const base = quick
    ? { throughput: [10], twoWorkers: [10], parked: [50], pickupSamples: 3, webhookSamples: 3, pollSamples: 3 }
    : {
        throughput: [50, 200],
        twoWorkers: [50],
        parked: [1000, 5000, 10_000],
        pickupSamples: 10,
        webhookSamples: 5,
        pollSamples: 5,
      };
  const [pickup] = counts('pickup') ?? [];
  const [pollIntervalMs = 5000] = counts('poll-interval') ?? [];
  const [parkWave = 50] = counts('park-wave') ?? [];
  if (parkWave < 1 || pollIntervalMs < 1) {
    console.error('bench: --park-wave and --poll-interval must be at least 1');
    process.exit(2);
  }
  const report = await benchFleet(
    {
      ...base,
      throughput: counts('throughput') ?? base.throughput,
      twoWorkers: counts('two-workers') ?? base.twoWorkers,
      parked: counts('parked') ?? base.parked,
      ...(pickup === undefined ? {} : { pickupSamples: pickup, webhookSamples: pickup, pollSamples: pickup }),
      pollIntervalMs,
      parkWave,
    },
    (line) => console.log(`  … ${line}`),
  );
  const dir = new URL('./results/', import.meta.url);
  await fs.mkdir(dir, { recursive: true });
  const file = new URL(`fleet-${report.startedAt.replace(/[:.]/g, '-')}.json`, dir);
  await fs.writeFile(file, JSON.stringify(report, null, 2) + '\n');
  console.log(fleetTable(report));
  console.log(`  (JSON: ${file.pathname})`);
}
process.exit(failed ? 1 : 0);
