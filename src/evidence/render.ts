/**
 * The evidence packet, rendered from data Foreman measured or read: one Markdown document that
 * reads well as a GitHub or Linear comment and as a PR body. Sections: outcome, what changed
 * (diff stat from git), QA (commands and QA-agent checks, both run by Foreman), review verdicts and
 * findings per round, the contract, risks and gaps, escalations, cost and time per role,
 * transcripts. Text a model wrote (summaries, findings, questions) appears only under a label
 * saying so, and is made inert so it cannot break the packet's HTML (`<details>`) or fences.
 *
 * Owns presentation only: it computes nothing the data does not hold (risks are derived from the
 * data, never guessed). The data comes from the IssueWorkflow; posting and editing in place is
 * the tracker's `upsertComment`.
 */
import type { RoleUsage, TokenUsage } from '../agents/usage.js';
import type { ContractCheck } from '../contract/check.js';
import type { EscalationRecord } from './escalation.js';
import type { QaAgentCheck, QaAgentReport } from '../qa/agent-checks.js';
import type { QaCommandResult, QaReport } from '../qa/run.js';
import { SEVERITIES, type ReviewRound, type Severity, type TrackedFinding } from '../review/findings.js';
import type { CiSummary, PullRequestRef } from '../scm/types.js';
import type { PushResult } from '../workspace/workspace.js';
import type { ReworkRound } from '../dispatch/rework.js';
import { inertInline, inertMarkdown, safeFence, type LinkPrefixes } from './inert.js';

/** Data the evidence packet is rendered from (never from a model's own claims unlabelled). */
export interface EvidenceData {
  identifier: string;
  title: string;
  /** `in_progress`: posted after a round and edited in place later; `ready`: handed over to review. */
  stage: 'in_progress' | 'ready';
  branch: string;
  baseBranch: string;
  push: PushResult | null;
  specPath: string;
  /** The implementer's last `finish` summary (model-written). */
  implementerSummary: string | null;
  qaRounds: { round: number; report: QaReport }[];
  qaMaxRounds: number;
  /** The QA agent's last report (its checks are agent-written, run by Foreman); null when off. */
  qaAgent: QaAgentReport | null;
  review: {
    enabled: boolean;
    maxRounds: number;
    rounds: ReviewRound[];
    /** Every finding across rounds with its resolution. */
    findings: TrackedFinding[];
    /** The reviewer's last summary (model-written). */
    summary: string | null;
  };
  /** The contract checked against the change; null before the first check. */
  contract: ContractCheck | null;
  /** Who approved pushing changes to protected paths, and which; null when none were touched. */
  protectedApproval: { paths: string[]; by: string; answer: string } | null;
  /** The pull request, once opened. */
  pr: PullRequestRef | null;
  /** CI on the pull request, as the SCM API reported it last; null before any result. */
  ci: CiSummary | null;
  /** Totals over all roles. */
  usage: TokenUsage;
  /** USD; null when a model had no price. */
  costUsd: number | null;
  turns: number;
  roles: RoleUsage[];
  wallMs: number;
  escalations: EscalationRecord[];
  transcripts: string[];
  /** Risks the run's settings took on (e.g. `sandbox.mode: none`), listed first under Risks and gaps. */
  risks: string[];
  workflowId: string;
  runId: string;
  /** The rework round a human asked for from the tracker, when this packet is one (absent or null: none). */
  rework?: ReworkRound | null;
  /** Workspaces re-created on another worker after the one holding it was lost (absent: none). */
  workspaceMoves?: WorkspaceMove[];
}

/**
 * The workspace was re-created on another worker because the one holding it was gone
 * (docs/architecture.md, "Scale"): which worker, during which step, and from what.
 */
export interface WorkspaceMove {
  /** The step that found the worker gone, e.g. `run QA`. */
  step: string;
  /** The worker id that held the workspace; null when the run's workspace named none. */
  lostWorker: string | null;
  /** The worker id that holds the re-created workspace; null when it named none. */
  newWorker: string | null;
  /** What the new workspace was made from: the issue branch as last pushed, or the base branch. */
  from: { kind: 'pushed_branch' | 'base_branch'; branch: string; commit: string | null };
  /** RFC 3339, workflow time. */
  at: string;
}

/**
 * Largest packet, in characters, before output tails are trimmed. GitHub rejects comment and PR
 * bodies over 65,536 characters; the margin leaves room for the tracker's hidden marker.
 */
export const EVIDENCE_MAX_CHARS = 60_000;

/** Output-tail caps (characters) tried in turn until the packet fits in `EVIDENCE_MAX_CHARS`. */
const TAIL_CAPS = [Infinity, 2000, 1000, 400, 100];

/** Formats a duration in ms as `850 ms`, `12.3 s`, `4 min 05 s`, or from an hour on `24 h` / `1 h 5 min` (rounded to the minute). */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms >= 3_600_000) {
    const minutes = Math.round(ms / 60_000);
    const h = Math.floor(minutes / 60);
    return minutes % 60 ? `${h} h ${minutes % 60} min` : `${h} h`;
  }
  const min = Math.floor(ms / 60_000);
  const sec = Math.round((ms % 60_000) / 1000);
  return `${min} min ${String(sec).padStart(2, '0')} s`;
}

/** The data and the link prefixes model text may link to (src/evidence/inert.ts). */
type Doc = EvidenceData & { links: LinkPrefixes };

/**
 * Renders the evidence packet as Markdown (GitHub-flavoured: tables, `<details>`). When output
 * tails would make it longer than `EVIDENCE_MAX_CHARS`, they are trimmed (and say so) until it
 * fits. Model and tracker text is made inert (src/evidence/inert.ts); its links stay clickable only
 * under `opts.links` (URL prefixes, from `linkPrefixes(policy)`). Pure: the same data always gives the same text, so editing the comment in place is a no-op
 * when nothing changed.
 */
export function renderEvidence(data: EvidenceData, opts: { links?: LinkPrefixes } = {}): string {
  const d: Doc = { ...data, links: opts.links ?? [] };
  let md = '';
  for (const cap of TAIL_CAPS) {
    md = render(d, cap);
    if (md.length <= EVIDENCE_MAX_CHARS) break;
  }
  return md;
}

function render(d: Doc, tailCap: number): string {
  return [
    ...header(d),
    ...reworkSection(d),
    ...summary(d),
    ...whatChanged(d),
    ...qa(d, tailCap),
    ...review(d),
    ...ciSection(d),
    ...contract(d),
    ...risks(d),
    ...escalations(d),
    ...costAndTime(d),
    ...transcripts(d),
    `<sub>Rendered by Foreman from workflow ${code(d.workflowId)}, run ${code(d.runId)}. Every statement comes from what Foreman ran or read, except text labelled as written by a model.</sub>`,
  ].join('\n');
}

// ─── Sections ────────────────────────────────────────────────────────────────────────────────────

function header(d: Doc): string[] {
  const rework = d.rework ? ` (rework round ${d.rework.round})` : '';
  if (d.stage === 'ready')
    return [
      `## Foreman evidence: ${d.identifier} ready for review${rework}`,
      '',
      `**${inline(d.title, d.links)}**`,
      '',
    ];
  const qaRound = d.qaRounds.at(-1)?.round ?? 1;
  const reviewRound = d.review.rounds.at(-1)?.round;
  const after = `implement → QA round ${qaRound}${reviewRound ? `, review round ${reviewRound}` : ''}`;
  return [
    `## Foreman evidence: ${d.identifier} (in progress, round ${qaRound})${rework}`,
    '',
    `**${inline(d.title, d.links)}**`,
    '',
    `_Work in progress: Foreman updates this comment in place after each round (this version: after ${after})._`,
    '',
  ];
}

/** Characters of one request comment quoted in the packet (the agent got all of it). */
const REWORK_QUOTE_CHARS = 2000;

/**
 * The rework round a human asked for by moving the issue back: the state, each request comment
 * quoted inert, and the comments not taken (docs/architecture.md, "Sending work back").
 */
function reworkSection(d: Doc): string[] {
  const r = d.rework;
  if (!r) return [];
  const from = r.previousRunId ? ` (continuing run ${code(r.previousRunId)} on the same branch)` : '';
  const out = [`### Rework round ${r.round}`, ''];
  if (!r.comments.length) {
    out.push(`The issue was moved back to ${code(r.state)} without a comment${from}.`, '');
  } else {
    out.push(
      `The issue was moved back to ${code(r.state)}${from}. The request, from the comments since the hand-over by people who may steer it (Foreman's trust rules):`,
      '',
    );
    for (const c of r.comments) {
      const cut = c.body.length > REWORK_QUOTE_CHARS;
      const body = cut ? `${c.body.slice(0, REWORK_QUOTE_CHARS)}…` : c.body;
      out.push(`**${inline(c.author, d.links)}** (${code(c.createdAt)}${cut ? ', cut here' : ''}):`, '');
      out.push(inertMarkdown(body, d.links), '');
    }
  }
  if (r.ignored.length) {
    const list = r.ignored.map((c) => `${inline(c.author, d.links)}: ${inline(c.reason, d.links)}`).join('; ');
    out.push(`Not taken: ${r.ignored.length} comment(s) (${list}).`, '');
  }
  return out;
}

/** `, rebased onto <sha> (…)` when the push followed a rebase onto someone else's commits; else empty. */
function rebasedNote(push: PushResult): string {
  const r = push.rebasedOnto;
  if (!r) return '';
  const n = `${r.commits} commit${r.commits === 1 ? '' : 's'}`;
  return `, rebased onto ${code(r.commit.slice(0, 12))} (${n} someone else pushed to the branch first)`;
}

function summary(d: Doc): string[] {
  const facts = [`**Outcome:** ${outcome(d)}`];
  const pushed = !d.push
    ? 'not pushed yet'
    : d.push.pushed && d.push.commit
      ? `pushed at ${code(d.push.commit.slice(0, 12))}${rebasedNote(d.push)}`
      : 'nothing pushed (no commits beyond the base)';
  facts.push(`**Branch:** ${code(d.branch)} (base ${code(d.baseBranch)}), ${pushed}`);
  if (d.pr) facts.push(`**Pull request:** [#${d.pr.number}](${d.pr.url})`);
  facts.push(`**Spec:** ${code(d.specPath)} (the contract every role worked against)`);
  const agents = agentsLine(d.roles);
  if (agents) facts.push(`**Agents:** ${agents}`);
  return [...facts.map((f) => `- ${f}`), ''];
}

/**
 * Which backend and model ran each role (specs/backends.md), e.g. `implementer: claude-code
 * (claude-opus-5-5) · reviewer: builtin (claude-sonnet-5-5)`; null when no role recorded one (runs
 * from before backends were recorded).
 */
function agentsLine(roles: RoleUsage[]): string | null {
  const named = roles.filter((r) => r.backend !== undefined);
  if (!named.length) return null;
  return named
    .map((r) => `${ROLE[r.role]}: ${code(r.backend!)}${r.model !== undefined ? ` (${code(r.model)})` : ''}`)
    .join(' · ');
}

/** CI on the pull request, as the SCM API reported it (not the model). */
function ciSection(d: Doc): string[] {
  if (!d.ci) return [];
  const icon = d.ci.state === 'success' ? '✅' : d.ci.state === 'failure' ? '❌' : '⏳';
  const out = ['### CI on the pull request (from the GitHub API)', '', `${icon} ${d.ci.state}`, ''];
  if (d.ci.checks.length) {
    out.push('| Check | Status | Conclusion |', '|---|---|---|');
    for (const c of d.ci.checks) {
      // Check names come from the repository's CI files, which the agent can edit: inert like model text.
      const label = cell(inertInline(c.name, []).replace(/(?<!\\)\]/g, '\\]'));
      const name = c.url ? `[${label}](${c.url})` : label;
      out.push(`| ${name} | ${cell(c.status)} | ${cell(c.conclusion ?? '—')} |`);
    }
    out.push('');
  }
  return out;
}

/** One sentence set: what passed, what is still open, and whether anything was verified at all. */
function outcome(d: Doc): string {
  const done: string[] = [];
  const open: string[] = [];
  const last = d.qaRounds.at(-1);
  const results = last?.report.results ?? [];
  const checks = d.qaAgent?.checks ?? [];
  const waiting = d.stage === 'in_progress' ? 'has not run yet' : 'did not run';

  if (!last) open.push(`QA ${waiting}`);
  else if (results.length && last.report.passed) done.push(`QA passed (${plural(results.length, 'command')})`);
  else if (results.length) open.push(`QA failed (${failingCommands(results)})`);
  if (d.qaAgent && checks.length) {
    const failed = checks.filter((c) => !c.passed).length;
    if (failed) open.push(`${failed} of ${plural(checks.length, 'acceptance check')} by the QA agent failed`);
    else done.push(`the QA agent's ${plural(checks.length, 'acceptance check')} passed`);
  }
  if (d.review.enabled) {
    const r = d.review.rounds.at(-1);
    if (!r) open.push(`review ${waiting}`);
    else if (r.verdict === 'approve') done.push(`the reviewer approved in round ${r.round}`);
    else if (r.verdict === 'request_changes')
      open.push(
        `the reviewer requested changes in round ${r.round} (${plural(r.blocking.length, 'blocking finding')})`,
      );
    else open.push(`the reviewer escalated to a human in round ${r.round}`);
  }

  const sentences: string[] = [];
  if (last && !results.length) {
    sentences.push(
      checks.length
        ? 'No QA commands are configured, so Foreman ran only the checks the QA agent wrote'
        : 'No QA commands are configured, so Foreman verified nothing',
    );
  }
  if (done.length) sentences.push(capitalize(listJoin(done)));
  if (open.length) sentences.push(`Still open: ${open.join('; ')}`);
  const verified = results.length > 0 && !open.length;
  const icon = verified ? '✅' : d.stage === 'in_progress' ? '⏳' : '⚠️';
  return `${icon} ${sentences.join('. ')}.`;
}

function whatChanged(d: Doc): string[] {
  const out = ['### What changed', ''];
  if (d.push && d.push.filesChanged > 0) {
    out.push(
      `${plural(d.push.filesChanged, 'file')} changed, +${d.push.insertions} −${d.push.deletions} (from ${code(`git diff --stat ${d.baseBranch}...${d.branch}`)}):`,
      '',
      fence(d.push.diffStat),
      '',
    );
  } else if (d.push) out.push('No file changes beyond the base branch.', '');
  else out.push('Nothing pushed yet, so there is no diff to show.', '');
  out.push(...modelQuote("The implementer's own summary", d.implementerSummary, d.links));
  return out;
}

function qa(d: Doc, tailCap: number): string[] {
  const out = ['### QA (run by Foreman)', ''];
  const last = d.qaRounds.at(-1);
  if (!last) out.push(d.stage === 'in_progress' ? 'QA has not run yet.' : 'QA did not run.', '');
  else if (!last.report.results.length) out.push('No QA commands are configured (`qa.commands` in the policy).', '');
  else {
    out.push(`Round ${last.round} of at most ${d.qaMaxRounds}:`, '');
    out.push(
      ...resultTable(
        'Command',
        last.report.results.map((r) => ({ ...r, name: r.command })),
        tailCap,
      ),
    );
    const earlier = d.qaRounds.slice(0, -1);
    if (earlier.length) {
      out.push('Earlier rounds:', '');
      for (const r of earlier) {
        out.push(`- Round ${r.round}: ${r.report.passed ? 'passed' : `failed: ${failingCommands(r.report.results)}`}`);
      }
      out.push('');
    }
  }
  if (d.qaAgent) {
    out.push('#### Acceptance checks written by the QA agent (run by Foreman)', '');
    const { checks } = d.qaAgent;
    if (!checks.length) out.push('The QA agent wrote no checks.', '');
    else {
      out.push('The QA agent wrote these checks; Foreman ran them and recorded exit codes, durations and output.', '');
      out.push(
        ...resultTable(
          'Check',
          checks.map((c: QaAgentCheck) => ({ ...c, name: c.path, timedOut: false })),
          tailCap,
        ),
      );
    }
    out.push(...modelQuote("The QA agent's own summary", d.qaAgent.summary, d.links));
  }
  return out;
}

interface ResultRow {
  name: string;
  exitCode: number | null;
  durationMs: number;
  timedOut: boolean;
  outputTail: string;
  passed: boolean;
}

/** A result table, then each row's output tail folded in `<details>`. */
function resultTable(what: string, rows: ResultRow[], tailCap: number): string[] {
  const out = [`| # | ${what} | Result | Exit code | Duration |`, '|---|---|---|---|---|'];
  rows.forEach((r, i) => {
    const result = r.passed ? '✅ passed' : r.timedOut ? '⏱️ timed out' : '❌ failed';
    out.push(
      `| ${i + 1} | ${cell(code(r.name))} | ${result} | ${r.exitCode ?? '—'} | ${formatDuration(r.durationMs)} |`,
    );
  });
  out.push('');
  for (const r of rows) {
    out.push(`<details><summary>Output tail of <code>${escapeHtml(oneLine(r.name))}</code></summary>`, '');
    const tail = r.outputTail.trimEnd();
    if (!tail.trim()) out.push('_(no output)_');
    else if (tail.length > tailCap) {
      out.push(
        `_Trimmed to the last ${n(tailCap)} characters so the packet fits in one comment._`,
        '',
        fence(tail.slice(-tailCap)),
      );
    } else out.push(fence(tail));
    out.push('', '</details>', '');
  }
  return out;
}

const VERDICT: Record<ReviewRound['verdict'], string> = {
  approve: '✅ approved',
  request_changes: '🔁 changes requested',
  escalate: '🙋 escalated to a human',
};

function review(d: Doc): string[] {
  const out = ['### Review', ''];
  const rv = d.review;
  if (!rv.enabled)
    return [
      ...out,
      'Review is off (`roles.reviewer.enabled` in the policy), so no reviewer looked at this change.',
      '',
    ];
  if (!rv.rounds.length)
    return [...out, d.stage === 'in_progress' ? 'The reviewer has not run yet.' : 'The reviewer did not run.', ''];

  out.push(`Verdict per round (at most ${rv.maxRounds} rounds before open findings go to a human):`, '');
  out.push('| Round | Verdict | Raised | Resolved | Blocking |', '|---|---|---|---|---|');
  for (const r of rv.rounds) {
    out.push(
      `| ${r.round} | ${VERDICT[r.verdict]} | ${severityCounts(r.raised)} | ${r.resolved.length} | ${r.blocking.length} |`,
    );
  }
  out.push('');

  if (!rv.findings.length) out.push('The reviewer raised no findings.', '');
  else {
    out.push(
      'Findings (written by the reviewer model; Foreman tracks their status: a finding is resolved when a later round no longer raises it):',
      '',
      '| Id | Severity | Where | Finding | Raised in | Status |',
      '|---|---|---|---|---|---|',
    );
    const blocking = new Set(rv.rounds.at(-1)?.blocking ?? []);
    for (const f of sortFindings(rv.findings)) {
      const where = f.path ? code(f.line === null ? f.path : `${f.path}:${f.line}`) : '—';
      const raised = f.firstRound === f.lastRound ? `${f.firstRound}` : `${f.firstRound}–${f.lastRound}`;
      const status =
        f.status === 'resolved'
          ? `✅ resolved${f.resolvedInRound === null ? '' : ` in round ${f.resolvedInRound}`}`
          : blocking.has(f.id)
            ? '🔴 open, blocking'
            : '🟡 open, not blocking';
      out.push(
        `| ${cell(code(f.id))} | ${f.severity} | ${cell(where)} | ${cell(inertInline(f.message, d.links))} | ${raised} | ${status} |`,
      );
    }
    out.push('');
  }
  out.push(...modelQuote("The reviewer's own summary", rv.summary, d.links));
  return out;
}

function contract(d: Doc): string[] {
  const c = d.contract;
  if (!c) return [];
  const out = ['### Contract (checked by Foreman)', ''];
  out.push(`- ${plural(c.changedFiles.length, 'file')} changed against ${code(d.baseBranch)}.`);
  out.push(
    c.scope.length
      ? `- Scope from the spec: ${c.scope.map(code).join(', ')}.`
      : '- The spec names no Scope, so every path counts as in scope.',
  );
  if (c.outOfScope.length) {
    out.push(`- ⚠️ **${plural(c.outOfScope.length, 'changed file')} outside the Scope:**`);
    for (const p of c.outOfScope) out.push(`  - ⚠️ ${code(p)}`);
  } else if (c.scope.length) out.push('- Every changed file is inside the Scope.');
  if (c.protectedTouched.length) {
    const approved = new Set(d.protectedApproval?.paths ?? []);
    out.push(`- 🔒 **Protected paths touched** (\`protected_paths\` in the policy):`);
    for (const p of c.protectedTouched)
      out.push(`  - ${code(p)}: ${approved.has(p) ? 'approved' : '⚠️ no approval recorded'}`);
  } else out.push('- No protected paths touched.');
  if (c.evidence.length) {
    const results = d.qaRounds.at(-1)?.report.results ?? [];
    out.push('- Evidence the spec requires:');
    for (const cmd of c.evidence) {
      const r = results.find((x) => x.command === cmd);
      out.push(`  - ${code(cmd)}: ${!r ? '⚠️ not run by QA' : r.passed ? '✅ passed' : '❌ failed'}`);
    }
  }
  out.push('');
  if (d.protectedApproval) {
    const a = d.protectedApproval;
    out.push(
      `Pushing ${a.paths.map(code).join(', ')} was approved by **${inline(a.by, d.links)}**, who answered:`,
      '',
      quote(a.answer, d.links),
      '',
    );
  }
  return out;
}

/** One re-created workspace, for Risks and gaps: which worker was lost, during which step, what was re-created from what. */
export function workspaceMoveLine(m: WorkspaceMove): string {
  const lost = m.lostWorker ? `worker ${code(m.lostWorker)}` : 'the worker';
  const now = m.newWorker ? `worker ${code(m.newWorker)}` : 'another worker';
  const at = m.from.commit ? ` at ${code(m.from.commit.slice(0, 12))}` : '';
  const from =
    m.from.kind === 'pushed_branch'
      ? `the pushed branch ${code(m.from.branch)}${at}`
      : `the base branch ${code(m.from.branch)}${at} (nothing had been pushed)`;
  return (
    `The workspace was re-created: ${lost}, which held it, was lost during "${m.step}". Foreman prepared it again ` +
    `on ${now} from ${from}; work that had not been pushed was redone from the implementer's step.`
  );
}

/** Risks and gaps, each derived from the data; nothing here is a judgement of the code itself. */
function risks(d: Doc): string[] {
  const items: string[] = d.risks.map((r) => `⚠️ ${r}`);
  for (const m of d.workspaceMoves ?? []) items.push(`⚠️ ${workspaceMoveLine(m)}`);
  const c = d.contract;
  const last = d.qaRounds.at(-1);
  const results = last?.report.results ?? [];

  if (c?.outOfScope.length)
    items.push(
      `⚠️ ${plural(c.outOfScope.length, 'changed file')} outside the spec's Scope: ${c.outOfScope.map(code).join(', ')}.`,
    );
  if (c?.protectedTouched.length) {
    const approved = new Set(d.protectedApproval?.paths ?? []);
    const ok = c.protectedTouched.filter((p) => approved.has(p));
    const missing = c.protectedTouched.filter((p) => !approved.has(p));
    if (ok.length && d.protectedApproval)
      items.push(
        `Changes to protected paths ${ok.map(code).join(', ')} pushed with approval from ${inline(d.protectedApproval.by, d.links)}.`,
      );
    if (missing.length)
      items.push(`⚠️ Protected paths changed without a recorded approval: ${missing.map(code).join(', ')}.`);
  }

  if (!last) items.push('QA has not run.');
  else if (!results.length)
    items.push('No QA commands are configured (`qa.commands` in the policy), so Foreman ran no checks of its own.');
  else if (!last.report.passed)
    items.push(`⚠️ QA failed in the last round (${last.round}): ${failingCommands(results)}.`);
  const denied = [...new Set(d.qaRounds.flatMap((q) => q.report.results.flatMap((r) => r.deniedHosts ?? [])))];
  if (denied.length)
    items.push(
      `⚠️ The sandbox refused network access a QA command tried: ${denied.map(code).join(', ')} (not in \`sandbox.allow_hosts\`).`,
    );
  const notRun = (c?.evidence ?? []).filter((cmd) => !results.some((r) => r.command === cmd));
  if (notRun.length) items.push(`⚠️ Evidence the spec requires was not run by QA: ${notRun.map(code).join(', ')}.`);

  if (!d.qaAgent)
    items.push(
      'The QA agent is off (`roles.qa.agent` in the policy), so no acceptance checks were written for this change.',
    );
  else if (!d.qaAgent.checks.length) items.push('The QA agent wrote no acceptance checks.');
  else {
    const failed = d.qaAgent.checks.filter((x) => !x.passed);
    if (failed.length)
      items.push(
        `⚠️ ${plural(failed.length, 'acceptance check')} by the QA agent failed: ${failed.map((x) => code(x.path)).join(', ')}.`,
      );
  }

  if (!d.review.enabled)
    items.push('Review is off (`roles.reviewer.enabled` in the policy), so no reviewer looked at the diff.');
  else {
    const lastRound = d.review.rounds.at(-1);
    if (!lastRound) items.push('The reviewer has not reviewed this change.');
    else if (lastRound.verdict !== 'approve')
      items.push(
        `⚠️ The reviewer's last verdict (round ${lastRound.round}) is ${VERDICT[lastRound.verdict].replace(/^\S+ /, '')}.`,
      );
    const blocking = new Set(lastRound?.blocking ?? []);
    const open = d.review.findings.filter((f) => f.status === 'open');
    const stillBlocking = open.filter((f) => blocking.has(f.id));
    const passing = open.filter((f) => !blocking.has(f.id));
    if (stillBlocking.length)
      items.push(
        `⚠️ ${plural(stillBlocking.length, 'open finding')} still blocking (${bySeverity(stillBlocking)}): ${stillBlocking.map((f) => code(f.id)).join(', ')}.`,
      );
    if (passing.length)
      items.push(
        `${plural(passing.length, 'open finding')} left as not blocking (${bySeverity(passing)}): ${passing.map((f) => code(f.id)).join(', ')}.`,
      );
  }

  const unpriced = d.roles.filter((r) => r.costUsd === null).map((r) => ROLE[r.role]);
  if (unpriced.length)
    items.push(
      `Cost unknown for the ${unpriced.join(' and ')} (no price for the model), so the USD total is incomplete.`,
    );
  else if (d.costUsd === null) items.push('Cost unknown (no price for the model).');

  const answered = d.escalations.filter((e) => e.answer !== null).length;
  const unanswered = d.escalations.length - answered;
  if (answered)
    items.push(
      `${plural(answered, 'question')} had to be answered by a human before the work could go on (see Escalations and answers).`,
    );
  if (unanswered) items.push(`⚠️ ${plural(unanswered, 'question')} still unanswered.`);

  if (d.stage === 'ready' && !d.push?.pushed)
    items.push('⚠️ Nothing is pushed: there are no commits beyond the base branch.');

  const out = ['### Risks and gaps', ''];
  if (!items.length) out.push('None found from what Foreman measured.');
  else out.push(...items.map((i) => `- ${i}`));
  return [...out, ''];
}

function escalations(d: Doc): string[] {
  if (!d.escalations.length) return [];
  const out = ['### Escalations and answers', ''];
  if (d.escalations.some((e) => e.kind === 'agent_question')) {
    out.push(
      'Questions of kind `agent_question` are the implementer model’s words; answers are from the people named.',
      '',
    );
  }
  d.escalations.forEach((e, i) => {
    out.push(`${i + 1}. **Q** (${e.kind}, ${e.askedAt}): ${inline(e.question, d.links)}`);
    out.push(
      `   **A**${e.author ? ` (${inline(e.author, d.links)})` : ''}: ${e.answer ? inline(e.answer, d.links) : '_(unanswered)_'}`,
    );
  });
  return [...out, ''];
}

const ROLE: Record<RoleUsage['role'], string> = { implementer: 'implementer', reviewer: 'reviewer', qa: 'QA agent' };

function costAndTime(d: Doc): string[] {
  const out = ['### Cost and time', ''];
  out.push(
    '| Role | Turns | Input tokens | Output tokens | Cache write | Cache read | USD |',
    '|---|---:|---:|---:|---:|---:|---:|',
  );
  const row = (role: string, turns: number, u: TokenUsage, usd: number | null) =>
    `| ${role} | ${n(turns)} | ${n(u.input_tokens)} | ${n(u.output_tokens)} | ${n(u.cache_creation_input_tokens)} | ${n(u.cache_read_input_tokens)} | ${usd === null ? '—' : `$${usd.toFixed(4)}`} |`;
  for (const r of d.roles) out.push(row(ROLE[r.role], r.turns, r.usage, r.costUsd));
  out.push(row('**Total**', d.turns, d.usage, d.costUsd), '');
  out.push(
    'USD is estimated from the token counts and the price table (`budget.prices` over built-in list prices); — means no price for the model.',
    '',
  );
  const reviewRounds = d.review.enabled
    ? `${d.review.rounds.length} (at most ${d.review.maxRounds})`
    : '0 (review is off)';
  out.push(
    `- Wall time: ${formatDuration(d.wallMs)}`,
    `- Implement → QA rounds: ${d.qaRounds.length} (at most ${d.qaMaxRounds} before QA failures go to a human)`,
    `- Review rounds: ${reviewRounds}`,
    '',
  );
  return out;
}

function transcripts(d: Doc): string[] {
  const out = ['### Transcripts', ''];
  if (!d.transcripts.length) return [...out, '_None recorded._', ''];
  out.push('Paths on the Foreman host:', '');
  for (const t of d.transcripts) out.push(`- ${code(t)}`);
  return [...out, ''];
}

// ─── Markdown helpers ────────────────────────────────────────────────────────────────────────────

const n = (v: number) => v.toLocaleString('en-US');

function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? '' : 's'}`;
}

/** `a`, `a and b`, `a, b and c`. */
function listJoin(items: string[]): string {
  return items.length < 2 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`;
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function failingCommands(results: QaCommandResult[]): string {
  return results
    .filter((r) => !r.passed)
    .map((r) => `${code(r.command)} (${r.timedOut ? 'timed out' : `exit ${r.exitCode ?? '—'}`})`)
    .join(', ');
}

/** `1 major, 1 nit`, most severe first. */
function bySeverity(findings: { severity: Severity }[]): string {
  return SEVERITIES.map((s) => [s, findings.filter((f) => f.severity === s).length] as const)
    .filter(([, k]) => k > 0)
    .map(([s, k]) => `${k} ${s}`)
    .join(', ');
}

/** `2 (1 major, 1 nit)`; `0` when none. */
function severityCounts(findings: { severity: Severity }[]): string {
  return findings.length ? `${findings.length} (${bySeverity(findings)})` : '0';
}

/** Open before resolved, then most severe first, then by the round first raised. */
function sortFindings(findings: TrackedFinding[]): TrackedFinding[] {
  return [...findings].sort(
    (a, b) =>
      Number(a.status === 'resolved') - Number(b.status === 'resolved') ||
      SEVERITIES.indexOf(a.severity) - SEVERITIES.indexOf(b.severity) ||
      a.firstRound - b.firstRound ||
      a.id.localeCompare(b.id),
  );
}

function oneLine(text: string): string {
  return text.replace(/\s*\r?\n\s*/g, ' ');
}

/** Text safe inside a Markdown table cell: pipes escaped (also inside code spans, per GFM), one line. */
function cell(text: string): string {
  return oneLine(text).replace(/\|/g, '\\|');
}

/** Outside text (titles, answers, names) on one line, inert (src/evidence/inert.ts). */
function inline(text: string, links: LinkPrefixes): string {
  return inertInline(text, links);
}

/** Inline code whose backtick fence is longer than any backtick run inside the text. */
function code(text: string): string {
  const t = oneLine(text);
  const longest = Math.max(0, ...[...t.matchAll(/`+/g)].map((m) => m[0].length));
  const f = '`'.repeat(longest + 1);
  const pad = t.startsWith('`') || t.endsWith('`') ? ' ' : '';
  return `${f}${pad}${t}${pad}${f}`;
}

/** A fenced block whose fence is longer than any backtick run inside the text. */
function fence(text: string, lang = ''): string {
  return safeFence(text.trimEnd(), lang);
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** A blockquote of `text`, inert, blank lines kept inside the quote. */
function quote(text: string, links: LinkPrefixes): string {
  return inertMarkdown(text.trim(), links)
    .split(/\r?\n/)
    .map((l) => (l.trim() ? `> ${l}` : '>'))
    .join('\n');
}

/** A model's own words, labelled as such; nothing when it wrote none. */
function modelQuote(label: string, text: string | null, links: LinkPrefixes): string[] {
  if (!text?.trim()) return [];
  return [`${label} (written by the model, not verified by Foreman):`, '', quote(text, links), ''];
}
