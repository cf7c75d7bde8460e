/**
 * The IssueWorkflow end to end on the real Temporal dev server, with real activities, a real git
 * origin, the local tracker and a scripted Messages API server whose tool calls are executed for
 * real in the workspace.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { git } from '../support/fixtures.js';
import { recordHistory } from '../support/histories.js';
import { closeRunContext, createRunContext, type RunContext } from '../support/run-context.js';
import { toolUse, type ScriptStep } from '../support/scripted-model-server.js';
import { humanReplySignal } from '../../workflows/definitions.js';
import type { IssueRunSummary } from '../../workflows/definitions.js';

/** The model reads the failing test, runs it, fixes add.js, runs it again and finishes. */
const FIX_SCRIPT: ScriptStep[] = [
  toolUse('read_file', { path: 'test.js' }),
  toolUse('run_command', { command: 'node test.js' }),
  toolUse('edit_file', { path: 'add.js', old_text: 'return a - b;', new_text: 'return a + b;' }),
  toolUse('run_command', { command: 'node test.js' }),
  toolUse('finish', { summary: 'add() now adds; node test.js passes.' }),
  // The reviewer (a separate conversation) reads the diff and approves.
  toolUse('run_command', { command: 'git diff origin/main' }),
  toolUse('submit_review', {
    verdict: 'approve',
    findings: [{ severity: 'nit', path: 'add.js', message: 'Consider a JSDoc comment.' }],
  }),
];

let ctx: RunContext | null = null;
afterEach(async () => {
  const closing = ctx;
  ctx = null;
  await closeRunContext(closing);
});

describe('IssueWorkflow', () => {
  it('fixes the bug, pushes the branch, posts QA evidence and moves the issue to review', async () => {
    ctx = await createRunContext({ script: FIX_SCRIPT, extraPolicy: 'roles: {reviewer: {enabled: true}}' });
    const handle = await ctx.start();
    const summary = (await handle.result()) as IssueRunSummary;
    await recordHistory(handle, 'normal-run');
    // A typical run stays far below Temporal's continue-as-new suggestion (4,096 events).
    const events = (await handle.fetchHistory()).events?.length ?? 0;
    console.log(`[issue-workflow] history events of a typical run: ${events}`);
    expect(events).toBeLessThan(200);

    expect(summary.outcome).toBe('completed');
    expect(summary.pushed).toBe(true);
    expect(summary.branch).toBe(`foreman/${ctx.identifier}`);
    expect(summary.qa).toHaveLength(1);
    expect(summary.qa[0]).toMatchObject({ command: 'node test.js', exitCode: 0, passed: true });
    expect(summary.tokens.total).toBeGreaterThan(0);

    // The pushed branch on the origin holds the fix, on top of main.
    const pushed = git(ctx.origin, 'show', `foreman/${ctx.identifier}:add.js`);
    expect(pushed).toContain('return a + b;');
    expect(git(ctx.origin, 'rev-parse', `foreman/${ctx.identifier}~1`).trim()).toBe(
      git(ctx.origin, 'rev-parse', 'main').trim(),
    );
    // .foreman/ (the spec) never lands in a commit.
    expect(git(ctx.origin, 'ls-tree', '-r', '--name-only', `foreman/${ctx.identifier}`)).not.toContain('.foreman');

    // The model saw the real output of its commands.
    const results = ctx.model.requests.flatMap((r) =>
      (r.body.messages as { role: string; content: unknown }[])
        .filter((m) => m.role === 'user' && Array.isArray(m.content))
        .flatMap((m) => m.content as { type: string; content?: unknown }[])
        .filter((b) => b.type === 'tool_result'),
    );
    expect(JSON.stringify(results)).toContain('FAIL: add(2, 3) returned -1, expected 5');

    // Tracker: one evidence comment with the QA table, issue in the review state.
    expect(await ctx.issueText()).toMatch(/^state: "?Human Review"?$/m);
    const comments = await ctx.commentsText();
    expect(comments.match(/--- comment by foreman/g)).toHaveLength(1);
    expect(comments).toContain('ready for review');
    expect(comments).toContain('`node test.js` | ✅ passed | 0 |');
    expect(comments).toContain('add.js | 2 +-');
    // …and the reviewer's real verdict, from its own conversation over the real diff.
    expect(comments).toContain('### Review');
    expect(comments).toContain('✅ approved');
    expect(comments).toContain('Consider a JSDoc comment.');
    const reviewerSaw = JSON.stringify(ctx.model.requests.at(-1)!.body.messages);
    expect(reviewerSaw).toContain('-  return a - b;');
  });

  it('sends QA failures back to the implementer, then escalates after the bound and resumes with the answer', async () => {
    let sawFeedback = false;
    let sawAnswer = false;
    ctx = await createRunContext({
      qaMaxRounds: 2,
      script: [
        toolUse('finish', { summary: 'Done (not really).' }),
        (req) => {
          const last = (req.body.messages as { role: string; content: unknown }[]).at(-1);
          sawFeedback = JSON.stringify(last).includes('FAIL: add(2, 3) returned -1');
          return toolUse('finish', { summary: 'Still done.' });
        },
        (req) => {
          sawAnswer = JSON.stringify((req.body.messages as unknown[]).at(-1)).includes('use + instead of -');
          return toolUse('edit_file', { path: 'add.js', old_text: 'return a - b;', new_text: 'return a + b;' });
        },
        toolUse('finish', { summary: 'Fixed with the hint.' }),
      ],
    });
    const handle = await ctx.start();
    await ctx.waitFor('the QA escalation', async () => (await ctx!.status()).phase === 'waiting_for_human');
    const status = await ctx.status();
    expect(status.escalation).toMatchObject({ kind: 'qa_failed', n: 1 });
    expect(status.escalation!.question).toMatch(/QA still fails after 2 implement → QA round/);
    expect(sawFeedback).toBe(true);
    const comments = await ctx.commentsText();
    expect(comments).toContain('Foreman needs a decision');
    expect(comments).toContain('QA keeps failing');
    expect(comments).toContain(`foreman answer ${ctx.identifier}`);

    await handle.signal(humanReplySignal, { text: 'use + instead of -', author: 'ana', source: 'cli' });
    const summary = (await handle.result()) as IssueRunSummary;
    expect(summary.outcome).toBe('completed');
    expect(sawAnswer).toBe(true);
    expect(summary.escalations).toEqual([
      expect.objectContaining({ kind: 'qa_failed', answer: 'use + instead of -', author: 'ana' }),
    ]);
    expect(await ctx.commentsText()).toContain('### Escalations and answers');
  });

  it('cuts a 3 MB issue description with a note and a comment, and still completes', async () => {
    ctx = await createRunContext({
      issueBody: `Fix add(). ${'Log line that goes on and on. '.repeat(100_000)}`,
      script: FIX_SCRIPT,
    });
    const summary = await ctx.runIssue();
    expect(summary.outcome).toBe('completed');
    expect(await ctx.commentsText()).toContain('longer than the 65536 bytes Foreman gives its agents');
    const prompt = JSON.stringify(ctx.model.requests[0]!.body.messages);
    expect(prompt).toContain('Foreman cut this description here');
    expect(prompt.length).toBeLessThan(200_000);
  });
});
