/**
 * The run state of one IssueWorkflow: one typed, plain-JSON object that the phases update and that
 * the status query, the evidence packet and the summary are all read from. Pure functions only.
 */
import type { IgnoredComment, IssueRunStatus, IssueRunSummary, RunPhase } from '../definitions.js';
import type { LifecycleEvent } from '../../src/status/run-report.js';
import { reviewOf } from './report.js';
import type { BudgetInput } from '../../src/agents/results.js';
import type { RateLimits } from '../../src/agents/rate-limits.js';
import {
  addCost,
  addUsage,
  emptyUsage,
  totalTokens,
  type RoleUsage,
  type StepAgent,
  type TokenUsage,
} from '../../src/agents/usage.js';
import type { RunSettings } from '../../src/config/run-settings.js';
import type { ContractCheck } from '../../src/contract/check.js';
import type { Escalation, EscalationRecord } from '../../src/evidence/escalation.js';
import type { EvidenceData, WorkspaceMove } from '../../src/evidence/render.js';
import type { QaAgentReport } from '../../src/qa/agent-checks.js';
import type { QaReport } from '../../src/qa/run.js';
import type { ReviewRound, TrackedFinding } from '../../src/review/findings.js';
import type { ReworkRound } from '../../src/dispatch/rework.js';
import type { CiSummary, PullRequestRef } from '../../src/scm/types.js';
import type { PushResult, WorkspaceInfo } from '../../src/workspace/workspace.js';

/** Everything a run knows about its progress. */
export interface RunState {
  /** Workflow time the run started, epoch ms. */
  startedAt: number;
  phase: RunPhase;
  /** The implement → QA round in progress (1-based; 0 before the first). */
  round: number;
  lastError: string | null;
  workspace: WorkspaceInfo | null;
  /** The last push of the branch (partial or final). */
  push: PushResult | null;
  pr: PullRequestRef | null;
  prState: IssueRunSummary['pr_state'];
  ci: CiSummary | null;
  usage: TokenUsage;
  /** USD over all roles; null once a model without a price was used. */
  costUsd: number | null;
  /** Model calls over all roles. */
  turns: number;
  roles: RoleUsage[];
  transcripts: string[];
  /** Budgets granted so far (each budget escalation answered grants the policy's budget once more). */
  grants: number;
  /** Epoch ms after which no model call starts; null: no wall budget. */
  deadline: number | null;
  /** The implementer's last `finish` summary (model-written). */
  implementerSummary: string | null;
  qaRounds: { round: number; report: QaReport }[];
  qaAgentReport: QaAgentReport | null;
  contract: ContractCheck | null;
  /** Every reviewer finding across rounds with its resolution (workflows/review-ledger.ts). */
  ledger: TrackedFinding[];
  reviewRounds: ReviewRound[];
  reviewSummary: string | null;
  /** Protected paths a human approved for pushing. */
  approvedPaths: string[];
  protectedApproval: EvidenceData['protectedApproval'];
  escalations: EscalationRecord[];
  /** The question waiting for an answer, when phase is `waiting_for_human`. */
  openEscalation: Escalation | null;
  /** Tracker comments already taken as answers (each is taken once). */
  answeredCommentIds: string[];
  /** Comments ignored because their author may not answer (specs/trust.md), at most `MAX_IGNORED_COMMENTS`. */
  ignoredComments?: IgnoredComment[];
  /** Red CI rework rounds since the last CI escalation. */
  ciRounds: number;
  /** The latest `issueUpdated` signal: who reported a change to the issue, and when. */
  issueUpdated: IssueRunStatus['issueUpdated'];
  /** A step riding out a transient outage (retried with backoff before a human is asked). */
  retrying: IssueRunStatus['retrying'];
  /** The latest rate limits the model endpoint reported (absent in runs from before they were kept). */
  rateLimits?: RateLimits | null;
  /** Workflow time of the latest hand-over, epoch ms (comments after it ask for rework); null before. */
  handedOverAt?: number | null;
  /** The latest rework round a human asked for from the tracker (docs/architecture.md, "Sending work back"). */
  rework?: ReworkRound | null;
  /** The run id whose agent transcripts the agents continue (an earlier run's, for a rework in a new run). */
  conversationRunId?: string | null;
  /** Tool calls the agent steps reported (specs/metrics.md); absent in runs from before. */
  toolCalls?: number;
  /** Workflow time (epoch ms) of every hand-over, in order (specs/metrics.md); absent in runs from before. */
  handOvers?: number[];
  /** Workflow time (epoch ms) the pull request was merged or closed; absent or null before. */
  prClosedAt?: number | null;
  /** Rework rounds started after a hand-over (specs/metrics.md); absent in runs from before. */
  reworkRounds?: number;
  /** The tracker state the issue was in when the run started (absent in runs from before it was kept). */
  startedFor?: string | null;
  /** The latest lifecycle event (./lifecycle.ts); absent in runs from before it was kept. */
  lastEvent?: LifecycleEvent | null;
  /** The tracker state the run last moved the issue to by a hand-over step; absent when none. */
  trackerState?: string | null;
  /**
   * What the list views show of the issue and of the reminder and park rule its questions wait
   * under, set at start (./publish.ts); absent in runs from before it was kept.
   */
  shown?: { title: string; repingMs: number | null; parkMs: number | null; parkedState: string | null };
  /** Workspaces re-created after the worker holding them was lost (./affinity.ts); absent when none. */
  workspaceMoves?: WorkspaceMove[];
}

/** Ignored comments a run keeps in its status (the oldest are dropped). */
export const MAX_IGNORED_COMMENTS = 20;

/** Records an ignored comment once (by id), keeping the latest `MAX_IGNORED_COMMENTS`. */
export function recordIgnoredComment(state: RunState, c: IgnoredComment): void {
  const list = (state.ignoredComments ??= []);
  if (list.some((x) => x.commentId === c.commentId)) return;
  list.push(c);
  if (list.length > MAX_IGNORED_COMMENTS) list.splice(0, list.length - MAX_IGNORED_COMMENTS);
}

/** The state a new run starts in, at workflow time `now` (epoch ms). */
export function initialState(now: number): RunState {
  return {
    startedAt: now,
    phase: 'starting',
    round: 0,
    lastError: null,
    workspace: null,
    push: null,
    pr: null,
    prState: null,
    ci: null,
    usage: emptyUsage(),
    costUsd: 0,
    turns: 0,
    roles: [],
    transcripts: [],
    grants: 1,
    deadline: null,
    implementerSummary: null,
    qaRounds: [],
    qaAgentReport: null,
    contract: null,
    ledger: [],
    reviewRounds: [],
    reviewSummary: null,
    approvedPaths: [],
    protectedApproval: null,
    escalations: [],
    openEscalation: null,
    answeredCommentIds: [],
    ciRounds: 0,
    issueUpdated: null,
    retrying: null,
    rateLimits: null,
    handedOverAt: null,
    rework: null,
    conversationRunId: null,
    toolCalls: 0,
    handOvers: [],
    prClosedAt: null,
    reworkRounds: 0,
  };
}

/**
 * Adds one agent step's usage to its role and to the run, records which backend and model ran the
 * role, and keeps the latest rate limits it saw.
 */
export function recordUsage(
  state: RunState,
  step: {
    usage: TokenUsage;
    costUsd: number | null;
    turns: number;
    transcriptPath: string;
    rateLimits?: RateLimits | null;
    /** Tool calls of the step, when the role reports them. */
    toolCalls?: number;
  } & StepAgent,
  roleName: RoleUsage['role'],
): void {
  if (step.rateLimits) state.rateLimits = step.rateLimits;
  let role = state.roles.find((x) => x.role === roleName);
  if (!role) {
    role = { role: roleName, turns: 0, usage: emptyUsage(), costUsd: 0 };
    state.roles.push(role);
  }
  role.turns += step.turns;
  addUsage(role.usage, step.usage);
  role.costUsd = addCost(role.costUsd, step.costUsd);
  // Which backend and model ran the role (the latest step's; absent in results recorded before).
  if (step.backend !== undefined) role.backend = step.backend;
  if (step.model !== undefined) role.model = step.model;
  addUsage(state.usage, step.usage);
  state.costUsd = addCost(state.costUsd, step.costUsd);
  state.turns += step.turns;
  state.toolCalls = (state.toolCalls ?? 0) + (step.toolCalls ?? 0);
  if (!state.transcripts.includes(step.transcriptPath)) state.transcripts.push(step.transcriptPath);
}

/** The budget the next agent step must respect (the policy's limits times the grants). */
export function budgetNow(state: RunState, s: RunSettings): BudgetInput {
  return {
    spentTokens: totalTokens(state.usage),
    spentUsd: state.costUsd ?? 0,
    maxTokens: s.budget.maxTokens === null ? null : s.budget.maxTokens * state.grants,
    maxUsd: s.budget.maxUsd === null ? null : s.budget.maxUsd * state.grants,
    deadline: state.deadline,
  };
}

/** The evidence packet's data as it stands, at workflow time `now` (rendered by an activity). */
export function evidenceOf(
  o: { identifier: string; title: string; workflowId: string; runId: string; settings: RunSettings; now: number },
  state: RunState,
  ws: WorkspaceInfo,
  stage: EvidenceData['stage'],
): EvidenceData {
  const s = o.settings;
  return {
    identifier: o.identifier,
    title: o.title,
    stage,
    branch: ws.branch,
    baseBranch: ws.baseBranch,
    push: state.push,
    specPath: ws.specPath,
    implementerSummary: state.implementerSummary,
    qaRounds: state.qaRounds,
    qaMaxRounds: s.qaMaxRounds,
    qaAgent: state.qaAgentReport,
    review: {
      enabled: s.review.enabled,
      maxRounds: s.review.maxRounds,
      rounds: state.reviewRounds,
      findings: state.ledger,
      summary: state.reviewSummary,
    },
    contract: state.contract,
    protectedApproval: state.protectedApproval,
    pr: state.pr,
    ci: state.ci,
    usage: state.usage,
    costUsd: state.costUsd,
    turns: state.turns,
    roles: state.roles,
    wallMs: o.now - state.startedAt,
    escalations: state.escalations,
    transcripts: state.transcripts,
    risks: s.risks ?? [],
    workflowId: o.workflowId,
    runId: o.runId,
    rework: state.rework ?? null,
    ...(state.workspaceMoves?.length ? { workspaceMoves: state.workspaceMoves } : {}),
  };
}

/** The summary the workflow returns (and `foreman run` prints), at workflow time `now`. */
export function summaryOf(
  o: { identifier: string; workflowId: string; runId: string; now: number },
  state: RunState,
  outcome: IssueRunSummary['outcome'],
  reason: string | null,
  evidence: IssueRunSummary['evidence'],
): IssueRunSummary {
  return {
    outcome,
    identifier: o.identifier,
    reason,
    branch: state.workspace?.branch ?? null,
    commit: state.push?.commit ?? null,
    pushed: state.push?.pushed ?? false,
    pr: state.pr?.url ?? null,
    pr_state: state.prState,
    evidence,
    qa: state.qaRounds.at(-1)?.report.results ?? [],
    rounds: state.qaRounds.length,
    tokens: { ...state.usage, total: totalTokens(state.usage) },
    cost_usd: state.costUsd,
    escalations: state.escalations,
    review: reviewOf(state),
    turns: state.turns,
    wall_ms: o.now - state.startedAt,
    workflowId: o.workflowId,
    runId: o.runId,
    rework: state.rework ? { round: state.rework.round, conversationRunId: state.conversationRunId ?? o.runId } : null,
  };
}
