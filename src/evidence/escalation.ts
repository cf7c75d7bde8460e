/**
 * The escalation comment: one question a busy person can answer in a minute — what was tried, the
 * exact question, the options with a recommendation, the work so far, what happens without an
 * answer, and how to answer. Rendered from data, never by the model.
 */
import { formatDuration } from './render.js';
import { howToPick, normalizeOptions, type EscalationOption } from '../escalation/answer.js';
import type { PushResult } from '../workspace/workspace.js';
import { afterLabel, inertInline, inertMarkdown, type LinkPrefixes } from './inert.js';

/** What raised an escalation. */
export type EscalationKind =
  | 'agent_question'
  | 'qa_failed'
  | 'budget'
  | 'max_turns'
  | 'error'
  | 'protected_path'
  | 'review'
  | 'review_rounds'
  | 'ci_failed'
  | 'push_rejected';

/** One question to a human, as posted on the issue. */
export interface Escalation {
  /** 1-based count within the run. */
  n: number;
  kind: EscalationKind;
  question: string;
  /** Numbered options, each with the command that picks it (runs from before commands: labels). */
  options: EscalationOption[] | string[];
  recommendation: string | null;
  /** What was tried before asking (from what Foreman ran and read). */
  tried: string;
  /** RFC 3339. */
  askedAt: string;
  reminded: boolean;
  parked: boolean;
  /** Comment key of the escalation this one re-asks in the same thread (a step that failed again); absent: none. */
  thread?: string;
}

/** An escalation and the answer that resumed the work. */
export interface EscalationRecord {
  question: string;
  kind: EscalationKind;
  askedAt: string;
  answer: string | null;
  author: string | null;
  /** When the answer was taken (RFC 3339, workflow time); absent while open and in runs from before. */
  answeredAt?: string;
  /** Where the answer came from (HumanReply `source`); absent while open and in runs from before. */
  answerSource?: 'cli' | 'dashboard' | 'comment' | 'webhook';
}

/** Data an escalation comment is rendered from. */
export interface EscalationData {
  identifier: string;
  title: string;
  escalation: Escalation;
  branch: string | null;
  push: PushResult | null;
  /** What happens without an answer (from the policy's escalation settings). */
  repingMs: number | null;
  parkMs: number | null;
  parkedState: string | null;
}

const KIND_TITLE: Record<EscalationData['escalation']['kind'], string> = {
  agent_question: 'the implementer has a question',
  qa_failed: 'QA keeps failing',
  budget: 'the budget is spent',
  max_turns: 'the implementer ran out of turns',
  error: 'a step failed',
  protected_path: 'the change touches protected paths',
  review: 'the reviewer asks for a decision',
  review_rounds: 'review findings are still open',
  ci_failed: 'CI keeps failing on the pull request',
  push_rejected: 'someone else pushed to the branch',
};

/**
 * Renders the escalation comment as Markdown. The question, options, recommendation and what was
 * tried can be a model's words, so they are made inert (src/evidence/inert.ts); their links stay
 * clickable only under `opts.links` (URL prefixes, from `linkPrefixes(policy)`).
 */
export function renderEscalation(data: EscalationData, opts: { links?: LinkPrefixes } = {}): string {
  const links = opts.links ?? [];
  const e = {
    ...data.escalation,
    question: inertMarkdown(data.escalation.question, links),
    options: normalizeOptions(data.escalation.options).map((o) => ({ ...o, label: inertInline(o.label, links) })),
    recommendation: data.escalation.recommendation === null ? null : inertInline(data.escalation.recommendation, links),
    tried: inertMarkdown(data.escalation.tried, links),
  };
  const d = { ...data, title: inertInline(data.title, links) };
  const out: string[] = [`## Foreman needs a decision: ${d.identifier} (${KIND_TITLE[e.kind]})`, ''];
  out.push(afterLabel('**Question:**', e.question), '');
  const options = normalizeOptions(e.options);
  const recommended = (label: string) => !!e.recommendation && label.trim() === e.recommendation.trim();
  if (options.length) {
    out.push('**Options:**', '');
    options.forEach((o, i) => {
      const pick = o.command ? ` (\`/foreman ${o.command}\`)` : '';
      out.push(`${i + 1}. ${o.label}${pick}${recommended(o.label) ? ' (recommended)' : ''}`);
    });
    out.push('');
  }
  if (e.recommendation && !options.some((o) => recommended(o.label))) {
    out.push(`**Recommendation:** ${e.recommendation}`, '');
  }
  out.push(afterLabel('**What was tried:**', e.tried), '');
  if (d.push?.pushed) {
    out.push(
      `**Work so far:** \`${d.push.branch}\` at \`${d.push.commit?.slice(0, 12)}\`: ${d.push.filesChanged} file(s), +${d.push.insertions} −${d.push.deletions}.`,
      '',
    );
  } else if (d.branch) {
    out.push(`**Work so far:** nothing committed yet on \`${d.branch}\`.`, '');
  }
  const waits: string[] = ['Foreman waits for an answer; nothing else happens on this issue until then.'];
  if (d.repingMs) waits.push(`After ${formatDuration(d.repingMs)} it posts one reminder.`);
  if (d.parkMs)
    waits.push(
      `After ${formatDuration(d.parkMs)} the issue is parked${d.parkedState ? ` in "${d.parkedState}"` : ''}, still waiting.`,
    );
  waits.push('An answer at any time resumes the work; moving the issue to a terminal state stops it.');
  out.push(`**If nobody answers:** ${waits.join(' ')}`, '');
  out.push(howToAnswer(d.identifier, options));
  return out.join('\n');
}

/**
 * The "How to answer" paragraph: pick an option by its number or command, alone in the reply, or
 * write free text (guidance for the agent, never an approval). specs/escalations.md.
 */
export function howToAnswer(identifier: string, options: readonly EscalationOption[]): string {
  const cli = `\`foreman answer ${identifier} "…"\``;
  if (!options.length) return `**How to answer:** reply to this issue with a comment, or run ${cli}.`;
  const picks = options.map((o, i) => howToPick(o, i + 1)).join(', ');
  return [
    `**How to answer:** reply to this issue with a comment, or run ${cli}. To pick an option, the reply is only`,
    `its number or its command (${picks}). Any other reply is free text: it goes to the agent as guidance and`,
    `never approves anything.`,
  ].join(' ');
}
