/**
 * Activities: thin, typed entry points that do the workflows' I/O by calling into src/. One file
 * per group, each built over the shared context (./context.ts); the workflows proxy each group with
 * its own timeouts and heartbeat rules, typed by that group only (workflows/issue/activities.ts).
 * Foreman's errors become Temporal failures in one interceptor (./interceptor.ts).
 */
import { createAgentActivities } from './agents.js';
import { createActivityContext, type ActivityDeps } from './context.js';
import { createDispatchActivities } from './dispatch.js';
import { createMetricsActivities } from './metrics.js';
import { createQaActivities } from './qa.js';
import { createRunActivities } from './run.js';
import { createScheduleActivities } from './schedules.js';
import { createScmActivities } from './scm.js';
import { createTrackerActivities } from './tracker.js';
import { createWorkspaceActivities } from './workspace.js';

export type { ActivityDeps } from './context.js';
export type { AgentActivities } from './agents.js';
export type { DispatchActivities } from './dispatch.js';
export type { MetricsActivities } from './metrics.js';
export type { QaActivities } from './qa.js';
export type { RunActivities } from './run.js';
export type { ScheduleActivities } from './schedules.js';
export type { ScmActivities } from './scm.js';
export type { TrackerActivities } from './tracker.js';
export type { WorkspaceActivities } from './workspace.js';

/** Every activity the worker registers, built over `deps`. */
export function createActivities(deps: ActivityDeps) {
  const ctx = createActivityContext(deps);
  return {
    ...createRunActivities(ctx),
    ...createWorkspaceActivities(ctx),
    ...createAgentActivities(ctx),
    ...createQaActivities(ctx),
    ...createTrackerActivities(ctx),
    ...createScmActivities(ctx),
    ...createDispatchActivities(ctx),
    ...createScheduleActivities(ctx),
    ...createMetricsActivities(ctx),
  };
}

/** All activities (the worker's registration). */
export type Activities = ReturnType<typeof createActivities>;
