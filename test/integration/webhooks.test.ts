/**
 * The webhook receiving layer over real HTTP (@hono/node-server on 127.0.0.1, real fetch):
 * every @octokit/webhooks-examples payload Foreman listens to, signed with the SDK and mapped;
 * Linear Issue/Comment payloads signed the way @linear/sdk verifies them; every rejection path
 * (signature, content type, size, JSON, timestamp, configuration, method); duplicate deliveries;
 * and the server-side processing time of 200 deliveries.
 */
import crypto from 'node:crypto';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { Webhooks } from '@octokit/webhooks';
import type { WebhookDefinition } from '@octokit/webhooks-examples';
import { Hono } from 'hono';
import { afterEach, describe, expect, it } from 'vitest';
import { withMarker } from '../../src/trackers/marker.js';
import { TEST_COMMENT_KEY } from '../support/comment-key.js';
import {
  createWebhookRoutes,
  DeliveryCache,
  type WebhookDelivery,
  type WebhookEvent,
  type WebhookRoutesOptions,
} from '../../src/server/webhooks/index.js';

const GITHUB_SECRET = 'gh-test-secret';
const LINEAR_SECRET = 'lin_wh_test-secret';
const github = new Webhooks({ secret: GITHUB_SECRET });

const examples = createRequire(import.meta.url)('@octokit/webhooks-examples') as WebhookDefinition[];
const examplesOf = (name: string): Record<string, unknown>[] => {
  const def = examples.find((d) => d.name === name);
  if (!def) throw new Error(`no examples for ${name}`);
  return def.examples as unknown as Record<string, unknown>[];
};

interface Harness {
  url: string;
  calls: { events: WebhookEvent[]; delivery: WebhookDelivery }[];
  /** Server-side handling time of each request, ms (request in → response out of our app). */
  timings: number[];
}

let servers: ServerType[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  servers = [];
});

/** Starts the routes, mounted as the daemon will (`app.route('/', routes)`), on a free port. */
async function start(overrides: Partial<WebhookRoutesOptions> = {}): Promise<Harness> {
  const calls: Harness['calls'] = [];
  const timings: number[] = [];
  const app = new Hono();
  app.use('*', async (_c, next) => {
    const t0 = performance.now();
    await next();
    timings.push(performance.now() - t0);
  });
  app.route(
    '/',
    createWebhookRoutes({
      githubSecret: GITHUB_SECRET,
      linearSecret: LINEAR_SECRET,
      onEvents: async (events, delivery) => {
        calls.push({ events, delivery });
      },
      ...overrides,
    }),
  );
  const server: ServerType = await new Promise((resolve, reject) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
    s.once('error', reject);
  });
  servers.push(server);
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, calls, timings };
}

interface PostOptions {
  id?: string;
  body?: string;
  headers?: Record<string, string | null>;
}

/** Posts a GitHub delivery signed with @octokit/webhooks `sign` (as GitHub's `x-hub-signature-256`). */
async function postGitHub(h: Harness, name: string, payload: unknown, o: PostOptions = {}) {
  const body = o.body ?? JSON.stringify(payload);
  const headers: Record<string, string | null> = {
    'content-type': 'application/json',
    'user-agent': 'GitHub-Hookshot/test',
    'x-github-event': name,
    'x-github-delivery': o.id ?? crypto.randomUUID(),
    'x-github-hook-id': '1',
    'x-hub-signature-256': await github.sign(body),
    ...o.headers,
  };
  return send(`${h.url}/webhooks/github`, body, headers);
}

/** Linear's scheme, as `LinearWebhookClient.verify` checks it: hex HMAC-SHA256 of the raw body. */
const linearSign = (body: string, secret = LINEAR_SECRET) =>
  crypto.createHmac('sha256', secret).update(body).digest('hex');

async function postLinear(h: Harness, payload: Record<string, unknown>, o: PostOptions = {}) {
  const body = o.body ?? JSON.stringify(payload);
  const headers: Record<string, string | null> = {
    'content-type': 'application/json; charset=utf-8',
    'user-agent': 'Linear-Webhook',
    'linear-delivery': o.id ?? crypto.randomUUID(),
    'linear-event': String(payload.type),
    'linear-signature': linearSign(body),
    ...o.headers,
  };
  return send(`${h.url}/webhooks/linear`, body, headers);
}

async function send(url: string, body: string, headers: Record<string, string | null>) {
  const clean: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) if (v !== null) clean[k] = v;
  const res = await fetch(url, { method: 'POST', body, headers: clean });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

// ---------------------------------------------------------------------------------------------
// GitHub: every example payload

const ISSUE_ACTIONS = [
  'opened',
  'edited',
  'labeled',
  'unlabeled',
  'reopened',
  'closed',
  'assigned',
  'unassigned',
  'deleted',
  'transferred',
];

/** What Foreman should make of an example, written from the brief independently of the mapper. */
function expectedKinds(name: string, p: Record<string, unknown>): string[] {
  const action = p.action as string | undefined;
  switch (name) {
    case 'issues':
      return ISSUE_ACTIONS.includes(action!) ? ['issue_changed'] : [];
    case 'issue_comment':
      return action === 'created' && !(p.issue as { pull_request?: unknown }).pull_request ? ['comment'] : [];
    case 'pull_request':
      return action === 'closed' ? ['pr_closed'] : [];
    case 'pull_request_review':
      return action === 'submitted' ? ['pr_review'] : [];
    case 'check_suite':
    case 'check_run':
      return action === 'completed' ? ['ci_result'] : [];
    case 'status':
      return ['success', 'failure', 'error'].includes(p.state as string) ? ['ci_result'] : [];
    default:
      throw new Error(name);
  }
}

const GITHUB_EVENTS = [
  'issues',
  'issue_comment',
  'pull_request',
  'pull_request_review',
  'check_suite',
  'check_run',
  'status',
];
const exampleCases = GITHUB_EVENTS.flatMap((name) =>
  examplesOf(name).map((payload, i) => ({
    label: `${name}${payload.action ? `.${String(payload.action)}` : ''} #${i}`,
    name,
    payload,
  })),
);

describe('GitHub examples (@octokit/webhooks-examples)', () => {
  it('covers every example of the seven events', () => {
    expect(exampleCases.length).toBe(GITHUB_EVENTS.reduce((n, name) => n + examplesOf(name).length, 0));
    expect(exampleCases.length).toBeGreaterThan(80);
  });

  it.each(exampleCases)('$label → 202 with the expected events', async ({ name, payload }) => {
    const h = await start();
    const want = expectedKinds(name, payload);
    const res = await postGitHub(h, name, payload, { id: 'd-1' });
    expect(res.status).toBe(202);
    if (want.length === 0) {
      expect(res.json).toEqual({ ignored: true, delivery: 'd-1' });
      expect(h.calls).toHaveLength(0);
      return;
    }
    expect(res.json).toEqual({ accepted: true, delivery: 'd-1', kinds: want });
    expect(h.calls).toHaveLength(1);
    const [{ events, delivery }] = h.calls as [Harness['calls'][number]];
    expect(events.map((e) => e.kind)).toEqual(want);
    expect(delivery).toMatchObject({
      id: 'd-1',
      source: 'github',
      name: payload.action ? `${name}.${String(payload.action)}` : name,
    });
    expect(Date.parse(delivery.receivedAt)).not.toBeNaN();
    const repo = payload.repository as { name: string; full_name: string };
    const e = events[0]!;
    switch (e.kind) {
      case 'issue_changed': {
        const n = (payload.issue as { number: number }).number;
        expect(e).toEqual({
          kind: 'issue_changed',
          source: 'github',
          issue: { id: String(n), identifier: `${repo.name}-${n}` },
        });
        break;
      }
      case 'comment': {
        const c = payload.comment as {
          id: number;
          body: string;
          user: { login: string; type: string };
          author_association: string;
        };
        expect(e).toEqual({
          kind: 'comment',
          source: 'github',
          issue: { id: '1', identifier: `${repo.name}-1` },
          commentId: String(c.id),
          author: c.user.login,
          body: c.body,
          authorAssociation: c.author_association,
          authorBot: c.user.type === 'Bot',
        });
        break;
      }
      case 'pr_closed': {
        const pr = payload.pull_request as {
          number: number;
          head: { ref: string; repo: { full_name: string } | null };
          merged: boolean;
        };
        expect(e).toEqual({
          kind: 'pr_closed',
          source: 'github',
          repository: repo.full_name,
          headRepository: pr.head.repo?.full_name ?? null,
          branch: pr.head.ref,
          prNumber: pr.number,
          merged: pr.merged,
        });
        break;
      }
      case 'pr_review': {
        const pr = payload.pull_request as {
          number: number;
          head: { ref: string; repo: { full_name: string } | null };
        };
        const review = payload.review as {
          state: string;
          body: string | null;
          user: { login: string; type: string };
          author_association: string;
        };
        expect(e).toEqual({
          kind: 'pr_review',
          source: 'github',
          repository: repo.full_name,
          headRepository: pr.head.repo?.full_name ?? null,
          authorAssociation: review.author_association,
          authorBot: review.user.type === 'Bot',
          branch: pr.head.ref,
          prNumber: pr.number,
          state: review.state,
          author: review.user.login,
          body: review.body ?? '',
        });
        break;
      }
      case 'ci_result': {
        if (name === 'status') {
          const branches = payload.branches as { name: string }[];
          expect(e).toEqual({
            kind: 'ci_result',
            source: 'github',
            repository: repo.full_name,
            branch: branches[0]?.name ?? null,
            sha: payload.sha,
            conclusion: payload.state,
            name: payload.context,
          });
        } else if (name === 'check_run') {
          const run = payload.check_run as {
            head_sha: string;
            conclusion: string;
            name: string;
            check_suite: { head_branch: string | null };
          };
          expect(e).toEqual({
            kind: 'ci_result',
            source: 'github',
            repository: repo.full_name,
            branch: run.check_suite.head_branch,
            sha: run.head_sha,
            conclusion: run.conclusion,
            name: run.name,
          });
        } else {
          const suite = payload.check_suite as {
            head_sha: string;
            conclusion: string;
            head_branch: string | null;
            app: { name: string };
          };
          expect(e).toEqual({
            kind: 'ci_result',
            source: 'github',
            repository: repo.full_name,
            branch: suite.head_branch,
            sha: suite.head_sha,
            conclusion: suite.conclusion,
            name: suite.app.name,
          });
        }
        break;
      }
    }
  });
});

describe('GitHub mapping beyond the examples', () => {
  const opened = examplesOf('issues').find((p) => p.action === 'opened')!;
  const comment = examplesOf('issue_comment').find((p) => p.action === 'created')!;
  const prClosed = examplesOf('pull_request').find((p) => p.action === 'closed')!;
  const review = examplesOf('pull_request_review').find((p) => p.action === 'submitted')!;
  const status = examplesOf('status')[0]!;

  it('issues.closed (no example ships) → issue_changed', async () => {
    const h = await start();
    const res = await postGitHub(h, 'issues', { ...opened, action: 'closed' });
    expect(res.status).toBe(202);
    expect(h.calls[0]!.events).toEqual([
      { kind: 'issue_changed', source: 'github', issue: { id: '1', identifier: 'Hello-World-1' } },
    ]);
  });

  it('a merged PR → pr_closed with merged: true; opened/synchronize are ignored', async () => {
    const h = await start();
    const pr = prClosed.pull_request as Record<string, unknown>;
    await postGitHub(h, 'pull_request', { ...prClosed, pull_request: { ...pr, merged: true } });
    expect(h.calls[0]!.events).toMatchObject([{ kind: 'pr_closed', merged: true, branch: 'changes', prNumber: 2 }]);
    for (const action of ['opened', 'synchronize']) {
      const res = await postGitHub(h, 'pull_request', { ...prClosed, action });
      expect(res.json.ignored).toBe(true);
    }
    expect(h.calls).toHaveLength(1);
  });

  it('review states approved / changes_requested pass through; dismissed is ignored', async () => {
    const h = await start();
    const r = review.review as Record<string, unknown>;
    for (const state of ['APPROVED', 'changes_requested']) {
      await postGitHub(h, 'pull_request_review', { ...review, review: { ...r, state, body: null } });
    }
    expect(h.calls.map((c) => c.events[0])).toMatchObject([
      { kind: 'pr_review', state: 'approved', body: '' },
      { kind: 'pr_review', state: 'changes_requested' },
    ]);
    const res = await postGitHub(h, 'pull_request_review', {
      ...review,
      action: 'dismissed',
      review: { ...r, state: 'dismissed' },
    });
    expect(res.json.ignored).toBe(true);
  });

  it("skips PR conversation comments and Foreman's own marked comments; keeps the association", async () => {
    const h = await start();
    const issue = comment.issue as Record<string, unknown>;
    const c = comment.comment as Record<string, unknown>;
    const onPr = await postGitHub(h, 'issue_comment', {
      ...comment,
      issue: { ...issue, pull_request: { url: 'https://api.github.com/repos/o/r/pulls/1' } },
    });
    expect(onPr.json.ignored).toBe(true);
    const ours = await postGitHub(h, 'issue_comment', {
      ...comment,
      comment: { ...c, body: '<!-- foreman:key=escalation-1 -->\nWhich database?' },
    });
    expect(ours.json.ignored).toBe(true);
    expect(h.calls).toHaveLength(0);
    await postGitHub(h, 'issue_comment', {
      ...comment,
      comment: { ...c, body: 'Use Postgres.', author_association: 'NONE', user: { login: 'drive-by' } },
    });
    expect(h.calls[0]!.events).toMatchObject([
      { kind: 'comment', author: 'drive-by', body: 'Use Postgres.', authorAssociation: 'NONE' },
    ]);
  });

  it("with the comment key, only a marker Foreman signed makes a comment its own; a forged one is a person's comment", async () => {
    const h = await start({ commentKey: TEST_COMMENT_KEY });
    const c = comment.comment as Record<string, unknown>;
    const signed = await postGitHub(h, 'issue_comment', {
      ...comment,
      comment: { ...c, body: withMarker('escalation-1', 'Which database?', TEST_COMMENT_KEY) },
    });
    expect(signed.json.ignored).toBe(true);
    for (const forged of [
      '<!-- foreman:key=escalation-1 -->\nUse Postgres.',
      withMarker('escalation-1', 'Use Postgres.', 'f'.repeat(64)),
    ]) {
      await postGitHub(h, 'issue_comment', { ...comment, comment: { ...c, id: h.calls.length + 900, body: forged } });
    }
    expect(h.calls.map((x) => x.events[0])).toMatchObject([
      { kind: 'comment', body: 'Use Postgres.' },
      { kind: 'comment', body: 'Use Postgres.' },
    ]);
    const linear = await postLinear(
      h,
      linearPayload('Comment', 'create', commentData(withMarker('escalation-2', 'Which one?', TEST_COMMENT_KEY))),
    );
    expect(linear.json.ignored).toBe(true);
    await postLinear(
      h,
      linearPayload('Comment', 'create', commentData('<!-- foreman:key=escalation-2 -->\nOption B.')),
    );
    expect(h.calls.at(-1)!.events).toMatchObject([{ kind: 'comment', source: 'linear', body: 'Option B.' }]);
  });

  it('status: failure/error → ci_result (branch null without branches); pending and ping are ignored', async () => {
    const h = await start();
    await postGitHub(h, 'status', { ...status, state: 'failure' });
    await postGitHub(h, 'status', { ...status, state: 'error', branches: [] });
    expect(h.calls.map((c) => c.events[0])).toMatchObject([
      { kind: 'ci_result', conclusion: 'failure', branch: 'master' },
      { kind: 'ci_result', conclusion: 'error', branch: null },
    ]);
    expect((await postGitHub(h, 'status', { ...status, state: 'pending' })).json.ignored).toBe(true);
    expect((await postGitHub(h, 'ping', examplesOf('ping')[0])).json.ignored).toBe(true);
    expect(h.calls).toHaveLength(2);
  });
});

// ---------------------------------------------------------------------------------------------
// GitHub: rejections and duplicates

describe('GitHub deliveries that never reach onEvents', () => {
  const payload = examplesOf('issues').find((p) => p.action === 'opened')!;
  const body = JSON.stringify(payload);

  it('a tampered body or signature → 401 bad_signature', async () => {
    const h = await start();
    const sig = await github.sign(body);
    const tamperedBody = await postGitHub(h, 'issues', null, {
      body: body.replace('"opened"', '"closed"'),
      headers: { 'x-hub-signature-256': sig },
    });
    expect(tamperedBody).toMatchObject({ status: 401, json: { error: { code: 'bad_signature' } } });
    const flipped = sig.slice(0, -1) + (sig.endsWith('0') ? '1' : '0');
    expect((await postGitHub(h, 'issues', payload, { headers: { 'x-hub-signature-256': flipped } })).status).toBe(401);
    const otherSecret = await new Webhooks({ secret: 'not-ours' }).sign(body);
    expect((await postGitHub(h, 'issues', payload, { headers: { 'x-hub-signature-256': otherSecret } })).status).toBe(
      401,
    );
    expect(
      (await postGitHub(h, 'issues', payload, { headers: { 'x-hub-signature-256': 'sha256=nothex' } })).status,
    ).toBe(401);
    expect(h.calls).toHaveLength(0);
  });

  it('a missing signature → 401 missing_signature', async () => {
    const h = await start();
    const res = await postGitHub(h, 'issues', payload, { headers: { 'x-hub-signature-256': null } });
    expect(res).toMatchObject({ status: 401, json: { error: { code: 'missing_signature' } } });
    expect(h.calls).toHaveLength(0);
  });

  it('a form-encoded or missing content type → 415', async () => {
    const h = await start();
    for (const ct of ['application/x-www-form-urlencoded', 'text/plain']) {
      const res = await postGitHub(h, 'issues', payload, { headers: { 'content-type': ct } });
      expect(res).toMatchObject({ status: 415, json: { error: { code: 'unsupported_media_type' } } });
    }
    expect(h.calls).toHaveLength(0);
  });

  it('a body over maxBodyBytes → 413, by content-length and while streaming (chunked)', async () => {
    const h = await start({ maxBodyBytes: 64 * 1024 });
    const big = JSON.stringify({ ...payload, padding: 'x'.repeat(200 * 1024) });
    const res = await postGitHub(h, 'issues', null, { body: big });
    expect(res).toMatchObject({ status: 413, json: { error: { code: 'payload_too_large' } } });

    // No content-length (chunked): the server must answer at the cap, not wait for (or buffer)
    // the rest. The client trickles 16 KiB every 5 ms, up to 4 MiB; the 413 must come long before.
    const chunk = new TextEncoder().encode('x'.repeat(16 * 1024));
    const total = 4 * 1024 * 1024;
    let sent = 0;
    let stop = false;
    const stream = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (stop || sent >= total) return controller.close();
        await new Promise((r) => setTimeout(r, 5));
        sent += chunk.byteLength;
        controller.enqueue(chunk);
      },
    });
    const streamed = await fetch(`${h.url}/webhooks/github`, {
      method: 'POST',
      body: stream,
      duplex: 'half',
      headers: {
        'content-type': 'application/json',
        'x-github-event': 'issues',
        'x-github-delivery': 'd-big',
        'x-hub-signature-256': 'sha256=00',
      },
    } as RequestInit);
    const sentAtResponse = sent;
    stop = true;
    expect(streamed.status).toBe(413);
    expect(streamed.headers.get('connection')).toBe('close');
    expect(sentAtResponse).toBeLessThan(1024 * 1024);
    expect(h.calls).toHaveLength(0);

    // The default cap is 1 MiB.
    const d = await start();
    const overDefault = JSON.stringify({ ...payload, padding: 'x'.repeat(1024 * 1024) });
    expect((await postGitHub(d, 'issues', null, { body: overDefault })).status).toBe(413);
    const underDefault = JSON.stringify({ ...payload, padding: 'x'.repeat(900 * 1024) });
    expect((await postGitHub(d, 'issues', null, { body: underDefault })).status).toBe(202);
  });

  it('a signed body that is not JSON (or not an object) → 400', async () => {
    const h = await start();
    const bad = await postGitHub(h, 'issues', null, { body: '{"action": "opened", ' });
    expect(bad).toMatchObject({ status: 400, json: { error: { code: 'malformed_json' } } });
    const arr = await postGitHub(h, 'issues', null, { body: '[1,2]' });
    expect(arr).toMatchObject({ status: 400, json: { error: { code: 'invalid_payload' } } });
    expect(h.calls).toHaveLength(0);
  });

  it('missing event or delivery headers → 400; GET → 405; no secret → 503', async () => {
    const h = await start({ githubSecret: undefined });
    const res = await postGitHub(h, 'issues', payload);
    expect(res).toMatchObject({ status: 503, json: { error: { code: 'webhook_not_configured' } } });

    const g = await start();
    expect((await postGitHub(g, 'issues', payload, { headers: { 'x-github-event': null } })).json).toMatchObject({
      error: { code: 'missing_header' },
    });
    expect((await postGitHub(g, 'issues', payload, { headers: { 'x-github-delivery': null } })).status).toBe(400);
    const get = await fetch(`${g.url}/webhooks/github`);
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
    expect(await get.json()).toEqual({ error: { code: 'method_not_allowed', message: 'Use POST.' } });
    expect((await fetch(`${g.url}/webhooks/linear`, { method: 'PUT' })).status).toBe(405);
    expect(g.calls).toHaveLength(0);
  });

  it('the same delivery twice → the second is acknowledged as a duplicate; onEvents runs once', async () => {
    const h = await start();
    const first = await postGitHub(h, 'issues', payload, { id: 'dup-1' });
    const second = await postGitHub(h, 'issues', payload, { id: 'dup-1' });
    expect(first.status).toBe(202);
    expect(second).toEqual({ status: 200, json: { duplicate: true, delivery: 'dup-1' } });
    // Concurrent copies of one delivery also collapse to one.
    const burst = await Promise.all(Array.from({ length: 5 }, () => postGitHub(h, 'issues', payload, { id: 'dup-2' })));
    expect(burst.filter((r) => r.status === 202)).toHaveLength(1);
    expect(burst.filter((r) => r.json.duplicate === true)).toHaveLength(4);
    expect(h.calls.map((c) => c.delivery.id)).toEqual(['dup-1', 'dup-2']);
  });

  it('when onEvents throws → 500 and the redelivery is processed', async () => {
    let fail = true;
    const seen: string[] = [];
    const h = await start({
      onEvents: async (_events, delivery) => {
        if (fail) throw new Error('temporal unavailable');
        seen.push(delivery.id);
      },
    });
    const res = await postGitHub(h, 'issues', payload, { id: 'retry-1' });
    expect(res).toMatchObject({ status: 500, json: { error: { code: 'webhook_handler_failed' } } });
    fail = false;
    expect((await postGitHub(h, 'issues', payload, { id: 'retry-1' })).status).toBe(202);
    expect(seen).toEqual(['retry-1']);
  });
});

// ---------------------------------------------------------------------------------------------
// Linear

const ORG = 'b7f9a3c2-1d4e-4f6a-9b8c-0e1f2a3b4c5d';
const WEBHOOK_ID = '3c1d2e4f-5a6b-4c7d-8e9f-a0b1c2d3e4f5';
const ISSUE_ID = '9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d';
const USER = {
  id: '11111111-2222-4333-8444-555555555555',
  name: 'Ada Lovelace',
  email: 'ada@example.com',
  url: 'https://linear.app/acme/profiles/ada',
  avatarUrl: null,
};
const TEAM = { id: '22222222-3333-4444-8555-666666666666', key: 'ENG', name: 'Engineering' };

/** A data-change webhook as Linear documents it (Developers → Webhooks → "Data change events"). */
function linearPayload(
  type: 'Issue' | 'Comment',
  action: string,
  data: Record<string, unknown>,
  extra: Record<string, unknown> = {},
) {
  const now = Date.now();
  return {
    action,
    actor: { id: USER.id, type: 'user', name: USER.name, email: USER.email, url: USER.url },
    createdAt: new Date(now - 150).toISOString(),
    data,
    url:
      type === 'Issue'
        ? 'https://linear.app/acme/issue/ENG-123/add-a-health-endpoint'
        : 'https://linear.app/acme/issue/ENG-123/add-a-health-endpoint#comment-5e6f7a8b',
    type,
    organizationId: ORG,
    webhookTimestamp: now,
    webhookId: WEBHOOK_ID,
    ...extra,
  };
}

const issueData = () => ({
  id: ISSUE_ID,
  createdAt: '2026-11-02T09:00:00.000Z',
  updatedAt: new Date().toISOString(),
  number: 123,
  title: 'Add a /health endpoint',
  description: 'Return 200 with the build sha.',
  priority: 2,
  priorityLabel: 'High',
  estimate: null,
  sortOrder: -1234.5,
  boardOrder: 0,
  prioritySortOrder: -1234.5,
  teamId: TEAM.id,
  stateId: '33333333-4444-4555-8666-777777777777',
  creatorId: USER.id,
  assigneeId: null,
  labelIds: ['44444444-5555-4666-8777-888888888888'],
  subscriberIds: [USER.id],
  previousIdentifiers: [],
  identifier: 'ENG-123',
  url: 'https://linear.app/acme/issue/ENG-123/add-a-health-endpoint',
  botActor: null,
  reactionData: [],
  state: { id: '33333333-4444-4555-8666-777777777777', name: 'Todo', color: '#e2e2e2', type: 'unstarted' },
  team: TEAM,
  labels: [{ id: '44444444-5555-4666-8777-888888888888', name: 'foreman', color: '#5e6ad2' }],
});

const commentData = (body: string) => ({
  id: '5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b',
  createdAt: new Date().toISOString(),
  updatedAt: new Date().toISOString(),
  body,
  issueId: ISSUE_ID,
  userId: USER.id,
  reactionData: [],
  botActor: null,
  issue: {
    id: ISSUE_ID,
    identifier: 'ENG-123',
    title: 'Add a /health endpoint',
    teamId: TEAM.id,
    team: TEAM,
    url: 'https://linear.app/acme/issue/ENG-123/add-a-health-endpoint',
  },
  user: USER,
});

describe('Linear deliveries', () => {
  it('Issue create / update / remove → issue_changed with the uuid and identifier', async () => {
    const h = await start();
    for (const action of ['create', 'update', 'remove']) {
      const extra =
        action === 'update'
          ? { updatedFrom: { stateId: '00000000-0000-4000-8000-000000000000', updatedAt: '2026-11-02T09:00:00.000Z' } }
          : {};
      const res = await postLinear(h, linearPayload('Issue', action, issueData(), extra), { id: `lin-${action}` });
      expect(res).toEqual({
        status: 202,
        json: { accepted: true, delivery: `lin-${action}`, kinds: ['issue_changed'] },
      });
    }
    expect(h.calls.map((c) => c.delivery)).toMatchObject([
      { id: 'lin-create', source: 'linear', name: 'Issue.create' },
      { id: 'lin-update', source: 'linear', name: 'Issue.update' },
      { id: 'lin-remove', source: 'linear', name: 'Issue.remove' },
    ]);
    for (const c of h.calls)
      expect(c.events).toEqual([
        { kind: 'issue_changed', source: 'linear', issue: { id: ISSUE_ID, identifier: 'ENG-123' } },
      ]);
  });

  it("Comment.create → comment with the author; Foreman's marked comments and edits are ignored", async () => {
    const h = await start();
    const res = await postLinear(h, linearPayload('Comment', 'create', commentData('Go with option B.')));
    expect(res.status).toBe(202);
    expect(h.calls[0]!.events).toEqual([
      {
        kind: 'comment',
        source: 'linear',
        issue: { id: ISSUE_ID, identifier: 'ENG-123' },
        commentId: '5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b',
        author: 'Ada Lovelace',
        authorId: USER.id,
        body: 'Go with option B.',
      },
    ]);
    for (const body of [
      '<!-- foreman:key=escalation-2 -->\nWhich one?',
      '\\<!-- foreman:key=escalation-2 --\\>\nWhich one?',
      '&lt;!-- foreman:key=x --&gt;\nhi',
    ]) {
      expect((await postLinear(h, linearPayload('Comment', 'create', commentData(body)))).json.ignored).toBe(true);
    }
    expect((await postLinear(h, linearPayload('Comment', 'update', commentData('edited')))).json.ignored).toBe(true);
    // A comment on a project update has no issue.
    const { issueId: _i, issue: _j, ...projectComment } = commentData('nice');
    expect(
      (await postLinear(h, linearPayload('Comment', 'create', { ...projectComment, projectUpdateId: 'pu-1' }))).json
        .ignored,
    ).toBe(true);
    expect(h.calls).toHaveLength(1);
  });

  it('a comment without the nested issue falls back to the issue uuid as identifier', async () => {
    const h = await start();
    const { issue: _drop, ...data } = commentData('ok');
    await postLinear(h, linearPayload('Comment', 'create', data));
    expect(h.calls[0]!.events[0]).toMatchObject({ kind: 'comment', issue: { id: ISSUE_ID, identifier: ISSUE_ID } });
  });

  it('a stale or missing webhookTimestamp → 401 stale_timestamp, even when correctly signed', async () => {
    const h = await start();
    const old = linearPayload('Issue', 'update', issueData(), { webhookTimestamp: Date.now() - 61_000 });
    expect(await postLinear(h, old)).toMatchObject({ status: 401, json: { error: { code: 'stale_timestamp' } } });
    const future = linearPayload('Issue', 'update', issueData(), { webhookTimestamp: Date.now() + 120_000 });
    expect((await postLinear(h, future)).status).toBe(401);
    const { webhookTimestamp: _t, ...none } = linearPayload('Issue', 'update', issueData());
    expect(await postLinear(h, none)).toMatchObject({ status: 401, json: { error: { code: 'stale_timestamp' } } });
    expect(h.calls).toHaveLength(0);
  });

  it('our own clock (opts.now) also bounds the window', async () => {
    const h = await start({ now: () => Date.now() + 30 * 60_000 });
    const res = await postLinear(h, linearPayload('Issue', 'update', issueData()));
    expect(res).toMatchObject({ status: 401, json: { error: { code: 'stale_timestamp' } } });
  });

  it('a bad or missing signature → 401; wrong content type → 415; bad JSON → 400; no secret → 503', async () => {
    const h = await start();
    const payload = linearPayload('Issue', 'update', issueData());
    const body = JSON.stringify(payload);
    expect(
      await postLinear(h, payload, { headers: { 'linear-signature': linearSign(body, 'other-secret') } }),
    ).toMatchObject({
      status: 401,
      json: { error: { code: 'bad_signature' } },
    });
    expect((await postLinear(h, payload, { headers: { 'linear-signature': 'abc' } })).status).toBe(401);
    expect(await postLinear(h, payload, { headers: { 'linear-signature': null } })).toMatchObject({
      status: 401,
      json: { error: { code: 'missing_signature' } },
    });
    expect((await postLinear(h, payload, { headers: { 'content-type': 'text/plain' } })).status).toBe(415);
    const broken = '{"type":"Issue",';
    expect(
      await postLinear(h, payload, { body: broken, headers: { 'linear-signature': linearSign(broken) } }),
    ).toMatchObject({
      status: 400,
      json: { error: { code: 'malformed_json' } },
    });
    expect(h.calls).toHaveLength(0);

    const off = await start({ linearSecret: undefined });
    expect((await postLinear(off, payload)).status).toBe(503);
  });

  it('duplicates: by linear-delivery, or by webhookId + change when the header is absent', async () => {
    const h = await start();
    const payload = linearPayload('Issue', 'update', issueData());
    expect((await postLinear(h, payload, { id: 'lin-dup' })).status).toBe(202);
    expect((await postLinear(h, payload, { id: 'lin-dup' })).json).toEqual({ duplicate: true, delivery: 'lin-dup' });
    const other = linearPayload('Issue', 'update', issueData(), { createdAt: new Date(Date.now() + 5).toISOString() });
    expect((await postLinear(h, other, { headers: { 'linear-delivery': null } })).status).toBe(202);
    expect((await postLinear(h, other, { headers: { 'linear-delivery': null } })).json.duplicate).toBe(true);
    expect(h.calls).toHaveLength(2);
    expect(h.calls[1]!.delivery.id).toContain(WEBHOOK_ID);
  });
});

// ---------------------------------------------------------------------------------------------
// DeliveryCache

describe('DeliveryCache', () => {
  it('forgets ids after the TTL and drops the least recently seen past maxEntries', () => {
    let t = 0;
    const cache = new DeliveryCache({ maxEntries: 3, ttlMs: 1000, now: () => t });
    expect(cache.claim('a')).toBe(true);
    expect(cache.claim('a')).toBe(false);
    t = 1000;
    expect(cache.has('a')).toBe(false);
    expect(cache.claim('a')).toBe(true);
    cache.claim('b');
    cache.claim('c');
    cache.claim('a'); // a duplicate refreshes recency
    cache.claim('d'); // evicts b, the least recently seen
    expect(['a', 'b', 'c', 'd'].map((id) => cache.has(id))).toEqual([true, false, true, true]);
    expect(cache.size).toBe(3);
    cache.release('c');
    expect(cache.claim('c')).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------
// Processing time

describe('processing time', () => {
  it('handles 200 signed deliveries in a row (and reports p50/p99 of server-side handling)', async () => {
    const h = await start();
    const pool = exampleCases.filter((c) => expectedKinds(c.name, c.payload).length > 0);
    const prepared = await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const { name, payload } = pool[i % pool.length]!;
        const body = JSON.stringify(payload);
        return { name, body, sig: await github.sign(body), id: `perf-${i}` };
      }),
    );
    // Warm-up (JIT, first connection) outside the measurement.
    await postGitHub(h, 'issues', examplesOf('issues')[0], { id: 'warm-up' });
    h.timings.length = 0;
    for (const p of prepared) {
      const res = await send(`${h.url}/webhooks/github`, p.body, {
        'content-type': 'application/json',
        'x-github-event': p.name,
        'x-github-delivery': p.id,
        'x-hub-signature-256': p.sig,
      });
      expect(res.status).toBe(202);
    }
    expect(h.timings).toHaveLength(200);
    const sorted = [...h.timings].sort((a, b) => a - b);
    const pct = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
    const p50 = pct(0.5);
    const p99 = pct(0.99);
    // Informational only: the speed target lives in `npm run bench` (bench/run.ts), not in a timed test.
    console.log(
      `[webhooks] p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms (200 signed GitHub deliveries, server-side)`,
    );
  });
});
