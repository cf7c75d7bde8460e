/**
 * A temp directory that belongs to the running test: created on demand, removed when the test
 * finishes (passed or failed), so test files need no module-level cleanup slot and `afterEach`.
 */
import { onTestFinished } from 'vitest';
import { tempDir } from './fixtures.js';

/** A fresh temp directory (its real path) removed when the current test finishes; call inside a test. */
export async function testDir(prefix?: string): Promise<string> {
  const tmp = await tempDir(prefix);
  onTestFinished(tmp.cleanup);
  return tmp.dir;
}
