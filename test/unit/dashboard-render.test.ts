/**
 * The dashboard's pure parts (docs/architecture.md, "Dashboard"): hostile text in every field a
 * fragment shows comes out escaped; links are http(s) only; the "if nobody answers" line follows
 * the run's reminder and park settings; the answer body is checked before anything is sent.
 */
import { describe, expect, it } from 'vitest';
import { parseAnswerBody } from '../../src/server/answer.js';
import { httpUrl, withoutAnswer, type HomeView, type IssueView } from '../../src/server/dashboard/data.js';
import { isDashboardShellPath } from '../../src/server/dashboard/index.js';
import { renderHome, renderIssue, renderShell } from '../../src/server/dashboard/render.js';

const EVIL = '<script>alert(1)</script><img src=x onerror=alert(2)>"\'&';
const ESCAPED = '&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;&quot;&#39;&amp;';

const question = {
  identifier: `X-1${EVIL}`,
  title: EVIL,
  workflow_id: 'w',
  n: 1,
  kind: 'agent_question',
  question: EVIL,
  options: [{ n: 1, label: EVIL, command: null, recommended: true }],
  recommendation: EVIL,
  asked_at: '2026-12-04T12:00:00.000Z',
  reminded: false,
  parked: false,
  without_answer: EVIL,
};

const home: HomeView = {
  generated_at: '2026-12-04T12:00:00.000Z',
  summary: { working: 1, waiting: 1, retrying: 1, in_review: 0, done_today: 2, tokens_today: 1234, usd_today: null },
  inbox: [question],
  retry: [{ identifier: EVIL, step: EVIL, attempt: 1, error: EVIL, next_attempt_at: '2026-12-04T12:01:00.000Z' }],
  running: [
    {
      identifier: EVIL,
      phase: 'implementing',
      round: 1,
      turns: 2,
      tokens: 10,
      cost_usd: 0.5,
      started_at: '2026-12-04T12:00:00.000Z',
      last_error: EVIL,
    },
  ],
  recent: [{ identifier: EVIL, status: 'completed', outcome: EVIL, closed_at: null }],
};

/** No tag of the hostile text survives: only escaped forms of `<`. */
function expectInert(html: string) {
  expect(html).not.toMatch(/<script|<img|onerror=alert\(2\)>/);
  expect(html).toContain('&lt;script&gt;alert(1)');
}

describe('dashboard fragments', () => {
  it('escape tracker and agent text in every home fragment', async () => {
    const f = await renderHome(home);
    expect(Object.keys(f).sort()).toEqual(['inbox', 'recent', 'retry', 'running', 'summary']);
    for (const id of ['inbox', 'recent', 'retry', 'running']) expectInert(f[id]!);
    expect(f.inbox).toContain(ESCAPED);
    // The issue link's path is URL-encoded; the answer form carries the question's number.
    expect(f.inbox).toContain('href="/issues/X-1%3Cscript%3E');
    expect(f.inbox).toContain('data-escalation="1"');
    expect(f.summary).toContain('unknown');
  });

  it('escape the issue page, evidence and transcript included, and link only http(s)', async () => {
    const view: IssueView = {
      identifier: 'X-1',
      title: EVIL,
      workflow_id: 'w',
      run_id: 'r',
      status: 'running',
      phase: 'waiting_for_human',
      round: 1,
      turns: 1,
      tokens: 1,
      cost_usd: null,
      last_error: EVIL,
      retrying: null,
      waiting: question,
      links: {
        issue: httpUrl('javascript:alert(1)'),
        branch: EVIL,
        branch_url: null,
        pr: httpUrl('https://x.test/pr/1'),
        temporal: null,
      },
      timeline: [{ at: '2026-12-04T12:00:00.000Z', label: EVIL, detail: EVIL, state: 'ok', ms: 5 }],
      evidence: `## Evidence ${EVIL}`,
    };
    const f = await renderIssue(view, [`[12:00 implementer #1] assistant: ${EVIL}`]);
    for (const html of Object.values(f)) expectInert(html);
    expect(f.head).not.toContain('javascript:');
    expect(f.head).toContain('href="https://x.test/pr/1"');
    expect(f.evidence).toContain('<pre class="evidence">## Evidence &lt;script&gt;');
  });

  it('the shells hold no data and name the stream of the page', async () => {
    const shell = await renderShell({ kind: 'issue', identifier: EVIL });
    expectInert(shell.replace('<script type="module" src="/assets/dashboard.js"></script>', ''));
    expect(shell).toContain('data-stream="/api/v1/dashboard/issues/%3Cscript%3E');
    expect(isDashboardShellPath('/')).toBe(true);
    expect(isDashboardShellPath('/issues/X-1')).toBe(true);
    expect(isDashboardShellPath('/issues/X-1/stream')).toBe(false);
    expect(isDashboardShellPath('/api/v1/dashboard/stream')).toBe(false);
  });
});

describe('withoutAnswer', () => {
  const asked = { asked_at: '2026-12-04T12:00:00.000Z', reminded: false, parked: false };
  it('names the reminder and the park with their times, then waiting without bound', () => {
    const line = withoutAnswer(asked, { repingMs: 3_600_000, parkMs: 86_400_000, parkedState: 'Blocked' });
    expect(line).toBe(
      'one reminder after 1 h (2026-12-04 13:00 UTC); parked in "Blocked" after 24 h (2026-12-05 12:00 UTC); ' +
        'the run waits for an answer without bound; nothing else happens on the issue',
    );
  });
  it('says what already happened, and skips a reminder not shorter than the park', () => {
    expect(
      withoutAnswer({ ...asked, reminded: true, parked: true }, { repingMs: 1, parkMs: 2, parkedState: null }),
    ).toMatch(/^a reminder was posted; parked; the run waits/);
    expect(withoutAnswer(asked, { repingMs: 5, parkMs: 5, parkedState: null })).not.toContain('reminder');
    expect(withoutAnswer(asked, { repingMs: null, parkMs: null, parkedState: null })).toMatch(/^the run waits/);
  });
});

describe('parseAnswerBody', () => {
  it('takes text and an optional question number, refuses the rest', () => {
    expect(parseAnswerBody({ text: ' 2 ' })).toEqual({ text: '2' });
    expect(parseAnswerBody({ text: 'go', escalation: 3 })).toEqual({ text: 'go', escalation: 3 });
    for (const bad of [
      null,
      [],
      'x',
      {},
      { text: '' },
      { text: 5 },
      { text: 'x', escalation: 0 },
      { text: 'x', escalation: '1' },
      { text: 'x'.repeat(20_001) },
    ])
      expect(parseAnswerBody(bad), JSON.stringify(bad)?.slice(0, 40)).toHaveProperty('error');
  });
});
