/**
 * The model gateway seen from inside the sandbox (src/sandbox/spawn.ts): a long-lived process in
 * bubblewrap with an empty network namespace reaches the gateway only through the forwarder on
 * its own loopback, talks over stdin/stdout pipes, is ended by an abort, and never holds the real
 * key: a key canary in the daemon's environment and in the gateway's upstream never appears in the
 * process's environment, its files or what it sends. Needs bwrap: `scripts/install-test-deps`.
 */
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { priceTable } from '../../src/agents/pricing.js';
import { startGateway, type Gateway } from '../../src/gateway/index.js';
import { DEFAULT_SANDBOX, type SandboxPolicy } from '../../src/sandbox/policy.js';
import { gatewayReach, spawnSandboxed, type SandboxedProcess } from '../../src/sandbox/spawn.js';
import { scrubbedEnv } from '../../src/workspace/shell.js';
import { startScriptedModelServer, text, type ScriptedModelServer } from '../support/scripted-model-server.js';

const CANARY = 'canary-sk-ant-4d1f0c9e-do-not-leak';

/**
 * The agent stand-in: reads one JSON line on stdin ({ urls, token }), calls the gateway through
 * the URL it was given and directly at the host URL, scans its environment and files for the
 * canary, and writes one JSON line of findings on stdout; then waits for stdin to close.
 */
const AGENT = String.raw`
const fs = require('node:fs');
const path = require('node:path');
const CANARY = process.argv[2];
let input = '';
process.stdin.on('data', async (c) => {
  input += c;
  if (!input.includes('\n')) return;
  const { url, hostUrl, token } = JSON.parse(input);
  const call = async (base) => {
    try {
      const r = await fetch(base + '/v1/messages', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': token },
        body: JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }),
      });
      return { status: r.status, body: await r.text() };
    } catch (e) { return { error: String(e.cause?.code ?? e.message) }; }
  };
  const hits = [];
  const scan = (dir, depth) => {
    let entries = [];
    try { entries = fs.readdirSync(dir, { withFileTypes: true }); } catch { return; }
    for (const e of entries) {
      const p = path.join(dir, e.name);
      if (e.isDirectory() && depth > 0) scan(p, depth - 1);
      else if (e.isFile()) { try { if (fs.readFileSync(p, 'utf8').includes(CANARY)) hits.push(p); } catch {} }
    }
  };
  for (const d of [process.cwd(), process.env.HOME, '/tmp', '/run']) scan(d, 6);
  const environ = ['/proc/self/environ', '/proc/1/environ'].map((f) => { try { return fs.readFileSync(f, 'utf8'); } catch { return ''; } });
  const viaForwarder = await call(url);
  const direct = await call(hostUrl);
  process.stdout.write(JSON.stringify({
    viaForwarder, direct, hits,
    envLeak: environ.some((e) => e.includes(CANARY)) || JSON.stringify(process.env).includes(CANARY),
    baseUrlEnv: process.env.ANTHROPIC_BASE_URL ?? null,
  }) + '\n');
});
process.stdin.on('end', () => process.exit(0));
`;

let dir: string;
let ws: string;
let gateway: Gateway;
let model: ScriptedModelServer;
const procs: SandboxedProcess[] = [];

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'foreman-gw-sandbox-'));
  ws = path.join(dir, 'ws');
  await rm(ws, { recursive: true, force: true });
  await import('node:fs/promises').then((fs) => fs.mkdir(ws));
  await writeFile(path.join(ws, 'agent.cjs'), AGENT);
  gateway = await startGateway();
  model = await startScriptedModelServer([text('from inside'), text('again')]);
});

afterEach(async () => {
  for (const p of procs.splice(0)) p.kill();
  await model.close();
  await gateway.close();
  await rm(dir, { recursive: true, force: true });
});

async function session(sandbox: SandboxPolicy) {
  return gateway.openSession({
    identifier: 'DEMO-1',
    role: 'implementer',
    runId: 'r',
    budget: { spentTokens: 0, spentUsd: 0, prices: priceTable() },
    transcriptPath: path.join(dir, 'transcript.jsonl'),
    upstream: {
      anthropic: { baseUrl: model.url, apiKey: CANARY },
      openai: { baseUrl: 'http://127.0.0.1:9/v1', apiKey: CANARY },
      maxRetries: 0,
      timeoutMs: 10_000,
    },
    reach: gatewayReach(sandbox),
  });
}

/** Runs the agent stand-in under `sandbox` with the canary in the daemon's environment. */
async function runAgent(sandbox: SandboxPolicy): Promise<Record<string, unknown>> {
  const s = await session(sandbox);
  const env = scrubbedEnv({
    base: { ...process.env, ANTHROPIC_API_KEY: CANARY, OPENAI_API_KEY: CANARY, MY_SERVICE_TOKEN: CANARY },
    extra: { ANTHROPIC_BASE_URL: s.anthropicBaseUrl },
  });
  const proc = await spawnSandboxed({
    workspace: ws,
    env,
    sandbox,
    argv: [process.execPath, 'agent.cjs', CANARY],
    pidDir: path.join(dir, 'pids'),
    gateway: s.endpoint,
  });
  procs.push(proc);
  let out = '';
  let err = '';
  proc.child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const line = new Promise<string>((resolve, reject) => {
    proc.child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('\n')) resolve(out.split('\n')[0]!);
    });
    void proc.exited.then(() => reject(new Error(`exited early: ${err}`)));
  });
  proc.child.stdin.write(
    JSON.stringify({ url: s.anthropicBaseUrl, hostUrl: `${gateway.endpoint.hostUrl}/anthropic`, token: s.token }) +
      '\n',
  );
  const result = JSON.parse(await line) as Record<string, unknown>;
  proc.child.stdin.end();
  expect(await proc.exited).toEqual({ code: 0, signal: null });
  await s.close();
  return { ...result, metered: s.metered(), pids: await readdir(path.join(dir, 'pids')).catch(() => []) };
}

describe('the gateway from inside the sandbox', () => {
  it('network none: reached through the forwarder only; the key canary is nowhere inside; upstream gets the key', async () => {
    const r = await runAgent(DEFAULT_SANDBOX);
    expect(r.baseUrlEnv).toBe('http://127.0.0.1:4180/anthropic');
    expect(r.viaForwarder).toMatchObject({ status: 200 });
    expect((r.viaForwarder as { body: string }).body).toContain('from inside');
    expect(r.direct).toMatchObject({ error: expect.any(String) }); // the host's loopback is not the sandbox's
    expect(r.envLeak).toBe(false);
    expect(r.hits).toEqual([]);
    expect((r.viaForwarder as { body: string }).body).not.toContain(CANARY);
    expect(model.requests).toHaveLength(1);
    expect(model.requests[0]!.headers.authorization).toBe(`Bearer ${CANARY}`);
    expect(r.metered).toMatchObject({ calls: 1 });
    expect(r.pids).toEqual([]); // the group record is removed when the process ends
  });

  it('network allowlist: the gateway is reached through the forwarder beside the egress proxy', async () => {
    const r = await runAgent({ ...DEFAULT_SANDBOX, network: 'allowlist', allowHosts: ['example.com'] });
    expect(r.viaForwarder).toMatchObject({ status: 200 });
    expect(r.envLeak).toBe(false);
    expect(r.hits).toEqual([]);
  });

  it("network host: the host's loopback URL, no forwarder", async () => {
    const r = await runAgent({ ...DEFAULT_SANDBOX, network: 'host' });
    expect(r.baseUrlEnv).toBe(`${gateway.endpoint.hostUrl}/anthropic`);
    expect(r.viaForwarder).toMatchObject({ status: 200 });
    expect(r.envLeak).toBe(false);
  });

  it('an abort ends the whole process group and removes its record', async () => {
    const ctrl = new AbortController();
    const pidDir = path.join(dir, 'pids');
    const proc = await spawnSandboxed({
      workspace: ws,
      env: scrubbedEnv(),
      sandbox: DEFAULT_SANDBOX,
      argv: ['bash', '-c', 'sleep 300 & sleep 300'],
      pidDir,
      signal: ctrl.signal,
    });
    procs.push(proc);
    expect(await readdir(pidDir)).toHaveLength(1);
    ctrl.abort();
    const end = await proc.exited;
    expect(end.code === null || end.code !== 0).toBe(true);
    expect(await readdir(pidDir)).toEqual([]);
  });
});
