/**
 * Live progress of one agent step (docs/architecture.md, "Status and the API"): the agent activity keeps
 * a {@link StepProgress} up to date from its backend's progress callback and sends it as its
 * heartbeat details; `foreman status` and the HTTP API read it back from Temporal
 * (`describe()` → `pendingActivities[].heartbeatDetails`, src/status/live.ts) while the step runs.
 * Owns the shape and its validation; sends nothing itself.
 */
import { emptyUsage, type AgentRole, type TokenUsage } from './usage.js';

/** What an agent step has done so far, as its heartbeat details carry it. Times are RFC 3339. */
export interface StepProgress {
  /** Marks the shape, so other heartbeat details are never read as progress. */
  kind: 'agent_step';
  role: AgentRole;
  /** The role's transcript in the run: `<workflow run id>/<role>` (the file `<role>.jsonl` of that run). */
  session_id: string;
  /** Model calls (turns) of this step so far. */
  turns: number;
  /** Tokens of this step so far. */
  usage: TokenUsage;
  /** Name of the latest tool the agent called in this step; null before any. */
  last_tool: string | null;
  /** `step_started`, or `turn_completed` after each model call. */
  last_event: 'step_started' | 'turn_completed';
  last_event_at: string;
  /** When this attempt of the step started. */
  started_at: string;
}

/** What a backend reports on progress (src/agents/backends/types.ts `BackendRunInput.onProgress`). */
export interface ProgressReport {
  /** Turns of the step so far. */
  turns: number;
  /** Tokens of the step so far. */
  usage: TokenUsage;
  /** The tool called last (null: none this turn; the tracker keeps the earlier one). */
  lastTool: string | null;
}

/** A step's progress: `details()` for the heartbeat, `update` for the backend's callback. */
export interface ProgressTracker {
  details(): StepProgress;
  update(p: ProgressReport): void;
}

/** Starts tracking one step of `role` in the workflow run `runId`; `now` gives epoch ms. */
export function trackProgress(role: AgentRole, runId: string, now: () => number = Date.now): ProgressTracker {
  const at = new Date(now()).toISOString();
  const state: StepProgress = {
    kind: 'agent_step',
    role,
    session_id: `${runId}/${role}`,
    turns: 0,
    usage: emptyUsage(),
    last_tool: null,
    last_event: 'step_started',
    last_event_at: at,
    started_at: at,
  };
  return {
    details: () => ({ ...state, usage: { ...state.usage } }),
    update: (p) => {
      state.turns = p.turns;
      state.usage = { ...p.usage };
      state.last_tool = p.lastTool ?? state.last_tool;
      state.last_event = 'turn_completed';
      state.last_event_at = new Date(now()).toISOString();
    },
  };
}

const ROLES: readonly string[] = ['implementer', 'reviewer', 'qa'];
const count = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.floor(v) : 0);
const text = (v: unknown, max = 200): string | null => (typeof v === 'string' ? v.slice(0, max) : null);

/**
 * Reads heartbeat details back as progress; null when `v` is not one (another activity's details,
 * or none). Lenient in the values (a bad number reads 0), strict in the marker and the role.
 */
export function parseStepProgress(v: unknown): StepProgress | null {
  if (typeof v !== 'object' || v === null) return null;
  const o = v as Record<string, unknown>;
  if (o.kind !== 'agent_step' || typeof o.role !== 'string' || !ROLES.includes(o.role)) return null;
  const u = (typeof o.usage === 'object' && o.usage !== null ? o.usage : {}) as Record<string, unknown>;
  return {
    kind: 'agent_step',
    role: o.role as AgentRole,
    session_id: text(o.session_id) ?? '',
    turns: count(o.turns),
    usage: {
      input_tokens: count(u.input_tokens),
      output_tokens: count(u.output_tokens),
      cache_creation_input_tokens: count(u.cache_creation_input_tokens),
      cache_read_input_tokens: count(u.cache_read_input_tokens),
    },
    last_tool: text(o.last_tool, 100),
    last_event: o.last_event === 'turn_completed' ? 'turn_completed' : 'step_started',
    last_event_at: text(o.last_event_at, 40) ?? '',
    started_at: text(o.started_at, 40) ?? '',
  };
}
