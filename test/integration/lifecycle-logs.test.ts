/**
 * Lifecycle log lines (workflows/issue/lifecycle.ts): a real run on the Temporal dev server with a
 * capturing logger; every lifecycle event is one line with issue_id and issue_identifier.
 */
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.js';
import { humanReplySignal } from '../../workflows/definitions.js';
import { closeRunContext, createRunContext, type RunContext } from '../support/run-context.js';
import { toolUse } from '../support/scripted-model-server.js';
import type { IssueRunSummary } from '../../workflows/definitions.js';

let ctx: RunContext | null = null;
afterEach(async () => {
  const closing = ctx;
  ctx = null;
  await closeRunContext(closing);
});

/** A pino logger whose JSON lines land in `lines`. */
function capturingLogger() {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) lines.push(JSON.parse(line));
      done();
    },
  });
  return { log: createLogger({ FOREMAN_LOG_LEVEL: 'info' }, sink), lines };
}

describe('lifecycle logs', () => {
  it('logs each lifecycle event of a run once, with issue_id and issue_identifier', async () => {
    const { log, lines } = capturingLogger();
    ctx = await createRunContext({
      log,
      extraPolicy: 'roles: {reviewer: {enabled: true}}',
      script: [
        toolUse('escalate', { question: 'Saturate at MAX_SAFE_INTEGER?', options: ['yes', 'no'] }),
        toolUse('edit_file', { path: 'add.js', old_text: 'return a - b;', new_text: 'return a + b;' }),
        toolUse('finish', { summary: 'Fixed add().' }),
        toolUse('submit_review', { verdict: 'approve', findings: [] }),
      ],
    });
    const handle = await ctx.start();
    await ctx.waitFor('the escalation', async () => (await ctx!.status()).phase === 'waiting_for_human');
    await handle.signal(humanReplySignal, { text: 'no', author: 'ana', source: 'cli' });
    expect(((await handle.result()) as IssueRunSummary).outcome).toBe('completed');

    const events = lines.filter((l) => typeof l.event === 'string');
    for (const e of events) {
      expect(e.issue_identifier).toBe(ctx.identifier);
      expect(e.issue_id).toBe(ctx.identifier); // the local tracker's id is the identifier
      expect(e.msg).toBe(e.event);
    }
    const names = events.map((e) => e.event);
    for (const name of [
      'dispatched',
      'workspace ready',
      'escalation asked',
      'escalation answered',
      'agent step',
      'QA result',
      'review verdict',
      'pushed',
      'handed over',
      'done',
    ]) {
      expect(names, `${name} in ${names.join(', ')}`).toContain(name);
    }
    expect(names.filter((n) => n === 'dispatched')).toHaveLength(1);
    expect(names.at(-1)).toBe('done');
    const agent = events.find((e) => e.event === 'agent step')!;
    expect(agent).toMatchObject({ step: 'run the implementer' });
    expect(agent.session_id).toBe(`${(await handle.describe()).runId}/implementer`); // Symphony SPEC §13.1
    expect(agent.turns).toBeGreaterThan(0);
    expect(agent.tokens).toBeGreaterThan(0);
    expect(events.find((e) => e.event === 'QA result')).toMatchObject({ passed: true });
    expect(events.find((e) => e.event === 'review verdict')).toMatchObject({ verdict: 'approve' });
    expect(events.find((e) => e.event === 'escalation answered')).toMatchObject({ author: 'ana', n: 1 });
  });
});
