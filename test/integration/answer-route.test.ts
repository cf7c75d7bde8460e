/**
 * `POST /api/v1/<identifier>/answer` and `GET /healthz` over real HTTP against the real Temporal dev
 * server (docs/architecture.md, "Dashboard"): a run parks on the implementer's question (scripted
 * model); the route refuses what `foreman answer` refuses (no token, bad JSON, an unknown issue, a
 * pick not on offer, another question's number) without sending anything, takes the operator's
 * pick, and the run resumes to hand-over; then nothing waits (409). `/healthz` needs no token and
 * turns 503 when the worker and its connection are gone.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { HttpServer } from '../../src/server/http.js';
import type { IssueRunSummary } from '../../workflows/definitions.js';
import { closeRunContext, createRunContext, type RunContext } from '../support/run-context.js';
import { ASK_THEN_FIX, startCockpitServer } from '../support/cockpit.js';

const TOKEN = 'answer-route-token-0123456789abcdef';

let ctx: RunContext | null = null;
let server: HttpServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
  const closing = ctx;
  ctx = null;
  await closeRunContext(closing);
});

describe('POST /api/v1/<identifier>/answer', () => {
  it('refuses what foreman answer refuses, takes the pick, and the run resumes to hand-over', async () => {
    ctx = await createRunContext({
      script: ASK_THEN_FIX,
      extraPolicy: 'roles:\n  reviewer:\n    enabled: false\n',
    });
    const handle = await ctx.start();
    await ctx.waitFor('the escalation', async () => (await ctx!.status()).phase === 'waiting_for_human');
    server = await startCockpitServer(ctx, TOKEN);
    const url = `${server.url}/api/v1/${ctx.identifier}/answer`;
    const post = (body: string, auth = `Bearer ${TOKEN}`) =>
      fetch(url, { method: 'POST', body, headers: { authorization: auth, 'content-type': 'application/json' } });
    const code = async (res: Response) => ((await res.json()) as { error: { code: string } }).error.code;

    expect((await post('{"text":"2"}', 'Bearer nope')).status).toBe(401);
    let res = await post('{"text":');
    expect(res.status).toBe(400);
    expect(await code(res)).toBe('bad_request');
    res = await post('{"text":"  "}');
    expect(res.status).toBe(400);
    res = await fetch(`${server.url}/api/v1/NOPE-404/answer`, {
      method: 'POST',
      body: '{"text":"2"}',
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(res.status).toBe(404);
    expect(await code(res)).toBe('issue_not_running');
    res = await post('{"text":"3"}');
    expect(res.status).toBe(422);
    const refused = (await res.json()) as { error: { code: string; message: string } };
    expect(refused.error).toMatchObject({
      code: 'answer_not_on_offer',
      message: expect.stringContaining('no option 3'),
    });
    res = await post('{"text":"2","escalation":2}');
    expect(res.status).toBe(409);
    expect(await code(res)).toBe('escalation_changed');
    // Nothing of that was sent: the run still waits on its first question.
    const still = await ctx.status();
    expect(still.phase).toBe('waiting_for_human');
    expect(ctx.model.requests).toHaveLength(1);

    res = await post('{"text":"2","escalation":1}');
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ answered: true, escalation: 1, option: 2, question: expect.any(String) });

    const summary = (await handle.result()) as IssueRunSummary;
    expect(summary.outcome).toBe('completed');
    expect(summary.escalations).toEqual([
      expect.objectContaining({
        kind: 'agent_question',
        answer: expect.stringContaining('2'),
        author: 'operator',
      }),
    ]);
    expect(JSON.stringify(ctx.model.requests[1]!.body.messages)).toContain('no');
    res = await post('{"text":"2"}');
    expect(res.status).toBe(409);
    expect(await code(res)).toBe('not_waiting');
  });
});

describe('GET /healthz and the public paths', () => {
  it('is 200 without a token while Temporal and the worker are up, 503 once they are gone', async () => {
    ctx = await createRunContext({ script: [], extraPolicy: 'roles:\n  reviewer:\n    enabled: false\n' });
    server = await startCockpitServer(ctx, TOKEN);
    await ctx.waitFor('the worker to run', async () => ctx!.runtime.worker.getState() === 'RUNNING');
    const up = await fetch(`${server.url}/healthz`);
    expect(up.status).toBe(200);
    expect(await up.json()).toMatchObject({ ok: true, temporal: 'up', worker: 'running' });
    // Everything else still needs the token.
    expect((await fetch(`${server.url}/api/v1/state`)).status).toBe(401);
    expect((await fetch(`${server.url}/api/v1/dashboard/stream`)).status).toBe(401);
    expect((await fetch(`${server.url}/api/v1/dashboard/issues/X-1/stream`)).status).toBe(401);
    // The dashboard's shells and assets hold no data: public, with a CSP that forbids inline script.
    const shell = await fetch(`${server.url}/issues/%3Cscript%3Ealert(1)%3C%2Fscript%3E`);
    expect(shell.status).toBe(200);
    expect(shell.headers.get('content-security-policy')).toContain("script-src 'self'");
    const page = await shell.text();
    expect(page).not.toContain('<script>alert(1)');
    expect(page).toContain('&lt;script&gt;alert(1)');
    expect((await fetch(`${server.url}/assets/dashboard.js`)).status).toBe(200);
    expect((await fetch(`${server.url}/assets/..%2Fanswer.ts`)).status).toBe(401);

    // An open dashboard stream does not hold the server's close up.
    const streamed = await fetch(`${server.url}/api/v1/dashboard/stream`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    const first = await streamed.body!.getReader().read();
    expect(new TextDecoder().decode(first.value)).toContain('event: fragments');
    const closed = await Promise.race([
      server.close().then(() => true),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 3000)),
    ]);
    expect(closed, 'the server closed with a dashboard stream open').toBe(true);
    server = await startCockpitServer(ctx, TOKEN);

    // The context's client goes with the worker, so close it here rather than in afterEach.
    const gone = ctx;
    ctx = null;
    await gone.runtime.shutdown();
    const down = await fetch(`${server.url}/healthz`);
    expect(down.status).toBe(503);
    expect(await down.json()).toMatchObject({ ok: false, temporal: 'down' });
    await gone.close();
  });
});
