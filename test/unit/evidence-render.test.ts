/** The evidence packet is rendered from data only, and says plainly what was and wasn't verified. */
import { describe, expect, it } from 'vitest';
import { formatDuration, renderEvidence } from '../../src/evidence/render.js';
import type { EvidenceData } from '../../workflows/types.js';

const base: EvidenceData = {
  identifier: 'DEMO-1',
  title: 'Fix add() | subtract',
  branch: 'foreman/DEMO-1',
  baseBranch: 'main',
  push: { branch: 'foreman/DEMO-1', commit: '0123456789abcdef', pushed: true, diffStat: ' add.js | 2 +-\n 1 file changed', filesChanged: 1, insertions: 1, deletions: 1 },
  specPath: '/ws/DEMO-1/.foreman/spec.md',
  implementerSummary: 'Fixed it.\nAll good.',
  qaRounds: [
    { round: 1, report: { passed: false, results: [{ command: 'node test.js', exitCode: 1, durationMs: 120, timedOut: false, outputTail: 'FAIL', passed: false }] } },
    { round: 2, report: { passed: true, results: [{ command: 'node test.js', exitCode: 0, durationMs: 1500, timedOut: false, outputTail: 'ok ```x```', passed: true }] } },
  ],
  qaMaxRounds: 3,
  usage: { input_tokens: 1200, output_tokens: 300, cache_creation_input_tokens: 0, cache_read_input_tokens: 50 },
  costUsd: 0.0081,
  turns: 5,
  escalations: [{ question: 'Which rounding?', kind: 'agent_question', askedAt: '2026-11-21T07:00:00.000Z', answer: 'Banker’s\nrounding', author: 'ana' }],
  wallMs: 65_000,
  transcripts: ['/home/t/implementer.jsonl'],
  workflowId: 'foreman-issue-DEMO-1',
  runId: 'run-1',
};

describe('renderEvidence', () => {
  it('renders outcome, diff stat, QA table with tails, earlier rounds, cost and time', () => {
    const md = renderEvidence(base);
    expect(md).toContain('## Foreman evidence: DEMO-1 ready for review');
    expect(md).toContain('✅ QA passed');
    expect(md).toContain('pushed at `0123456789ab`');
    expect(md).toContain('| 1 | `node test.js` | ✅ passed | 0 | 1.5 s |');
    expect(md).toContain('- Round 1: failed: `node test.js` (exit 1)');
    expect(md).toContain('| implementer | 5 | 1,200 | 300 | 0 | 50 |');
    expect(md).toContain('Wall time: 1 min 05 s');
    // Model text is labelled and quoted; table cells are escaped; fences outlast backticks inside.
    expect(md).toContain("The implementer's own summary (written by the model, not verified by Foreman):\n\n> Fixed it.\n> All good.");
    expect(md).toContain('**Fix add() \\| subtract**');
    expect(md).toContain('````\nok ```x```\n````');
  });

  it('does not claim QA passed when no QA commands are configured', () => {
    const md = renderEvidence({ ...base, qaRounds: [{ round: 1, report: { passed: true, results: [] } }] });
    expect(md).not.toContain('QA passed');
    expect(md).toContain('no QA commands are configured, so Foreman verified nothing');
  });

  it('lists escalations with their answers, and the cost', () => {
    const md = renderEvidence(base);
    expect(md).toContain('### Escalations and answers');
    expect(md).toContain('1. **Q** (agent_question, 2026-11-21T07:00:00.000Z): Which rounding?');
    expect(md).toContain('   **A** (ana): Banker’s rounding');
    expect(md).toContain('Estimated cost $0.0081.');
    expect(renderEvidence({ ...base, costUsd: null })).toContain('Cost unknown (no price for the model).');
  });

  it('formats durations', () => {
    expect([formatDuration(850), formatDuration(12_340), formatDuration(245_000)]).toEqual(['850 ms', '12.3 s', '4 min 05 s']);
  });
});
