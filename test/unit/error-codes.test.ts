/**
 * The table of error codes in specs/error-codes.md and the code's closed unions
 * (ERROR_CODES in src/errors.ts) name the same codes for the same classes.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as errors from '../../src/errors.js';
import { ERROR_CODES } from '../../src/errors.js';

const table = readFileSync(new URL('../../specs/error-codes.md', import.meta.url), 'utf8');
const rows = [...table.matchAll(/^\| `([a-z_]+)` \| (\w+) \| (yes|no) \|/gm)].map((m) => `${m[2]} ${m[1]}`);

describe('error codes', () => {
  it('the table in specs/ lists exactly the codes of each class in src/errors.ts', () => {
    const inCode = Object.entries(ERROR_CODES).flatMap(([cls, codes]) => codes.map((c) => `${cls} ${c}`));
    expect([...rows].sort()).toEqual([...inCode].sort());
  });

  it('each code appears once per class and every class in the table is exported', () => {
    expect(new Set(rows).size).toBe(rows.length);
    for (const cls of Object.keys(ERROR_CODES))
      expect(typeof (errors as Record<string, unknown>)[cls]).toBe('function');
  });
});
