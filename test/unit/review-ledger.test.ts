/**
 * Reviewer findings across rounds: stable ids, merging within one review, and every ledger rule
 * (raise, re-raise, resolve, no resurrection, severity ratchet, inputs left untouched).
 */
import { describe, expect, it } from 'vitest';
import { findingId, toFindings } from '../../src/review/findings.js';
import { applyReview, blockingSeveritiesFor, openFindings } from '../../workflows/review-ledger.js';
import type { Finding, Severity, TrackedFinding } from '../../src/review/findings.js';

const FIRST: Severity[] = ['blocker', 'major', 'minor'];
const LATER: Severity[] = ['blocker', 'major'];

function finding(
  message: string,
  severity: Severity = 'major',
  path: string | null = 'src/a.ts',
  line: number | null = 1,
): Finding {
  return { id: findingId(path, message), severity, path, line, message };
}

describe('findingId', () => {
  it('is F- plus 10 hex characters and stable across calls', () => {
    const id = findingId('src/a.ts', 'Handle the empty list.');
    expect(id).toMatch(/^F-[0-9a-f]{10}$/);
    expect(findingId('src/a.ts', 'Handle the empty list.')).toBe(id);
  });

  it('ignores case, whitespace and trailing punctuation in the message', () => {
    const id = findingId('src/a.ts', 'Handle the empty list.');
    expect(findingId('src/a.ts', '  handle   THE empty\nlist  ')).toBe(id);
    expect(findingId('src/a.ts', 'Handle the empty list!!')).toBe(id);
    expect(findingId('src/a.ts', 'Handle the empty list;')).toBe(id);
    expect(findingId('./src/a.ts', 'Handle the empty list')).toBe(id);
  });

  it('differs for a different path, no path, or a different message', () => {
    const id = findingId('src/a.ts', 'Handle the empty list');
    expect(findingId('src/b.ts', 'Handle the empty list')).not.toBe(id);
    expect(findingId(null, 'Handle the empty list')).not.toBe(id);
    expect(findingId('src/a.ts', 'Handle the null list')).not.toBe(id);
    expect(findingId(null, 'x')).toBe(findingId('', 'x'));
  });
});

describe('toFindings', () => {
  it('assigns ids and normalizes optional fields to null', () => {
    const [f] = toFindings([{ severity: 'minor', message: ' Name is unclear ' }]);
    expect(f).toEqual({
      id: findingId(null, 'Name is unclear'),
      severity: 'minor',
      path: null,
      line: null,
      message: 'Name is unclear',
    });
  });

  it('merges duplicates of one review: most severe severity, first line, first message, first-seen order', () => {
    const out = toFindings([
      { severity: 'minor', path: 'src/a.ts', line: 10, message: 'Off by one.' },
      { severity: 'nit', path: 'src/b.ts', message: 'Typo' },
      { severity: 'blocker', path: 'src/a.ts', line: 12, message: 'off by ONE' },
      { severity: 'major', path: './src/a.ts', message: 'Off by one' },
    ]);
    expect(out).toHaveLength(2);
    expect(out[0]).toMatchObject({ severity: 'blocker', path: 'src/a.ts', line: 10, message: 'Off by one.' });
    expect(out[1]).toMatchObject({ severity: 'nit', path: 'src/b.ts', line: null });
  });

  it('takes the first line given when the first duplicate had none', () => {
    const out = toFindings([
      { severity: 'major', path: 'a.ts', message: 'Bad' },
      { severity: 'minor', path: 'a.ts', line: 7, message: 'bad' },
    ]);
    expect(out).toEqual([expect.objectContaining({ severity: 'major', line: 7 })]);
  });
});

describe('blockingSeveritiesFor', () => {
  it('uses first_round in round 1 and later_rounds after', () => {
    expect(blockingSeveritiesFor(1, FIRST, LATER)).toEqual(FIRST);
    expect(blockingSeveritiesFor(2, FIRST, LATER)).toEqual(LATER);
    expect(blockingSeveritiesFor(5, FIRST, LATER)).toEqual(LATER);
  });
});

describe('applyReview', () => {
  const a = finding('Off by one', 'major');
  const b = finding('Variable name is unclear', 'minor', 'src/b.ts');
  const c = finding('Missing test for empty input', 'blocker', 'test/a.test.ts');

  it('round 1: adds every finding as open and blocks on first_round severities', () => {
    const nit = finding('Trailing space', 'nit');
    const { ledger, round } = applyReview(
      [],
      1,
      [a, b, nit],
      blockingSeveritiesFor(1, FIRST, LATER),
      'request_changes',
    );
    expect(ledger.map((f) => [f.id, f.status, f.firstRound, f.lastRound, f.resolvedInRound])).toEqual([
      [a.id, 'open', 1, 1, null],
      [b.id, 'open', 1, 1, null],
      [nit.id, 'open', 1, 1, null],
    ]);
    expect(round).toEqual({
      round: 1,
      verdict: 'request_changes',
      raised: [a, b, nit],
      resolved: [],
      blocking: [a.id, b.id],
    });
  });

  it('re-raising an open finding updates lastRound, severity and line; not re-raising resolves it', () => {
    const r1 = applyReview([], 1, [a, b], FIRST, 'request_changes');
    const aAgain: Finding = { ...a, severity: 'blocker', line: 40 };
    const r2 = applyReview(r1.ledger, 2, [aAgain], blockingSeveritiesFor(2, FIRST, LATER), 'request_changes');
    expect(r2.ledger).toEqual([
      { ...a, severity: 'blocker', line: 40, firstRound: 1, lastRound: 2, status: 'open', resolvedInRound: null },
      { ...b, firstRound: 1, lastRound: 1, status: 'resolved', resolvedInRound: 2 },
    ]);
    expect(r2.round).toMatchObject({ round: 2, raised: [aAgain], resolved: [b.id], blocking: [a.id] });
  });

  it('keeps the old line when a re-raise gives none', () => {
    const r1 = applyReview([], 1, [a], FIRST, 'request_changes');
    const r2 = applyReview(r1.ledger, 2, [{ ...a, line: null }], LATER, 'request_changes');
    expect(r2.ledger[0]!.line).toBe(a.line);
  });

  it('a finding resolved in round 2 and raised again in round 3 is dropped', () => {
    const r1 = applyReview([], 1, [a, b], FIRST, 'request_changes');
    const r2 = applyReview(r1.ledger, 2, [a], LATER, 'request_changes');
    const r3 = applyReview(r2.ledger, 3, [a, { ...b, severity: 'blocker' }, c], LATER, 'request_changes');
    expect(r3.round.raised.map((f) => f.id)).toEqual([a.id, c.id]);
    expect(r3.round.blocking).toEqual([a.id, c.id]);
    expect(r3.round.resolved).toEqual([]);
    const bTracked = r3.ledger.find((f) => f.id === b.id)!;
    expect(bTracked).toMatchObject({ status: 'resolved', resolvedInRound: 2, lastRound: 1, severity: 'minor' });
    expect(r3.ledger.map((f) => f.id)).toEqual([a.id, b.id, c.id]);
  });

  it('ratchets: a minor finding blocks in round 1 but not in later rounds, while staying open', () => {
    const r1 = applyReview([], 1, [b], blockingSeveritiesFor(1, FIRST, LATER), 'request_changes');
    expect(r1.round.blocking).toEqual([b.id]);
    const r2 = applyReview(r1.ledger, 2, [b], blockingSeveritiesFor(2, FIRST, LATER), 'approve');
    expect(r2.round.blocking).toEqual([]);
    expect(r2.round.verdict).toBe('approve');
    expect(openFindings(r2.ledger).map((f) => f.id)).toEqual([b.id]);
  });

  it('a round with no findings resolves every open one; a round after that changes nothing', () => {
    const r1 = applyReview([], 1, [a, b], FIRST, 'request_changes');
    const r2 = applyReview(r1.ledger, 2, [], LATER, 'approve');
    expect(r2.round).toEqual({ round: 2, verdict: 'approve', raised: [], resolved: [a.id, b.id], blocking: [] });
    expect(openFindings(r2.ledger)).toEqual([]);
    const r3 = applyReview(r2.ledger, 3, [], LATER, 'approve');
    expect(r3.ledger).toEqual(r2.ledger);
    expect(r3.round.resolved).toEqual([]);
  });

  it('keeps the first occurrence of an id repeated within raised', () => {
    const { ledger, round } = applyReview([], 1, [a, { ...a, severity: 'nit' }], FIRST, 'request_changes');
    expect(ledger).toHaveLength(1);
    expect(round.raised).toEqual([a]);
  });

  it('never mutates its inputs and returns new objects', () => {
    const r1 = applyReview([], 1, [a, b], FIRST, 'request_changes');
    const ledger: TrackedFinding[] = structuredClone(r1.ledger);
    const raised = [{ ...a, severity: 'blocker' as const }];
    const snapshot = structuredClone({ ledger, raised });
    const r2 = applyReview(ledger, 2, raised, LATER, 'request_changes');
    expect({ ledger, raised }).toEqual(snapshot);
    expect(r2.ledger).not.toBe(ledger);
    expect(r2.ledger[0]).not.toBe(ledger[0]);
    expect(r2.round.raised[0]).not.toBe(raised[0]);
  });
});
