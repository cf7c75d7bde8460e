/**
 * `commentsSince` (src/trackers/shared.ts): the batched read when a tracker has one, else one
 * `fetchComments` per issue where an issue that is gone is left out and any other error fails.
 */
import { describe, expect, it } from 'vitest';
import { TrackerError } from '../../src/errors.js';
import { commentsSince } from '../../src/trackers/shared.js';
import type { IssueComment } from '../../src/trackers/types.js';

const comment = (id: string, body: string): IssueComment => ({
  id,
  author: 'ana',
  body,
  created_at: '2026-12-04T10:00:00.000Z',
  by_foreman: false,
  key: null,
});

describe('commentsSince', () => {
  const since = '2026-12-04T09:00:00.000Z';

  it('falls back to one read per issue, once per id, leaving out issues that are gone', async () => {
    const asked: string[] = [];
    const tracker = {
      fetchComments: (id: string) => {
        asked.push(id);
        if (id === 'GONE-1') return Promise.reject(new TrackerError('tracker_not_found', 'no such issue'));
        if (id === 'GONE-2') return Promise.reject(new TrackerError('issue_not_found', 'no such issue'));
        return Promise.resolve(id === 'A-1' ? [comment('A-1#1', 'yes')] : []);
      },
    };
    const got = await commentsSince(tracker, ['A-1', 'GONE-1', 'B-1', 'A-1', 'GONE-2'], since);
    expect([...got]).toEqual([['A-1', [comment('A-1#1', 'yes')]]]);
    expect(asked).toEqual(['A-1', 'GONE-1', 'B-1', 'GONE-2']);
  });

  it('fails on any other tracker error (the tick then retries every answer next time)', async () => {
    const tracker = {
      fetchComments: () => Promise.reject(new TrackerError('tracker_rate_limited', 'slow down', { retryable: true })),
    };
    await expect(commentsSince(tracker, ['A-1'], since)).rejects.toMatchObject({ code: 'tracker_rate_limited' });
  });

  it('uses the batched read when the tracker has one, and makes no call for no issues', async () => {
    let batched = 0;
    const tracker = {
      fetchComments: () => Promise.reject(new Error('not expected')),
      fetchCommentsSince: (ids: string[]) => {
        batched++;
        return Promise.resolve(new Map(ids.map((id) => [id, [comment(`${id}#1`, 'hi')]])));
      },
    };
    expect((await commentsSince(tracker, ['A-1', 'A-1'], since)).size).toBe(1);
    expect(await commentsSince(tracker, [], since)).toEqual(new Map());
    expect(batched).toBe(1);
  });
});
