/**
 * What the dashboard reads from one run's workflow history (docs/architecture.md, "Dashboard"): the
 * timeline of phases and rounds (the activities the run scheduled and the signals it took, with
 * their times), the settings the run started with (`prepareRun`'s result: what happens to a
 * question without an answer), the issue (its URL), the last evidence packet's data, the pull
 * request and, once completed, the run's summary. History is durable and complete, so none of this
 * needs a worker; it is decoded with the default payload converter, as the worker encodes it.
 */
import { defaultPayloadConverter } from '@temporalio/common';
import type { WorkflowHandle } from '@temporalio/client';
import type { RunSettings } from '../../config/run-settings.js';
import type { EvidenceData } from '../../evidence/render.js';
import type { PullRequestRef } from '../../scm/types.js';
import type { Issue } from '../../trackers/types.js';
import type { HumanReply, IssueRunSummary, ReworkRequested, StopRequest } from '../../../workflows/definitions.js';

/** One step of a run's timeline. */
export interface TimelineEntry {
  /** RFC 3339 time the step began. */
  at: string;
  label: string;
  /** A short detail (a question, a state, an answer), hostile text: escape it. */
  detail: string | null;
  /** `running` until its activity closes. */
  state: 'ok' | 'failed' | 'running';
  /** How long the step took, ms; null while running and for instants (signals). */
  ms: number | null;
}

/** What a run's history says. */
export interface RunHistory {
  timeline: TimelineEntry[];
  settings: RunSettings | null;
  issue: Issue | null;
  evidence: EvidenceData | null;
  pr: PullRequestRef | null;
  summary: IssueRunSummary | null;
}

/** A workflow history as `handle.fetchHistory()` returns it. */
export type History = Awaited<ReturnType<WorkflowHandle['fetchHistory']>>;
type Event = NonNullable<History['events']>[number];
type Payloads = NonNullable<Event['activityTaskScheduledEventAttributes']>['input'];

/** The first payload of `p` decoded, or null. */
function first<T>(p: Payloads): T | null {
  const payload = p?.payloads?.[0];
  if (!payload) return null;
  try {
    return defaultPayloadConverter.fromPayload<T>(payload);
  } catch {
    return null;
  }
}

function timeOf(e: Event): number {
  const t = e.eventTime;
  return t ? Number(t.seconds ?? 0) * 1000 + Math.floor((t.nanos ?? 0) / 1e6) : 0;
}

/** Readable names of the run's activities (workflows/issue/activities.ts). */
const ACTIVITY_LABEL: Record<string, string> = {
  prepareRun: 'Run prepared',
  prepareWorkspace: 'Workspace ready',
  runImplementer: 'Implementer',
  runQa: 'QA commands',
  runQaAgent: 'QA agent',
  runReviewer: 'Reviewer',
  checkContract: 'Contract checked',
  commitAndPush: 'Pushed',
  rebaseOnRemote: 'Rebased on the remote',
  pushToNewBranch: 'Pushed to a new branch',
  openPullRequest: 'Pull request',
  ciStatus: 'CI status read',
  postEvidence: 'Evidence posted',
  postEscalation: 'Question asked',
  moveIssue: 'Issue moved',
  postComment: 'Comment posted',
  recordDecision: 'Decision recorded',
  probeService: 'Outage probe',
  removeWorkspace: 'Workspace removed',
};

/** Activities shown with the implement → QA → review round they belong to. */
const ROUND_STEPS = new Set(['runImplementer', 'runQa', 'runQaAgent', 'runReviewer']);

/** Signals shown on the timeline, with their label and detail. */
function signalEntry(name: string, input: Payloads): { label: string; detail: string | null } | null {
  if (name === 'humanReply') {
    const r = first<HumanReply>(input);
    return { label: `Answer from ${r?.author ?? 'someone'} (${r?.source ?? '?'})`, detail: r?.text ?? null };
  }
  if (name === 'stop') return { label: 'Stop requested', detail: first<StopRequest>(input)?.reason ?? null };
  if (name === 'reworkRequested') {
    const state = first<ReworkRequested>(input)?.state;
    return { label: 'Sent back for rework', detail: state ? `moved to "${state}"` : null };
  }
  if (name === 'prReview') return { label: 'Review on the pull request', detail: null };
  if (name === 'prClosed') return { label: 'Pull request closed', detail: null };
  if (name === 'ciResult') return { label: 'CI result', detail: null };
  return null;
}

/** The detail of an activity step from its input or result. */
function activityDetail(type: string, input: unknown): string | null {
  const i = (input ?? {}) as Record<string, unknown>;
  if (type === 'moveIssue' && typeof i.state === 'string') return `to "${i.state}"`;
  if (type === 'postEscalation') {
    const q = (i.data as { escalation?: { question?: unknown } } | undefined)?.escalation?.question;
    return typeof q === 'string' ? q : null;
  }
  return null;
}

/** Reads a run's history (`handle.fetchHistory()`): timeline, settings, issue, evidence, PR, summary. */
export function readRunHistory(history: History): RunHistory {
  const out: RunHistory = { timeline: [], settings: null, issue: null, evidence: null, pr: null, summary: null };
  const scheduled = new Map<string, { type: string; entry: TimelineEntry; start: number }>();
  let round = 0;
  for (const e of history.events ?? []) {
    const at = timeOf(e);
    const iso = new Date(at).toISOString();
    if (e.workflowExecutionStartedEventAttributes) {
      out.timeline.push({ at: iso, label: 'Run started', detail: null, state: 'ok', ms: null });
    } else if (e.activityTaskScheduledEventAttributes) {
      const a = e.activityTaskScheduledEventAttributes;
      const type = a.activityType?.name ?? '?';
      const input = first<Record<string, unknown>>(a.input);
      // Agent steps carry the run's round (StepInput); QA belongs to the round last named.
      if (typeof input?.round === 'number') round = input.round;
      if (type === 'postEvidence') out.evidence = (input?.evidence as EvidenceData | undefined) ?? out.evidence;
      const label = ACTIVITY_LABEL[type] ?? type;
      const entry: TimelineEntry = {
        at: iso,
        label: ROUND_STEPS.has(type) ? `${label} (round ${Math.max(round, 1)})` : label,
        detail: activityDetail(type, input),
        state: 'running',
        ms: null,
      };
      scheduled.set(String(e.eventId), { type, entry, start: at });
      out.timeline.push(entry);
    } else if (e.activityTaskCompletedEventAttributes) {
      const c = e.activityTaskCompletedEventAttributes;
      const s = scheduled.get(String(c.scheduledEventId));
      if (!s) continue;
      Object.assign(s.entry, { state: 'ok', ms: at - s.start });
      if (s.type === 'prepareRun') {
        const prepared = first<{ issue?: Issue; settings?: RunSettings }>(c.result);
        out.issue = prepared?.issue ?? null;
        out.settings = prepared?.settings ?? null;
      }
      if (s.type === 'openPullRequest') {
        out.pr = first<PullRequestRef>(c.result) ?? out.pr;
        if (out.pr) s.entry.detail = out.pr.url;
      }
    } else if (e.activityTaskFailedEventAttributes || e.activityTaskTimedOutEventAttributes) {
      const f = e.activityTaskFailedEventAttributes ?? e.activityTaskTimedOutEventAttributes!;
      const s = scheduled.get(String(f.scheduledEventId));
      if (s)
        Object.assign(s.entry, { state: 'failed', ms: at - s.start, detail: f.failure?.message ?? s.entry.detail });
    } else if (e.workflowExecutionSignaledEventAttributes) {
      const sig = e.workflowExecutionSignaledEventAttributes;
      const entry = signalEntry(sig.signalName ?? '', sig.input);
      if (entry) out.timeline.push({ at: iso, ...entry, state: 'ok', ms: null });
    } else if (e.workflowExecutionCompletedEventAttributes) {
      out.summary = first<IssueRunSummary>(e.workflowExecutionCompletedEventAttributes.result);
      out.timeline.push({
        at: iso,
        label: `Run ended: ${out.summary?.outcome ?? 'completed'}`,
        detail: out.summary?.reason ?? null,
        state: 'ok',
        ms: null,
      });
    } else if (e.workflowExecutionContinuedAsNewEventAttributes) {
      out.timeline.push({ at: iso, label: 'Continued as new', detail: null, state: 'ok', ms: null });
    } else if (e.workflowExecutionTerminatedEventAttributes) {
      const reason = e.workflowExecutionTerminatedEventAttributes.reason ?? null;
      out.timeline.push({ at: iso, label: 'Run terminated', detail: reason, state: 'failed', ms: null });
    } else if (e.workflowExecutionFailedEventAttributes) {
      const msg = e.workflowExecutionFailedEventAttributes.failure?.message ?? null;
      out.timeline.push({ at: iso, label: 'Run failed', detail: msg, state: 'failed', ms: null });
    }
  }
  out.pr ??= out.evidence?.pr ?? null;
  return out;
}
