/**
 * The escalation comment shown in the README, rendered by the real renderer from the question a
 * failed step asks. Run this file (`npx tsx test/support/readme-example.ts`) to print it.
 */
import { pathToFileURL } from 'node:url';
import { renderEscalation } from '../../src/evidence/escalation.js';
import { failedStepAsk } from '../../workflows/issue/step.js';

/** The README example: a run whose API key is wrong, waiting on its first question. */
export function readmeEscalationExample(): string {
  const ask = failedStepAsk(
    'run the implementer',
    'ModelError [model_unauthorized]: The model endpoint api.anthropic.com rejected the credentials (401: invalid x-api-key). Set ANTHROPIC_API_KEY or model.api_key',
    3,
  );
  return renderEscalation({
    identifier: 'DEMO-1',
    title: 'Fix add()',
    escalation: { ...ask, n: 1, askedAt: '2026-12-04T10:00:00.000Z', reminded: false, parked: false },
    branch: 'foreman/DEMO-1',
    push: null,
    repingMs: 86_400_000,
    parkMs: 259_200_000,
    parkedState: 'Parked',
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href)
  process.stdout.write(`${readmeEscalationExample()}\n`);
