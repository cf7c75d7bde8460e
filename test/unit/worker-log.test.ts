// How the worker logs the Temporal SDK's activity failures (src/temporal/worker.ts readableMeta).
import { ApplicationFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { WorkspaceError } from '../../src/errors.js';
import { readableMeta } from '../../src/temporal/worker.js';

describe('readableMeta', () => {
  it('drops the task token and shows an activity failure as its message and code', () => {
    const failure = ApplicationFailure.create({
      type: 'WorkspaceError',
      message: 'git push failed: remote rejected',
      details: ['push_rejected'],
      nonRetryable: true,
    });
    const meta = readableMeta({
      taskToken: 'CiQ0ZjY0YjE3Yi1hYmNkLTRlZjAtOTk5OS0xMjM0NTY3ODkwYWISBHRlc3Q=',
      activityType: 'pushBranch',
      workflowId: 'foreman/x/issue/DEMO-1',
      error: failure,
    });
    expect(meta).toEqual({
      activityType: 'pushBranch',
      workflowId: 'foreman/x/issue/DEMO-1',
      error: 'git push failed: remote rejected',
      code: 'push_rejected',
      error_type: 'WorkspaceError',
    });
    // A Foreman error thrown as is carries its code itself.
    const own = readableMeta({ error: new WorkspaceError('git_failed', 'git fetch failed: no route') });
    expect(own).toEqual({ error: 'git fetch failed: no route', code: 'git_failed' });
    expect(readableMeta(undefined)).toEqual({});
  });
});
