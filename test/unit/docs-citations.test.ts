/**
 * Code comments cite the repository's own docs, never files outside it: every
 * `docs/architecture.md, "Section"` names a heading that exists, and no comment cites the
 * design notes that are not in the repository.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = path.resolve(fileURLToPath(new URL('../..', import.meta.url)));
const files = execFileSync(
  'git',
  ['ls-files', '--cached', '--others', '--exclude-standard', 'src', 'workflows', 'activities', 'test', 'bin'],
  {
    cwd: root,
    encoding: 'utf8',
  },
)
  .split('\n')
  .filter((f) => /\.(ts|js)$/.test(f) && f !== 'test/unit/docs-citations.test.ts');
const headings = new Set(
  [...readFileSync(path.join(root, 'docs/architecture.md'), 'utf8').matchAll(/^## (.+)$/gm)].map((m) => m[1]!.trim()),
);

describe('doc citations in code comments', () => {
  it('every docs/architecture.md section cited exists', () => {
    const missing: string[] = [];
    for (const f of files) {
      const text = readFileSync(path.join(root, f), 'utf8');
      for (const m of text.matchAll(/docs\/architecture\.md, "([^"]+)"/g)) {
        if (!headings.has(m[1]!)) missing.push(`${f}: "${m[1]}"`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('no code cites DESIGN.md, STYLE.md or SDK-NOTES.md (they are not in the repository)', () => {
    const cites = files.filter((f) =>
      /\b(DESIGN|STYLE|SDK-NOTES)\.md\b/.test(readFileSync(path.join(root, f), 'utf8')),
    );
    expect(cites).toEqual([]);
  });
});
