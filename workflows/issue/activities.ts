/**
 * The IssueWorkflow's activity proxies, one per activity group with that group's timeouts and
 * heartbeat rules, each typed by its group only (so an activity cannot sit on the wrong proxy).
 * Retries follow the run's settings (Symphony SPEC §8.4 backoff by default).
 */
import { ActivityCancellationType, proxyActivities, type ActivityOptions } from '@temporalio/workflow';
import type {
  AgentActivities,
  MetricsActivities,
  QaActivities,
  RunActivities,
  ScmActivities,
  TrackerActivities,
  WorkspaceActivities,
} from '../../activities/index.js';
import type { RunSettings } from '../../src/config/run-settings.js';

/** Reads the issue and the settings before the run's own retry policy is known. */
export const boot = proxyActivities<RunActivities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 10 },
});

/** The proxies of one run. */
export interface IssueActivities {
  /** Tracker writes (short calls). */
  tracker: TrackerActivities;
  /** Git steps (clone, diff, push): they heartbeat, so a dead worker is noticed in 30 s. */
  workspace: WorkspaceActivities;
  /** Pull requests and CI on GitHub: they heartbeat; a call may wait out a rate limit. */
  scm: ScmActivities;
  /** Agent steps, bounded by the run's wall budget. */
  agents: AgentActivities;
  /** QA commands, bounded by `qa.timeout_ms` per command. */
  qa: QaActivities;
  /** The outage probe: one attempt, never retried (the waiting escalation probes again with backoff). */
  probe: Pick<RunActivities, 'probeService'>;
  /** Escalation I/O (post, move, record the decision): retried without limit, asking a human must get through. */
  notify: TrackerActivities & Pick<WorkspaceActivities, 'recordDecision'>;
  /** The run ledger (specs/metrics.md): a few quick attempts; a record that cannot be written is skipped. */
  ledger: MetricsActivities;
}

/** Builds the run's proxies from its settings. */
export function issueActivities(s: RunSettings): IssueActivities {
  const retry: ActivityOptions['retry'] = {
    initialInterval: s.retry.initialIntervalMs,
    backoffCoefficient: 2,
    maximumInterval: s.retry.maximumIntervalMs,
    maximumAttempts: s.retry.maximumAttempts,
  };
  const unbounded: ActivityOptions = {
    startToCloseTimeout: '1 minute',
    retry: {
      initialInterval: s.retry.initialIntervalMs,
      backoffCoefficient: 2,
      maximumInterval: s.retry.maximumIntervalMs,
    },
  };
  const heartbeatTimeout = '30 seconds';
  // A stop waits until these have really stopped (their processes killed) before the run goes on
  // to remove the workspace: otherwise an agent still running writes into a removed workspace.
  const cancellationType = ActivityCancellationType.WAIT_CANCELLATION_COMPLETED;
  const working = { heartbeatTimeout, retry, cancellationType };
  return {
    tracker: proxyActivities<TrackerActivities>({ startToCloseTimeout: '1 minute', retry }),
    workspace: proxyActivities<WorkspaceActivities>({ startToCloseTimeout: '10 minutes', ...working }),
    scm: proxyActivities<ScmActivities>({ startToCloseTimeout: '5 minutes', heartbeatTimeout, retry }),
    agents: proxyActivities<AgentActivities>({ startToCloseTimeout: s.agentTimeoutMs, ...working }),
    qa: proxyActivities<QaActivities>({ startToCloseTimeout: s.qaTimeoutMs, ...working }),
    probe: proxyActivities<Pick<RunActivities, 'probeService'>>({
      startToCloseTimeout: '1 minute',
      retry: { maximumAttempts: 1 },
    }),
    notify: proxyActivities<TrackerActivities & Pick<WorkspaceActivities, 'recordDecision'>>(unbounded),
    ledger: proxyActivities<MetricsActivities>({ startToCloseTimeout: '30 seconds', retry: { maximumAttempts: 3 } }),
  };
}
