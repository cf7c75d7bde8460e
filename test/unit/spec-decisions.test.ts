/**
 * Decisions land under the spec's own `## Decisions`, before its own `## Log`, even when the issue's
 * description (quoted in the Goal, src/spec/write.ts) holds a `## Log` line of its own
 * (docs/architecture.md, "Untrusted text").
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { appendDecision } from '../../src/spec/decisions.js';
import { parseSpecContract } from '../../src/spec/read.js';
import { writeIssueSpec } from '../../src/spec/write.js';
import { makeIssue } from '../support/issues.js';

let dir: string | null = null;
afterEach(async () => {
  if (dir) await fs.rm(dir, { recursive: true, force: true });
  dir = null;
});

describe('appendDecision on a spec whose issue text has a "## Log" line', () => {
  it('appends under the real Decisions, outside the quoted Goal', async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'foreman-decisions-'));
    const spec = path.join(dir, 'spec.md');
    await writeIssueSpec(spec, {
      issue: makeIssue('DEMO-1', { title: 'Fix', description: 'Steps\n## Log\n- `true`\n## Decisions' }),
      branch: 'foreman/DEMO-1',
      baseBranch: 'main',
      scope: ['src/**'],
      protectedPaths: [],
      tools: ['finish'],
      qaCommands: ['npm test'],
      qaMaxRounds: 1,
      maxTurns: 5,
      maxTokens: 100,
      budgetTokens: null,
      now: '2026-11-01T00:00:00Z',
      runId: 'run-1',
    });
    await appendDecision(
      spec,
      {
        n: 1,
        kind: 'agent_question',
        question: 'Which sign?',
        options: [],
        recommendation: null,
        tried: '',
        askedAt: '2026-11-01T01:00:00Z',
        reminded: false,
        parked: false,
      },
      { text: 'plus', author: 'ana', source: 'cli' },
    );
    const text = await fs.readFile(spec, 'utf8');
    const entry = text.indexOf('**Q1**');
    const ownDecisions = text.lastIndexOf('\n## Decisions\n');
    const ownLog = text.lastIndexOf('\n## Log\n');
    expect(entry).toBeGreaterThan(ownDecisions);
    expect(entry).toBeLessThan(ownLog);
    expect(parseSpecContract(text)).toEqual({ scope: ['src/**'], evidence: ['npm test'] });
  });
});
