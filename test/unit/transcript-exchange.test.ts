/**
 * The gateway's exchange lines in a transcript (src/agents/transcript.ts) are not the conversation:
 * rebuilding it and deciding how a step continues (src/agents/resume.ts) ignore them, wherever
 * they fall.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resumeTurn } from '../../src/agents/resume.js';
import { rebuildConversation, type TranscriptEntry } from '../../src/agents/transcript.js';

const at = '2026-12-04T15:00:00.000Z';
const exchange: TranscriptEntry = {
  type: 'exchange',
  at,
  api: 'anthropic',
  path: '/v1/messages',
  request: { model: 'm', stream: false, items: 1, maxTokens: 10 },
  model: 'm',
  status: 200,
  attempts: 1,
  latencyMs: 3,
  usage: { input_tokens: 1, output_tokens: 1, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
  costUsd: null,
};
const run: TranscriptEntry[] = [
  { type: 'start', at, role: 'implementer', model: 'm', issue: 'DEMO-1', system: 's', tools: [] },
  { type: 'message', at, message: { role: 'user', content: [{ type: 'text', text: 'Fix it.' }] } },
  exchange,
  { type: 'message', at, message: { role: 'assistant', content: [{ type: 'text', text: 'Done.' }] } },
  { type: 'end', at, outcome: 'finished', summary: 'Done.' },
];

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'foreman-transcript-exchange-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe('exchange lines', () => {
  it('are not part of the rebuilt conversation', () => {
    expect(rebuildConversation([...run, exchange])).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'Fix it.' }] },
      { role: 'assistant', content: [{ type: 'text', text: 'Done.' }] },
    ]);
  });

  it('after the end of a run, a retried step still sees a run that ended cleanly', async () => {
    const file = path.join(dir, 'implementer.jsonl');
    await writeFile(file, [...run, exchange].map((e) => JSON.stringify(e)).join('\n') + '\n');
    expect((await resumeTurn(file, null, 2))?.extraUserText).toContain('Foreman restarted this step (attempt 2)');
    expect(await resumeTurn(file, null, 1)).toBeUndefined();
  });
});
