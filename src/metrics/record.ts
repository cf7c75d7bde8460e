/**
 * The run ledger: one JSON record per issue run, written under `<FOREMAN_HOME>/metrics/runs/` by
 * the `recordRun` activity at the run's checkpoints (start, each escalation asked, each hand-over
 * to a pull request, end) and read by the Level-5 metrics (./level5.ts). A durable store Foreman
 * keeps, because Temporal drops closed runs after the namespace's retention (a day on the dev
 * server) and the metrics look back 30 days. specs/metrics.md ("Source"); docs/architecture.md,
 * "Metrics".
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { ForemanError } from '../errors.js';

/** What one run did, as the metrics need it. Times are RFC 3339 (workflow time). */
export interface RunRecord {
  version: 1;
  /** Task queue the run ran on (it names the deployment: src/deployment.ts). */
  taskQueue: string;
  workflowId: string;
  /** The first execution's run id: stable across continue-as-new; the record's key. */
  runId: string;
  identifier: string;
  issueId: string;
  /** The checkpoint that wrote the record last. */
  checkpoint: 'started' | 'escalated' | 'handed_over' | 'ended';
  /** When that checkpoint wrote it. */
  updatedAt: string;
  startedAt: string;
  /** When the run ended; null while it runs (or waits in review). */
  endedAt: string | null;
  /** `completed` or `stopped` once ended; null before. */
  outcome: 'completed' | 'stopped' | null;
  /** Every hand-over (pull request opened or updated, evidence posted, issue moved to review), in order. */
  handOvers: string[];
  prState: 'open' | 'merged' | 'closed' | null;
  /** When the pull request was merged or closed; null before (or without one). */
  prClosedAt: string | null;
  /** Every escalation: asked, answered (null while open), and whether a human answered (not the outage probe). */
  escalations: { kind: string; askedAt: string; answeredAt: string | null; human: boolean }[];
  /** Rework rounds started after a hand-over (changes requested, red CI, the issue sent back). */
  reworkRounds: number;
  /** The run whose hand-over this run reworks (the issue was sent back after that run ended); null otherwise. */
  reworkOf: string | null;
  /** Review rounds whose reviewer verdict sent the work back (`request_changes` with blocking findings). */
  reviewSendBacks: number;
  /** Tool calls the agents made (the implementer's, and other roles' when their steps report them). */
  toolCalls: number;
  /** Model calls over all roles. */
  turns: number;
  /** Tokens over all roles: input + output + cache writes + cache reads. */
  tokens: number;
  /** USD over all roles; null once a model without a price was used. */
  costUsd: number | null;
}

/** The folder holding the records: `<home>/metrics/runs`. */
export function ledgerDir(home: string): string {
  return path.join(home, 'metrics', 'runs');
}

const RUN_ID = /^[A-Za-z0-9-]{1,64}$/;

/**
 * Writes `record` as `<home>/metrics/runs/<runId>.json`, replacing the run's earlier record
 * atomically (temp file + rename): a reader sees the old or the new record, never half of one.
 * @throws ForemanError `metrics_record_invalid` (not retryable) when the run id is not a plain id
 *   (it names the file); what `fs` throws otherwise (retried by the activity).
 */
export async function writeRunRecord(home: string, record: RunRecord): Promise<string> {
  if (!RUN_ID.test(record.runId)) {
    throw new ForemanError('metrics_record_invalid', `Run id ${JSON.stringify(record.runId)} cannot name a record.`, {
      retryable: false,
    });
  }
  const dir = ledgerDir(home);
  await fs.mkdir(dir, { recursive: true });
  const file = path.join(dir, `${record.runId}.json`);
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  await fs.writeFile(tmp, JSON.stringify(record, null, 1) + '\n', { mode: 0o600 });
  await fs.rename(tmp, file);
  return file;
}

/**
 * Reads every record under `<home>/metrics/runs` (none when the folder is missing). A file that is
 * not a well-formed version-1 record is skipped and named in `skipped` (nothing is thrown: one bad
 * file must not hide the rest).
 */
export async function readRunRecords(home: string): Promise<{ records: RunRecord[]; skipped: string[] }> {
  const dir = ledgerDir(home);
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { records: [], skipped: [] };
    throw err;
  }
  const records: RunRecord[] = [];
  const skipped: string[] = [];
  for (const name of names.filter((n) => n.endsWith('.json')).sort()) {
    try {
      const parsed: unknown = JSON.parse(await fs.readFile(path.join(dir, name), 'utf8'));
      if (isRunRecord(parsed)) records.push(parsed);
      else skipped.push(name);
    } catch {
      skipped.push(name);
    }
  }
  return { records, skipped };
}

const isTime = (v: unknown): v is string => typeof v === 'string' && !Number.isNaN(Date.parse(v));
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;

/** True when `v` has the shape of a version-1 {@link RunRecord} (every field the metrics read). */
export function isRunRecord(v: unknown): v is RunRecord {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Record<string, unknown>;
  const strings = ['taskQueue', 'workflowId', 'runId', 'identifier', 'issueId'];
  return (
    r.version === 1 &&
    strings.every((k) => typeof r[k] === 'string') &&
    ['started', 'escalated', 'handed_over', 'ended'].includes(r.checkpoint as string) &&
    isTime(r.updatedAt) &&
    isTime(r.startedAt) &&
    (r.endedAt === null || isTime(r.endedAt)) &&
    (r.outcome === null || r.outcome === 'completed' || r.outcome === 'stopped') &&
    Array.isArray(r.handOvers) &&
    r.handOvers.every(isTime) &&
    (r.prState === null || ['open', 'merged', 'closed'].includes(r.prState as string)) &&
    (r.prClosedAt === null || isTime(r.prClosedAt)) &&
    Array.isArray(r.escalations) &&
    r.escalations.every(
      (e: unknown) =>
        typeof e === 'object' &&
        e !== null &&
        isTime((e as Record<string, unknown>).askedAt) &&
        ((e as Record<string, unknown>).answeredAt === null || isTime((e as Record<string, unknown>).answeredAt)) &&
        typeof (e as Record<string, unknown>).human === 'boolean',
    ) &&
    [r.reworkRounds, r.reviewSendBacks, r.toolCalls, r.turns, r.tokens].every(isCount) &&
    (r.reworkOf === null || typeof r.reworkOf === 'string') &&
    (r.costUsd === null || isCount(r.costUsd))
  );
}
