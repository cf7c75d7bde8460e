/**
 * Replay safety: histories recorded from the integration tests (test/fixtures/histories, see
 * test/support/histories.ts) replay against today's workflow code. A change that would make a run
 * already in flight take another path (a new activity, a reordered step, a timer that moved) fails
 * here with Temporal's nondeterminism error; docs/architecture.md says how to change workflow code
 * safely (`patched()`).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils.js';
import { Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/logger.js';
import { lifecycleSinks, workflowBundle } from '../../src/temporal/worker.js';
import { HISTORIES_DIR } from '../support/histories.js';

const files = (await fs.readdir(HISTORIES_DIR)).filter((f) => f.endsWith('.json')).sort();

describe('workflow replay', () => {
  it('has the recorded histories (normal run, escalation and answer, parsed answers, outage resume, review rework, PR rework, rejected pushes, rework from the tracker, runs that publish their state, and their view, workspace affinity and a re-created workspace)', () => {
    expect(files).toEqual(
      expect.arrayContaining([
        'answer-reask.json',
        'answer-stop.json',
        'escalation-answer.json',
        'outage-probe-resume.json',
        'normal-run.json',
        'pr-rework-closed.json',
        'published-escalation-answer.json',
        'published-pr-rework-closed.json',
        'push-conflict-new-branch.json',
        'push-rebased.json',
        'push-rejected-before-rebase.json',
        'review-rework.json',
        'rework-in-run.json',
        'rework-new-run.json',
        'view-escalation-answer.json',
        'view-pr-rework-closed.json',
        'workspace-affinity.json',
        'workspace-recreated.json',
      ]),
    );
  });

  it.each(files)('replays %s against the current workflow code', { timeout: 60_000 }, async (file) => {
    const history = historyFromJSON(JSON.parse(await fs.readFile(path.join(HISTORIES_DIR, file), 'utf8')));
    await Worker.runReplayHistory(
      { workflowBundle: await workflowBundle(), sinks: lifecycleSinks(silentLogger) },
      history,
      path.basename(file, '.json'),
    );
  });
});
