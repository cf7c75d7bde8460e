/**
 * The HTTP API's door (specs/policy.md `server.token`) over real HTTP: a server beyond loopback
 * without a token refuses to start (and `foreman start` exits 2 before it starts anything); with a
 * token every route but the webhooks needs `Authorization: Bearer <token>`; loopback without a
 * token works as before.
 */
import crypto from 'node:crypto';
import path from 'node:path';
import { Webhooks } from '@octokit/webhooks';
import { afterEach, describe, expect, it } from 'vitest';
import { parsePolicyText } from '../../src/config/load.js';
import { policySecrets } from '../../src/config/secrets.js';
import { PolicyError } from '../../src/errors.js';
import { bearerMatches, isLoopbackHost, startHttpServer, type HttpServer } from '../../src/server/http.js';
import { createWebhookRoutes, type WebhookEvent } from '../../src/server/webhooks/index.js';
import type { StateSnapshot } from '../../src/status.js';
import { runForeman } from '../support/cli.js';
import { tempDir, writePolicy } from '../support/fixtures.js';

const TOKEN = 'f0reman-api-token-for-tests-1234567890';
const GITHUB_SECRET = 'gh-test-secret';

const zero = {
  input_tokens: 0,
  output_tokens: 0,
  total_tokens: 0,
  cost_usd: 0,
  runs_without_price: 0,
  seconds_running: 0,
  runs: 0,
};
const snapshot: StateSnapshot = {
  generated_at: '2026-12-04T12:00:00.000Z',
  task_queue: 'q',
  deployment: null,
  temporal_ui_url: null,
  counts: { running: 0, retrying: 0, waiting_for_human: 0, in_review: 0, done_today: 0, open: 0, closed_recently: 0 },
  running: [],
  retrying: [],
  recent: [],
  skipped: [],
  codex_totals: { input_tokens: 0, output_tokens: 0, total_tokens: 0, seconds_running: 0 },
  totals: { ...zero, today: { ...zero, since: '2026-12-04T00:00:00.000Z' }, in_flight: zero },
  rate_limits: null,
  tracker_error: null,
};

let servers: HttpServer[] = [];
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
  while (cleanups.length) await cleanups.pop()?.();
});

/** Starts the real server with the real webhook routes; returns it and the events the webhooks handed on. */
async function start(host: string, token?: string) {
  const events: WebhookEvent[] = [];
  const refreshes: string[] = [];
  const server = await startHttpServer(
    {
      state: async () => snapshot,
      issue: async () => null,
      refresh: async (reason) => {
        refreshes.push(reason);
      },
    },
    {
      port: 0,
      host,
      ...(token === undefined ? {} : { token }),
      routes: createWebhookRoutes({ githubSecret: GITHUB_SECRET, onEvents: async (e) => void events.push(...e) }),
    },
  );
  servers.push(server);
  return { server, events, refreshes, base: `http://127.0.0.1:${server.port}` };
}

const get = (url: string, authorization?: string) =>
  fetch(url, authorization === undefined ? {} : { headers: { authorization } });

describe('HTTP API door', () => {
  it('refuses to listen beyond loopback without a token, naming server.token', async () => {
    for (const host of ['0.0.0.0', '::', '192.0.2.1']) {
      const err = await start(host).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err, host).toBeInstanceOf(PolicyError);
      expect(err).toMatchObject({ code: 'server_token_missing', issues: [{ path: 'server.token' }] });
      expect((err as Error).message).toMatch(/server\.token/);
    }
    expect(servers).toHaveLength(0);
  });

  it('with a token on 0.0.0.0: no or a wrong bearer gets 401 on every API route, the right one 200', async () => {
    const { base, refreshes } = await start('0.0.0.0', TOKEN);
    for (const auth of [undefined, `Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(0, -1)}`, `Basic ${TOKEN}`, TOKEN, '']) {
      const res = await get(`${base}/api/v1/state`, auth);
      expect(res.status, String(auth)).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="foreman"');
      const body = (await res.json()) as { error: { code: string } };
      expect(body.error.code).toBe('unauthorized');
      expect(JSON.stringify(body)).not.toContain(TOKEN);
    }
    // An issue, refresh and unknown paths are behind the same door (the cockpit's public paths, which
    // hold no data, are tested in answer-route.test.ts).
    expect((await get(`${base}/`)).status).toBe(401);
    expect((await get(`${base}/api/v1/DEMO-1`)).status).toBe(401);
    expect((await get(`${base}/nope`)).status).toBe(401);
    expect((await fetch(`${base}/api/v1/refresh`, { method: 'POST' })).status).toBe(401);
    expect(refreshes).toEqual([]);

    const ok = await get(`${base}/api/v1/state`, `Bearer ${TOKEN}`);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual(snapshot);
    expect((await get(`${base}/api/v1/state`, `bearer  ${TOKEN}`)).status).toBe(200);
    const refreshed = await fetch(`${base}/api/v1/refresh`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(refreshed.status).toBe(202);
    expect(refreshes).toEqual(['api']);
  });

  it('with a token, webhooks still work without it (their signature is their authentication)', async () => {
    const { base, events } = await start('0.0.0.0', TOKEN);
    const body = JSON.stringify({
      action: 'opened',
      issue: { number: 7, title: 'Hi', state: 'open', labels: [], user: { login: 'ada' } },
      repository: { name: 'app', full_name: 'acme/app', owner: { login: 'acme' } },
    });
    const post = async (signature: string) =>
      fetch(`${base}/webhooks/github`, {
        method: 'POST',
        body,
        headers: {
          'content-type': 'application/json',
          'x-github-event': 'issues',
          'x-github-delivery': crypto.randomUUID(),
          'x-hub-signature-256': signature,
        },
      });
    const accepted = await post(await new Webhooks({ secret: GITHUB_SECRET }).sign(body));
    expect(accepted.status).toBe(202);
    expect(events.map((e) => e.kind)).toEqual(['issue_changed']);
    // A bad signature is still refused, by the webhook's own check.
    const forged = await post(await new Webhooks({ secret: 'other' }).sign(body));
    expect(forged.status).toBe(401);
    expect(((await forged.json()) as { error: { code: string } }).error.code).toBe('bad_signature');
    expect(events).toHaveLength(1);
  });

  it('on loopback without a token everything works as before', async () => {
    for (const host of ['127.0.0.1', 'localhost']) {
      const { base } = await start(host);
      expect((await get(`${base}/api/v1/state`)).status, host).toBe(200);
    }
  });

  it('tells loopback from the rest, and compares bearer tokens exactly', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1'])
      expect(isLoopbackHost(h), h).toBe(true);
    for (const h of ['0.0.0.0', '::', '10.0.0.1', '::ffff:10.0.0.1', 'example.com', '128.0.0.1', ''])
      expect(isLoopbackHost(h), h).toBe(false);
    expect(bearerMatches(`Bearer ${TOKEN}`, TOKEN)).toBe(true);
    for (const h of [undefined, '', 'Bearer', `Bearer ${TOKEN} x`, `Token ${TOKEN}`, `Bearer ${TOKEN.toUpperCase()}`])
      expect(bearerMatches(h, TOKEN), String(h)).toBe(false);
  });
});

describe('server.token in the policy', () => {
  it('takes $VAR, is a policy secret (so the redactor knows it), and an unset $VAR means no token', () => {
    const text = '---\ntracker:\n  kind: local\nserver:\n  host: 0.0.0.0\n  token: $FOREMAN_API_TOKEN\n---\nx\n';
    const set = parsePolicyText(text, { file: '/tmp/W.md', env: { FOREMAN_API_TOKEN: TOKEN, HOME: '/tmp' } });
    expect(set.policy.server.token).toBe(TOKEN);
    expect(policySecrets(set.policy)).toContain(TOKEN);
    const unset = parsePolicyText(text, { file: '/tmp/W.md', env: { HOME: '/tmp' } });
    expect(unset.policy.server.token).toBeUndefined();
  });
});

describe('foreman start', () => {
  it('exits 2 with server_token_missing when the policy binds 0.0.0.0 without a token', async () => {
    const tmp = await tempDir();
    cleanups.push(tmp.cleanup);
    const policy = await writePolicy(tmp.dir, {
      issuesDir: path.join(tmp.dir, 'issues'),
      workspaceRoot: path.join(tmp.dir, 'workspaces'),
      repo: path.join(tmp.dir, 'origin'),
      modelUrl: 'http://127.0.0.1:9',
      extra: 'server:\n  port: 0\n  host: 0.0.0.0\n  token: $FOREMAN_TEST_UNSET_API_TOKEN\n',
    });
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      FOREMAN_HOME: path.join(tmp.dir, 'home'),
      FOREMAN_LOG_LEVEL: 'warn',
    };
    delete env.FOREMAN_TEST_UNSET_API_TOKEN;
    const r = await runForeman(['start', policy], env, 60_000);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/server_token_missing|server\.token/);
  });
});
