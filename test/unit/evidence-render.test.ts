/**
 * The evidence packet is rendered from data only, says plainly what was and wasn't verified,
 * labels every model-written text, and stays well-formed Markdown for a GitHub or Linear comment
 * (checked structurally by `markdownProblems`: no Markdown renderer is a dependency).
 */
import { describe, expect, it } from 'vitest';
import { renderEscalation } from '../../src/evidence/escalation.js';
import { EVIDENCE_MAX_CHARS, formatDuration, renderEvidence } from '../../src/evidence/render.js';
import type { TokenUsage } from '../../src/agents/usage.js';
import type { EvidenceData } from '../../src/evidence/render.js';
import type { QaCommandResult } from '../../src/qa/run.js';

const usage = (input: number, output: number, write = 0, read = 0): TokenUsage => ({
  input_tokens: input,
  output_tokens: output,
  cache_creation_input_tokens: write,
  cache_read_input_tokens: read,
});

const qaResult = (command: string, passed: boolean, extra: Partial<QaCommandResult> = {}): QaCommandResult => ({
  command,
  exitCode: passed ? 0 : 1,
  durationMs: 1500,
  timedOut: false,
  outputTail: passed ? 'ok' : 'FAIL',
  passed,
  ...extra,
});

/** A realistic run: QA failed once, the reviewer sent it back once, a question was answered. */
const full: EvidenceData = {
  identifier: 'DEMO-1',
  title: 'Fix add() | subtract rounding',
  stage: 'ready',
  branch: 'foreman/DEMO-1',
  baseBranch: 'main',
  push: {
    branch: 'foreman/DEMO-1',
    commit: '0123456789abcdef0123456789abcdef01234567',
    pushed: true,
    diffStat:
      ' src/add.js       | 4 ++--\n test/add.test.js | 9 +++++++++\n package.json     | 2 +-\n 3 files changed, 12 insertions(+), 3 deletions(-)',
    filesChanged: 3,
    insertions: 12,
    deletions: 3,
  },
  specPath: '/srv/foreman/workspaces/DEMO-1/.foreman/spec.md',
  implementerSummary: 'Fixed rounding in `add()` with banker’s rounding.\n\nAdded tests for `Array<number>` inputs.',
  qaRounds: [
    {
      round: 1,
      report: {
        passed: false,
        results: [
          qaResult('npm test', false, { outputTail: '1 failing\n  add(0.1, 0.2) !== 0.3' }),
          qaResult('npm run lint', true),
        ],
      },
    },
    {
      round: 2,
      report: {
        passed: true,
        results: [
          qaResult('npm test', true, { outputTail: '12 passing (40ms)\nsnapshot: ```x```', durationMs: 4210 }),
          qaResult('npm run lint', true, { outputTail: '', durationMs: 850 }),
        ],
      },
    },
  ],
  qaMaxRounds: 3,
  qaAgent: {
    passed: true,
    checks: [
      {
        path: '.foreman/checks/rounding.sh',
        exitCode: 0,
        durationMs: 320,
        outputTail: 'add(0.5, 0) = 0 ✓',
        passed: true,
      },
      {
        path: '.foreman/checks/negative.sh',
        exitCode: 0,
        durationMs: 290,
        outputTail: 'add(-1.5, 0) = -2 ✓',
        passed: true,
      },
    ],
    summary: 'Both acceptance criteria hold.',
    turns: 6,
    usage: usage(8000, 900, 0, 2000),
    costUsd: 0.0375,
    transcriptPath: '/srv/foreman/transcripts/DEMO-1/qa-1.jsonl',
  },
  review: {
    enabled: true,
    maxRounds: 3,
    rounds: [
      {
        round: 1,
        verdict: 'request_changes',
        raised: [
          {
            id: 'f1a2b3c4',
            severity: 'major',
            path: 'src/add.js',
            line: 12,
            message: 'Rounding mode ignores negative numbers.',
          },
          {
            id: 'd5e6f7a8',
            severity: 'nit',
            path: 'src/add.js',
            line: null,
            message: 'Name `r` is unclear | rename it.',
          },
        ],
        resolved: [],
        blocking: ['f1a2b3c4'],
      },
      {
        round: 2,
        verdict: 'approve',
        raised: [
          {
            id: 'd5e6f7a8',
            severity: 'nit',
            path: 'src/add.js',
            line: null,
            message: 'Name `r` is unclear | rename it.',
          },
        ],
        resolved: ['f1a2b3c4'],
        blocking: [],
      },
    ],
    findings: [
      {
        id: 'd5e6f7a8',
        severity: 'nit',
        path: 'src/add.js',
        line: null,
        message: 'Name `r` is unclear | rename it.',
        firstRound: 1,
        lastRound: 2,
        status: 'open',
        resolvedInRound: null,
      },
      {
        id: 'f1a2b3c4',
        severity: 'major',
        path: 'src/add.js',
        line: 12,
        message: 'Rounding mode ignores negative numbers.',
        firstRound: 1,
        lastRound: 1,
        status: 'resolved',
        resolvedInRound: 2,
      },
    ],
    summary: 'The fix is correct; one naming nit remains.',
  },
  contract: {
    changedFiles: ['src/add.js', 'test/add.test.js', 'package.json'],
    protectedTouched: ['package.json'],
    outOfScope: ['package.json'],
    scope: ['src/**', 'test/**'],
    evidence: ['npm test'],
  },
  protectedApproval: { paths: ['package.json'], by: 'ana', answer: 'Yes, bumping the test script is fine.' },
  pr: null,
  ci: null,
  usage: usage(60_000, 7300, 4000, 52_000),
  costUsd: 0.4425,
  turns: 31,
  roles: [
    {
      role: 'implementer',
      turns: 19,
      usage: usage(42_000, 5200, 4000, 40_000),
      costUsd: 0.3282,
      backend: 'claude-code',
      model: 'claude-opus-5-5',
    },
    {
      role: 'reviewer',
      turns: 6,
      usage: usage(10_000, 1200, 0, 10_000),
      costUsd: 0.0768,
      backend: 'builtin',
      model: 'claude-sonnet-5-5',
    },
    { role: 'qa', turns: 6, usage: usage(8000, 900, 0, 2000), costUsd: 0.0375, backend: 'codex', model: 'gpt-5.5' },
  ],
  wallMs: 754_000,
  escalations: [
    {
      question: 'Which rounding?',
      kind: 'agent_question',
      askedAt: '2026-11-21T07:00:00.000Z',
      answer: 'Banker’s\nrounding',
      author: 'ana',
    },
  ],
  transcripts: [
    '/srv/foreman/transcripts/DEMO-1/implementer-1.jsonl',
    '/srv/foreman/transcripts/DEMO-1/reviewer-1.jsonl',
    '/srv/foreman/transcripts/DEMO-1/qa-1.jsonl',
  ],
  risks: [],
  workflowId: 'foreman-issue-DEMO-1',
  runId: '8f14e45f-ceea-467a-9b6b-2a1d3c4e5f60',
};

/** The same run with nothing left to report under risks and gaps. */
const clean: EvidenceData = {
  ...full,
  contract: { ...full.contract!, protectedTouched: [], outOfScope: [] },
  protectedApproval: null,
  review: {
    ...full.review,
    rounds: [{ round: 1, verdict: 'approve', raised: [], resolved: [], blocking: [] }],
    findings: [],
  },
  escalations: [],
};

/**
 * Structural problems that would make the packet render badly on GitHub/Linear: unclosed fences,
 * unbalanced `<details>`, HTML blocks without the blank line that lets Markdown inside render,
 * tables without a header separator or with ragged rows, raw HTML other than the packet's own.
 */
function markdownProblems(md: string): string[] {
  const problems: string[] = [];
  const lines = md.split('\n');
  const cells = (row: string) => row.replace(/\\\|/g, '').split('|').length - 2;
  let open: { len: number; line: number; quoted: boolean } | null = null;
  let details = 0;
  lines.forEach((raw, i) => {
    const at = `line ${i + 1}`;
    const quoted = /^ {0,3}>/.test(raw);
    const body = raw.replace(/^( {0,3}> ?)+/, '');
    if (open && open.quoted && !quoted) open = null; // the blockquote ended, and with it the fence
    if (open) {
      const close = /^ {0,3}(`{3,})\s*$/.exec(body);
      if (close && close[1]!.length >= open.len) open = null;
      return;
    }
    const start = /^ {0,3}(`{3,})[^`]*$/.exec(body);
    if (start) {
      open = { len: start[1]!.length, line: i + 1, quoted };
      return;
    }
    const text = body.replace(/(`+)[\s\S]*?\1/g, '');
    for (const m of text.matchAll(/<(\/?)([a-z][a-z0-9]*)/gi)) {
      if (!['details', 'summary', 'code', 'sub'].includes(m[2]!.toLowerCase()) || quoted)
        problems.push(`${at}: raw HTML <${m[1]}${m[2]}>`);
      if (m[2] === 'details') details += m[1] ? -1 : 1;
      if (details < 0) problems.push(`${at}: </details> without <details>`);
    }
    if (/<\/summary>\s*$/.test(raw) && lines[i + 1] !== '')
      problems.push(`${at}: no blank line after <summary>, Markdown inside would not render`);
    if (/^<\/details>/.test(raw) && lines[i - 1] !== '') problems.push(`${at}: no blank line before </details>`);
    if (raw.startsWith('|') && !lines[i - 1]?.startsWith('|')) {
      if (lines[i - 1] !== undefined && lines[i - 1] !== '') problems.push(`${at}: table not preceded by a blank line`);
      const cols = cells(raw);
      const sep = lines[i + 1] ?? '';
      if (!/^\|( *:?-+:? *\|)+$/.test(sep) || cells(sep) !== cols)
        problems.push(`${at}: table header without a matching separator row`);
      let j = i + 2;
      for (; lines[j]?.startsWith('|'); j++)
        if (cells(lines[j]!) !== cols) problems.push(`line ${j + 1}: ${cells(lines[j]!)} cells, header has ${cols}`);
      if (lines[j] !== undefined && lines[j] !== '') problems.push(`line ${j + 1}: table not followed by a blank line`);
    }
  });
  if (open) problems.push(`fence opened on line ${(open as { line: number }).line} never closes`);
  if (details !== 0) problems.push(`${details} <details> left open`);
  return problems;
}

describe('renderEvidence: the full packet', () => {
  it('matches the reviewed sample and is well-formed Markdown', async () => {
    const md = renderEvidence(full);
    expect(markdownProblems(md)).toEqual([]);
    await expect(md).toMatchFileSnapshot('../fixtures/evidence/full-packet.md');
  });

  it('names the backend and model of each role, and leaves the line out for runs that did not record them', () => {
    expect(renderEvidence(full)).toContain(
      '- **Agents:** implementer: `claude-code` (`claude-opus-5-5`) · reviewer: `builtin` (`claude-sonnet-5-5`) · QA agent: `codex` (`gpt-5.5`)\n',
    );
    const unrecorded = full.roles.map(({ backend: _b, model: _m, ...rest }) => rest);
    expect(renderEvidence({ ...full, roles: unrecorded })).not.toContain('**Agents:**');
    // A model name is outside text: it cannot break out of its code span.
    const hostile = [{ ...full.roles[0]!, model: 'x` <img src=y>' }];
    expect(renderEvidence({ ...full, roles: hostile })).toContain('implementer: `claude-code` (``x` <img src=y>``)');
  });

  it('has every section, in order', () => {
    const headings = renderEvidence(full)
      .split('\n')
      .filter((l) => l.startsWith('#'));
    expect(headings).toEqual([
      '## Foreman evidence: DEMO-1 ready for review',
      '### What changed',
      '### QA (run by Foreman)',
      '#### Acceptance checks written by the QA agent (run by Foreman)',
      '### Review',
      '### Contract (checked by Foreman)',
      '### Risks and gaps',
      '### Escalations and answers',
      '### Cost and time',
      '### Transcripts',
    ]);
  });

  it('is renderer-safe for every variant the tests build', () => {
    for (const d of [
      full,
      clean,
      { ...full, stage: 'in_progress' as const },
      { ...full, qaAgent: null, contract: null, push: null },
    ]) {
      expect(markdownProblems(renderEvidence(d))).toEqual([]);
    }
  });
});

describe('renderEvidence: title and summary', () => {
  it('says ready for review, or in progress with the round and that it is edited in place', () => {
    expect(renderEvidence(full)).toMatch(
      /^## Foreman evidence: DEMO-1 ready for review\n\n\*\*Fix add\(\) \| subtract rounding\*\*\n/,
    );
    const md = renderEvidence({ ...full, stage: 'in_progress' });
    expect(md).toMatch(/^## Foreman evidence: DEMO-1 \(in progress, round 2\)\n/);
    expect(md).toContain(
      'Foreman updates this comment in place after each round (this version: after implement → QA round 2, review round 2)',
    );
  });

  it('states the outcome, the pushed commit and the spec', () => {
    const md = renderEvidence(full);
    expect(md).toContain(
      "- **Outcome:** ✅ QA passed (2 commands), the QA agent's 2 acceptance checks passed and the reviewer approved in round 2.",
    );
    expect(md).toContain('- **Branch:** `foreman/DEMO-1` (base `main`), pushed at `0123456789ab`');
    expect(md).toContain('- **Spec:** `/srv/foreman/workspaces/DEMO-1/.foreman/spec.md`');
  });

  it('says what is still open', () => {
    const md = renderEvidence({
      ...full,
      qaRounds: [{ round: 1, report: { passed: false, results: [qaResult('npm test', false)] } }],
      review: { ...full.review, rounds: [full.review.rounds[0]!] },
    });
    expect(md).toContain(
      "- **Outcome:** ⚠️ The QA agent's 2 acceptance checks passed. Still open: QA failed (`npm test` (exit 1)); the reviewer requested changes in round 1 (1 blocking finding).",
    );
    expect(
      renderEvidence({ ...full, stage: 'in_progress', qaRounds: [], review: { ...full.review, rounds: [] } }),
    ).toContain('Still open: QA has not run yet; review has not run yet.');
  });

  it('does not claim QA passed when no QA commands are configured', () => {
    const noQa = { ...full, qaRounds: [{ round: 1, report: { passed: true, results: [] } }] };
    const md = renderEvidence({ ...noQa, qaAgent: null });
    expect(md).not.toContain('QA passed');
    expect(md).toContain(
      '**Outcome:** ⚠️ No QA commands are configured, so Foreman verified nothing. The reviewer approved in round 2.',
    );
    expect(renderEvidence(noQa)).toContain(
      'No QA commands are configured, so Foreman ran only the checks the QA agent wrote.',
    );
  });

  it('says when nothing is pushed', () => {
    expect(renderEvidence({ ...full, push: null })).toContain('(base `main`), not pushed yet');
    const none = { ...full.push!, pushed: false, commit: null, filesChanged: 0, diffStat: '' };
    expect(renderEvidence({ ...full, push: none })).toContain('nothing pushed (no commits beyond the base)');
  });
});

describe('renderEvidence: what changed and QA', () => {
  it('shows the diff stat from git and the implementer summary as a labelled quote', () => {
    const md = renderEvidence(full);
    expect(md).toContain(
      '3 files changed, +12 −3 (from `git diff --stat main...foreman/DEMO-1`):\n\n```\n src/add.js       | 4 ++--',
    );
    expect(md).toContain(
      "The implementer's own summary (written by the model, not verified by Foreman):\n\n> Fixed rounding in `add()` with banker’s rounding.\n>\n> Added tests for `Array<number>` inputs.",
    );
    expect(renderEvidence({ ...full, push: null })).toContain('Nothing pushed yet, so there is no diff to show.');
  });

  it('shows the QA table with output tails, fences longer than any backtick run, and earlier rounds', () => {
    const md = renderEvidence(full);
    expect(md).toContain('Round 2 of at most 3:');
    expect(md).toContain('| 1 | `npm test` | ✅ passed | 0 | 4.2 s |');
    expect(md).toContain('| 2 | `npm run lint` | ✅ passed | 0 | 850 ms |');
    expect(md).toContain(
      '<details><summary>Output tail of <code>npm test</code></summary>\n\n````\n12 passing (40ms)\nsnapshot: ```x```\n````\n\n</details>',
    );
    expect(md).toContain(
      '<details><summary>Output tail of <code>npm run lint</code></summary>\n\n_(no output)_\n\n</details>',
    );
    expect(md).toContain('- Round 1: failed: `npm test` (exit 1)');
  });

  it('escapes commands in table cells and in <summary>', () => {
    const md = renderEvidence({
      ...full,
      qaRounds: [
        {
          round: 1,
          report: {
            passed: false,
            results: [qaResult('grep -c "a|b" <in', false, { timedOut: true, exitCode: null })],
          },
        },
      ],
    });
    expect(md).toContain('| 1 | `grep -c "a\\|b" <in` | ⏱️ timed out | — | 1.5 s |');
    expect(md).toContain('<summary>Output tail of <code>grep -c "a|b" &lt;in</code></summary>');
    expect(md).toContain('QA failed (`grep -c "a|b" <in` (timed out))');
  });

  it('lists the QA agent checks in their own subsection, or nothing when the QA agent is off', () => {
    const md = renderEvidence(full);
    expect(md).toContain('#### Acceptance checks written by the QA agent (run by Foreman)');
    expect(md).toContain('| 1 | `.foreman/checks/rounding.sh` | ✅ passed | 0 | 320 ms |');
    expect(md).toContain(
      '<details><summary>Output tail of <code>.foreman/checks/negative.sh</code></summary>\n\n```\nadd(-1.5, 0) = -2 ✓\n```',
    );
    expect(md).toContain(
      "The QA agent's own summary (written by the model, not verified by Foreman):\n\n> Both acceptance criteria hold.",
    );
    const off = renderEvidence({ ...full, qaAgent: null });
    expect(off).not.toContain('Acceptance checks written by the QA agent');
    expect(off).not.toContain("The QA agent's own summary");
  });
});

describe('renderEvidence: review and contract', () => {
  it('shows the verdict per round, then every finding with its resolution, and the reviewer summary labelled', () => {
    const md = renderEvidence(full);
    expect(md).toContain(
      [
        '| Round | Verdict | Raised | Resolved | Blocking |',
        '|---|---|---|---|---|',
        '| 1 | 🔁 changes requested | 2 (1 major, 1 nit) | 0 | 1 |',
        '| 2 | ✅ approved | 1 (1 nit) | 1 | 0 |',
      ].join('\n'),
    );
    expect(md).toContain(
      '| `d5e6f7a8` | nit | `src/add.js` | Name `r` is unclear \\| rename it. | 1–2 | 🟡 open, not blocking |',
    );
    expect(md).toContain(
      '| `f1a2b3c4` | major | `src/add.js:12` | Rounding mode ignores negative numbers. | 1 | ✅ resolved in round 2 |',
    );
    expect(md).toContain('Findings (written by the reviewer model;');
    expect(md).toContain(
      "The reviewer's own summary (written by the model, not verified by Foreman):\n\n> The fix is correct; one naming nit remains.",
    );
  });

  it('says so in one line when review is off or has not run', () => {
    const off = renderEvidence({ ...full, review: { ...full.review, enabled: false } });
    expect(off).toContain(
      '### Review\n\nReview is off (`roles.reviewer.enabled` in the policy), so no reviewer looked at this change.\n\n###',
    );
    expect(renderEvidence({ ...full, review: { ...full.review, rounds: [], findings: [], summary: null } })).toContain(
      '### Review\n\nThe reviewer did not run.\n',
    );
  });

  it('shows the contract: changed files, scope, out-of-scope files flagged, protected paths and who approved', () => {
    const md = renderEvidence(full);
    expect(md).toContain('- 3 files changed against `main`.');
    expect(md).toContain('- Scope from the spec: `src/**`, `test/**`.');
    expect(md).toContain('- ⚠️ **1 changed file outside the Scope:**\n  - ⚠️ `package.json`');
    expect(md).toContain('  - `package.json`: approved');
    expect(md).toContain('  - `npm test`: ✅ passed');
    expect(md).toContain(
      'Pushing `package.json` was approved by **ana**, who answered:\n\n> Yes, bumping the test script is fine.',
    );
    const unapproved = renderEvidence({ ...full, protectedApproval: null });
    expect(unapproved).toContain('  - `package.json`: ⚠️ no approval recorded');
    expect(renderEvidence({ ...full, contract: null })).not.toContain('### Contract');
  });
});

describe('renderEvidence: risks and gaps', () => {
  it('lists only what the data shows', () => {
    const md = renderEvidence(full);
    const section = md.slice(md.indexOf('### Risks and gaps'), md.indexOf('### Escalations'));
    expect(section).toBe(
      [
        '### Risks and gaps',
        '',
        "- ⚠️ 1 changed file outside the spec's Scope: `package.json`.",
        '- Changes to protected paths `package.json` pushed with approval from ana.',
        '- 1 open finding left as not blocking (1 nit): `d5e6f7a8`.',
        '- 1 question had to be answered by a human before the work could go on (see Escalations and answers).',
        '',
        '',
      ].join('\n'),
    );
  });

  it('names every gap in what Foreman could verify', () => {
    const md = renderEvidence({
      ...full,
      qaRounds: [{ round: 1, report: { passed: true, results: [] } }],
      qaAgent: null,
      review: { ...full.review, enabled: false },
      protectedApproval: null,
      costUsd: null,
      roles: [{ ...full.roles[0]!, costUsd: null }, full.roles[1]!],
      escalations: [
        ...full.escalations,
        { question: 'Ship?', kind: 'budget', askedAt: '2026-11-21T08:00:00.000Z', answer: null, author: null },
      ],
    });
    expect(md).toContain('- ⚠️ Protected paths changed without a recorded approval: `package.json`.');
    expect(md).toContain(
      '- No QA commands are configured (`qa.commands` in the policy), so Foreman ran no checks of its own.',
    );
    expect(md).toContain('- ⚠️ Evidence the spec requires was not run by QA: `npm test`.');
    expect(md).toContain(
      '- The QA agent is off (`roles.qa.agent` in the policy), so no acceptance checks were written for this change.',
    );
    expect(md).toContain(
      '- Review is off (`roles.reviewer.enabled` in the policy), so no reviewer looked at the diff.',
    );
    expect(md).toContain(
      '- Cost unknown for the implementer (no price for the model), so the USD total is incomplete.',
    );
    expect(md).toContain('- ⚠️ 1 question still unanswered.');
  });

  it('names failing QA, failing QA-agent checks, blocking findings and a missing approval of the reviewer', () => {
    const md = renderEvidence({
      ...full,
      qaRounds: [{ round: 3, report: { passed: false, results: [qaResult('npm test', false)] } }],
      qaAgent: {
        ...full.qaAgent!,
        passed: false,
        checks: [{ ...full.qaAgent!.checks[0]!, passed: false, exitCode: 2 }],
      },
      review: {
        ...full.review,
        rounds: [full.review.rounds[0]!],
        findings: full.review.findings.map((f) => ({ ...f, status: 'open' as const, resolvedInRound: null })),
      },
    });
    expect(md).toContain('- ⚠️ QA failed in the last round (3): `npm test` (exit 1).');
    expect(md).toContain('- ⚠️ 1 acceptance check by the QA agent failed: `.foreman/checks/rounding.sh`.');
    expect(md).toContain("- ⚠️ The reviewer's last verdict (round 1) is changes requested.");
    expect(md).toContain('- ⚠️ 1 open finding still blocking (1 major): `f1a2b3c4`.');
  });

  it('says none were found when the data shows none', () => {
    expect(renderEvidence(clean)).toContain('### Risks and gaps\n\nNone found from what Foreman measured.\n');
  });

  it('names a re-created workspace: the worker lost, the step, the worker that took over and what it started from', () => {
    const md = renderEvidence({
      ...clean,
      workspaceMoves: [
        {
          step: 'run QA',
          lostWorker: 'host-a',
          newWorker: 'host-b',
          from: { kind: 'pushed_branch', branch: 'foreman/DEMO-1', commit: '0123456789abcdef0123' },
          at: '2026-11-21T07:00:00.000Z',
        },
        {
          step: 'run the implementer',
          lostWorker: 'host-b',
          newWorker: 'host-c',
          from: { kind: 'base_branch', branch: 'main', commit: null },
          at: '2026-11-21T08:00:00.000Z',
        },
      ],
    });
    expect(md).toContain(
      '- ⚠️ The workspace was re-created: worker `host-a`, which held it, was lost during "run QA". Foreman prepared it ' +
        'again on worker `host-b` from the pushed branch `foreman/DEMO-1` at `0123456789ab`; work that had not been ' +
        "pushed was redone from the implementer's step.",
    );
    expect(md).toContain('on worker `host-c` from the base branch `main` (nothing had been pushed)');
    expect(md).not.toContain('None found from what Foreman measured.');
    expect(markdownProblems(md)).toEqual([]);
  });
});

describe('renderEvidence: escalations, cost and time, transcripts', () => {
  it('lists escalations with their answers, labelling agent questions', () => {
    const md = renderEvidence(full);
    expect(md).toContain(
      'Questions of kind `agent_question` are the implementer model’s words; answers are from the people named.',
    );
    expect(md).toContain('1. **Q** (agent_question, 2026-11-21T07:00:00.000Z): Which rounding?');
    expect(md).toContain('   **A** (ana): Banker’s rounding');
    expect(renderEvidence(clean)).not.toContain('### Escalations and answers');
  });

  it('shows tokens and USD per role with a total, wall time and rounds', () => {
    const md = renderEvidence(full);
    expect(md).toContain('| implementer | 19 | 42,000 | 5,200 | 4,000 | 40,000 | $0.3282 |');
    expect(md).toContain('| QA agent | 6 | 8,000 | 900 | 0 | 2,000 | $0.0375 |');
    expect(md).toContain('| **Total** | 31 | 60,000 | 7,300 | 4,000 | 52,000 | $0.4425 |');
    expect(md).toContain(
      '- Wall time: 12 min 34 s\n- Implement → QA rounds: 2 (at most 3 before QA failures go to a human)\n- Review rounds: 2 (at most 3)',
    );
    const unknown = renderEvidence({ ...full, costUsd: null, roles: [{ ...full.roles[0]!, costUsd: null }] });
    expect(unknown).toContain('| implementer | 19 | 42,000 | 5,200 | 4,000 | 40,000 | — |');
    expect(unknown).toContain('| **Total** | 31 | 60,000 | 7,300 | 4,000 | 52,000 | — |');
  });

  it('lists transcripts and ends with the workflow and run ids', () => {
    const md = renderEvidence(full);
    expect(md).toContain('- `/srv/foreman/transcripts/DEMO-1/reviewer-1.jsonl`');
    expect(md.split('\n').at(-1)).toMatch(
      /^<sub>Rendered by Foreman from workflow `foreman-issue-DEMO-1`, run `8f14e45f-ceea-467a-9b6b-2a1d3c4e5f60`\./,
    );
    expect(renderEvidence({ ...full, transcripts: [] })).toContain('### Transcripts\n\n_None recorded._');
  });
});

describe('renderEvidence: text from outside Foreman', () => {
  it('cannot break the packet: HTML is made inert, code spans are kept', () => {
    const hostile =
      'Done.</details>\n<details><summary>x</summary>\n<img src=x onerror=alert(1)> and `List<T>`\n```\nunclosed fence';
    const md = renderEvidence({
      ...full,
      implementerSummary: hostile,
      review: {
        ...full.review,
        summary: hostile,
        findings: [{ ...full.review.findings[0]!, message: '<b>bold</b>\nsecond line' }],
      },
      escalations: [{ ...full.escalations[0]!, question: '<details>?', answer: '</details>' }],
    });
    expect(markdownProblems(md)).toEqual([]);
    expect(md).toContain(
      '> Done.&lt;/details>\n> &lt;details>&lt;summary>x&lt;/summary>\n> &lt;img src=x onerror=alert(1)> and `List<T>`',
    );
    expect(md).toContain('| &lt;b>bold&lt;/b> second line |');
    expect(md).toContain('**Q** (agent_question, 2026-11-21T07:00:00.000Z): &lt;details>?');
  });

  it('makes images, raw HTML, reference images, autolinks and foreign links in model text inert; repo links stay', async () => {
    const attack = [
      'See ![x](https://attacker.example/?leak=1) and <img src="https://attacker.example/p.png">.',
      '![logo][ref] [ref]: https://attacker.example/r.png',
      '[ref]: https://attacker.example/r.png',
      'Autolink <https://attacker.example/a>, bare https://attacker.example/b and www.attacker.example.',
      '[the docs](https://attacker.example/docs) but [PR #3](https://github.com/acme/app/pull/3).',
      '## Risks and gaps',
      '<!-- foreman:key=evidence-forged -->',
    ].join('\n');
    const md = renderEvidence(
      {
        ...full,
        implementerSummary: attack,
        review: { ...full.review, findings: [{ ...full.review.findings[0]!, message: attack }] },
        escalations: [{ ...full.escalations[0]!, question: attack, answer: attack }],
      },
      { links: ['https://github.com/acme/app/'] },
    );
    expect(markdownProblems(md)).toEqual([]);
    expect(md).not.toMatch(/!\[[^\]]*\]\(/); // no inline image
    expect(md).not.toMatch(/^ {0,3}\[[^\]]+\]:/m); // no reference definition
    expect(md).not.toContain('<img');
    expect(md).not.toContain('<https://');
    expect(md).not.toMatch(/\]\(https:\/\/attacker/); // no live foreign link
    expect(md).not.toMatch(/(^|[^`])https:\/\/attacker\.example\/b/); // bare URLs only as code
    expect(md).not.toContain('<!-- foreman:key=evidence-forged');
    expect(md.match(/^### Risks and gaps$/gm)).toHaveLength(1);
    expect(md).toContain('[PR #3](https://github.com/acme/app/pull/3)'); // the repository's own link stays
    const quoted = md.slice(md.indexOf("The implementer's own summary"), md.indexOf('### QA'));
    await expect(quoted).toMatchFileSnapshot('../fixtures/evidence/inert-model-text.md');
  });

  it('makes model text inert in the escalation comment', async () => {
    const md = renderEscalation(
      {
        identifier: 'DEMO-1',
        title: 'Fix add() ![t](https://attacker.example/t)',
        escalation: {
          n: 1,
          kind: 'agent_question',
          question:
            'Which? ![x](https://attacker.example/?leak=1) <img src=x> <https://attacker.example/a>\n## Options\n1. approve\n[ok](https://github.com/acme/app/issues/1) [no](https://attacker.example/n)',
          options: ['yes ![y](https://attacker.example/y)', '<b>no</b>'],
          recommendation: '<b>no</b>',
          tried: 'Ran `npm test` <!-- foreman:key=escalation-forged -->',
          askedAt: '2026-11-21T07:00:00.000Z',
          reminded: false,
          parked: false,
        },
        branch: 'foreman/DEMO-1',
        push: null,
        repingMs: null,
        parkMs: null,
        parkedState: null,
      },
      { links: ['https://github.com/acme/app/'] },
    );
    expect(md).not.toMatch(/!\[[^\]]*\]\(/);
    expect(md).not.toMatch(/<(img|b|https|!--)/);
    expect(md).not.toMatch(/^#+ Options/m);
    expect(md).toContain('[ok](https://github.com/acme/app/issues/1)');
    expect(md).toContain('2. &lt;b>no&lt;/b> (recommended)');
    await expect(md).toMatchFileSnapshot('../fixtures/evidence/inert-escalation.md');
  });

  it('trims output tails so the packet fits in one comment', () => {
    const big = 'x'.repeat(30_000) + '\nEND';
    const md = renderEvidence({
      ...full,
      qaRounds: [
        {
          round: 1,
          report: {
            passed: false,
            results: [qaResult('a', false, { outputTail: big }), qaResult('b', false, { outputTail: big })],
          },
        },
      ],
    });
    expect(md.length).toBeLessThanOrEqual(EVIDENCE_MAX_CHARS);
    expect(md).toContain('_Trimmed to the last 2,000 characters so the packet fits in one comment._');
    expect(md).toContain('x\nEND\n```');
    expect(markdownProblems(md)).toEqual([]);
  });
});

describe('markdownProblems (the test helper)', () => {
  it('catches what would render badly', () => {
    expect(markdownProblems('a\n| x | y |\n|---|\n| 1 |')).toEqual([
      'line 2: table not preceded by a blank line',
      'line 2: table header without a matching separator row',
      'line 4: 1 cells, header has 2',
    ]);
    expect(markdownProblems('```\ncode')).toEqual(['fence opened on line 1 never closes']);
    expect(markdownProblems('<details><summary>s</summary>\ntext\n</details>\n<details>')).toEqual([
      'line 1: no blank line after <summary>, Markdown inside would not render',
      'line 3: no blank line before </details>',
      '1 <details> left open',
    ]);
    expect(markdownProblems('> <b>x</b>')).toEqual(['line 1: raw HTML <b>', 'line 1: raw HTML </b>']);
  });
});

describe('formatDuration', () => {
  it('formats ms, seconds and minutes', () => {
    expect([formatDuration(850), formatDuration(12_340), formatDuration(245_000)]).toEqual([
      '850 ms',
      '12.3 s',
      '4 min 05 s',
    ]);
  });

  it('formats an hour and more in hours and minutes', () => {
    expect([formatDuration(86_400_000), formatDuration(3_900_000), formatDuration(7_199_999)]).toEqual([
      '24 h',
      '1 h 5 min',
      '2 h',
    ]);
  });
});

describe('renderEvidence: pull request and CI', () => {
  it('links the pull request and shows CI from the SCM API', () => {
    const md = renderEvidence({
      ...full,
      pr: { number: 7, url: 'https://github.com/acme/app/pull/7', created: true },
      ci: {
        state: 'failure',
        checks: [{ name: 'test | node 20', status: 'completed', conclusion: 'failure', url: 'https://ci.example/1' }],
      },
    });
    expect(md).toContain('- **Pull request:** [#7](https://github.com/acme/app/pull/7)');
    expect(md).toContain('### CI on the pull request (from the GitHub API)');
    expect(md).toContain('| [test \\| node 20](https://ci.example/1) | completed | failure |');
    expect(markdownProblems(md)).toEqual([]);
    expect(renderEvidence(full)).not.toContain('### CI on the pull request');
  });

  it('makes a check name inert: the agent can edit the CI files that name the checks', () => {
    const md = renderEvidence({
      ...full,
      ci: {
        state: 'failure',
        checks: [
          { name: '![x](https://attacker.example/?l=1) <img> [a]', status: 'completed', conclusion: null, url: null },
        ],
      },
    });
    expect(md).toContain('| image "x" (`https://attacker.example/?l=1`) &lt;img> [a\\] | completed | — |');
  });
});

describe('sandbox risks', () => {
  it("lists the run settings' risks first under Risks and gaps", () => {
    const md = renderEvidence({ ...clean, risks: ['sandbox.mode is none: commands ran on the host.'] });
    expect(md).toContain('### Risks and gaps\n\n- ⚠️ sandbox.mode is none: commands ran on the host.\n');
  });

  it('lists the network destinations the sandbox refused a QA command', () => {
    const refused = { ...qaResult('npm ci', true), deniedHosts: ['evil.example:443'] };
    const md = renderEvidence({ ...clean, qaRounds: [{ round: 1, report: { passed: true, results: [refused] } }] });
    expect(md).toContain('The sandbox refused network access a QA command tried: `evil.example:443`');
  });
});

describe('a push after a rebase', () => {
  it('names the commit it was rebased onto and how many commits someone else pushed', () => {
    const rebasedOnto = { commit: 'b'.repeat(40), commits: 2 };
    const md = renderEvidence({ ...full, push: { ...full.push!, rebasedOnto } });
    expect(md).toContain(
      'pushed at `0123456789ab`, rebased onto `bbbbbbbbbbbb` (2 commits someone else pushed to the branch first)',
    );
    expect(renderEvidence(full)).not.toContain('rebased onto');
  });
});
