/**
 * Pickup latency through a GitHub tracker (a fleet section, bench/fleet.ts): a deployment against
 * the fake GitHub (test/support/fake-github.ts, the real @octokit client over HTTP) run by its own
 * `foreman start` on the fleet's dev server and zero-cost model.
 *
 * - webhook: the daemon's HTTP server with a webhook secret and a 10-minute poll, so only the
 *   delivery can start the run. A signed `issues` `opened` delivery, sent as GitHub sends it
 *   (headers `x-github-event`, `x-github-delivery`, `x-hub-signature-256`) → the model's first
 *   request for that issue.
 * - poll: no webhook and no watch; the dispatcher finds the issue on its timer
 *   (`polling.interval_ms`). The issue is filed at a random point of the interval, so the median
 *   is about half the interval plus the pickup work; both are reported.
 *
 * Each sample's run is let finish (handed over: the `state: Human Review` label) before the next.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Webhooks } from '@octokit/webhooks';
import examples from '@octokit/webhooks-examples';
import { startFakeGitHub, type FakeGitHub } from '../test/support/fake-github.js';
import { writePolicy } from '../test/support/fixtures.js';
import { median, sleep, startForeman, waitUntil, type FleetContext, type ForemanDaemon } from './fleet-kit.js';

/** Pickup latency of one path, ms. */
export interface PickupResult {
  medianMs: number | null;
  samples: number[];
}

/** Poll pickup: the interval it ran at, and the median as a fraction of it. */
export interface PollPickupResult extends PickupResult {
  intervalMs: number;
  /** medianMs / intervalMs. */
  ratio: number | null;
}

const SECRET = 'bench-webhook-secret';

/** A GitHub deployment of repository `acme/<repo>` with its own fake GitHub and daemon. */
async function githubDeployment(
  ctx: FleetContext,
  repo: string,
  opts: { intervalMs: number; webhook: boolean },
): Promise<{ github: FakeGitHub; daemon: ForemanDaemon }> {
  const dir = path.join(ctx.dir, repo);
  await fs.mkdir(dir, { recursive: true });
  const github = await startFakeGitHub({ owner: 'acme', repo });
  ctx.defer(() => github.close());
  const policyFile = await writePolicy(dir, {
    issuesDir: path.join(dir, 'unused'),
    workspaceRoot: path.join(dir, 'workspaces'),
    repo: ctx.origin,
    modelUrl: ctx.model.url,
    qaCommands: ['true'],
    taskQueue: `bench-${repo}-${randomUUID().slice(0, 8)}`,
    extra: JSON.stringify({
      tracker: { kind: 'github', provider: { repo: `acme/${repo}`, token: github.token, endpoint: github.url } },
      polling: { interval_ms: opts.intervalMs },
      scm: { github: { repo: `acme/${repo}`, base_url: github.url } },
      roles: { reviewer: { enabled: false } },
    }),
  });
  const daemon = await startForeman(
    policyFile,
    {
      FOREMAN_HOME: path.join(dir, 'home'),
      TEMPORAL_ADDRESS: ctx.server.address,
      ...(opts.webhook ? { GITHUB_WEBHOOK_SECRET: SECRET } : {}),
    },
    { http: opts.webhook },
  );
  ctx.defer(() => daemon.stop());
  return { github, daemon };
}

/** Files issue `title` on the fake; `deliver` (if any) tells the daemon; returns ms to the model's first request. */
async function sample(
  ctx: FleetContext,
  github: FakeGitHub,
  repo: string,
  deliver?: (number: number) => Promise<void>,
): Promise<number> {
  const t0 = Date.now();
  const issue = github.addIssue({ title: 'Pickup', body: 'Write a file.' });
  const id = `${repo}-${issue.number}`;
  if (deliver) await deliver(issue.number);
  await waitUntil(`${id} to reach the model`, async () => ctx.model.seen.has(id), 120_000, 10);
  const ms = ctx.model.seen.get(id)![0]! - t0;
  await waitUntil(
    `${id} to be handed over`,
    async () => github.issues.get(issue.number)!.labels.includes('state: Human Review'),
    180_000,
  );
  return ms;
}

/** An `issues` `opened` payload (@octokit/webhooks-examples) for issue `number` of `acme/<repo>`. */
function openedPayload(repo: string, number: number): string {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- example payloads are untyped JSON
  const groups = examples as unknown as { name: string; examples: Record<string, any>[] }[];
  const group = groups.find((g) => g.name === 'issues')!;
  const p = structuredClone(group.examples.find((e) => e.action === 'opened') ?? group.examples[0]!);
  p.action = 'opened';
  p.repository = {
    ...p.repository,
    name: repo,
    full_name: `acme/${repo}`,
    owner: { ...p.repository.owner, login: 'acme' },
  };
  Object.assign(p.issue, { number, title: 'Pickup', state: 'open', labels: [] });
  return JSON.stringify(p);
}

/** Webhook pickup: `samples` signed `issues` `opened` deliveries → the model's first request (see the module header). */
export async function benchWebhookPickup(ctx: FleetContext, samples: number): Promise<PickupResult> {
  const repo = 'hook';
  const { github, daemon } = await githubDeployment(ctx, repo, { intervalMs: 600_000, webhook: true });
  const webhooks = new Webhooks({ secret: SECRET });
  const deliver = async (number: number) => {
    const body = openedPayload(repo, number);
    const res = await fetch(`${daemon.url}/webhooks/github`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'GitHub-Hookshot/bench',
        'x-github-event': 'issues',
        'x-github-delivery': randomUUID(),
        'x-github-hook-id': '1',
        'x-hub-signature-256': await webhooks.sign(body),
      },
      body,
    });
    const text = await res.text();
    if (res.status >= 300) throw new Error(`bench: webhook delivery got ${res.status}: ${text}`);
  };
  const out: number[] = [];
  for (let i = 0; i < samples; i++) out.push(await sample(ctx, github, repo, deliver));
  await daemon.stop();
  ctx.log(`pickup (webhook): median ${median(out)} ms over ${samples}`);
  return { medianMs: median(out), samples: out };
}

/** Poll pickup at `intervalMs`: `samples` issues filed at random points of the interval (see the module header). */
export async function benchPollPickup(
  ctx: FleetContext,
  samples: number,
  intervalMs: number,
): Promise<PollPickupResult> {
  const repo = 'poll';
  const { github, daemon } = await githubDeployment(ctx, repo, { intervalMs, webhook: false });
  const out: number[] = [];
  for (let i = 0; i < samples; i++) {
    await sleep(Math.random() * intervalMs);
    out.push(await sample(ctx, github, repo));
  }
  await daemon.stop();
  const m = median(out);
  ctx.log(`pickup (poll every ${intervalMs} ms): median ${m} ms over ${samples}`);
  return { medianMs: m, samples: out, intervalMs, ratio: m === null ? null : m / intervalMs };
}
