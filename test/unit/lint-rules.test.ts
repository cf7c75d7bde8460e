/**
 * The lint rule that keeps workflow code deterministic: workflows/** may not import Node built-ins
 * nor values from src/ or activities/ (types are fine). Checked with ESLint's own API on probe
 * text, so the rule cannot silently stop applying.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const root = path.resolve(fileURLToPath(new URL('../..', import.meta.url)));
const eslint = new ESLint({ cwd: root });

async function errors(code: string, file: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: path.join(root, file) });
  return (result?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

describe('workflow sandbox lint rule', () => {
  it('rejects Node built-ins and value imports from src/ and activities/ in workflows/', async () => {
    expect(await errors("import fs from 'node:fs';\nexport const x = fs;\n", 'workflows/probe.ts')).toHaveLength(1);
    expect(
      await errors("import { readFile } from 'fs';\nexport const x = readFile;\n", 'workflows/probe.ts'),
    ).toHaveLength(1);
    expect(
      await errors(
        "import { ForemanError } from '../src/errors.js';\nexport const x = ForemanError;\n",
        'workflows/probe.ts',
      ),
    ).toHaveLength(1);
    expect(
      await errors(
        "import { createActivities } from '../activities/index.js';\nexport const x = createActivities;\n",
        'workflows/probe.ts',
      ),
    ).toHaveLength(1);
  });

  it('allows type imports in workflows/ and anything outside it', async () => {
    expect(
      await errors(
        "import type { Activities } from '../activities/index.js';\nexport type A = Activities;\n",
        'workflows/probe.ts',
      ),
    ).toEqual([]);
    expect(await errors("import fs from 'node:fs';\nexport const x = fs;\n", 'src/probe.ts')).toEqual([]);
  });

  it('rejects deep value imports from src/ in nested workflow folders', async () => {
    expect(
      await errors(
        "import { runRole } from '../../src/agents/run-role.js';\nexport const x = runRole;\n",
        'workflows/issue/probe.ts',
      ),
    ).toHaveLength(1);
  });

  it('allows values from the workflow-safe modules, which may themselves import types only', async () => {
    expect(
      await errors(
        "import { addUsage } from '../../src/agents/usage.js';\nexport const x = addUsage;\n",
        'workflows/issue/probe.ts',
      ),
    ).toEqual([]);
    expect(
      await errors("import { readFile } from 'node:fs';\nexport const x = readFile;\n", 'src/agents/usage.ts'),
    ).toHaveLength(1);
    expect(
      await errors("import type { AgentRole } from './roles.js';\nexport type R = AgentRole;\n", 'src/agents/usage.ts'),
    ).toEqual([]);
  });
});
