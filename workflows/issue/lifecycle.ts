/**
 * Lifecycle log lines: one per event of a run (dispatched, workspace ready, each agent step with
 * turns and tokens, QA result, review verdict, escalation asked/answered, pushed, PR opened, handed
 * over, done/stopped), each with `issue_id` and `issue_identifier` (Symphony SPEC §13.1). Sent
 * through the `lifecycle` sink, which the worker writes to its logger (src/temporal/worker.ts); a
 * sink call is no command and is not made during replay, so histories replay unchanged.
 */
import { proxySinks, type Sinks } from '@temporalio/workflow';
import { conversationOf, type Run } from './run.js';

/** One lifecycle line's fields: `event` names it; the rest are the event's own. */
export interface LifecycleFields {
  event: string;
  issue_id: string;
  issue_identifier: string;
  [key: string]: string | number | boolean | null;
}

/** The sink the worker implements. */
export interface LifecycleSinks extends Sinks {
  lifecycle: { event(fields: LifecycleFields): void };
}

const { lifecycle } = proxySinks<LifecycleSinks>();

/** Fields whose value is the short detail the status query shows with the latest event, first found wins. */
const DETAIL_FIELDS = ['step', 'verdict', 'question', 'reason', 'url', 'title'] as const;

/**
 * Logs one lifecycle `event` of `run` with `fields`, and keeps it as the run's latest event (the
 * status query's `lastEvent`; state only, no command).
 */
export function logEvent(run: Run, event: string, fields: Record<string, string | number | boolean | null> = {}): void {
  lifecycle.event({ ...fields, event, issue_id: run.issue.id, issue_identifier: run.input.identifier });
  const detail = DETAIL_FIELDS.map((k) => fields[k]).find((v) => typeof v === 'string');
  run.state.lastEvent = {
    event,
    at: new Date(Date.now()).toISOString(),
    message: typeof detail === 'string' ? detail.slice(0, 200) : null,
  };
}

/** The tracker state a successful step moved the issue to, by step name; steps not named moved nothing. */
function movedTo(run: Run, name: string): string | null {
  if (name === 'move the issue to review') return run.settings.reviewState;
  if (name === 'move the issue to done') return run.settings.doneState;
  return null;
}

/** The lifecycle event a step's success is, by step name (./step.ts); steps not named log `step done`. */
const STEP_EVENTS: Readonly<Record<string, string>> = {
  'prepare the workspace': 'workspace ready',
  'run the implementer': 'agent step',
  'run the QA agent': 'agent step',
  'run QA': 'QA result',
  'run the reviewer': 'review verdict',
  'commit and push': 'pushed',
  'push to a new branch': 'pushed',
  'open the pull request': 'PR opened',
  'move the issue to review': 'handed over',
};

/** The agent role of an agent step, by step name (./step.ts). */
const STEP_ROLES: Readonly<Record<string, string>> = {
  'run the implementer': 'implementer',
  'run the QA agent': 'qa',
  'run the reviewer': 'reviewer',
};

/**
 * Logs a step's success as its lifecycle event, with what its result says (turns, tokens, verdict,
 * passed); an agent step also names its session (`<run id>/<role>`, its transcript; Symphony SPEC §13.1).
 */
export function logStep(run: Run, name: string, result: unknown): void {
  const fields: Record<string, string | number | boolean | null> = { step: name };
  const role = STEP_ROLES[name];
  if (role) fields.session_id = `${conversationOf(run)}/${role}`;
  const r = (typeof result === 'object' && result !== null ? result : {}) as Record<string, unknown>;
  if (typeof r.turns === 'number') fields.turns = r.turns;
  const usage = r.usage as Record<string, unknown> | undefined;
  if (usage && typeof usage === 'object') {
    const n = (k: string) => (typeof usage[k] === 'number' ? (usage[k] as number) : 0);
    fields.input_tokens = n('input_tokens');
    fields.output_tokens = n('output_tokens');
    fields.tokens =
      n('input_tokens') + n('output_tokens') + n('cache_creation_input_tokens') + n('cache_read_input_tokens');
  }
  for (const key of ['outcome', 'verdict', 'passed', 'url', 'number'] as const) {
    const v = r[key];
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') fields[key] = v;
  }
  run.state.trackerState = movedTo(run, name) ?? run.state.trackerState ?? null;
  logEvent(run, STEP_EVENTS[name] ?? 'step done', fields);
}
