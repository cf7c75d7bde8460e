/**
 * What the fleet benchmark's sections share (bench/fleet.ts runs them): the zero-cost scripted
 * model, a `foreman start` child process, /proc readings, waiting on conditions, and the
 * `FleetContext` a section gets. A new section (e.g. two-worker throughput) is a function of the
 * context that fills its part of the report.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import { promisify } from 'node:util';
import type { DevServer } from '../src/temporal/dev-server.js';
import { FOREMAN_BIN } from '../test/support/cli.js';
import { startScriptedModelServer, type CapturedRequest } from '../test/support/scripted-model-server.js';

/** CPU seconds of a process and its reaped children (git, hooks, QA commands), from /proc/<pid>/stat (Linux). */
export async function cpuSeconds(pid: number): Promise<number> {
  const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime + stime + cutime + cstime: the process and its reaped children (git, hooks, QA commands).
  return (Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) / 100; // USER_HZ is 100 on Linux
}

/** /proc/<pid>/status VmRSS in bytes. */
export async function rssBytes(pid: number): Promise<number> {
  const status = await fs.readFile(`/proc/${pid}/status`, 'utf8');
  const kb = /VmRSS:\s+(\d+)/.exec(status)?.[1];
  return kb ? Number(kb) * 1024 : 0;
}

/** Disk used by `dir` and everything under it, bytes (`du -sk`; 0 when it does not exist). */
export async function diskBytes(dir: string): Promise<number> {
  try {
    const { stdout } = await promisify(execFile)('du', ['-sk', dir], { maxBuffer: 1 << 20 });
    return Number(stdout.split('\t')[0]) * 1024;
  } catch {
    return 0;
  }
}

/** The median (the lower one of an even count), or null for no samples. */
export const median = (xs: number[]): number | null =>
  xs.length ? [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]! : null;

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` every `everyMs` until it is true; throws after `timeoutMs`. */
export async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs: number, everyMs = 250) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`bench: timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** The identifier a request is about (the prompt says `Work on <identifier>:`): `PARK-7`, `hook-3`. */
function identifierOf(req: CapturedRequest): string | null {
  const first = req.body?.messages?.[0];
  const text =
    typeof first?.content === 'string'
      ? first.content
      : ((first?.content ?? []) as { type: string; text?: string }[]).map((b) => b.text ?? '').join('\n');
  return /Work on ([A-Za-z]+-\d+):/.exec(text)?.[1] ?? null;
}

/** The zero-cost model every fleet deployment talks to. */
export interface FleetModel {
  /** Base URL for `model.base_url`. */
  url: string;
  /** Identifier → epoch ms of each of its requests, in order. */
  seen: Map<string, number[]>;
  /** Requests the script could not answer (should stay empty). */
  failures: string[];
  close(): Promise<void>;
}

/**
 * Starts the zero-cost model: `PARK-*` issues escalate on their first call; every issue writes one
 * file, then finishes. One step function answers every request (no script prepared per issue),
 * and the server's log of requests is dropped as it goes, so the bench's memory does not grow with
 * the number of runs (10,000 parked runs are 10,000 full prompts).
 */
export async function startFleetModel(): Promise<FleetModel> {
  const seen = new Map<string, number[]>();
  const server = await startScriptedModelServer((req) => {
    server.requests.length = 0;
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
  });
  return { url: server.url, seen, failures: server.failures, close: () => server.close() };
}

/** A `foreman start` child process. */
export interface ForemanDaemon {
  child: ChildProcess;
  pid: number;
  /** The HTTP server's URL (API, webhooks), or null when started without `--port`. */
  url: string | null;
  /** The last 20,000 characters of its log (JSON lines). */
  log(): string;
  /** SIGTERM, then waits for it to exit. */
  stop(): Promise<void>;
}

/**
 * Starts `foreman start <policyFile> ...args` (bin/foreman.js) with JSON logs, on `--port 0` when
 * `http` is set, and waits (up to 2 minutes) for "Foreman is running".
 * @throws Error when it exits or does not start in time (with the end of its log).
 */
export async function startForeman(
  policyFile: string,
  env: Record<string, string>,
  opts: { http?: boolean; args?: string[] } = {},
): Promise<ForemanDaemon> {
  const args = [FOREMAN_BIN, 'start', policyFile, ...(opts.http ? ['--port', '0'] : []), ...(opts.args ?? [])];
  const child = spawn(process.execPath, args, {
    env: { ...process.env, FOREMAN_LOG_FORMAT: 'json', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  child.stderr!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-20_000)));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  try {
    await waitUntil(
      'the daemon to start',
      async () => {
        if (child.exitCode !== null) throw new Error(`bench: foreman start exited:\n${log.slice(-4000)}`);
        return /Foreman (worker )?is running/.test(log);
      },
      120_000,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  const url = /"url":"(http:\/\/[^"]+)"/.exec(log)?.[1] ?? null;
  return { child, pid: child.pid!, url, log: () => log, stop };
}

/** What a fleet section runs against: one dev server, one model, one origin repository. */
export interface FleetContext {
  /** The run's temp dir (a section makes its own subfolder). */
  dir: string;
  server: DevServer;
  model: FleetModel;
  /** Bare git repository every deployment's workspaces clone. */
  origin: string;
  log: (line: string) => void;
  /** Registers a teardown step, run in reverse order at the end of the fleet run. */
  defer(close: () => unknown): void;
}
