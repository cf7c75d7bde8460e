/**
 * Live test of the agent harness (src/agents/harness.ts) against the real Anthropic Messages API:
 * one tiny implementer task, once with JSON responses and once streaming (SSE).
 *
 * Runs only with FOREMAN_LIVE=1 and ANTHROPIC_API_KEY; otherwise every test reports "skipped".
 * ANTHROPIC_BASE_URL is honoured (read by the SDK). Model: FOREMAN_LIVE_MODEL
 * (default `claude-haiku-4-5`). Costs a few thousand tokens per run. How to run: specs/live-tests.md.
 * Nothing is created outside a temporary directory, which is removed afterwards.
 */
import { mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runAgent, type AgentRunResult } from '../../src/agents/harness.js';
import { implementerSystemPrompt } from '../../src/agents/roles.js';
import { readTranscript } from '../../src/agents/transcript.js';
import { scrubbedEnv } from '../../src/workspace/shell.js';

const apiKey = process.env.ANTHROPIC_API_KEY?.trim() ?? '';
const enabled = process.env.FOREMAN_LIVE === '1' && apiKey !== '';
const model = process.env.FOREMAN_LIVE_MODEL?.trim() || 'claude-haiku-4-5';

const PROMPT = [
  'LIVE-1: Create a file named hello.txt in the workspace root whose entire content is the two',
  'characters `hi`. Use the write_file tool. Then call the finish tool with a one-line summary.',
  'There is no .foreman/spec.md in this workspace; do not look for one.',
].join(' ');

describe.skipIf(!enabled)(`live Anthropic: runAgent with ${model}`, () => {
  let dir: string;
  let workspace: string;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'foreman-live-anthropic-'));
    workspace = path.join(dir, 'ws');
    await mkdir(workspace);
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const run = (stream: boolean): Promise<AgentRunResult> =>
    runAgent({
      role: 'implementer',
      model,
      system: implementerSystemPrompt(),
      prompt: PROMPT,
      workspace,
      transcriptPath: path.join(dir, 'transcripts', 'LIVE-1', 'implementer.jsonl'),
      maxTurns: 6,
      maxTokens: 1024,
      stream,
      client: { apiKey, maxRetries: 2, timeoutMs: 60_000 },
      env: scrubbedEnv(),
      issueIdentifier: 'LIVE-1',
    });

  it.each([
    { stream: false, label: 'JSON responses' },
    { stream: true, label: 'streaming (SSE)' },
  ])(
    'writes hello.txt and finishes ($label)',
    async ({ stream }) => {
      const result = await run(stream);

      expect(result.outcome, `run ended with ${result.outcome} after ${result.turns} turns`).toBe('finished');
      expect(result.summary?.trim()).toBeTruthy();
      expect(result.turns).toBeGreaterThanOrEqual(1);
      expect(result.turns).toBeLessThanOrEqual(6);
      expect(result.toolCalls).toBeGreaterThanOrEqual(2);
      expect(
        result.usage.input_tokens + result.usage.cache_read_input_tokens + result.usage.cache_creation_input_tokens,
      ).toBeGreaterThan(0);
      expect(result.usage.output_tokens).toBeGreaterThan(0);

      const file = path.join(workspace, 'hello.txt');
      expect((await stat(file)).isFile()).toBe(true);
      expect((await readFile(file, 'utf8')).trim()).toBe('hi');

      // The transcript records the whole run and never the key.
      const raw = await readFile(result.transcriptPath, 'utf8');
      expect(raw.includes(apiKey)).toBe(false);
      const entries = await readTranscript(result.transcriptPath);
      expect(entries[0]?.type).toBe('start');
      expect(entries.at(-1)).toMatchObject({ type: 'end', outcome: 'finished' });
      expect(entries.filter((e) => e.type === 'usage')).toHaveLength(result.turns);
    },
    180_000,
  );
});
