/**
 * The evidence packet, rendered from data Foreman measured or read — never from a model's claims
 * unless labelled as such. One Markdown document that reads well as a GitHub or Linear comment:
 * outcome, what changed (diff stat from git), QA table with output tails, cost and time,
 * transcripts. Owns presentation only; the data comes from the IssueWorkflow.
 */
import type { EvidenceData, QaCommandResult } from '../../workflows/types.js';

/** Formats a duration in ms as `850 ms`, `12.3 s` or `4 min 05 s`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const min = Math.floor(ms / 60_000);
  const sec = Math.round((ms % 60_000) / 1000);
  return `${min} min ${String(sec).padStart(2, '0')} s`;
}

const n = (v: number) => v.toLocaleString('en-US');

/** Text safe inside a Markdown table cell or inline code. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

/** A fenced block whose fence is longer than any backtick run inside the text. */
function fence(text: string, lang = ''): string {
  const longest = Math.max(2, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const f = '`'.repeat(longest + 1);
  return `${f}${lang}\n${text.trimEnd()}\n${f}`;
}

function qaTable(results: QaCommandResult[]): string[] {
  if (!results.length) return ['No QA commands are configured (`qa.commands` in the policy).'];
  const lines = ['| # | Command | Result | Exit code | Duration |', '|---|---|---|---|---|'];
  results.forEach((r, i) => {
    const result = r.passed ? '✅ passed' : r.timedOut ? '⏱️ timed out' : '❌ failed';
    lines.push(`| ${i + 1} | \`${cell(r.command)}\` | ${result} | ${r.exitCode ?? '—'} | ${formatDuration(r.durationMs)} |`);
  });
  for (const r of results) {
    lines.push('', `<details><summary>Output tail of <code>${escapeHtml(r.command)}</code></summary>`, '');
    lines.push(r.outputTail.trim() ? fence(r.outputTail) : '_(no output)_', '', '</details>');
  }
  return lines;
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Renders the evidence packet as Markdown. */
export function renderEvidence(d: EvidenceData): string {
  const out: string[] = [];
  out.push(`## Foreman evidence: ${d.identifier} ready for review`, '');
  out.push(`**${cell(d.title)}**`, '');

  const facts: string[] = [];
  const verified = (d.qaRounds.at(-1)?.report.results.length ?? 0) > 0;
  if (verified) facts.push('**Outcome:** ✅ QA passed; the branch is pushed.');
  else facts.push('**Outcome:** ⚠️ the branch is pushed, but no QA commands are configured, so Foreman verified nothing.');
  if (d.branch) {
    const pushed = d.push?.pushed
      ? `pushed at \`${d.push.commit?.slice(0, 12)}\``
      : 'nothing pushed (no commits beyond the base)';
    facts.push(`**Branch:** \`${d.branch}\` (base \`${d.baseBranch}\`), ${pushed}`);
  }
  if (d.specPath) facts.push(`**Spec:** \`${d.specPath}\``);
  out.push(facts.map((f) => `- ${f}`).join('\n'), '');

  out.push('### What changed', '');
  if (d.push && d.push.filesChanged > 0) {
    out.push(
      `${d.push.filesChanged} file(s) changed, +${d.push.insertions} −${d.push.deletions} (from \`git diff --stat ${d.baseBranch}...${d.branch}\`):`,
      '',
      fence(d.push.diffStat),
      '',
    );
  } else {
    out.push('No file changes beyond the base branch.', '');
  }
  if (d.implementerSummary) {
    out.push("The implementer's own summary (written by the model, not verified by Foreman):", '');
    out.push(d.implementerSummary.trim().split('\n').map((l) => `> ${l}`).join('\n'), '');
  }

  out.push('### QA (run by Foreman)', '');
  const last = d.qaRounds.at(-1);
  if (!last) out.push('QA did not run.', '');
  else {
    out.push(`Round ${last.round} of at most ${d.qaMaxRounds}:`, '');
    out.push(...qaTable(last.report.results), '');
    const earlier = d.qaRounds.slice(0, -1);
    if (earlier.length) {
      out.push('Earlier rounds:', '');
      for (const r of earlier) {
        const failed = r.report.results.filter((x) => !x.passed).map((x) => `\`${cell(x.command)}\` (exit ${x.exitCode ?? '—'})`);
        out.push(`- Round ${r.round}: ${r.report.passed ? 'passed' : `failed: ${failed.join(', ')}`}`);
      }
      out.push('');
    }
  }

  out.push('### Cost and time', '');
  const u = d.usage;
  out.push('| Role | Turns | Input tokens | Output tokens | Cache write | Cache read |', '|---|---|---|---|---|---|');
  out.push(
    `| implementer | ${d.turns} | ${n(u.input_tokens)} | ${n(u.output_tokens)} | ${n(u.cache_creation_input_tokens)} | ${n(u.cache_read_input_tokens)} |`,
    '',
  );
  const cost = d.costUsd === null ? 'cost unknown (no price for the model)' : `estimated cost $${d.costUsd.toFixed(4)}`;
  out.push(`Wall time: ${formatDuration(d.wallMs)}. Implement → QA rounds: ${d.qaRounds.length}. ${cost[0]!.toUpperCase()}${cost.slice(1)}.`, '');

  if (d.escalations.length) {
    out.push('### Escalations and answers', '');
    d.escalations.forEach((e, i) => {
      out.push(`${i + 1}. **Q** (${e.kind}, ${e.askedAt}): ${e.question}`);
      out.push(`   **A**${e.author ? ` (${e.author})` : ''}: ${e.answer ? e.answer.replace(/\s*\n\s*/g, ' ') : '_(unanswered)_'}`);
    });
    out.push('');
  }

  if (d.transcripts.length) {
    out.push('### Transcripts', '');
    for (const t of d.transcripts) out.push(`- \`${t}\``);
    out.push('');
  }
  out.push(`<sub>Workflow \`${d.workflowId}\`, run \`${d.runId}\`.</sub>`);
  return out.join('\n');
}
