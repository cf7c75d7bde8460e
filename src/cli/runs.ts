/**
 * The run commands of the CLI (docs/architecture.md, "CLI contract"): `ls` (the runs of a
 * deployment), `cancel` (the tracker's stop path), `retry` (a failed step's retry answer, or a new
 * run of an ended issue) and `logs` (the run's transcripts, readable, optionally followed). Each
 * reads Temporal (the only scheduler state) and FOREMAN_HOME; none keeps state of its own.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Client, WorkflowExecutionInfo } from '@temporalio/client';
import type { Command } from 'commander';
import { deploymentQuery, type Deployment } from '../deployment.js';
import { findIssueRun, startIssueRun } from '../dispatch/runs.js';
import { CliError } from '../errors.js';
import { normalizeOptions } from '../escalation/answer.js';
import { totalTokens } from '../agents/usage.js';
import { foremanHome, transcriptPath } from '../home.js';
import { workspaceKey } from '../workspace/key.js';
import { alignColumns, formatAge } from '../status.js';
import { closedRecord, runSummary, type ClosedIssueRun } from '../status/records.js';
import { queryStatus, reportOfMemo, reportOfStatus, type RunReport } from '../status/running.js';
import { ISSUE_WORKFLOW_TYPE, stopSignal, type IssueRunSummary } from '../../workflows/definitions.js';
import { formatTranscriptEntry, inert, parseTranscriptLine, type TurnCounter } from './transcript-format.js';

/** What the run commands need from the CLI shell (src/cli/main.ts). */
export interface RunCommandDeps {
  env: NodeJS.ProcessEnv;
  /** Writes to stdout through the redactor. */
  out(text: string): void;
  /** Connects to the daemon's Temporal server; throws CliError `temporal_not_found`. */
  withClient<T>(fn: (client: Client) => Promise<T>): Promise<T>;
  /** The deployment of `--policy` (default ./WORKFLOW.md; null: none there, every deployment). */
  deployment(policyFile: string | undefined): Promise<Deployment | null>;
  /** The workflow id of the issue's run (a running one when `deployment` is null). */
  runOf(client: Client, deployment: Deployment | null, identifier: string): Promise<string>;
  /** Delivers `text` as an answer through the `foreman answer` path; returns a line for the person. */
  answer(client: Client, deployment: Deployment | null, identifier: string, text: string): Promise<string>;
}

/** One row of `foreman ls` (`--json` prints these). */
export interface RunRow {
  issue_identifier: string;
  workflow_id: string;
  run_id: string;
  /** Temporal's execution status, lower case: `running`, `completed`, `terminated`… */
  status: string;
  /** The run's phase (`waiting_for_human`…) when running and a worker answered; else the outcome or status. */
  phase: string;
  started_at: string | null;
  closed_at: string | null;
  /** Since the start (running) or the end (closed), in milliseconds. */
  age_ms: number;
  turns: number | null;
  total_tokens: number | null;
  cost_usd: number | null;
  /** The open question, when waiting for a human. */
  question: string | null;
}

/** Registers `ls`, `cancel`, `retry` and `logs` on `program`. */
export function addRunCommands(program: Command, deps: RunCommandDeps): void {
  const policyHelp = "this policy's deployment (default: ./WORKFLOW.md if there, else every deployment)";
  program
    .command('ls')
    .description('List runs: identifier, phase, age, turns/tokens, cost (running first, then recently ended).')
    .option('--policy <file>', policyHelp)
    .option('--all', 'the runs of every deployment on the namespace')
    .option('--json', 'print the rows as JSON')
    .option('--limit <n>', 'ended runs to show (default 20)', (v) => positiveInt(v, '--limit'))
    .action(async (flags: { policy?: string; all?: boolean; json?: boolean; limit?: number }) => {
      const deployment = flags.all ? null : await deps.deployment(flags.policy);
      const rows = await deps.withClient((c) => listRuns(c, deployment, flags.limit ?? 20));
      deps.out(flags.json ? `${JSON.stringify(rows, null, 2)}\n` : `${formatRuns(rows)}\n`);
    });

  program
    .command('cancel')
    .description("Stop the issue's run (the tracker's stop path; the workspace is kept).")
    .argument('<issue>', 'issue identifier, e.g. DEMO-1')
    .option('--policy <file>', policyHelp)
    .option('--wait <seconds>', 'how long to wait for the run to end (default 30; 0: do not wait)', (v) =>
      nonNegativeInt(v, '--wait'),
    )
    .action(async (identifier: string, flags: { policy?: string; wait?: number }) => {
      const deployment = await deps.deployment(flags.policy);
      const line = await deps.withClient((c) =>
        cancelRun(c, deps.runOf, deployment, identifier, (flags.wait ?? 30) * 1000),
      );
      deps.out(`${line}\n`);
    });

  program
    .command('retry')
    .description('Retry a failed step the run waits on (answers `/foreman retry`), or start an ended run again.')
    .argument('<issue>', 'issue identifier, e.g. DEMO-1')
    .option('--policy <file>', policyHelp)
    .action(async (identifier: string, flags: { policy?: string }) => {
      const deployment = await deps.deployment(flags.policy);
      deps.out(`${await deps.withClient((c) => retryRun(c, deps, deployment, identifier))}\n`);
    });

  program
    .command('logs')
    .description("Print the run's agent transcripts readably (role, turn, text, tool calls and results).")
    .argument('<issue>', 'issue identifier, e.g. DEMO-1')
    .option('--policy <file>', policyHelp)
    .option('-f, --follow', 'keep printing new lines until the run ends (or Ctrl-C)')
    .action(async (identifier: string, flags: { policy?: string; follow?: boolean }) => {
      const deployment = await deps.deployment(flags.policy);
      await deps.withClient((c) => printLogs(c, deps, deployment, identifier, flags.follow === true));
    });
}

/**
 * Rows for `ls`: every running IssueWorkflow of `deployment` (null: all) from what it published
 * (a status query only for a run that published nothing), then the latest `limit` ended.
 */
export async function listRuns(client: Client, deployment: Deployment | null, limit: number): Promise<RunRow[]> {
  const base = `WorkflowType = '${ISSUE_WORKFLOW_TYPE}'` + (deployment ? ` AND ${deploymentQuery(deployment)}` : '');
  const running: WorkflowExecutionInfo[] = [];
  for await (const wf of client.workflow.list({ query: `${base} AND ExecutionStatus = 'Running'` })) running.push(wf);
  const closed: WorkflowExecutionInfo[] = [];
  if (limit > 0)
    for await (const wf of client.workflow.list({ query: `${base} AND ExecutionStatus != 'Running'` })) {
      closed.push(wf);
      if (closed.length >= limit) break;
    }
  const now = Date.now();
  return Promise.all([
    ...running.map(async (wf) => {
      const published = reportOfMemo(wf.memo);
      const status = published ? null : await queryStatus(client, wf.workflowId, wf.runId);
      return runningRow(wf, published ?? (status && reportOfStatus(status)), now);
    }),
    ...closed.map(async (wf) => closedRow(wf, await closedRecord(wf, () => runSummary(client, wf)), now)),
  ]);
}

function identifierOf(wf: Pick<WorkflowExecutionInfo, 'memo' | 'workflowId'>): string {
  return typeof wf.memo?.identifier === 'string' ? wf.memo.identifier : wf.workflowId;
}

function runningRow(wf: WorkflowExecutionInfo, s: RunReport | null, now: number): RunRow {
  const started = s?.startedAt ?? wf.startTime.toISOString();
  return {
    issue_identifier: identifierOf(wf),
    workflow_id: wf.workflowId,
    run_id: wf.runId,
    status: 'running',
    phase: s ? (s.retrying ? `${s.phase} (retrying ${s.retrying.step})` : s.phase) : 'unknown (no worker answered)',
    started_at: started,
    closed_at: null,
    age_ms: now - Date.parse(started),
    turns: s?.turns ?? null,
    total_tokens: s ? totalTokens(s.tokens) : null,
    cost_usd: s?.costUsd ?? null,
    question: s?.escalation?.question ?? null,
  };
}

function closedRow(wf: WorkflowExecutionInfo, rec: ClosedIssueRun, now: number): RunRow {
  const closedAt = wf.closeTime ?? wf.startTime;
  return {
    issue_identifier: identifierOf(wf),
    workflow_id: wf.workflowId,
    run_id: wf.runId,
    status: wf.status.name.toLowerCase(),
    // What the run did last (`handed_over`, `merged`, `stopped`), not Temporal's `completed`.
    phase: rec.phase === 'unknown' ? (rec.outcome ?? wf.status.name.toLowerCase()) : rec.phase,
    started_at: wf.startTime.toISOString(),
    closed_at: wf.closeTime?.toISOString() ?? null,
    age_ms: now - closedAt.getTime(),
    turns: rec.turns,
    total_tokens: rec.tokens?.total_tokens ?? null,
    cost_usd: rec.cost_usd,
    question: null,
  };
}

/** Renders `ls` rows as a table. */
export function formatRuns(rows: RunRow[]): string {
  if (rows.length === 0) return 'no runs';
  const table = [['ISSUE', 'STATUS', 'PHASE', 'AGE', 'TURNS', 'TOKENS', 'COST']];
  for (const r of rows)
    table.push([
      inert(r.issue_identifier),
      r.status,
      r.phase,
      `${r.status === 'running' ? '' : 'ended '}${formatAge(r.age_ms)}${r.status === 'running' ? '' : ' ago'}`,
      r.turns === null ? '-' : String(r.turns),
      r.total_tokens === null ? '-' : String(r.total_tokens),
      r.cost_usd === null ? '-' : `$${r.cost_usd.toFixed(4)}`,
    ]);
  const lines = alignColumns(table);
  for (const r of rows.filter((x) => x.question))
    lines.push(`  ${inert(r.issue_identifier)} asks: ${inert(r.question!)}`);
  return lines.join('\n');
}

/**
 * `foreman cancel`: signals `stop` (cleanup false: the workspace is kept) to the issue's running
 * workflow, the path the tracker takes when an issue leaves the active states, then waits up to
 * `waitMs` for the run to end. Returns what happened, for the person.
 * @throws CliError `issue_not_running` (nothing runs), `usage` (several deployments run it).
 */
export async function cancelRun(
  client: Client,
  runOf: RunCommandDeps['runOf'],
  deployment: Deployment | null,
  identifier: string,
  waitMs: number,
): Promise<string> {
  const workflowId = await runOf(client, deployment, identifier);
  const handle = client.workflow.getHandle(workflowId);
  const d = await handle.describe();
  if (d.status.name !== 'RUNNING')
    throw new CliError(
      'issue_not_running',
      `${identifier} has no running Foreman workflow (last run ${d.status.name}).`,
    );
  const before = await queryStatus(client, workflowId);
  const by = os.userInfo().username;
  await handle.signal(stopSignal, { reason: `cancelled by ${by} with \`foreman cancel\`.`, cleanup: false });
  const kept = before?.workspace ? `; the workspace is kept at ${before.workspace}` : '; the workspace is kept';
  if (waitMs <= 0) return `stop sent to ${workflowId}${kept}.`;
  const ended = await Promise.race([
    handle.result().then(
      (r) => (r as IssueRunSummary | null)?.outcome ?? 'ended',
      () => 'ended with a failure',
    ),
    new Promise<null>((resolve) => setTimeout(() => resolve(null), waitMs).unref()),
  ]);
  if (ended === null)
    return `stop sent to ${workflowId}${kept}; it had not ended after ${waitMs / 1000} s (it stops when a worker takes the signal).`;
  return `cancelled ${identifier} (${workflowId}): outcome ${ended}${kept}.`;
}

/**
 * `foreman retry` (docs/architecture.md, "CLI contract"):
 * - running and waiting on a question that offers Retry (a failed step): answers `/foreman retry`
 *   through the `foreman answer` path;
 * - running and riding out an outage: nothing to send (it retries by itself); says when;
 * - ended (any status): starts the issue's workflow again in the deployment, as `foreman run
 *   --again` would, without waiting (a running daemon's worker works it).
 * @throws CliError `not_waiting` (running, not on a retryable question), `issue_not_running`
 *   (never ran in the deployment), `usage` (an ended run without a deployment to start it in).
 */
export async function retryRun(
  client: Client,
  deps: Pick<RunCommandDeps, 'runOf' | 'answer'>,
  deployment: Deployment | null,
  identifier: string,
): Promise<string> {
  const found = deployment ? await findIssueRun(client, deployment, identifier) : null;
  const running = deployment ? found?.description.status.name === 'RUNNING' : true;
  if (running) {
    const workflowId = found?.workflowId ?? (await deps.runOf(client, deployment, identifier));
    const s = await queryStatus(client, workflowId);
    if (s?.retrying)
      return (
        `${identifier} is riding out an outage in "${s.retrying.step}" (${s.retrying.error}); it retries by itself ` +
        `(attempt ${s.retrying.attempt + 1} at ${s.retrying.nextAttemptAt}) and asks, ` +
        'with a Retry option, if the outage lasts. Nothing sent.'
      );
    if (s && s.phase === 'waiting_for_human' && s.escalation) {
      const offers = normalizeOptions(s.escalation.options).some((o) => o.command === 'retry');
      if (!offers)
        throw new CliError(
          'not_waiting',
          `${identifier} waits on a question with no Retry option: ${s.escalation.question} — answer it with \`foreman answer\`.`,
        );
    } else if (s) {
      throw new CliError('not_waiting', `${identifier} is not waiting on a failed step (phase: ${s.phase}).`);
    }
    return `retried ${identifier}: ${await deps.answer(client, deployment, identifier, '/foreman retry')}`;
  }
  if (!found)
    throw new CliError('issue_not_running', `${identifier} never ran in this deployment: use \`foreman run\`.`);
  if (!deployment) throw new CliError('usage', 'Name the policy (--policy FILE) to start a run again.');
  const memo = found.description.memo ?? {};
  const issueId = typeof memo.issueId === 'string' ? memo.issueId : identifier;
  const workflowId = await startIssueRun(client, deployment, { id: issueId, identifier }, 'cli-retry');
  return (
    `started ${identifier} again (${workflowId}; the last run was ${found.description.status.name.toLowerCase()}). ` +
    `A running \`foreman start\` works it; \`foreman logs ${identifier} --follow\` shows it.`
  );
}

/**
 * `foreman logs`: prints the transcripts of the issue's latest run in the deployment
 * (`<FOREMAN_HOME>/transcripts/<workspace key>/<run id>/*.jsonl`), entries in time order; with
 * `follow`, keeps reading new lines every 500 ms until the run has ended and nothing new came.
 * @throws CliError `issue_not_running` (no run found).
 */
export async function printLogs(
  client: Client,
  deps: Pick<RunCommandDeps, 'env' | 'out' | 'runOf'>,
  deployment: Deployment | null,
  identifier: string,
  follow: boolean,
): Promise<void> {
  const workflowId = deployment
    ? (await findIssueRun(client, deployment, identifier))?.workflowId
    : await deps.runOf(client, deployment, identifier);
  if (!workflowId) throw new CliError('issue_not_running', `${identifier} never ran in this deployment.`);
  const handle = client.workflow.getHandle(workflowId);
  const d = await handle.describe();
  const dir = path.dirname(transcriptPath(foremanHome(deps.env), workspaceKey(identifier), d.runId, 'x'));
  const reader = new TranscriptDirReader(dir);
  const first = await reader.read();
  if (first.length === 0 && !follow) {
    deps.out(`no transcripts yet for ${identifier} (run ${d.runId}, ${d.status.name.toLowerCase()})\n`);
    return;
  }
  if (first.length) deps.out(`${first.join('\n')}\n`);
  if (!follow) return;
  let endedAt: number | null = d.status.name === 'RUNNING' ? null : Date.now();
  for (;;) {
    await new Promise((r) => setTimeout(r, 500));
    const lines = await reader.read();
    if (lines.length) deps.out(`${lines.join('\n')}\n`);
    if (endedAt === null) {
      const now = await handle.describe().catch(() => null);
      if (now && now.status.name !== 'RUNNING') endedAt = Date.now();
    } else if (lines.length === 0 && Date.now() - endedAt > 1000) {
      deps.out(`── ${identifier}: the run has ended\n`);
      return;
    }
  }
}

/**
 * Reads the transcripts of one run directory incrementally: new complete lines since the last read
 * (`foreman logs` and the dashboard's issue page).
 */
export class TranscriptDirReader {
  private readonly offsets = new Map<string, number>();
  private readonly turns: TurnCounter = new Map();
  constructor(private readonly dir: string) {}

  /** Rendered lines of the entries appended since the last call, all roles merged in time order. */
  async read(): Promise<string[]> {
    let files: string[];
    try {
      files = (await fs.readdir(this.dir)).filter((f) => f.endsWith('.jsonl')).sort();
    } catch {
      return [];
    }
    const entries: {
      at: string;
      role: string;
      seq: number;
      entry: NonNullable<ReturnType<typeof parseTranscriptLine>>;
    }[] = [];
    let seq = 0;
    for (const f of files) {
      const file = path.join(this.dir, f);
      const from = this.offsets.get(file) ?? 0;
      const buf = await fs.readFile(file).catch(() => null);
      if (!buf || buf.length <= from) continue;
      const chunk = buf.subarray(from);
      const end = chunk.lastIndexOf(0x0a);
      if (end < 0) continue; // only a line being written
      this.offsets.set(file, from + end + 1);
      const role = f.slice(0, -'.jsonl'.length);
      for (const line of chunk.subarray(0, end).toString('utf8').split('\n')) {
        const entry = parseTranscriptLine(line);
        if (entry) entries.push({ at: String(entry.at ?? ''), role, seq: seq++, entry });
      }
    }
    entries.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : a.seq - b.seq));
    return entries.flatMap((e) => formatTranscriptEntry(e.role, e.entry, this.turns));
  }
}

function positiveInt(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new CliError('usage', `${flag} must be a positive integer, got "${v}"`);
  return n;
}

function nonNegativeInt(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new CliError('usage', `${flag} must be an integer ≥ 0, got "${v}"`);
  return n;
}
