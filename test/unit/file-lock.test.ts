/** withFileLock (src/file-lock.ts): a process waiting on another's lock says so, and again at intervals. */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { withFileLock } from '../../src/file-lock.js';

const dirs: string[] = [];
afterEach(async () => {
  while (dirs.length) await fs.rm(dirs.pop()!, { recursive: true, force: true });
});

async function heldLock(): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'foreman-lock-'));
  dirs.push(dir);
  const lock = path.join(dir, '.build.lock');
  // Held by a live process on this host (this one), freshly: not stale.
  await fs.writeFile(lock, JSON.stringify({ pid: process.pid, host: os.hostname(), createdAt: Date.now() }));
  return lock;
}

const timeoutError = (message: string) => new Error(message);

describe('withFileLock', () => {
  it('announces the wait at once and again every remindMs, with the holder pid and the time waited', async () => {
    const lock = await heldLock();
    const calls: { pid: number | null; waitedMs: number }[] = [];
    const released = setTimeout(() => void fs.rm(lock, { force: true }), 700);
    const result = await withFileLock(lock, async () => 'got it', {
      pollMs: 20,
      remindMs: 200,
      timeoutError,
      onWait: (pid, waitedMs) => calls.push({ pid, waitedMs }),
    });
    clearTimeout(released);
    expect(result).toBe('got it');
    expect(calls[0]).toEqual({ pid: process.pid, waitedMs: 0 });
    expect(calls.length).toBeGreaterThanOrEqual(3);
    for (let i = 1; i < calls.length; i++) {
      expect(calls[i]!.pid).toBe(process.pid);
      expect(calls[i]!.waitedMs - calls[i - 1]!.waitedMs).toBeGreaterThanOrEqual(200);
    }
    await expect(fs.stat(lock)).rejects.toThrow();
  });

  it('says nothing when the lock is free', async () => {
    const lock = await heldLock();
    await fs.rm(lock);
    const calls: number[] = [];
    await withFileLock(lock, async () => undefined, { timeoutError, onWait: (_p, ms) => calls.push(ms) });
    expect(calls).toEqual([]);
  });
});
