/**
 * The run's ledger record (src/metrics/record.ts): what the Level-5 metrics read about this run,
 * written by an activity at the run's checkpoints: started, each escalation asked, each hand-over
 * to a pull request, ended (specs/metrics.md, "Source"). Writing it adds activity commands, so it
 * sits behind `patched(LEDGER_PATCH)`: a history from before replays without them
 * (docs/architecture.md, "Changing workflow code").
 */
import { isCancellation, log, patched, workflowInfo } from '@temporalio/workflow';
import type { IssueRunSummary } from '../definitions.js';
import { totalTokens } from '../../src/agents/usage.js';
import type { RunRecord } from '../../src/metrics/record.js';
import { describeFailure } from './failure.js';
import type { Run } from './run.js';

/** The `patched()` id of the ledger checkpoints. */
export const LEDGER_PATCH = 'metrics-ledger';

/** The author of the reply the outage probe sends itself: not a human (specs/metrics.md). */
export const PROBE_AUTHOR = 'Foreman (probe)';

/** The run's record at workflow time `now` (epoch ms), for `checkpoint`; `outcome` once ended. */
export function runRecordOf(
  run: Run,
  o: {
    checkpoint: RunRecord['checkpoint'];
    now: number;
    taskQueue: string;
    outcome: IssueRunSummary['outcome'] | null;
  },
): RunRecord {
  const { state } = run;
  const iso = (t: number) => new Date(t).toISOString();
  return {
    version: 1,
    taskQueue: o.taskQueue,
    workflowId: run.workflowId,
    runId: run.runId,
    identifier: run.input.identifier,
    issueId: run.input.issueId,
    checkpoint: o.checkpoint,
    updatedAt: iso(o.now),
    startedAt: iso(state.startedAt),
    endedAt: o.outcome ? iso(o.now) : null,
    outcome: o.outcome,
    handOvers: (state.handOvers ?? []).map(iso),
    prState: state.prState,
    prClosedAt: state.prClosedAt ? iso(state.prClosedAt) : null,
    escalations: state.escalations.map((e) => ({
      kind: e.kind,
      askedAt: e.askedAt,
      answeredAt: e.answeredAt ?? null,
      human: e.author !== null && e.author !== PROBE_AUTHOR,
    })),
    reworkRounds: state.reworkRounds ?? 0,
    reworkOf: state.rework?.previousRunId ?? null,
    reviewSendBacks: state.reviewRounds.filter((r) => r.verdict === 'request_changes' && r.blocking.length > 0).length,
    toolCalls: state.toolCalls ?? 0,
    turns: state.turns,
    tokens: totalTokens(state.usage),
    costUsd: state.costUsd,
  };
}

/**
 * Writes the run's record (a no-op in histories from before LEDGER_PATCH). Metrics are no reason to
 * hold up or fail a run: a record that cannot be written is logged and skipped (the next checkpoint
 * writes the whole record again). Cancellation passes through.
 */
export async function checkpoint(
  run: Run,
  at: RunRecord['checkpoint'],
  outcome: IssueRunSummary['outcome'] | null = null,
): Promise<void> {
  if (!patched(LEDGER_PATCH)) return;
  const record = runRecordOf(run, { checkpoint: at, now: Date.now(), taskQueue: workflowInfo().taskQueue, outcome });
  try {
    await run.acts.ledger.recordRun(record);
  } catch (err) {
    if (isCancellation(err)) throw err;
    log.warn('the metrics record could not be written', { issue: run.input.identifier, error: describeFailure(err) });
  }
}
