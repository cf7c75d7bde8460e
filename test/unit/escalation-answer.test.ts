/**
 * Answers are parsed, not guessed (specs/escalations.md): the parse of a reply against an
 * escalation's numbered options and commands.
 */
import { describe, expect, it } from 'vitest';
import { chooseOption, interpretAnswer, parseAnswer, type EscalationOption } from '../../src/escalation/answer.js';
import type { HumanReply } from '../../workflows/definitions.js';

const failedStep: EscalationOption[] = [
  { label: 'Retry the step', command: 'retry' },
  { label: 'Stop: end this run', command: 'stop' },
];
const protectedPaths: EscalationOption[] = [
  { label: 'Approve: push the changes to these paths', command: 'approve' },
  { label: 'Revert the changes to these paths', command: null },
];
const reply = (text: string, mayApprove?: boolean): HumanReply => ({
  text,
  author: 'ana',
  source: 'comment',
  ...(mayApprove === undefined ? {} : { mayApprove }),
});

describe('chooseOption', () => {
  it.each([
    ['1', 1],
    ['2', 2],
    ['  2\n', 2],
    ['2.', 2],
    ['**2**', 2],
    ['`2`', 2],
    ['(1)', 1],
    ['"2"!', 2],
    ['/foreman retry', 1],
    ['/foreman stop', 2],
    ['/Foreman STOP', 2],
    ['  /foreman   stop.  ', 2],
    ['`/foreman stop`', 2],
  ])('%j picks option %i', (text, n) => {
    expect(chooseOption(reply(text), failedStep)).toBe(n);
  });

  it.each([
    'Stop: move the issue to a terminal state',
    'stop',
    'Retry the step',
    '2 please',
    'option 2',
    '/foreman stop now',
    'I rotated the key, try again',
    '',
    '1 2',
    '12a',
  ])('%j is free text', (text) => {
    expect(chooseOption(reply(text), failedStep)).toBeNull();
    expect(interpretAnswer(reply(text), failedStep).kind).toBe('text');
  });

  it('takes bare labels (runs that started before options had commands): by number only', () => {
    expect(chooseOption(reply('2'), ['yes', 'no'])).toBe(2);
    expect(chooseOption(reply('/foreman retry'), ['yes', 'no'])).toBeNull();
    expect(chooseOption(reply('no'), ['yes', 'no'])).toBeNull();
  });
});

describe('interpretAnswer', () => {
  it('a picked option carries its command', () => {
    expect(interpretAnswer(reply('2'), failedStep)).toEqual({ kind: 'option', option: 2, command: 'stop' });
    expect(interpretAnswer(reply('2'), protectedPaths)).toEqual({ kind: 'option', option: 2, command: null });
  });

  it('a pick that is not on offer is invalid (answered, still waiting), not free text', () => {
    expect(interpretAnswer(reply('3'), failedStep)).toMatchObject({
      kind: 'invalid',
      why: expect.stringContaining('no option 3'),
    });
    expect(interpretAnswer(reply('0'), failedStep)).toMatchObject({ kind: 'invalid' });
    expect(interpretAnswer(reply('/foreman approve', true), failedStep)).toMatchObject({
      kind: 'invalid',
      why: expect.stringContaining('/foreman approve'),
    });
    expect(interpretAnswer(reply('/foreman frobnicate'), failedStep)).toMatchObject({ kind: 'invalid' });
  });

  it.each([
    'Ok, revert the changes',
    'Push back: do not change CI',
    'ok',
    'yes',
    'approve',
    'Approved',
    'lgtm',
    'go ahead',
    'push',
    'approve, but revert CI',
    '/foreman approve but only the docs',
  ])('%j from an approver does not approve', (text) => {
    const a = interpretAnswer(reply(text, true), protectedPaths);
    expect(a).toEqual({ kind: 'text' });
  });

  it('approval needs the approve command and mayApprove === true', () => {
    expect(interpretAnswer(reply('/foreman approve', true), protectedPaths)).toEqual({
      kind: 'option',
      option: 1,
      command: 'approve',
    });
    expect(interpretAnswer(reply('1', true), protectedPaths)).toMatchObject({ command: 'approve' });
    expect(interpretAnswer(reply('/foreman approve'), protectedPaths)).toEqual({ kind: 'not_approver' });
    expect(interpretAnswer(reply('/foreman approve', false), protectedPaths)).toEqual({ kind: 'not_approver' });
    expect(interpretAnswer(reply('1'), protectedPaths)).toEqual({ kind: 'not_approver' });
    // chooseOption is the parse alone; the workflow checks mayApprove through interpretAnswer.
    expect(chooseOption(reply('/foreman approve'), protectedPaths)).toBe(1);
  });
});

describe('parseAnswer', () => {
  it('keeps free text as written', () => {
    expect(parseAnswer('  Keep it simple.\n')).toEqual({ kind: 'text', text: '  Keep it simple.\n' });
  });
});
