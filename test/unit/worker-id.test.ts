/**
 * Worker ids (src/temporal/worker-id.ts): FOREMAN_WORKER_ID when valid, else stable per host and
 * FOREMAN_HOME; a value that cannot name a task queue is refused with `worker_id_invalid`.
 */
import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { WORKER_ID_PATTERN, workerIdentity, workerIdOf, workspaceQueueOf } from '../../src/temporal/worker-id.js';

describe('worker ids', () => {
  it('takes FOREMAN_WORKER_ID as is, and names the workspace queue <task queue>@<id>', () => {
    expect(workerIdOf({ FOREMAN_WORKER_ID: ' host-a.1_x ' }, '/home/a')).toBe('host-a.1_x');
    expect(workerIdentity({ FOREMAN_WORKER_ID: 'w1' }, '/x', 'foreman-demo-1f0c')).toEqual({
      id: 'w1',
      workspaceQueue: 'foreman-demo-1f0c@w1',
    });
    expect(workspaceQueueOf('q', 'w')).toBe('q@w');
  });

  it('defaults to the host name and a digest of FOREMAN_HOME: stable per home, different across homes', () => {
    const a = workerIdOf({}, '/srv/foreman/a');
    expect(a).toBe(workerIdOf({ FOREMAN_WORKER_ID: '' }, '/srv/foreman/a/'));
    expect(a).not.toBe(workerIdOf({}, '/srv/foreman/b'));
    expect(a).toMatch(WORKER_ID_PATTERN);
    expect(a).toMatch(/-[0-9a-f]{8}$/);
    expect(
      a.startsWith(
        hostname()
          .replace(/[^A-Za-z0-9_.-]+/g, '-')
          .replace(/^[^A-Za-z0-9]+/, '')
          .slice(0, 8),
      ),
    ).toBe(true);
  });

  it.each(['a b', 'a/b', '../x', '-lead', 'x@y', 'q\u0000', 'é', 'x'.repeat(101)])(
    'refuses FOREMAN_WORKER_ID %j with worker_id_invalid (not retryable)',
    (bad) => {
      let caught: unknown;
      try {
        workerIdOf({ FOREMAN_WORKER_ID: bad }, '/h');
      } catch (err) {
        caught = err;
      }
      expect(caught).toMatchObject({ name: 'TemporalServerError', code: 'worker_id_invalid', retryable: false });
    },
  );
});
