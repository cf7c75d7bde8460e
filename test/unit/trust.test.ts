/** The trust rules (src/trust/index.ts, specs/trust.md) over a stub tracker: who may answer, approve, start; caching. */
import { describe, expect, it } from 'vitest';
import { defaultPolicy, type Policy } from '../../src/config/schema.js';
import type { Issue, TrackerUser } from '../../src/trackers/types.js';
import { TrustGate } from '../../src/trust/index.js';
import { makeIssue } from '../support/issues.js';

const user = (id: string, role: string | null = null, bot = false): TrackerUser => ({ id, name: id, role, bot });

function gate(
  kind: string,
  o: { trust?: Partial<Policy['trust']>; access?: Set<string>; appliers?: TrackerUser[] } = {},
) {
  const calls = { access: 0, appliers: 0 };
  let clock = 0;
  const g = new TrustGate({
    trust: { ...defaultPolicy().trust, ...o.trust },
    requiredLabels: [],
    tracker: {
      kind,
      writeAccess: async (u) => {
        calls.access++;
        if (u.id === 'flaky') throw new Error('rate limited');
        return o.access?.has(u.id) ?? false;
      },
      labelAppliers: async () => {
        calls.appliers++;
        return o.appliers ?? [];
      },
    },
    now: () => clock,
  });
  return { g, calls, advance: (ms: number) => (clock += ms) };
}

const issue = (author: TrackerUser | null | undefined, labels: string[] = []): Issue =>
  makeIssue('app-1', { id: '1', labels, updated_at: '2026-01-01T00:00:00Z', author });

describe('TrustGate', () => {
  it('local: anyone may answer and start; approvers still narrow approval', async () => {
    const { g } = gate('local', { trust: { approvers: ['ada'] } });
    expect(await g.mayAnswer(null)).toBe(true);
    expect(await g.mayStart(issue(null))).toEqual({ trusted: true });
    expect(await g.mayApprove(user('bob'))).toBe(false);
    expect(await g.mayApprove(user('ADA'))).toBe(true);
  });

  it('GitHub: trusted associations without a look-up; others by write access; bots and unknowns never', async () => {
    const { g, calls } = gate('github', { access: new Set(['writer']) });
    expect(await g.mayAnswer(user('o', 'OWNER'))).toBe(true);
    expect(await g.mayAnswer(user('m', 'member'))).toBe(true);
    expect(calls.access).toBe(0);
    expect(await g.mayAnswer(user('writer', 'NONE'))).toBe(true);
    expect(await g.mayAnswer(user('stranger', 'CONTRIBUTOR'))).toBe(false);
    expect(await g.mayAnswer(user('dependabot[bot]', 'MEMBER', true))).toBe(false);
    expect(await g.mayAnswer(null)).toBe(false);
    expect(await g.mayAnswer(user(''))).toBe(false);
  });

  it('trust.users adds people (case-insensitive), even bots; approvers default to whoever may answer', async () => {
    const { g } = gate('github', { trust: { users: ['Helper[bot]'] } });
    expect(await g.mayAnswer(user('helper[bot]', 'NONE', true))).toBe(true);
    expect(await g.mayApprove(user('helper[bot]', 'NONE', true))).toBe(true);
    expect(await g.mayApprove(user('x', 'NONE'))).toBe(false);
  });

  it('Linear: guests never, members by team membership', async () => {
    const { g, calls } = gate('linear', { access: new Set(['u1', 'g1']) });
    expect(await g.mayAnswer(user('g1', 'GUEST'))).toBe(false);
    expect(await g.mayAnswer(user('u1', 'MEMBER'))).toBe(true);
    expect(await g.mayAnswer(user('u2', 'MEMBER'))).toBe(false);
    expect(calls.access).toBe(2);
  });

  it('caches write access for trust.cache_ms; a failed look-up is not cached', async () => {
    const { g, calls, advance } = gate('github', { trust: { cache_ms: 1000 } });
    for (let i = 0; i < 5; i++) await g.mayAnswer(user('x', 'NONE'));
    expect(calls.access).toBe(1);
    advance(1000);
    await g.mayAnswer(user('x', 'NONE'));
    expect(calls.access).toBe(2);
    expect(await g.mayAnswer(user('flaky'))).toBe(false);
    expect(await g.mayAnswer(user('flaky'))).toBe(false);
    expect(calls.access).toBe(4);
    // Concurrent callers share one in-flight look-up, and its failure is false for all of them.
    expect(await Promise.all([g.mayAnswer(user('flaky')), g.mayAnswer(user('flaky'))])).toEqual([false, false]);
    expect(calls.access).toBe(5);
  });

  it('an untrusted author starts only once a trusted person applied the start label, which the issue still carries', async () => {
    const untrusted = issue(user('mallory', 'NONE'));
    expect(await gate('github').g.mayStart(untrusted)).toEqual({
      trusted: false,
      reason: 'author mallory is not trusted; a trusted person must apply the label "foreman"',
    });
    const byOwner = { appliers: [user('mallory'), user('lead', 'OWNER')] };
    expect(await gate('github', byOwner).g.mayStart(issue(untrusted.author, ['foreman']))).toEqual({ trusted: true });
    // The label is gone (removed after it was applied): no start.
    expect((await gate('github', byOwner).g.mayStart(untrusted)).trusted).toBe(false);
    const self = gate('github', { appliers: [user('mallory')], trust: { start_label: 'go' } });
    expect(await self.g.mayStart(issue(untrusted.author, ['go']))).toEqual({
      trusted: false,
      reason: 'author mallory is not trusted; a trusted person must apply the label "go"',
    });
    // tracker.required_labels name the label instead of trust.start_label.
    self.g.update({ ...defaultPolicy().trust }, ['Ready']);
    expect(self.g.startLabel).toBe('Ready');
  });
});
