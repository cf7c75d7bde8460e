/**
 * Reviewer findings as the workflow tracks them: a stable id per finding (so the same complaint in
 * a later round is recognised as the same finding) and the clean-up of one `submit_review` call's
 * findings (ids assigned, duplicates merged).
 *
 * Owns: the id rule and the merge within one review. Does not own: what happens to findings across
 * rounds (workflows/review-ledger.ts) or validating the model's input (src/agents/tools.ts).
 */
import { createHash } from 'node:crypto';
import type { ReviewResult } from '../agents/results.js';

/**
 * Reviewer finding severities, most severe first: the one list the `submit_review` tool schema,
 * the policy schema (`review.*_round`), the reviewer prompt and the evidence packet all use.
 */
export const SEVERITIES = ['blocker', 'major', 'minor', 'nit'] as const;

/** A reviewer finding severity (see {@link SEVERITIES}). */
export type Severity = (typeof SEVERITIES)[number];

/** What each severity means, as the reviewer prompt states it. */
export const SEVERITY_MEANINGS: Readonly<Record<Severity, string>> = {
  blocker: 'wrong or unsafe',
  major: 'must fix before merge',
  minor: 'should fix',
  nit: 'optional',
};

/** One reviewer finding. `id` is stable across rounds: a hash of path + normalized message. */
export interface Finding {
  id: string;
  severity: Severity;
  path: string | null;
  line: number | null;
  message: string;
}

/** A finding across review rounds. */
export interface TrackedFinding extends Finding {
  /** Round it was first raised in (1-based). */
  firstRound: number;
  /** Round it was last raised in. */
  lastRound: number;
  /** `resolved`: raised before, not raised again in a later round. */
  status: 'open' | 'resolved';
  resolvedInRound: number | null;
}

/** One review round as the evidence shows it. */
export interface ReviewRound {
  round: number;
  verdict: ReviewResult['verdict'];
  /** Findings raised this round (deduplicated; already-resolved ones dropped). */
  raised: Finding[];
  /** Ids resolved by this round (open before, not raised again). */
  resolved: string[];
  /** Ids that sent the work back this round (after the severity ratchet). */
  blocking: string[];
}

/** Hex characters of sha256 kept in an id: 40 bits, ample for the findings of one issue. */
const ID_HEX_CHARS = 10;

/** One finding as the reviewer submitted it (the `submit_review` `findings` item). */
export interface RawFinding {
  severity: Severity;
  path?: string | null;
  line?: number | null;
  message: string;
}

/**
 * A path as the id sees it: trimmed, `\` as `/`, leading `./` dropped; blank is null. Reviewers
 * write `./src/a.ts` and `src/a.ts` for the same file.
 */
function normalizePath(p: string | null | undefined): string | null {
  if (p == null) return null;
  const out = p
    .trim()
    .replace(/\\/g, '/')
    .replace(/^(\.\/)+/, '');
  return out === '' ? null : out;
}

/** Lowercased, whitespace collapsed, trimmed, trailing punctuation dropped. */
function normalizeMessage(message: string): string {
  return message
    .toLowerCase()
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/[\s.,;:!?…]+$/u, '');
}

/**
 * The stable id of a finding: `F-` + the first 10 hex characters of sha256 of
 * `${path}\n${message}`, the path normalized (leading `./` dropped, blank as none) and the message
 * lowercased with whitespace collapsed, trimmed and trailing punctuation dropped. So the same
 * complaint about the same file gets the same id in every round even when its case, spacing or
 * final full stop change; a different path gives a different id.
 */
export function findingId(path: string | null, message: string): string {
  const key = `${normalizePath(path) ?? ''}\n${normalizeMessage(message)}`;
  return `F-${createHash('sha256').update(key, 'utf8').digest('hex').slice(0, ID_HEX_CHARS)}`;
}

/**
 * Turns one review's raw findings into `Finding`s: ids assigned ({@link findingId}), path
 * normalized, message trimmed. Findings with the same id are merged into the first one, keeping
 * the most severe severity and the first line given. Order: first occurrence.
 */
export function toFindings(raw: readonly RawFinding[]): Finding[] {
  const byId = new Map<string, Finding>();
  for (const item of raw) {
    const path = normalizePath(item.path);
    const id = findingId(path, item.message);
    const line = item.line ?? null;
    const seen = byId.get(id);
    if (!seen) {
      byId.set(id, { id, severity: item.severity, path, line, message: item.message.trim() });
      continue;
    }
    if (SEVERITIES.indexOf(item.severity) < SEVERITIES.indexOf(seen.severity)) seen.severity = item.severity;
    seen.line ??= line;
  }
  return [...byId.values()];
}
