/** The run ledger store (src/metrics/record.ts): atomic replace, skipping bad files, refusing unsafe names. */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isRunRecord, ledgerDir, readRunRecords, writeRunRecord, type RunRecord } from '../../src/metrics/record.js';

let home: string | null = null;
afterEach(async () => {
  if (home) await fs.rm(home, { recursive: true, force: true });
  home = null;
});

const record = (over: Partial<RunRecord> = {}): RunRecord => ({
  version: 1,
  taskQueue: 'q',
  workflowId: 'foreman-k-issue-A-1',
  runId: '3f1c2a8e-0000-4000-8000-000000000001',
  identifier: 'A-1',
  issueId: 'A-1',
  checkpoint: 'started',
  updatedAt: '2026-12-01T10:00:00.000Z',
  startedAt: '2026-12-01T10:00:00.000Z',
  endedAt: null,
  outcome: null,
  handOvers: [],
  prState: null,
  prClosedAt: null,
  escalations: [],
  reworkRounds: 0,
  reworkOf: null,
  reviewSendBacks: 0,
  toolCalls: 0,
  turns: 0,
  tokens: 0,
  costUsd: 0,
  ...over,
});

describe('run ledger', () => {
  it('keeps one record per run: a later checkpoint replaces the earlier one', async () => {
    home = await fs.mkdtemp(path.join(os.tmpdir(), 'foreman-ledger-'));
    expect(await readRunRecords(home)).toEqual({ records: [], skipped: [] }); // no folder yet
    await writeRunRecord(home, record());
    const ended = record({ checkpoint: 'ended', outcome: 'completed', endedAt: '2026-12-01T11:00:00.000Z' });
    await writeRunRecord(home, ended);
    await writeRunRecord(home, record({ runId: 'other-run' }));
    const { records, skipped } = await readRunRecords(home);
    expect(skipped).toEqual([]);
    expect(records).toHaveLength(2);
    expect(records.find((r) => r.runId === ended.runId)).toEqual(ended);
    expect((await fs.readdir(ledgerDir(home))).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('skips (and names) files that are not version-1 records instead of failing the read', async () => {
    home = await fs.mkdtemp(path.join(os.tmpdir(), 'foreman-ledger-'));
    await writeRunRecord(home, record());
    const dir = ledgerDir(home);
    await fs.writeFile(path.join(dir, 'broken.json'), '{not json');
    await fs.writeFile(path.join(dir, 'wrong.json'), JSON.stringify({ ...record(), tokens: -1 }));
    await fs.writeFile(path.join(dir, 'future.json'), JSON.stringify({ ...record(), version: 2 }));
    const { records, skipped } = await readRunRecords(home);
    expect(records).toHaveLength(1);
    expect(skipped.sort()).toEqual(['broken.json', 'future.json', 'wrong.json']);
  });

  it('refuses a run id that would name a file outside the ledger', async () => {
    home = await fs.mkdtemp(path.join(os.tmpdir(), 'foreman-ledger-'));
    for (const runId of ['../escape', 'a/b', '', '..']) {
      await expect(writeRunRecord(home, record({ runId }))).rejects.toMatchObject({
        code: 'metrics_record_invalid',
        retryable: false,
      });
    }
    await expect(fs.readdir(path.join(home, 'metrics', 'escape.json'))).rejects.toThrow();
  });

  it('checks every field the metrics read', () => {
    expect(isRunRecord(record())).toBe(true);
    expect(isRunRecord({ ...record(), startedAt: 'yesterday' })).toBe(false);
    expect(isRunRecord({ ...record(), escalations: [{ askedAt: '2026-12-01T10:00:00Z', answeredAt: null }] })).toBe(
      false,
    );
    expect(isRunRecord({ ...record(), prState: 'draft' })).toBe(false);
    expect(isRunRecord(null)).toBe(false);
  });
});
