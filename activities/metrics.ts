/**
 * Metrics activities: the run ledger's one writer (src/metrics/record.ts). The IssueWorkflow calls
 * `recordRun` at its checkpoints (workflows/issue/ledger.ts); specs/metrics.md ("Source").
 */
import { writeRunRecord, type RunRecord } from '../src/metrics/record.js';
import type { ActivityContext } from './context.js';

/** Builds the metrics activities. */
export function createMetricsActivities(ctx: ActivityContext) {
  return {
    /**
     * Writes the run's ledger record under `<FOREMAN_HOME>/metrics/runs/`, replacing its earlier one.
     * @throws ForemanError `metrics_record_invalid` (not retryable) for a run id that cannot name a file.
     */
    async recordRun(record: RunRecord): Promise<void> {
      await writeRunRecord(ctx.deps.home, record);
    },
  };
}

/** The metrics activities (types only on the workflow side). */
export type MetricsActivities = ReturnType<typeof createMetricsActivities>;
