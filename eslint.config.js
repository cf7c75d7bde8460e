// Lint rules. The one that matters most: workflow code runs in Temporal's deterministic sandbox,
// so workflows/** may not import Node built-ins, nor values from src/ or activities/ (types only),
// except the workflow-safe modules listed below: pure code that imports nothing with runtime
// behaviour itself (a second rule keeps them so).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';
import prettier from 'eslint-config-prettier';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];

/** Modules of src/ that workflow code may import values from (pure, no imports of their own). */
const WORKFLOW_SAFE = ['src/agents/usage.ts', 'src/escalation/answer.ts', 'src/evidence/inert.ts'];
const WORKFLOW_SAFE_RE = WORKFLOW_SAFE.map((f) =>
  f.replace(/\.ts$/, '.js').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'),
).join('|');

export default tseslint.config(
  { ignores: ['node_modules/**', 'coverage/**', '.foreman/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  prettier,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Size limits (docs/architecture.md, "The parts"): a function reads in one screen; workflow
    // and activity files stay small enough to read top to bottom.
    files: ['src/**/*.ts', 'workflows/**/*.ts', 'activities/**/*.ts', 'bin/**/*.js'],
    rules: { 'max-lines-per-function': ['error', { max: 120 }] },
  },
  {
    files: ['workflows/**/*.ts', 'activities/**/*.ts'],
    rules: { 'max-lines': ['error', { max: 300 }] },
  },
  {
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.map((name) => ({ name, message: 'Workflow code is deterministic: no Node built-ins.' })),
          patterns: [
            {
              // Any relative path into src/ or activities/, except the workflow-safe modules.
              regex: `^(\\.\\.?/)+(?!(${WORKFLOW_SAFE_RE})$)(src|activities)(/.*)?$`,
              allowTypeImports: true,
              message: 'Workflows import src/ and activities/ as types only (import type …).',
            },
          ],
        },
      ],
    },
  },
  {
    files: WORKFLOW_SAFE,
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['*'],
              allowTypeImports: true,
              message: 'A workflow-safe module imports nothing with runtime behaviour (types only).',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['bin/**/*.js', 'eslint.config.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', setTimeout: 'readonly' } },
  },
  {
    // The dashboard's page script runs in the browser (src/server/dashboard/public/).
    files: ['src/server/dashboard/public/**/*.js'],
    languageOptions: {
      globals: Object.fromEntries(
        [
          'document',
          'window',
          'sessionStorage',
          'fetch',
          'AbortController',
          'TextDecoderStream',
          'CustomEvent',
          'setTimeout',
          'clearTimeout',
          'setInterval',
          'clearInterval',
          'URL',
          'URLSearchParams',
        ].map((g) => [g, 'readonly']),
      ),
    },
  },
);
