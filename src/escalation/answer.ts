/**
 * Answers are parsed, not guessed (specs/escalations.md): an escalation offers numbered options,
 * each with an optional command, and a reply picks one only when it is exactly the option's number
 * (`2`) or its command (`/foreman stop`), give or take surrounding whitespace, punctuation and
 * Markdown emphasis. Everything else is free text: guidance passed to the agent, which never
 * approves anything. Approval additionally needs `reply.mayApprove`.
 *
 * Workflow-safe (eslint.config.js WORKFLOW_SAFE): pure, imports types only, so the IssueWorkflow
 * and `foreman answer` apply the same rule.
 */
import type { HumanReply } from '../../workflows/definitions.js';

/** What picking an option does (specs/escalations.md, "Commands"). */
export type AnswerCommand = 'retry' | 'continue' | 'stop' | 'approve' | 'branch' | 'resolve';

/** Every command, in the order the docs list them. */
export const ANSWER_COMMANDS: readonly AnswerCommand[] = ['retry', 'continue', 'stop', 'approve', 'branch', 'resolve'];

/** One numbered option of an escalation; `command` null: the option is picked by number only. */
export interface EscalationOption {
  label: string;
  command: AnswerCommand | null;
}

/** What a reply's text says, before it is matched against the options. */
export type ParsedAnswer =
  { kind: 'number'; n: number } | { kind: 'command'; command: string } | { kind: 'text'; text: string };

/** What a reply means for a given escalation. */
export type Answer =
  /** An option was picked (1-based `option`); `command` is the option's, null when it has none. */
  | { kind: 'option'; option: number; command: AnswerCommand | null }
  /** Free text: guidance for the agent. */
  | { kind: 'text' }
  /** A pick that is not on offer (a number out of range, an unknown command): answered, still waiting. */
  | { kind: 'invalid'; why: string }
  /** `/foreman approve` from someone who may not approve: answered, still waiting. */
  | { kind: 'not_approver' };

// Characters that may wrap a pick without changing it: whitespace, quotes, emphasis, end punctuation.
const WRAP = /^[\s"'`*_([{<>]+|[\s"'`*_.!?;:,)\]}>]+$/g;

/**
 * Reads a reply's text: a number (`2`, `2.`, `**2**`), a command (`/foreman stop`, any case), or
 * free text. Only the whole reply counts: "2 please" and "/foreman stop now" are free text.
 */
export function parseAnswer(text: string): ParsedAnswer {
  const core = text.replace(WRAP, '');
  if (/^\d{1,3}$/.test(core)) return { kind: 'number', n: Number(core) };
  const m = /^\/foreman\s+([a-z][a-z-]*)$/i.exec(core);
  if (m) return { kind: 'command', command: m[1]!.toLowerCase() };
  return { kind: 'text', text };
}

/** Options as the escalation carries them: old runs may hold bare labels (no commands). */
export function normalizeOptions(options: readonly EscalationOption[] | readonly string[]): EscalationOption[] {
  return options.map((o) => (typeof o === 'string' ? { label: o, command: null } : o));
}

/**
 * The option a reply picks: its 1-based index, or null for free text (and for a pick that is not
 * on offer; {@link interpretAnswer} tells those apart). Does not check `mayApprove`.
 */
export function chooseOption(
  reply: HumanReply,
  options: readonly EscalationOption[] | readonly string[],
): number | null {
  const a = interpretAnswer({ ...reply, mayApprove: true }, options);
  return a.kind === 'option' ? a.option : null;
}

/**
 * What a reply means for an escalation with `options`: a picked option, free text, a pick not on
 * offer, or an approval from someone without `mayApprove` (the trust policy decides who may).
 */
export function interpretAnswer(reply: HumanReply, options: readonly EscalationOption[] | readonly string[]): Answer {
  const opts = normalizeOptions(options);
  const parsed = parseAnswer(reply.text);
  if (parsed.kind === 'text') return { kind: 'text' };
  let index: number;
  if (parsed.kind === 'number') {
    index = parsed.n;
    if (index < 1 || index > opts.length) {
      return { kind: 'invalid', why: `there is no option ${parsed.n} (the options are 1 to ${opts.length})` };
    }
  } else {
    index = opts.findIndex((o) => o.command === parsed.command) + 1;
    if (index === 0) return { kind: 'invalid', why: `\`/foreman ${parsed.command}\` is not one of the options here` };
  }
  const command = opts[index - 1]!.command;
  if (command === 'approve' && reply.mayApprove !== true) return { kind: 'not_approver' };
  return { kind: 'option', option: index, command };
}

/** How an option is picked, for the escalation comment: "`1` or `/foreman retry`". */
export function howToPick(option: EscalationOption, n: number): string {
  return option.command ? `\`${n}\` or \`/foreman ${option.command}\`` : `\`${n}\``;
}
