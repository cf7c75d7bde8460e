/**
 * The review ledger: every reviewer finding of a run across rounds, and which of them send the
 * work back. Pure and deterministic (it runs in the workflow sandbox): no clock, no randomness, no
 * I/O, inputs never mutated.
 *
 * Owns: the round-over-round rules (raise, re-raise, resolve, no resurrection) and the severity
 * ratchet. Does not own: finding ids or merging within one review (src/review/findings.ts), the
 * verdict (the reviewer's, passed in) or what the workflow does with `blocking`.
 */
import type { ReviewResult } from '../src/agents/results.js';
import type { Finding, ReviewRound, Severity, TrackedFinding } from '../src/review/findings.js';

/**
 * Severities that send the work back in `round` (1-based): `firstRound` in round 1,
 * `laterRounds` after it (policy `review.first_round` / `review.later_rounds`). The ratchet makes
 * review converge: minor points count once, not forever.
 */
export function blockingSeveritiesFor(
  round: number,
  firstRound: readonly Severity[],
  laterRounds: readonly Severity[],
): Severity[] {
  return [...(round <= 1 ? firstRound : laterRounds)];
}

/** The findings still open in `ledger`, in ledger order. */
export function openFindings(ledger: readonly TrackedFinding[]): TrackedFinding[] {
  return ledger.filter((f) => f.status === 'open');
}

/**
 * Applies one review round to the ledger and returns the new ledger and the round as the evidence
 * shows it. Rules:
 * - a finding already `resolved` is not raised again: it is dropped from this round's `raised`
 *   (a reviewer re-discovering a fixed point must not undo the fix's credit or loop the work);
 * - an open finding raised again gets `lastRound = round`, the new severity, and the new line when
 *   one is given (lines move between rounds);
 * - a new finding is added as open (`firstRound = lastRound = round`);
 * - an open finding not raised this round becomes resolved (`resolvedInRound = round`);
 * - `blocking`: ids of this round's raised findings whose severity is in `blockingSeverities`
 *   (see {@link blockingSeveritiesFor}).
 *
 * @param ledger - the ledger after the previous round (`[]` before round 1).
 * @param round - this round, 1-based.
 * @param raised - this round's findings, deduplicated by id (src/review/findings.ts
 *   `toFindings`); should an id repeat, its first occurrence counts.
 * @param blockingSeverities - the severities that block in this round.
 * @param verdict - the reviewer's verdict, recorded as given.
 * @returns a new ledger (existing findings first, in their order, then new ones in `raised`
 *   order) and the `ReviewRound`.
 */
export function applyReview(
  ledger: readonly TrackedFinding[],
  round: number,
  raised: readonly Finding[],
  blockingSeverities: readonly Severity[],
  verdict: ReviewResult['verdict'],
): { ledger: TrackedFinding[]; round: ReviewRound } {
  const known = new Map(ledger.map((f) => [f.id, f]));
  const thisRound = new Map<string, Finding>();
  for (const finding of raised) {
    if (thisRound.has(finding.id) || known.get(finding.id)?.status === 'resolved') continue;
    thisRound.set(finding.id, { ...finding });
  }

  const resolved: string[] = [];
  const next: TrackedFinding[] = ledger.map((tracked) => {
    if (tracked.status === 'resolved') return { ...tracked };
    const again = thisRound.get(tracked.id);
    if (again) {
      return { ...tracked, severity: again.severity, line: again.line ?? tracked.line, lastRound: round };
    }
    resolved.push(tracked.id);
    return { ...tracked, status: 'resolved', resolvedInRound: round };
  });
  for (const finding of thisRound.values()) {
    if (known.has(finding.id)) continue;
    next.push({ ...finding, firstRound: round, lastRound: round, status: 'open', resolvedInRound: null });
  }

  const blockingSet = new Set(blockingSeverities);
  const raisedNow = [...thisRound.values()];
  return {
    ledger: next,
    round: {
      round,
      verdict,
      raised: raisedNow,
      resolved,
      blocking: raisedNow.filter((f) => blockingSet.has(f.severity)).map((f) => f.id),
    },
  };
}
