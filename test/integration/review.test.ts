/**
 * Independent verification on the real Temporal dev server: the reviewer (a separate read-only
 * conversation answering through submit_review), the QA agent (its checks run by Foreman), the
 * contract (protected paths never pushed without approval) and the evidence packet.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { humanReplySignal } from '../../workflows/definitions.js';
import { git } from '../support/fixtures.js';
import { recordHistory } from '../support/histories.js';
import { closeRunContext, createRunContext, type RunContext } from '../support/run-context.js';
import { toolUse, type CapturedRequest, type ScriptStep } from '../support/scripted-model-server.js';
import type { IssueRunSummary } from '../../workflows/definitions.js';

let ctx: RunContext | null = null;
afterEach(async () => {
  const closing = ctx;
  ctx = null;
  await closeRunContext(closing);
});

const REVIEWER = { roles: { reviewer: { enabled: true } } };
const yaml = (o: unknown) => JSON.stringify(o); // JSON is YAML
const FIX = toolUse('edit_file', { path: 'add.js', old_text: 'return a - b;', new_text: 'return a + b;' });
const finish = (summary = 'Done.') => toolUse('finish', { summary });
const review = (
  verdict: string,
  findings: { severity: string; path?: string; line?: number; message: string }[] = [],
) => toolUse('submit_review', { verdict, findings });
const roleOf = (req: CapturedRequest) => {
  const system = JSON.stringify(req.body.system ?? '');
  return system.includes('You are the reviewer')
    ? 'reviewer'
    : system.includes('You are the QA agent')
      ? 'qa'
      : 'implementer';
};
/** A step that checks which role is asking before answering. */
const as =
  (role: string, step: ScriptStep): ScriptStep =>
  async (req) => {
    if (roleOf(req) !== role) throw new Error(`expected a ${role} request, got ${roleOf(req)}`);
    return typeof step === 'function' ? step(req) : step;
  };
const waiting = async () => (await ctx!.status()).phase === 'waiting_for_human';

/** Replaces what changes from run to run (shas, ids, times, paths) so a packet can be snapshotted. */
function stable(md: string, c: RunContext): string {
  return md
    .replaceAll(c.runtime.deployment.key, '<deployment>')
    .replaceAll(c.identifier, 'ISSUE-1')
    .replaceAll(c.dir, '<tmp>')
    .replace(/<!-- foreman:[^>]*-->\n?/g, '')
    .replace(/--- comment by foreman at [^ ]+ ---/g, '--- comment by foreman at <time> ---')
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<run-id>')
    .replace(/\b[0-9a-f]{12,40}\b/g, '<sha>')
    .replace(/\b\d+(\.\d+)? (ms|s)\b/g, '<duration>')
    .replace(/\d+ min \d+ s/g, '<duration>')
    .replace(/\d{4}-\d\d-\d\dT[\d:.]+Z/g, '<time>');
}

describe('reviewer', () => {
  it('requests changes, the implementer fixes them, the reviewer approves; the packet shows both rounds', async () => {
    ctx = await createRunContext({
      extraPolicy: yaml(REVIEWER),
      script: [
        as('implementer', FIX),
        as('implementer', finish('Fixed the sign.')),
        as(
          'reviewer',
          review('request_changes', [
            { severity: 'major', path: 'add.js', line: 2, message: 'Add a test for negative numbers.' },
          ]),
        ),
        as('implementer', async (req) => {
          expect(JSON.stringify((req.body.messages as unknown[]).at(-1))).toContain('Add a test for negative numbers');
          return toolUse('edit_file', {
            path: 'test.js',
            old_text: "console.log('ok: add(2, 3) === 5');",
            new_text: "if (add(-2, -3) !== -5) process.exit(1);\nconsole.log('ok: add(2, 3) === 5');",
          });
        }),
        as('implementer', finish('Added a negative test.')),
        as('reviewer', review('approve')),
      ],
    });
    const summary = await ctx.runIssue();
    await recordHistory(ctx.runtime.client.workflow.getHandle(ctx.workflowId), 'review-rework');
    expect(summary.outcome).toBe('completed');
    expect(git(ctx.origin, 'show', `foreman/${ctx.identifier}:test.js`)).toContain('add(-2, -3)');
    const comments = await ctx.commentsText();
    expect(comments.match(/Foreman evidence/g)).toHaveLength(1); // edited in place, never duplicated
    expect(comments).toContain('ready for review');
    expect(comments).toContain('Add a test for negative numbers.');
    expect(comments).toMatch(/resolved in round 2/i);
    await expect(stable(comments, ctx)).toMatchFileSnapshot('../fixtures/evidence/review-run.md');
  });

  it('deduplicates a finding raised twice, within a round and across rounds', async () => {
    const x = { severity: 'major', path: 'add.js', message: 'Handle non-numbers.' };
    ctx = await createRunContext({
      extraPolicy: yaml(REVIEWER),
      script: [
        FIX,
        finish(),
        as('reviewer', review('request_changes', [x, { ...x, message: 'handle   non-numbers' }])),
        finish('Looked at it.'),
        as('reviewer', async (req) => {
          // The reviewer is told which findings are still open, with their stable ids.
          expect(JSON.stringify((req.body.messages as unknown[]).at(-1))).toMatch(
            /F-[0-9a-f]{10} \[major\] add\.js Handle non-numbers/,
          );
          return review('request_changes', [x]);
        }),
        finish('Now handled.'),
        as('reviewer', review('approve')),
      ],
    });
    const summary = await ctx.runIssue();
    expect(summary.outcome).toBe('completed');
    const comments = await ctx.commentsText();
    expect(comments.match(/Handle non-numbers\./g)?.length).toBe(1);
  });

  it('escalates with the open findings when review.max_rounds is reached', async () => {
    const nag = review('request_changes', [{ severity: 'major', path: 'add.js', message: 'Rename add to sum.' }]);
    ctx = await createRunContext({
      extraPolicy: yaml({ ...REVIEWER, review: { max_rounds: 2 } }),
      script: [FIX, finish(), as('reviewer', nag), finish(), as('reviewer', nag)],
    });
    const handle = await ctx.start();
    await ctx.waitFor('the review escalation', waiting);
    const status = await ctx.status();
    expect(status.escalation).toMatchObject({ kind: 'review_rounds' });
    expect(status.escalation!.question).toMatch(/F-[0-9a-f]{10} \[major\] Rename add to sum\./);
    expect(await ctx.commentsText()).toContain('review findings are still open');
    await handle.signal(humanReplySignal, {
      text: '/foreman approve',
      author: 'lead',
      source: 'cli',
      mayApprove: true,
    });
    const summary = (await handle.result()) as IssueRunSummary;
    expect(summary.outcome).toBe('completed');
    expect(await ctx.commentsText()).toMatch(/Rename add to sum\.[^\n]*open/);
  });
});

describe('contract', () => {
  it('never pushes a change to a protected path without approval; pushes after "/foreman approve"', async () => {
    ctx = await createRunContext({
      extraPolicy: yaml({ protected_paths: ['.github/workflows/**'] }),
      script: [
        FIX,
        toolUse('write_file', { path: '.github/workflows/ci.yml', content: 'on: push\n' }),
        finish('Fixed and added CI.'),
      ],
    });
    const handle = await ctx.start();
    await ctx.waitFor('the protected-path escalation', waiting);
    expect((await ctx.status()).escalation).toMatchObject({ kind: 'protected_path' });
    expect((await ctx.status()).escalation!.question).toContain('.github/workflows/ci.yml');
    // Nothing reached the remote, not even as partial work.
    expect(() => git(ctx!.origin, 'rev-parse', '--verify', `foreman/${ctx!.identifier}`)).toThrow();
    expect(await ctx.commentsText()).toContain('Not pushed: the change touches protected paths');

    await handle.signal(humanReplySignal, {
      text: '/foreman approve',
      author: 'lead',
      source: 'cli',
      mayApprove: true,
    });
    expect(((await handle.result()) as IssueRunSummary).outcome).toBe('completed');
    expect(git(ctx.origin, 'show', `foreman/${ctx.identifier}:.github/workflows/ci.yml`)).toBe('on: push\n');
    expect(await ctx.commentsText()).toMatch(/approved by \*\*lead\*\*/i);
  });
});

describe('QA agent', () => {
  it('writes a check that fails; Foreman runs it; the work goes back and passes on the next round', async () => {
    const check = 'node -e "process.exit(require(\'./add.js\').add(2, 3) === 5 ? 0 : 1)" && echo add-ok\n';
    ctx = await createRunContext({
      qaCommands: [],
      extraPolicy: yaml({ roles: { qa: { agent: true } } }),
      script: [
        as('implementer', finish('Nothing to change, I think.')),
        as('qa', toolUse('write_file', { path: '.foreman/qa/checks/01-adds.sh', content: check })),
        as('qa', finish('One check: add(2, 3) is 5.')),
        as('implementer', async (req) => {
          expect(JSON.stringify((req.body.messages as unknown[]).at(-1))).toContain('01-adds.sh');
          return FIX;
        }),
        as('implementer', finish('Fixed the sign.')),
        as('qa', finish('The check passes now.')),
      ],
    });
    const summary = await ctx.runIssue();
    expect(summary.outcome).toBe('completed');
    const comments = await ctx.commentsText();
    expect(comments).toContain('01-adds.sh');
    expect(comments).toMatch(/written by the QA agent/i);
    // The agent's checks are evidence, not code: they never land on the branch.
    expect(git(ctx.origin, 'ls-tree', '-r', '--name-only', `foreman/${ctx.identifier}`)).not.toContain('01-adds.sh');
    await expect(
      fs.stat(path.join(ctx.workspaceRoot, ctx.identifier, '.foreman/qa/checks/01-adds.sh')),
    ).resolves.toBeTruthy();
  });
});
