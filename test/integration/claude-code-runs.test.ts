/**
 * Issues run with the implementer on the `claude-code` backend, on the real Temporal dev server:
 * the real Claude Code CLI in the sandbox, its model calls through the gateway to a scripted
 * Messages API server that also answers the built-in reviewer. One run to a pushed branch with
 * evidence; one escalation over MCP answered with `foreman answer`, after which the same CLI
 * session resumes.
 */
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { IssueRunSummary } from '../../workflows/definitions.js';
import { ccBash, ccMcp, offeredTools, priorToolCalls, userTexts } from '../support/claude-code-server.js';
import { runForeman } from '../support/cli.js';
import { git } from '../support/fixtures.js';
import { closeRunContext, createRunContext, type RunContext } from '../support/run-context.js';
import { toolUse, type CapturedRequest, type ScriptStep } from '../support/scripted-model-server.js';
import { temporalAddress } from '../support/temporal.js';

const CLAUDE_BIN = fileURLToPath(new URL('../../node_modules/.bin/claude', import.meta.url));

let ctx: RunContext | null = null;
afterEach(async () => {
  const closing = ctx;
  ctx = null;
  await closeRunContext(closing);
});

/** The implementer on claude-code (the pinned CLI), the reviewer on builtin. */
const POLICY = JSON.stringify({
  roles: {
    implementer: { backend: 'claude-code', claude_code: { command: CLAUDE_BIN, stall_timeout_ms: 60_000 } },
    reviewer: { enabled: true, backend: 'builtin' },
  },
});

const FIX = "sed -i 's/return a - b;/return a + b;/' add.js && node test.js";
const isClaudeCode = (req: CapturedRequest) => offeredTools(req).includes('Write');
const approve = toolUse('submit_review', { verdict: 'approve', findings: [] }, { input_tokens: 300, output_tokens: 7 });
const waiting = async () => (await ctx!.status()).phase === 'waiting_for_human';

/** Enough copies of one dispatching step for a whole run (the server takes one per model call). */
const steps = (step: ScriptStep): ScriptStep[] => Array.from({ length: 30 }, () => step);

describe('the implementer on claude-code', () => {
  it('implemented by Claude Code, reviewed by builtin, QA by Foreman: branch pushed, evidence, tokens as sent', async () => {
    ctx = await createRunContext({
      extraPolicy: POLICY,
      script: steps((req) => {
        if (!isClaudeCode(req)) return approve;
        return priorToolCalls(req).length === 0
          ? ccBash(FIX, { input_tokens: 1000, output_tokens: 50, cache_read_input_tokens: 11 })
          : ccMcp('finish', { summary: 'add() now adds.' }, { input_tokens: 1100, output_tokens: 30 });
      }),
    });
    const summary = await ctx.runIssue();

    expect(summary.outcome).toBe('completed');
    expect(summary.pushed).toBe(true);
    expect(git(ctx.origin, 'show', `foreman/${ctx.identifier}:add.js`)).toContain('return a + b;');
    expect(summary.qa.map((q) => [q.command, q.exitCode])).toEqual([['node test.js', 0]]);
    // Two Claude Code calls and one reviewer call, metered by the gateway from the responses.
    const calls = ctx.model.requests.map((r) => (isClaudeCode(r) ? 'claude-code' : 'builtin'));
    expect(calls).toEqual(['claude-code', 'claude-code', 'builtin']);
    expect(summary.tokens).toEqual({
      input_tokens: 2400,
      output_tokens: 87,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 11,
      total: 2498,
    });
    const comments = await ctx.commentsText();
    expect(comments.match(/Foreman evidence/g)).toHaveLength(1);
    expect(comments).toContain('add() now adds.');
    // The evidence names the backend and model of each role.
    expect(comments).toContain('**Agents:** implementer: `claude-code` (`claude-opus-5-5`) · reviewer: `builtin`');
  });

  it('escalate over MCP, `foreman answer`, then the same Claude Code session resumes with the answer', async () => {
    const answer = 'Use plain addition; negative numbers need nothing special.';
    ctx = await createRunContext({
      extraPolicy: POLICY,
      script: steps((req) => {
        if (!isClaudeCode(req)) return approve;
        const answered = userTexts(req).some((t) => t.includes(answer));
        if (!answered) return ccMcp('escalate', { question: 'Should negative numbers be special?' });
        return priorToolCalls(req).includes('Bash') ? ccMcp('finish', { summary: 'Fixed.' }) : ccBash(FIX);
      }),
    });
    const handle = await ctx.start();
    await ctx.waitFor('the escalation', waiting, 90_000);
    expect(await ctx.commentsText()).toContain('Should negative numbers be special?');

    const env = {
      ...process.env,
      TEMPORAL_ADDRESS: temporalAddress(),
      FOREMAN_HOME: ctx.home,
      FOREMAN_LOG_LEVEL: 'warn',
    };
    const r = await runForeman(['answer', ctx.identifier, answer], env);
    expect(r.code, r.stderr).toBe(0);
    const summary = (await handle.result()) as IssueRunSummary;
    expect(summary.outcome).toBe('completed');
    expect(git(ctx.origin, 'show', `foreman/${ctx.identifier}:add.js`)).toContain('return a + b;');

    const cc = ctx.model.requests.filter(isClaudeCode);
    const resumed = cc[1]!;
    // The same session: its id, the first prompt, the escalate call and the answer in one conversation.
    expect(resumed.headers['x-claude-code-session-id']).toBe(cc[0]!.headers['x-claude-code-session-id']);
    expect(priorToolCalls(resumed)).toEqual(['mcp__foreman__escalate']);
    const texts = userTexts(resumed);
    expect(texts.some((t) => t.includes(`Work on ${ctx!.identifier}`))).toBe(true);
    expect(texts.some((t) => t.includes(answer))).toBe(true);
    expect(summary.escalations).toEqual([expect.objectContaining({ answer: expect.stringContaining(answer) })]);
  });
});
