/**
 * A rejected push on the real Temporal dev server (issue 11, item 7): someone else pushes to
 * `foreman/<key>` while the implementer works. A commit that does not conflict is rebased onto,
 * QA re-runs on the rebased tree and the push goes through with no escalation; a conflicting one
 * escalates exactly once with three options, and each option does what it says.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { git, pushAsSomeoneElse } from '../support/fixtures.js';
import { recordHistory } from '../support/histories.js';
import { closeRunContext, createRunContext, type RunContext } from '../support/run-context.js';
import { toolUse, type CapturedRequest, type ScriptStep } from '../support/scripted-model-server.js';
import { humanReplySignal, type IssueRunSummary } from '../../workflows/definitions.js';

const FIXED = 'function add(a, b) {\n  return a + b;\n}\n\nmodule.exports = { add };\n';
const THEIRS_CONFLICTING = 'function add(a, b) {\n  return b + a;\n}\n\nmodule.exports = { add };\n';
const FIX = toolUse('edit_file', { path: 'add.js', old_text: 'return a - b;', new_text: 'return a + b;' });
const FINISH = toolUse('finish', { summary: 'add() now adds.' });

let ctx: RunContext | null = null;
afterEach(async () => {
  const closing = ctx;
  ctx = null;
  await closeRunContext(closing);
});

const branchOf = () => `foreman/${ctx!.identifier}`;
const waiting = async () => (await ctx!.status()).phase === 'waiting_for_human';
const decisions = (comments: string) => comments.split('Foreman needs a decision').length - 1;
const lastUserText = (req: CapturedRequest) => JSON.stringify((req.body.messages as unknown[]).at(-1));

/** Fixes add.js, then (while the implementer still works) someone else pushes `files` to the issue branch, then finishes. */
function fixWhileSomeonePushes(files: Record<string, string>, theirs: { head: string }): ScriptStep[] {
  return [
    FIX,
    async () => {
      theirs.head = await pushAsSomeoneElse(ctx!.dir, ctx!.origin, branchOf(), files);
      return FINISH;
    },
  ];
}

describe('a rejected push', () => {
  it('rebases onto a non-conflicting commit, re-runs QA on the rebased tree, pushes both, and says so', async () => {
    const theirs = { head: '' };
    ctx = await createRunContext({
      script: fixWhileSomeonePushes({ 'NOTES.md': 'theirs\n' }, theirs),
      qaCommands: ['node test.js', 'cat NOTES.md 2>/dev/null || echo no-notes'],
    });
    const handle = await ctx.start();
    const summary = (await handle.result()) as IssueRunSummary;
    await recordHistory(handle, 'push-rebased');

    expect(summary.outcome).toBe('completed');
    expect(summary.escalations).toEqual([]);
    expect(summary.branch).toBe(branchOf());
    // QA ran twice: before the push, and on the rebased tree, which holds their file.
    expect(summary.rounds).toBe(2);
    expect(summary.qa.map((r) => r.passed)).toEqual([true, true]);
    expect(summary.qa[1]!.outputTail).toContain('theirs');
    // The remote branch holds their commit, then Foreman's on top: both changes.
    expect(git(ctx.origin, 'rev-parse', `${branchOf()}~1`).trim()).toBe(theirs.head);
    expect(git(ctx.origin, 'rev-parse', branchOf()).trim()).toBe(summary.commit);
    expect(git(ctx.origin, 'show', `${branchOf()}:NOTES.md`)).toBe('theirs\n');
    expect(git(ctx.origin, 'show', `${branchOf()}:add.js`)).toBe(FIXED);
    // The evidence says which commit it was rebased onto; nobody was asked.
    const comments = await ctx.commentsText();
    expect(comments).toContain(`rebased onto \`${theirs.head.slice(0, 12)}\` (1 commit someone else pushed`);
    expect(decisions(comments)).toBe(0);
  });

  it('escalates a conflicting commit exactly once with three options; "1" pushes to a new branch and completes', async () => {
    const theirs = { head: '' };
    ctx = await createRunContext({ script: fixWhileSomeonePushes({ 'add.js': THEIRS_CONFLICTING }, theirs) });
    const handle = await ctx.start();
    await ctx.waitFor('the escalation', waiting);

    const comments = await ctx.commentsText();
    expect(decisions(comments)).toBe(1);
    expect(comments).toContain('someone else pushed to the branch');
    expect(comments).toContain(`conflicts in \`add.js\``);
    expect(comments).toMatch(/1\. Push to a new branch/);
    expect(comments).toMatch(/2\. Let the agent resolve it/);
    expect(comments).toMatch(/3\. Stop/);
    // The partial-work push is refused too, said once, and does not loop.
    expect(comments).toContain('push_rejected');

    await handle.signal(humanReplySignal, { text: '1', author: 'ana', source: 'cli' });
    const summary = (await handle.result()) as IssueRunSummary;
    await recordHistory(handle, 'push-conflict-new-branch');
    expect(summary.outcome).toBe('completed');
    expect(summary.branch).toBe(`${branchOf()}-2`);
    expect(summary.escalations).toHaveLength(1);
    expect(git(ctx.origin, 'show', `${branchOf()}-2:add.js`)).toBe(FIXED);
    expect(git(ctx.origin, 'rev-parse', branchOf()).trim()).toBe(theirs.head); // their branch untouched
    expect(decisions(await ctx.commentsText())).toBe(1);
  });

  it('"3" on the conflict escalation stops the run and leaves their branch alone', async () => {
    const theirs = { head: '' };
    ctx = await createRunContext({ script: fixWhileSomeonePushes({ 'add.js': THEIRS_CONFLICTING }, theirs) });
    const handle = await ctx.start();
    await ctx.waitFor('the escalation', waiting);
    await handle.signal(humanReplySignal, { text: '/foreman stop', author: 'ana', source: 'cli' });
    const summary = (await handle.result()) as IssueRunSummary;
    expect(summary.outcome).toBe('stopped');
    expect(summary.reason).toContain('answered Stop');
    expect(git(ctx.origin, 'rev-parse', branchOf()).trim()).toBe(theirs.head);
    expect(() => git(ctx!.origin, 'rev-parse', '--verify', '--quiet', `${branchOf()}-2`)).toThrow();
    const comments = await ctx.commentsText();
    expect(comments).toContain('Foreman stopped working on this issue');
    expect(decisions(comments)).toBe(1);
  });

  it('free text lets the agent resolve the conflict (markers in the workspace, the text as guidance), then pushes on top', async () => {
    const theirs = { head: '' };
    const seen = { conflict: false };
    ctx = await createRunContext({
      script: [
        ...fixWhileSomeonePushes({ 'add.js': THEIRS_CONFLICTING }, theirs),
        (req) => {
          const text = lastUserText(req);
          seen.conflict = text.includes('conflict markers') && text.includes('add.js') && text.includes('keep a + b');
          return toolUse('read_file', { path: 'add.js' });
        },
        (req) => {
          seen.conflict &&= lastUserText(req).includes('<<<<<<<');
          return toolUse('write_file', { path: 'add.js', content: FIXED });
        },
        FINISH,
      ],
    });
    const handle = await ctx.start();
    await ctx.waitFor('the escalation', waiting);
    await handle.signal(humanReplySignal, { text: 'Please merge, keep a + b.', author: 'ana', source: 'cli' });
    const summary = (await handle.result()) as IssueRunSummary;
    expect(summary.outcome).toBe('completed');
    expect(seen.conflict).toBe(true);
    expect(summary.branch).toBe(branchOf());
    expect(git(ctx.origin, 'rev-parse', `${branchOf()}~1`).trim()).toBe(theirs.head);
    expect(git(ctx.origin, 'show', `${branchOf()}:add.js`)).toBe(FIXED);
    expect(decisions(await ctx.commentsText())).toBe(1);
  });

  it('QA failing on the rebased tree escalates once; "1" pushes Foreman’s own commit from before the rebase to a new branch', async () => {
    const theirs = { head: '' };
    const breaking =
      "const { add } = require('./add.js');\nif (add(1, 1) !== 3) { console.error('FAIL: theirs wants 3'); process.exit(1); }\n";
    ctx = await createRunContext({
      script: fixWhileSomeonePushes({ 'theirs.test.js': breaking }, theirs),
      qaCommands: ['node test.js', 'test ! -e theirs.test.js || node theirs.test.js'],
    });
    const handle = await ctx.start();
    await ctx.waitFor('the escalation', waiting);
    const comments = await ctx.commentsText();
    expect(decisions(comments)).toBe(1);
    expect(comments).toContain('QA then fails: `test ! -e theirs.test.js || node theirs.test.js` (exit 1)');

    await handle.signal(humanReplySignal, { text: '1', author: 'ana', source: 'cli' });
    const summary = (await handle.result()) as IssueRunSummary;
    expect(summary.outcome).toBe('completed');
    expect(summary.branch).toBe(`${branchOf()}-2`);
    expect(git(ctx.origin, 'show', `${branchOf()}-2:add.js`)).toBe(FIXED);
    expect(() => git(ctx!.origin, 'show', `${branchOf()}-2:theirs.test.js`)).toThrow(); // their commit is not in it
    expect(git(ctx.origin, 'rev-parse', `${branchOf()}-2~1`).trim()).toBe(git(ctx.origin, 'rev-parse', 'main').trim());
    expect(git(ctx.origin, 'show', `${branchOf()}:theirs.test.js`)).toBe(breaking); // their branch keeps their commit
    expect(decisions(await ctx.commentsText())).toBe(1);
  });

  it('a partial-work push refused during another escalation is said once and not retried; the final push rebases', async () => {
    const theirs = { head: '' };
    ctx = await createRunContext({
      script: [
        FIX,
        async () => {
          theirs.head = await pushAsSomeoneElse(ctx!.dir, ctx!.origin, branchOf(), { 'NOTES.md': 'theirs\n' });
          return toolUse('escalate', { question: 'Should add() also accept strings?', options: ['yes', 'no'] });
        },
        FINISH,
      ],
    });
    const handle = await ctx.start();
    await ctx.waitFor('the escalation', waiting);
    const comments = await ctx.commentsText();
    expect(decisions(comments)).toBe(1);
    expect(comments).toContain('The partial work could not be pushed');
    expect(comments).toContain('push_rejected');
    await handle.signal(humanReplySignal, { text: 'no', author: 'ana', source: 'cli' });
    const summary = (await handle.result()) as IssueRunSummary;
    expect(summary.outcome).toBe('completed');
    expect(summary.escalations).toHaveLength(1);
    expect(git(ctx.origin, 'rev-parse', `${branchOf()}~1`).trim()).toBe(theirs.head);
    expect(git(ctx.origin, 'show', `${branchOf()}:add.js`)).toBe(FIXED);
    expect(decisions(await ctx.commentsText())).toBe(1);
  });
});
