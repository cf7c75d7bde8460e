/** `foreman logs` rendering (src/cli/transcript-format.ts): readable, abbreviated, and inert for hostile agent text. */
import { describe, expect, it } from 'vitest';
import {
  abbreviate,
  formatTranscriptEntry,
  LOGS_ABBREVIATE,
  parseTranscriptLine,
  type TurnCounter,
} from '../../src/cli/transcript-format.js';
import type { TranscriptEntry } from '../../src/agents/transcript.js';

const at = '2026-12-04T13:00:01.000Z';

describe('formatTranscriptEntry', () => {
  it('numbers assistant turns per role and shows tool calls and results abbreviated', () => {
    const turns: TurnCounter = new Map();
    const entries: TranscriptEntry[] = [
      { type: 'start', at, role: 'implementer', model: 'm', issue: 'DEMO-1', system: 's', tools: [] },
      {
        type: 'message',
        at,
        message: {
          role: 'assistant',
          content: [
            { type: 'text', text: 'Fixing.' },
            { type: 'tool_use', id: 't1', name: 'write_file', input: { path: 'a.js', content: 'x'.repeat(1000) } },
          ],
        },
      },
      {
        type: 'message',
        at,
        message: { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: 'ok', is_error: true }] },
      },
      { type: 'end', at, outcome: 'finished', summary: 'done' },
    ];
    const lines = entries.flatMap((e) => formatTranscriptEntry('implementer', e, turns));
    expect(lines[0]).toBe('── 13:00:01 implementer started (model m, issue DEMO-1)');
    expect(lines[1]).toBe('[13:00:01 implementer #1] assistant: Fixing.');
    expect(lines[2]).toMatch(
      /^\[13:00:01 implementer #1\] assistant → write_file \{"path":"a.js","content":"x+… \(\d+ more chars\)$/,
    );
    expect(lines[2]!.length).toBeLessThan(LOGS_ABBREVIATE.toolInput + 80);
    expect(lines[3]).toBe('[13:00:01 implementer #1] user ← result (error): ok');
    expect(lines[4]).toBe('── 13:00:01 implementer ended: finished: done');
  });

  it("shows the gateway's refused and failed model calls, not the answered ones", () => {
    const base = {
      type: 'exchange' as const,
      at,
      api: 'anthropic' as const,
      path: '/v1/messages',
      request: { model: 'm', stream: false, items: 3, maxTokens: 100 },
      model: 'm',
      attempts: 1,
      latencyMs: 12,
      usage: null,
      costUsd: null,
    };
    const turns: TurnCounter = new Map();
    expect(formatTranscriptEntry('implementer', { ...base, status: 200 }, turns)).toEqual([]);
    expect(
      formatTranscriptEntry('implementer', { ...base, status: 400, refused: 'Budget exhausted: 10 tokens.' }, turns),
    ).toEqual(['── 13:00:01 implementer model call refused: Budget exhausted: 10 tokens.']);
    expect(formatTranscriptEntry('implementer', { ...base, status: 529 }, turns)).toEqual([
      '── 13:00:01 implementer model call failed (529)',
    ]);
  });

  it('writes no terminal control character an agent put in its text, tool input or result', () => {
    const esc = '\u001b]0;pwned\u0007\u001b[2J\u009b31m';
    const lines = formatTranscriptEntry(
      'implementer',
      {
        type: 'message',
        at,
        message: {
          role: 'assistant',
          content: [
            { type: 'text', text: `hi ${esc}` },
            { type: 'tool_use', id: 't', name: `run${esc}`, input: { command: esc } },
          ],
        },
      },
      new Map(),
    );
    const out = lines.join('\n');
    // eslint-disable-next-line no-control-regex
    expect(out).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
    expect(out).toContain('\\u001b]0;pwned\\u0007');
    expect(abbreviate('a\rb', 10)).toBe('a\\u000db');
  });
});

describe('parseTranscriptLine', () => {
  it('skips blank, torn and foreign lines', () => {
    expect(parseTranscriptLine('')).toBeNull();
    expect(parseTranscriptLine('{"type":"mess')).toBeNull();
    expect(parseTranscriptLine('[1,2]')).toBeNull();
    expect(parseTranscriptLine(`{"type":"usage","at":"${at}"}`)).toMatchObject({ type: 'usage' });
  });
});
