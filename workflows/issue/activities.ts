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
  /** Preparing the workspace: on the shared task queue, so any worker takes it (and then holds the workspace). */
  prepare: Pick<WorkspaceActivities, 'prepareWorkspace'>;
  /** Git steps on the workspace (diff, commit, push): they heartbeat, so a dead worker is noticed in 30 s. */
  workspace: Omit<WorkspaceActivities, 'prepareWorkspace' | 'recordDecision'>;
  /** Pull requests and CI on GitHub: they heartbeat; a call may wait out a rate limit. */
  scm: ScmActivities;
  /** Agent steps, bounded by the run's wall budget. */
  agents: AgentActivities;
  /** QA commands, bounded by `qa.timeout_ms` per command. */
  qa: QaActivities;
  /** The outage probe: one attempt, never retried (the waiting escalation probes again with backoff). */
  probe: Pick<RunActivities, 'probeService'>;
  /** Escalation I/O (post, move): retried without limit, asking a human must get through. */
  notify: TrackerActivities;
  /** Recording a human's decision in the spec: retried without limit, like the escalation I/O. */
  decision: Pick<WorkspaceActivities, 'recordDecision'>;
  /** The run ledger (specs/metrics.md): a few quick attempts; a record that cannot be written is skipped. */
  ledger: MetricsActivities;
}

/** How long a workspace step waits for its worker when the run's settings predate the key (`temporal.workspace_start_timeout_ms`). */
export const DEFAULT_WORKSPACE_START_TIMEOUT_MS = 120_000;

/**
 * Builds the run's proxies from its settings. `queue`: the workspace task queue of the worker that
 * holds the run's workspace (WorkspaceInfo `queue`); the steps on the workspace (git, agents, QA,
 * decisions) go there with a schedule-to-start timeout, so a step its dead worker cannot take
 * fails (TimeoutFailure SCHEDULE_TO_START) instead of waiting (docs/architecture.md, "Scale").
 * Null or absent (no workspace yet, or a run from before workspace affinity): the shared task queue.
 */
export function issueActivities(s: RunSettings, queue?: string | null): IssueActivities {
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
  const held: ActivityOptions = queue
    ? { taskQueue: queue, scheduleToStartTimeout: s.workspaceStartTimeoutMs ?? DEFAULT_WORKSPACE_START_TIMEOUT_MS }
    : {};
  const git: ActivityOptions = { startToCloseTimeout: '10 minutes', ...working };
  return {
    tracker: proxyActivities<TrackerActivities>({ startToCloseTimeout: '1 minute', retry }),
    prepare: proxyActivities<WorkspaceActivities>(git),
    workspace: proxyActivities<WorkspaceActivities>({ ...git, ...held }),
    scm: proxyActivities<ScmActivities>({ startToCloseTimeout: '5 minutes', heartbeatTimeout, retry }),
    agents: proxyActivities<AgentActivities>({ startToCloseTimeout: s.agentTimeoutMs, ...working, ...held }),
    qa: proxyActivities<QaActivities>({ startToCloseTimeout: s.qaTimeoutMs, ...working, ...held }),
    probe: proxyActivities<Pick<RunActivities, 'probeService'>>({
      startToCloseTimeout: '1 minute',
      retry: { maximumAttempts: 1 },
    }),
    notify: proxyActivities<TrackerActivities>(unbounded),
    decision: proxyActivities<WorkspaceActivities>({ ...unbounded, ...held }),
    ledger: proxyActivities<MetricsActivities>({ startToCloseTimeout: '30 seconds', retry: { maximumAttempts: 3 } }),
  };
}
