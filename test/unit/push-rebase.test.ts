/**
 * The pure parts of the rejected-push path: reading git's push and merge-tree output, naming the
 * new branch, the answer parser on the escalation's options, and the words of the escalation and the evidence.
 */
import { describe, expect, it } from 'vitest';
import { chooseOption } from '../../src/escalation/answer.js';
import { isNonFastForward, parseMergeTree } from '../../src/workspace/git.js';
import { newBranchName, type RebaseResult } from '../../src/workspace/rebase.js';
import { PUSH_REJECTED_OPTIONS } from '../../workflows/issue/push.js';
import {
  failingQaItems,
  pushRejectedQuestion,
  qaFeedback,
  rebaseConflictTurn,
  rebaseQaTurn,
} from '../../workflows/issue/texts.js';

const SHA = 'a'.repeat(40);
const reply = (text: string) => ({ text, author: 'ana', source: 'cli' as const });

describe('isNonFastForward', () => {
  it('is true for git’s non-fast-forward and fetch-first refusals (as runGit reports them)', () => {
    const nff =
      "git push -- failed: To /tmp/o.git\n ! [rejected]        abc -> foreman/X-1 (non-fast-forward)\nerror: failed to push some refs to '/tmp/o.git'\nhint: Updates were rejected because a pushed branch tip is behind its remote";
    const fetchFirst =
      'To /tmp/o.git\n ! [rejected]        HEAD -> main (fetch first)\nerror: failed to push some refs';
    expect(isNonFastForward(nff)).toBe(true);
    expect(isNonFastForward(fetchFirst)).toBe(true);
  });

  it('is false for a hook that declined, a network failure, and a remote that prints the words itself', () => {
    expect(isNonFastForward(' ! [remote rejected] HEAD -> main (pre-receive hook declined)')).toBe(false);
    expect(isNonFastForward("fatal: unable to access 'https://github.com/a/b.git/': Could not resolve host")).toBe(
      false,
    );
    expect(isNonFastForward('remote:  ! [rejected] HEAD -> main (non-fast-forward)\n ! [remote rejected] x')).toBe(
      false,
    );
    expect(isNonFastForward('')).toBe(false);
  });
});

describe('parseMergeTree', () => {
  it('reads a clean merge (the tree alone) and a conflicted one (tree, then each path once)', () => {
    expect(parseMergeTree(`${SHA}\0`)).toEqual({ tree: SHA, conflicts: [] });
    expect(parseMergeTree(`${SHA}\0add.js\0dir/a b.txt\0add.js\0`)).toEqual({
      tree: SHA,
      conflicts: ['add.js', 'dir/a b.txt'],
    });
  });

  it('refuses output that does not start with a tree sha (git_failed)', () => {
    expect(() => parseMergeTree('fatal: refusing to merge unrelated histories\n')).toThrow(
      expect.objectContaining({ code: 'git_failed' }),
    );
    expect(() => parseMergeTree('')).toThrow(expect.objectContaining({ code: 'git_failed' }));
  });
});

describe('newBranchName', () => {
  it('takes the first free -N from 2 on', () => {
    expect(newBranchName('foreman/X-1', new Set(['foreman/X-1']))).toBe('foreman/X-1-2');
    expect(newBranchName('foreman/X-1', new Set(['foreman/X-1', 'foreman/X-1-2', 'foreman/X-1-3']))).toBe(
      'foreman/X-1-4',
    );
    expect(newBranchName('foreman/X-1-2', new Set(['foreman/X-1-2']))).toBe('foreman/X-1-2-2');
  });
});

describe('chooseOption on the rejected-push options', () => {
  const options = PUSH_REJECTED_OPTIONS;
  it('takes a number naming an option, and the command of one, ignoring case, spaces and a final period', () => {
    expect(chooseOption(reply('1'), options)).toBe(1);
    expect(chooseOption(reply('  3.\n'), options)).toBe(3);
    expect(chooseOption(reply('/foreman branch'), options)).toBe(1);
    expect(chooseOption(reply('/Foreman RESOLVE'), options)).toBe(2);
    expect(chooseOption(reply('/foreman stop'), options)).toBe(3);
  });

  it('treats everything else as free text (null)', () => {
    for (const text of [
      '4',
      '0',
      '12',
      '1 please',
      'stop',
      'please stop',
      '/foreman',
      '/foreman nothing',
      'Option 1',
    ]) {
      expect(chooseOption(reply(text), options), text).toBeNull();
    }
  });
});

describe('the rejected-push texts', () => {
  const rebase: RebaseResult = {
    outcome: 'conflict',
    onto: 'b'.repeat(40),
    remoteCommits: 2,
    ours: SHA,
    head: null,
    conflicts: ['add.js', 'test.js'],
  };
  it('asks naming the remote head, how many commits, and the conflicted paths', () => {
    const q = pushRejectedQuestion({ branch: 'foreman/X-1', rebase, qa: null });
    expect(q).toContain('2 commits someone else pushed to `foreman/X-1` (head `bbbbbbbbbbbb`)');
    expect(q).toContain('conflicts in `add.js`, `test.js`');
    expect(q).toContain('Answer 1, 2 or 3');
  });

  it('names the failing QA items when QA fails after a clean rebase, and passes the QA feedback on', () => {
    const report = {
      passed: false,
      results: [
        { command: 'node test.js', exitCode: 1, passed: false, timedOut: false, durationMs: 5, outputTail: 'FAIL' },
      ],
    };
    const rebased = { ...rebase, outcome: 'rebased' as const, head: 'c'.repeat(40), conflicts: [] };
    const qa = { items: failingQaItems(report, null), feedback: qaFeedback(report) };
    expect(pushRejectedQuestion({ branch: 'foreman/X-1', rebase: rebased, qa })).toContain(
      'QA then fails: `node test.js` (exit 1)',
    );
    expect(rebaseQaTurn('foreman/X-1', rebased, qa.feedback)).toContain('FAIL');
  });

  it('tells the implementer which files carry conflict markers', () => {
    const turn = rebaseConflictTurn('foreman/X-1', rebase, ['add.js']);
    expect(turn).toContain('conflict markers');
    expect(turn).toContain('- add.js');
  });
});
