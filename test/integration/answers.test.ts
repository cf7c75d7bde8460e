/**
 * Answers are parsed, not guessed (specs/escalations.md), on the real Temporal dev server: a picked
 * Stop stops, free text retries once and a second failure re-asks in the same thread, only
 * `/foreman approve` from an approver approves a protected-path change, and an outage escalation
 * resumes by itself once the model answers a probe again.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { humanReplySignal, type IssueRunSummary } from '../../workflows/definitions.js';
import { runForeman } from '../support/cli.js';
import { git } from '../support/fixtures.js';
import { recordHistory } from '../support/histories.js';
import { closeRunContext, createRunContext, type RunContext } from '../support/run-context.js';
import {
  overloaded,
  text,
  toolUse,
  unauthorized,
  type CapturedRequest,
  type ScriptStep,
} from '../support/scripted-model-server.js';
import { temporalAddress } from '../support/temporal.js';

let ctx: RunContext | null = null;
afterEach(async () => {
  const closing = ctx;
  ctx = null;
  await closeRunContext(closing);
});

const FIX = toolUse('edit_file', { path: 'add.js', old_text: 'return a - b;', new_text: 'return a + b;' });
const finish = (summary = 'Fixed.') => toolUse('finish', { summary });
const lastUserText = (req: CapturedRequest) => JSON.stringify((req.body.messages as unknown[]).at(-1));
const waiting = async () => (await ctx!.status()).phase === 'waiting_for_human';
const count = (s: string, needle: string) => s.split(needle).length - 1;
const cliEnv = () => ({
  ...process.env,
  TEMPORAL_ADDRESS: temporalAddress(),
  FOREMAN_HOME: ctx!.home,
  FOREMAN_LOG_LEVEL: 'warn',
});

describe('a failed step', () => {
  it('`foreman answer ISSUE 2` (Stop) ends the run stopped, with one escalation comment', async () => {
    ctx = await createRunContext({ script: [unauthorized(), FIX, finish()] });
    const handle = await ctx.start();
    await ctx.waitFor('the error escalation', waiting);
    const comments = await ctx.commentsText();
    expect(comments).toContain('1. Retry the step (`/foreman retry`) (recommended)');
    expect(comments).toContain('2. Stop: end this run and move the issue to a terminal state (`/foreman stop`)');
    expect(comments).toContain('`1` or `/foreman retry`, `2` or `/foreman stop`');

    // A pick that is not on offer is refused by the CLI and nothing is sent.
    const bad = await runForeman(['answer', ctx.identifier, '3'], cliEnv());
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('no option 3');
    const r = await runForeman(['answer', ctx.identifier, '2'], cliEnv());
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('picked option 2: Stop');

    const summary = (await handle.result()) as IssueRunSummary;
    await recordHistory(handle, 'answer-stop');
    expect(summary.outcome).toBe('stopped');
    expect(summary.reason).toContain('answered Stop');
    expect(summary.escalations).toEqual([
      expect.objectContaining({ kind: 'error', answer: expect.stringContaining('2') }),
    ]);
    expect(ctx.model.requests).toHaveLength(1); // nothing retried
    const after = await ctx.commentsText();
    expect(count(after, 'Foreman needs a decision')).toBe(1);
    expect(count(after, 'Foreman stopped working on this issue')).toBe(1);
    expect(await ctx.issueText()).toMatch(/^state: "?Done"?$/m); // the first terminal state
  });

  it('free text retries once; a second failure re-asks in the same thread; a pick not on offer is answered', async () => {
    ctx = await createRunContext({ script: [unauthorized(), unauthorized(), FIX, finish()] });
    const handle = await ctx.start();
    await ctx.waitFor('the error escalation', waiting);
    await handle.signal(humanReplySignal, { text: 'I rotated the key, go on.', author: 'ops', source: 'cli' });
    await ctx.waitFor('the re-ask', async () => (await ctx!.commentsText()).includes('**Failed again**'));
    await ctx.waitFor('the second question', waiting);
    expect(ctx.model.requests).toHaveLength(2); // retried exactly once
    let comments = await ctx.commentsText();
    expect(count(comments, 'Foreman needs a decision')).toBe(1);
    expect(count(comments, '**Failed again**')).toBe(1);
    expect(comments).toMatch(/\*\*Failed again\*\* \(question 2; the same question as decision 1 above\)/);

    await handle.signal(humanReplySignal, { text: '/foreman approve', author: 'ops', source: 'cli', mayApprove: true });
    await ctx.waitFor('the note', async () => (await ctx!.commentsText()).includes('**Not an option:**'));
    expect((await ctx.status()).phase).toBe('waiting_for_human');
    await handle.signal(humanReplySignal, { text: '1', author: 'ops', source: 'cli' });
    const summary = (await handle.result()) as IssueRunSummary;
    await recordHistory(handle, 'answer-reask');
    expect(summary.outcome).toBe('completed');
    expect(summary.escalations.map((e) => e.answer)).toEqual([
      'I rotated the key, go on.',
      '1 (option 1: Retry the step)',
    ]);
    comments = await ctx.commentsText();
    expect(count(comments, 'Foreman needs a decision')).toBe(1);
  });
});

describe('approval of a protected-path change', () => {
  it('free text from an approver does not approve; /foreman approve without mayApprove does not; with it, it does', async () => {
    const seen = { revert: false };
    ctx = await createRunContext({
      extraPolicy: JSON.stringify({ protected_paths: ['.github/workflows/**'] }),
      script: [
        FIX,
        toolUse('write_file', { path: '.github/workflows/ci.yml', content: 'on: push\n' }),
        finish('Fixed and added CI.'),
        (req) => {
          seen.revert = lastUserText(req).includes('did not approve');
          return finish('Kept the CI file after all.');
        },
      ],
    });
    const handle = await ctx.start();
    await ctx.waitFor('the protected-path escalation', waiting);
    expect(await ctx.commentsText()).toContain('1. Approve: push the changes to these paths (`/foreman approve`)');
    await handle.signal(humanReplySignal, {
      text: 'Ok, revert the changes',
      author: 'lead',
      source: 'comment',
      mayApprove: true,
    });
    await ctx.waitFor(
      'the second escalation',
      async () => (await waiting()) && (await ctx!.status()).escalation!.n === 2,
    );
    expect(seen.revert).toBe(true);
    expect(() => git(ctx!.origin, 'rev-parse', '--verify', `foreman/${ctx!.identifier}`)).toThrow();

    await handle.signal(humanReplySignal, { text: '/foreman approve', author: 'mallory', source: 'comment' });
    await ctx.waitFor('the refusal', async () => (await ctx!.commentsText()).includes('**Not approved:** mallory'));
    expect((await ctx.status()).phase).toBe('waiting_for_human');
    expect(() => git(ctx!.origin, 'rev-parse', '--verify', `foreman/${ctx!.identifier}`)).toThrow();

    await handle.signal(humanReplySignal, {
      text: '/foreman approve',
      author: 'lead',
      source: 'comment',
      mayApprove: true,
    });
    expect(((await handle.result()) as IssueRunSummary).outcome).toBe('completed');
    expect(git(ctx.origin, 'show', `foreman/${ctx.identifier}:.github/workflows/ci.yml`)).toBe('on: push\n');
    expect(await ctx.commentsText()).toMatch(/approved by \*\*lead\*\*/i);
  });
});

describe('an outage escalation', () => {
  it('resumes by itself when the model answers the probe again, with no human answer', async () => {
    let firstAt: number | null = null;
    let served = 0;
    const outageMs = 9000;
    const probes: number[] = [];
    const step: ScriptStep = (req) => {
      firstAt ??= Date.now();
      if (Date.now() - firstAt < outageMs) return overloaded();
      if (req.body.max_tokens === 1) {
        probes.push(req.index);
        return text('pong');
      }
      return [FIX, finish()][served++]!;
    };
    ctx = await createRunContext({
      script: Array.from({ length: 80 }, () => step),
      extraPolicy: JSON.stringify({ agent: { outage_ms: 1500 } }),
    });
    const handle = await ctx.start();
    await ctx.waitFor('the outage escalation', waiting, 30_000);
    expect((await ctx.status()).escalation).toMatchObject({ kind: 'error' });
    const summary = (await handle.result()) as IssueRunSummary;
    await recordHistory(handle, 'outage-probe-resume');
    expect(summary.outcome).toBe('completed');
    expect(summary.escalations).toEqual([expect.objectContaining({ kind: 'error', author: 'Foreman (probe)' })]);
    expect(probes.length).toBeGreaterThan(0);
    const comments = await ctx.commentsText();
    expect(comments).toContain(
      '**Resumed:** The model API answers again, so Foreman retries "run the implementer" by itself',
    );
    expect(count(comments, 'Foreman needs a decision')).toBe(1);
  });
});
