/**
 * Dispatch selection: which candidate issues start now, in what order, and the retry backoff
 * (Symphony SPEC §8.2–§8.4). Pure functions over plain data, so the dispatcher workflow can run
 * them deterministically and tests need no tracker.
 *
 * Owns eligibility, sort order, concurrency slots and backoff arithmetic. It does not fetch
 * issues, track what is running (the caller passes it) or start anything.
 */
import type { Issue } from '../trackers/types.js';

/** Why a candidate was not selected; stable codes for logs, `foreman status` and tests. */
export type SkipReason =
  /** `id`, `identifier`, `title` or `state` is missing or blank. */
  | 'missing_fields'
  /** The same identifier appeared earlier in the candidate list. */
  | 'duplicate'
  /** The state is one of the terminal states. */
  | 'terminal_state'
  /** The state is not one of the active states. */
  | 'inactive_state'
  /** The adapter marked the issue not dispatchable. */
  | 'not_dispatchable'
  /** A required label is missing. */
  | 'missing_required_label'
  /** A workflow for this identifier is already running. */
  | 'already_running'
  /** A `Todo` issue with a blocker that is not in a terminal state (or whose state is unknown). */
  | 'blocked'
  /** No global concurrency slot is free. */
  | 'no_global_slot'
  /** The per-state limit for the issue's state is reached. */
  | 'no_state_slot';

/** Input of `selectForDispatch`; state names are compared trimmed and lowercased. */
export interface DispatchInput {
  /** Issues fetched from the tracker (usually those in active states). */
  candidates: Issue[];
  /** Issues whose workflow is running now, with their current tracker state. */
  running: { identifier: string; state: string }[];
  /** `tracker.active_states`. */
  activeStates: string[];
  /** `tracker.terminal_states`. */
  terminalStates: string[];
  /** `tracker.required_labels`; an issue needs all of them. A blank label matches nothing. */
  requiredLabels: string[];
  /** `agent.max_concurrent_agents`: the global number of running issues. */
  maxConcurrentAgents: number;
  /** `agent.max_concurrent_agents_by_state`: per-state caps; other states use the global cap. */
  maxConcurrentAgentsByState: Record<string, number>;
}

/** Result of `selectForDispatch`. */
export interface DispatchSelection {
  /** Issues to start now, in dispatch order. */
  selected: Issue[];
  /** Every other candidate with the first rule it failed, in dispatch order. */
  skipped: { identifier: string; reason: SkipReason }[];
}

/**
 * Normalizes a tracker state for comparison: trimmed and lowercased (Symphony SPEC §4.2).
 *
 * @param s A state name, e.g. ` In Progress `.
 */
export function normalizeState(s: string): string {
  return s.trim().toLowerCase();
}

/** Priorities 1..4 sort by value; anything else (0, 5, null…) after them (Symphony SPEC §8.2). */
function priorityRank(p: number | null): number {
  return typeof p === 'number' && Number.isInteger(p) && p >= 1 && p <= 4 ? p : 5;
}

function createdRank(created: string | null): number {
  if (created === null) return Number.POSITIVE_INFINITY;
  const ms = Date.parse(created);
  return Number.isNaN(ms) ? Number.POSITIVE_INFINITY : ms;
}

/**
 * Returns the issues in dispatch order (Symphony SPEC §8.2 "Sorting order"): priority ascending
 * for 1..4 with every other value and null after; then `created_at` oldest first (compared as
 * instants, null or unparsable last); then `identifier` by code unit order. Does not mutate the
 * input.
 *
 * @param issues Issues to order.
 */
export function sortForDispatch(issues: readonly Issue[]): Issue[] {
  return [...issues].sort((a, b) => {
    const byPriority = priorityRank(a.priority) - priorityRank(b.priority);
    if (byPriority !== 0) return byPriority;
    const ca = createdRank(a.created_at);
    const cb = createdRank(b.created_at);
    if (ca !== cb) return ca < cb ? -1 : 1;
    if (a.identifier === b.identifier) return 0;
    return a.identifier < b.identifier ? -1 : 1;
  });
}

function blank(v: unknown): boolean {
  return typeof v !== 'string' || v.trim() === '';
}

/**
 * Chooses the candidates to dispatch now (Symphony SPEC §8.2 eligibility, §8.3 concurrency).
 * Candidates are sorted with `sortForDispatch`, then each is checked in that order; the first
 * failed rule is its skip reason:
 * 1. has non-blank `id`, `identifier`, `title`, `state`; not a duplicate identifier;
 * 2. state not terminal and in the active states;
 * 3. `dispatchable` is true;
 * 4. carries every required label (trimmed, case-insensitive; a blank required label matches
 *    nothing, so it makes every issue ineligible);
 * 5. not already running (by identifier);
 * 6. a `Todo` issue is held while any blocker is not terminal or has an unknown state;
 * 7. a global slot is free: `max(maxConcurrentAgents - running.length, 0)` minus those selected;
 * 8. a slot for its state is free: `maxConcurrentAgentsByState[state]` (keys normalized; global
 *    cap when absent) against running plus already selected issues in that state.
 *
 * @param input Candidates, what runs now, and the policy's states, labels and limits.
 * @returns Selected issues and the skipped ones with a `SkipReason`, both in dispatch order.
 */
export function selectForDispatch(input: DispatchInput): DispatchSelection {
  const active = new Set(input.activeStates.map(normalizeState));
  const terminal = new Set(input.terminalStates.map(normalizeState));
  const required = input.requiredLabels.map(normalizeState);
  const running = new Set(input.running.map((r) => r.identifier));

  const stateCaps = new Map<string, number>();
  for (const [state, cap] of Object.entries(input.maxConcurrentAgentsByState)) {
    stateCaps.set(normalizeState(state), cap);
  }
  const perState = new Map<string, number>();
  for (const r of input.running) {
    const s = normalizeState(r.state);
    perState.set(s, (perState.get(s) ?? 0) + 1);
  }
  const globalSlots = Math.max(input.maxConcurrentAgents - input.running.length, 0);

  const selected: Issue[] = [];
  const skipped: DispatchSelection['skipped'] = [];
  const seen = new Set<string>();

  for (const issue of sortForDispatch(input.candidates)) {
    const reason = ineligibility(issue);
    if (reason !== null) {
      skipped.push({ identifier: issue.identifier ?? '', reason });
      continue;
    }
    const state = normalizeState(issue.state);
    if (selected.length >= globalSlots) {
      skipped.push({ identifier: issue.identifier, reason: 'no_global_slot' });
      continue;
    }
    const cap = stateCaps.get(state) ?? input.maxConcurrentAgents;
    const inState = perState.get(state) ?? 0;
    if (inState >= cap) {
      skipped.push({ identifier: issue.identifier, reason: 'no_state_slot' });
      continue;
    }
    perState.set(state, inState + 1);
    selected.push(issue);
  }
  return { selected, skipped };

  function ineligibility(issue: Issue): SkipReason | null {
    if (blank(issue.id) || blank(issue.identifier) || blank(issue.title) || blank(issue.state)) {
      return 'missing_fields';
    }
    if (seen.has(issue.identifier)) return 'duplicate';
    seen.add(issue.identifier);
    const state = normalizeState(issue.state);
    if (terminal.has(state)) return 'terminal_state';
    if (!active.has(state)) return 'inactive_state';
    if (issue.dispatchable !== true) return 'not_dispatchable';
    const labels = new Set((issue.labels ?? []).map(normalizeState).filter((l) => l !== ''));
    if (!required.every((l) => labels.has(l))) return 'missing_required_label';
    if (running.has(issue.identifier)) return 'already_running';
    if (state === 'todo') {
      const held = (issue.blocked_by ?? []).some((b) => b.state === null || !terminal.has(normalizeState(b.state)));
      if (held) return 'blocked';
    }
    return null;
  }
}

/** Base delay of the first failure retry, in ms (Symphony SPEC §8.4). */
const RETRY_BASE_MS = 10_000;

/**
 * Delay before a failure-driven retry, in ms: `min(10000 * 2^(attempt - 1), maxBackoffMs)`
 * (Symphony SPEC §8.4). Attempts below 1 count as 1; the result is never negative.
 *
 * @param attempt 1-based retry attempt.
 * @param maxBackoffMs Cap in ms (`agent.max_retry_backoff_ms`).
 */
export function retryBackoffMs(attempt: number, maxBackoffMs: number): number {
  const n = Math.max(1, Math.floor(attempt));
  return Math.max(0, Math.min(RETRY_BASE_MS * 2 ** (n - 1), maxBackoffMs));
}
