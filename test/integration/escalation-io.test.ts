/**
 * Escalation I/O must get through (issue text broken mid-run): an error raised while posting an
 * escalation or moving the issue is retried or set aside, never a workflow failure. Real Temporal
 * dev server, real git, the local tracker, a scripted Messages API server.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { humanReplySignal } from '../../workflows/definitions.js';
import type { IssueRunSummary } from '../../workflows/definitions.js';
import { closeRunContext, createRunContext, type RunContext } from '../support/run-context.js';
import { toolUse } from '../support/scripted-model-server.js';

let ctx: RunContext | null = null;
afterEach(async () => {
  const closing = ctx;
  ctx = null;
  await closeRunContext(closing);
});

const FIX = toolUse('edit_file', { path: 'add.js', old_text: 'return a - b;', new_text: 'return a + b;' });

describe('escalation I/O', () => {
  it('broken front matter mid-run with handoff.escalated_state: the question is still asked, the run waits, and completes once answered', async () => {
    let issueFile = '';
    let good = '';
    ctx = await createRunContext({
      script: [
        async () => {
          good = await fs.readFile(issueFile, 'utf8');
          await fs.writeFile(issueFile, '---\nstate: [unclosed\n---\nbroken\n');
          return toolUse('escalate', { question: 'Which sign should add() use?', options: ['plus', 'minus'] });
        },
        FIX,
        toolUse('finish', { summary: 'Fixed the sign as answered.' }),
      ],
      extraPolicy: 'handoff:\n  escalated_state: Needs Answer',
    });
    issueFile = path.join(ctx.issuesDir, `${ctx.identifier}.md`);
    const handle = await ctx.start();
    await ctx.waitFor('the escalation', async () => (await ctx!.status()).phase === 'waiting_for_human', 90_000);
    expect((await ctx.status()).lastError).toMatch(/move the issue to "Needs Answer": .*not valid YAML/);
    expect(await ctx.commentsText()).toContain('Which sign should add() use?');
    await fs.writeFile(issueFile, good);
    await handle.signal(humanReplySignal, { text: 'plus', author: 'lead', source: 'cli', mayApprove: true });
    const summary = (await handle.result()) as IssueRunSummary;
    expect(summary.outcome).toBe('completed');
  });
});
